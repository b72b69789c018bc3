"""`reelgate watermark keys | rotate-key | new-key`: the installation's watermark keyring."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from api.cli.base import emit, fail, json_option, settings
from api.cli.provenance import watermark_group

if TYPE_CHECKING:
    from gate.watermark_keys import WatermarkKeys

ENV_ROTATION = (
    "the watermark key comes from REELGATE_WATERMARK_KEY; rotate it there on every API and worker process: "
    "`reelgate watermark new-key` prints a key; set it as REELGATE_WATERMARK_KEY, move the old value into "
    "REELGATE_WATERMARK_OLD_KEYS (comma-separated), restart the processes"
)


def keyring_or_fail() -> WatermarkKeys:
    from gate.watermark_keys import WatermarkKeys
    from provenance.errors import ProvenanceError

    try:
        return WatermarkKeys(settings())
    except (ProvenanceError, OSError) as exc:
        fail(str(exc))


@watermark_group.command("keys")
@json_option
def watermark_keys(as_json: bool) -> None:
    """Show the keyring: where it comes from, the current key's id and fingerprint, the old keys' ids."""
    keys = keyring_or_fail()
    out = keys.get().describe()
    if warning := keys.shared_broker_warning():
        out["warning"] = warning
    human = (f"current key {out['current']} (fingerprint {out['fingerprint']}, {out['source']}); "
             f"old keys tried when detecting: {', '.join(out['old']) or 'none'}")
    emit(out, as_json, human + (f"\nwarning: {out['warning']}" if "warning" in out else ""))


@watermark_group.command("rotate-key")
@click.option("--id", "key_id", default=None, help="the new key's id (default: from its fingerprint)")
@json_option
def watermark_rotate_key(key_id: str | None, as_json: bool) -> None:
    """Make a new current key in DATA_DIR/keys; the previous keys stay for detection. Every process that
    shares the data dir embeds with the new key from its next job on (the file is re-read when it changes)."""
    from provenance.errors import ProvenanceError
    from provenance.wm_keys import rotate_keyring_file

    s = settings()
    if s.watermark_key is not None:
        fail(ENV_ROTATION)
    keyring_or_fail()  # the current configuration must be valid before it is changed
    try:
        ring = rotate_keyring_file(s.keys_dir, key_id)
    except (ProvenanceError, OSError) as exc:
        fail(str(exc))
    out = ring.describe()
    emit(out, as_json, f"new current watermark key {out['current']} (fingerprint {out['fingerprint']}); "
                       f"kept for detection: {', '.join(out['old']) or 'none'}")


@watermark_group.command("new-key")
@click.option("--id", "key_id", default=None, help="the key's id (default: from its fingerprint)")
def watermark_new_key(key_id: str | None) -> None:
    """Print a fresh random key as ID:HEX for REELGATE_WATERMARK_KEY (nothing is stored)."""
    from provenance.errors import ProvenanceError
    from provenance.wm_keys import new_key

    try:
        _, text = new_key(key_id)
    except ProvenanceError as exc:
        fail(str(exc))
    click.echo(text)
