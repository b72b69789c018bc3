"""`reelgate certs`, `reelgate c2pa` and `reelgate watermark` commands (thin wrappers over provenance/)."""

from __future__ import annotations

from pathlib import Path

import click

from api.cli.base import cli, emit, fail, json_option, settings

_existing = click.Path(exists=True, dir_okay=False, path_type=Path)


@cli.group("certs")
def certs_group() -> None:
    """C2PA signing certificates."""


@certs_group.command("init-dev")
@click.option("--dir", "keys_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="where to keep the development CA and signer (default: DATA_DIR/keys)")
@json_option
def certs_init_dev(keys_dir: Path | None, as_json: bool) -> None:
    """Create (or reuse) a local development CA and an ES256 C2PA signer."""
    from provenance.certs import DEV_CA_CERT, DEV_SIGNER_CERT, DEV_SIGNER_KEY, ensure_dev_signer
    from provenance.errors import ProvenanceError

    keys_dir = keys_dir or settings().keys_dir
    try:
        material = ensure_dev_signer(keys_dir)
    except (ProvenanceError, OSError) as exc:
        fail(str(exc))
    out = {
        "keys_dir": str(keys_dir),
        "cert_chain": str(keys_dir / DEV_SIGNER_CERT),
        "private_key": str(keys_dir / DEV_SIGNER_KEY),
        "ca": str(keys_dir / DEV_CA_CERT),
        **material.summary(),
    }
    emit(out, as_json, f"development signer ready in {keys_dir} ({out['subject']}, until {out['not_after']})")


@cli.group("c2pa")
def c2pa_group() -> None:
    """C2PA Content Credentials."""


@c2pa_group.command("read")
@click.argument("file", type=_existing)
@click.option("--trust", "trust", type=_existing, multiple=True,
              help="PEM trust anchors; default: the C2PA trust list + configured anchors + dev CA")
@json_option
def c2pa_read(file: Path, trust: tuple[Path, ...], as_json: bool) -> None:
    """Validate FILE's C2PA manifest: state, failure codes, signer, actions, ingredient chain."""
    from provenance.c2pa_read import read_credentials
    from provenance.certs import DEV_CA_CERT
    from provenance.errors import ProvenanceError

    anchors = b""
    paths = list(trust)
    if not paths:
        from provenance import trust_list

        s = settings()
        paths.append(trust_list.active_path(s.resolved_data_dir))
        if s.c2pa_trust_anchors:
            paths.append(s.c2pa_trust_anchors)
        dev_ca = s.resolved_data_dir / "keys" / DEV_CA_CERT
        if dev_ca.exists():
            paths.append(dev_ca)
    try:
        for p in paths:
            anchors += Path(p).read_bytes() + b"\n"
        out = read_credentials(file, anchors or None)
    except (ProvenanceError, OSError) as exc:
        fail(str(exc))
    human = f"{file.name}: {out['state']}"
    if out["failures"]:
        human += f" ({', '.join(out['failures'])})"
    if out.get("error"):
        human += f" error: {out['error']}"
    if out["claim_generator"]:
        human += f"\n  generator: {out['claim_generator']}"
    for a in out["actions"]:
        human += f"\n  action: {a['action']} {a.get('digitalSourceType') or ''}".rstrip()
    for c in out["chain"][1:]:
        human += f"\n  parent: {c['manifest_label']} ({c.get('title')})"
    emit(out, as_json, human)


@cli.group("trust")
def trust_group() -> None:
    """The public C2PA trust list used to call Content Credentials trusted."""


@trust_group.command("show")
@json_option
def trust_show(as_json: bool) -> None:
    """Which trust list is in use and the anchors it holds."""
    from provenance import trust_list
    from provenance.errors import ProvenanceError

    path = trust_list.active_path(settings().resolved_data_dir)
    try:
        certs = trust_list.inspect(path.read_bytes())
    except (ProvenanceError, OSError) as exc:
        fail(f"{path}: {exc}")
    out = {"path": str(path), "bundled": path == trust_list.BUNDLED, "certificates": certs}
    human = f"{path} ({'shipped snapshot' if out['bundled'] else 'installation copy'}), {len(certs)} anchors"
    for c in certs:
        human += f"\n  {c['subject']} (until {c['not_after'][:10]}{', EXPIRED' if c['expired'] else ''})"
    emit(out, as_json, human)


@trust_group.command("update")
@click.argument("file", type=_existing)
@json_option
def trust_update(file: Path, as_json: bool) -> None:
    """Replace the installation's C2PA trust list with FILE (PEM CA certificates, validated first)."""
    from provenance import trust_list
    from provenance.errors import ProvenanceError

    try:
        out = trust_list.install(settings().resolved_data_dir, file)
    except (ProvenanceError, OSError) as exc:
        fail(f"{file.name}: {exc}; the trust list in use is unchanged")
    emit(out, as_json, f"trust list updated: {out['certificates']} anchors in {out['path']}")


@cli.group("watermark")
def watermark_group() -> None:
    """Invisible video + audio watermark."""


@watermark_group.command("embed")
@click.argument("src", type=_existing)
@click.argument("dst", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--payload", required=True, help="64-bit payload as 16 hex digits")
@click.option("--crf", default=18, show_default=True, type=click.IntRange(0, 51))
@json_option
def watermark_embed(src: Path, dst: Path, payload: str, crf: int, as_json: bool) -> None:
    """Mark SRC's video and audio with PAYLOAD and write DST (H.264 + AAC MP4)."""
    from api.cli.watermark_keys import keyring_or_fail
    from provenance.errors import ProvenanceError
    from provenance.watermark import embed_clip

    try:
        raw = bytes.fromhex(payload)
    except ValueError:
        fail(f"payload must be hex, got {payload!r}")
    key = keyring_or_fail().get().current  # the installation's key, as the pipeline uses
    try:
        out = embed_clip(src, dst, raw, crf=crf, key=key)
    except (ProvenanceError, OSError) as exc:
        fail(str(exc))
    emit(out, as_json, f"marked {dst} with {raw.hex()} (PSNR {out.get('psnr_db')} dB)")


@watermark_group.command("detect")
@click.argument("file", type=_existing)
@click.option("--start", "start_s", default=0.0, show_default=True, type=click.FloatRange(0), help="seconds")
@click.option("--seconds", "max_seconds", default=20.0, show_default=True, type=click.FloatRange(0.1),
              help="how much of the clip to analyse")
@json_option
def watermark_detect(file: Path, start_s: float, max_seconds: float, as_json: bool) -> None:
    """Look for our watermark in FILE (video and audio) and report payload, confidence and p-value."""
    from api.cli.watermark_keys import keyring_or_fail
    from provenance.errors import ProvenanceError
    from provenance.watermark import detect_clip

    keys = keyring_or_fail().get()
    try:
        out = detect_clip(file, keys=keys, start_s=start_s, max_seconds=max_seconds)
    except (ProvenanceError, OSError) as exc:
        fail(str(exc))
    if out["found"]:
        human = (f"found payload {out['payload']} with key {out['key_id']} (confidence {out['confidence']:.4f}, "
                 f"p={out['p_value']:.2e})" + (" [legacy 3.x key: forgeable]" if out.get("key_legacy") else ""))
    else:
        human = f"no watermark found (p={out['p_value']:.2e})"
    emit(out, as_json, human)
