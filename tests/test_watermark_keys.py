"""Watermark keys: the installation's secret, never the source's. A mark made under a key we do not hold is
not ours; rotation keeps old keys for detection; every process of an installation uses the same key."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from provenance.errors import ProvenanceError
from provenance.synthetic import make_test_clip
from provenance.watermark import detect_clip, detect_image, embed_clip
from provenance.wm_keys import (
    KEYRING_FILE,
    LEGACY_V1,
    MAX_KEYS,
    Keyring,
    WatermarkKey,
    ensure_keyring_file,
    new_key,
    parse_keyring,
    rotate_keyring_file,
)

PAYLOAD = bytes.fromhex("00c0ffee5eed0017")
A_HEX = hashlib.sha256(b"installation A").hexdigest()
B_HEX = hashlib.sha256(b"installation B").hexdigest()
KEY_A = WatermarkKey.from_secret("a1", bytes.fromhex(A_HEX))
KEY_B = WatermarkKey.from_secret("b1", bytes.fromhex(B_HEX))
# what anyone with the 3.x source could mark with: its key was a constant in wm_code.py
SOURCE_KEY = WatermarkKey("forger", "reelgate-watermark-v1")


@pytest.fixture(scope="module")
def marked(tmp_path_factory) -> dict[str, Path]:
    """One short clip (video + audio) marked under installation A, and one under the public 3.x key."""
    d = tmp_path_factory.mktemp("wmkeys")
    # 6 s: both channels read it under two keys (the 4-s clip's soundtrack, under two sync periods of tone and
    # noise, sits at the audio detector's edge: 10^-6.6 with session 12's band sums, 10^-5.5 with session 13's
    # power means, which read music-mixed and excerpted marks far better; evals.watermark_audio)
    src = make_test_clip(d / "src.mp4", seconds=6.0, width=320, height=240, seed=7)
    embed_clip(src, d / "a.mp4", PAYLOAD, key=KEY_A)
    embed_clip(src, d / "legacy.mp4", PAYLOAD, key=SOURCE_KEY)
    return {"src": src, "a": d / "a.mp4", "legacy": d / "legacy.mp4"}


# ---- detection under keys we hold / do not hold -----------------------------------------------------
def test_mark_of_another_installation_is_not_ours(marked) -> None:
    out = detect_clip(marked["a"], keys=Keyring(KEY_B))
    assert not out["found"] and out["payload"] is None and out["key_id"] is None
    assert not out["video"]["found"] and not out["audio"]["found"]  # neither channel reads it
    assert out["p_value"] > 1e-6


def test_mark_under_an_old_key_is_found_with_its_id(marked) -> None:
    out = detect_clip(marked["a"], keys=Keyring(KEY_B, (KEY_A,)))
    assert out["found"] and out["payload"] == PAYLOAD.hex() and out["key_id"] == "a1"
    assert out["keys_tried"] == 2 and set(out["channels"]) == {"video", "audio"}
    # the bound pays for the second key (union bound): twice the one-key figure
    one = detect_clip(marked["a"], keys=KEY_A)
    assert one["found"] and one["key_id"] == "a1" and one["keys_tried"] == 1
    assert out["video"]["p_value"] == pytest.approx(2 * one["video"]["p_value"])
    assert not one.get("key_legacy")


def test_still_frame_under_a_key_we_do_not_hold(marked) -> None:
    from provenance.media import iter_luma

    frame = next(y for _, y in iter_luma(marked["a"], 0.0, 1.0))
    assert detect_image(frame, keys=KEY_A)["found"]
    assert not detect_image(frame, keys=KEY_B)["found"]


def test_forgery_with_the_public_source_key_is_not_ours(marked) -> None:
    """3.x: anyone stamped a real clip id with the source's key and verify said ours. Now only a ring that
    explicitly lists legacy-v1 reads it, and says which key."""
    generated, _ = new_key()
    assert not detect_clip(marked["legacy"], keys=generated)["found"]
    out = detect_clip(marked["legacy"], keys=Keyring(generated, (LEGACY_V1,)))
    assert out["found"] and out["key_id"] == "legacy-v1" and out["key_legacy"] is True


def test_embedding_needs_a_real_key(marked, tmp_path) -> None:
    with pytest.raises(ProvenanceError, match="legacy"):
        embed_clip(marked["src"], tmp_path / "x.mp4", PAYLOAD, key=LEGACY_V1)
    with pytest.raises(TypeError):
        embed_clip(marked["src"], tmp_path / "y.mp4", PAYLOAD)  # type: ignore[call-arg]  # no default key
    with pytest.raises(TypeError):
        detect_clip(marked["src"])  # type: ignore[call-arg]


# ---- formats ----------------------------------------------------------------------------------------
def test_key_formats() -> None:
    ring = parse_keyring(f"k2:{B_HEX}", f" k1:{A_HEX} , legacy-v1 ")
    assert ring.current.key_id == "k2" and [k.key_id for k in ring.old] == ["k1", "legacy-v1"]
    assert ring.current.layout_key == KEY_B.layout_key
    bare = parse_keyring(A_HEX)
    assert bare.current.key_id == bare.current.fingerprint[:8] and bare.old == ()
    for bad, why in ((A_HEX[:62], "at least 32"), ("zz" * 32, "hex"), (f"bad id:{A_HEX}", "id"),
                     ("legacy-v1", "hex"), (f"legacy-v1:{A_HEX}", "not legacy-v1")):
        with pytest.raises(ProvenanceError, match=why) as err:
            parse_keyring(bad)
        assert A_HEX[:40] not in str(err.value)  # key material never in an error
    with pytest.raises(ProvenanceError, match="twice"):
        parse_keyring(f"k2:{A_HEX}", f"k1:{A_HEX}")
    with pytest.raises(ProvenanceError, match="unique"):
        parse_keyring(f"k1:{A_HEX}", f"k1:{B_HEX}")
    many = ",".join(new_key()[1] for _ in range(MAX_KEYS))
    with pytest.raises(ProvenanceError, match=f"at most {MAX_KEYS}"):
        parse_keyring(A_HEX, many)
    assert A_HEX not in repr(ring) and B_HEX not in repr(ring.current)


# ---- the generated keyring file ---------------------------------------------------------------------
def test_generated_keyring_is_private_stable_and_per_installation(tmp_path) -> None:
    ring = ensure_keyring_file(tmp_path / "one" / "keys")
    path = tmp_path / "one" / "keys" / KEYRING_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert ring.source == "generated" and ring.old == ()
    assert ensure_keyring_file(tmp_path / "one" / "keys") == ring  # the same key at every start
    other = ensure_keyring_file(tmp_path / "two" / "keys")
    assert other.current.layout_key != ring.current.layout_key  # another installation, another key
    assert len(bytes.fromhex(json.loads(path.read_text())["keys"][0]["key"])) >= 32


def test_rotation_keeps_old_keys_for_detection(tmp_path) -> None:
    keys_dir = tmp_path / "keys"
    first = ensure_keyring_file(keys_dir)
    second = rotate_keyring_file(keys_dir, "k2")
    assert second.current.key_id == "k2" and second.old == (first.current,)
    assert stat.S_IMODE((keys_dir / KEYRING_FILE).stat().st_mode) == 0o600
    with pytest.raises(ProvenanceError, match="already"):
        rotate_keyring_file(keys_dir, "k2")
    for i in range(MAX_KEYS + 2):
        ring = rotate_keyring_file(keys_dir, f"r{i}")
    assert len(ring.all) == MAX_KEYS and ring.current.key_id == f"r{MAX_KEYS + 1}"
    assert ring.old[0].key_id == f"r{MAX_KEYS}"  # newest old key tried first


# ---- the gate: settings, processes, health, CLI -----------------------------------------------------
def test_configured_key_is_used_by_every_process(settings, tmp_path, monkeypatch) -> None:
    from gate.settings import Settings
    from gate.watermark_keys import WatermarkKeys

    monkeypatch.setenv("REELGATE_WATERMARK_KEY", f"k7:{A_HEX}")
    monkeypatch.setenv("REELGATE_WATERMARK_OLD_KEYS", f"k6:{B_HEX}")
    api, worker = (WatermarkKeys(Settings(data_dir=tmp_path / d)) for d in ("api", "worker"))  # own data dirs
    assert api.get() == worker.get() and api.get().current == WatermarkKey.from_secret("k7", bytes.fromhex(A_HEX))
    assert api.get().source == "configured" and not (tmp_path / "api" / "keys" / KEYRING_FILE).exists()
    assert "k7:" not in repr(Settings()) and A_HEX not in repr(Settings())  # a secret in settings dumps
    monkeypatch.setenv("REELGATE_WATERMARK_KEY", "k7:1234")
    with pytest.raises(ProvenanceError, match="REELGATE_WATERMARK_KEY"):
        WatermarkKeys(Settings())


def test_generated_key_shared_through_the_data_dir_and_rotation_is_picked_up(components) -> None:
    from gate.watermark_keys import WatermarkKeys

    worker = WatermarkKeys(components.settings)  # another process on the same data dir
    before = components.watermark_keys.get()
    assert before.source == "generated" and worker.get() == before
    rotate_keyring_file(components.settings.keys_dir)
    after = worker.get()
    assert after.current != before.current and after.old == (before.current,)
    assert components.watermark_keys.get() == after  # the file is re-read when it changes


def test_legacy_key_only_when_configured(settings, monkeypatch) -> None:
    from gate.settings import Settings
    from gate.watermark_keys import WatermarkKeys

    assert not any(k.legacy for k in WatermarkKeys(settings).get().all)
    monkeypatch.setenv("REELGATE_WATERMARK_OLD_KEYS", "legacy-v1")
    ring = WatermarkKeys(Settings()).get()
    assert ring.source == "generated" and ring.old == (LEGACY_V1,)


def test_health_warns_about_generated_keys_on_a_shared_broker(components) -> None:
    from pydantic import SecretStr
    from sqlmodel import Session

    from gate.health import health_report
    from gate.models import Job
    from gate.watermark_keys import WatermarkKeys

    assert health_report(components)["warnings"] == []
    components.settings.broker_url = "redis://127.0.0.1:1/0"
    warnings = health_report(components)["warnings"]
    assert len(warnings) == 1 and "generated" in warnings[0] and "REELGATE_WATERMARK_KEY" in warnings[0]

    # the API on the operator's key; a worker elsewhere marked a clip on its own generated key
    components.settings.watermark_key = SecretStr(f"api:{A_HEX}")
    components.watermark_keys = WatermarkKeys(components.settings)
    assert health_report(components)["warnings"] == []
    with Session(components.engine) as s:
        s.add(Job(id="00000000000000aa", user="carol", status="published", request={"prompt": "x"},
                  decisions=[{"name": "watermark",
                              "models": {"provenance.watermark_key": "w9 0123456789abcdef generated"}}]))
        s.commit()
    warnings = health_report(components)["warnings"]
    assert any("a worker" in w and "generated" in w for w in warnings)
    assert any("w9" in w and "does not hold" in w for w in warnings)


def test_cli_keys_rotate_and_new_key(settings, monkeypatch) -> None:
    from api.cli import cli

    run = CliRunner()
    out = run.invoke(cli, ["watermark", "keys", "--json"])
    assert out.exit_code == 0, out.output
    first = json.loads(out.output)
    assert first["source"] == "generated" and first["old"] == []
    out = run.invoke(cli, ["watermark", "rotate-key", "--id", "next", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["current"] == "next" and json.loads(out.output)["old"] == [first["current"]]
    text = run.invoke(cli, ["watermark", "new-key", "--id", "env1"]).output.strip()
    assert parse_keyring(text).current.key_id == "env1"
    monkeypatch.setenv("REELGATE_WATERMARK_KEY", text)
    out = run.invoke(cli, ["watermark", "rotate-key"])
    assert out.exit_code == 2 and "REELGATE_WATERMARK_OLD_KEYS" in out.output
    before = (settings.keys_dir / KEYRING_FILE).read_text()
    monkeypatch.setenv("REELGATE_WATERMARK_KEY", "nothex")
    out = run.invoke(cli, ["watermark", "keys"])
    assert out.exit_code == 2 and "nothex" not in out.output
    assert (settings.keys_dir / KEYRING_FILE).read_text() == before  # nothing changed


def test_verify_does_not_call_a_foreign_mark_ours(components, marked) -> None:
    """The whole verify path: a clip stamped with the public 3.x key and a real clip id is not ours."""
    from gate.verify import verify_file

    rep = verify_file(components, marked["legacy"])
    assert not rep["watermark"]["found"] and rep["verdict_code"] != "ours"
    assert "our watermark" not in rep["verdict"]


def test_stage_marks_with_the_installation_key(components, tmp_path) -> None:
    from gate.pipeline import JobContext
    from gate.requests import JobRequest
    from gate.stages.watermark import WatermarkStage

    src = make_test_clip(tmp_path / "draft.mp4", seconds=2.5, width=160, height=120, seed=2)
    ctx = JobContext(job_id=PAYLOAD.hex(), user="carol", request=JobRequest(prompt="x"), workdir=tmp_path, draft=src)
    d = WatermarkStage(components).run(ctx)
    ring = components.watermark_keys.get()
    assert d.models["provenance.watermark_key"].split() == [ring.current.key_id, ring.current.fingerprint, "generated"]
    assert detect_clip(ctx.marked, keys=ring)["key_id"] == ring.current.key_id
    assert not detect_clip(ctx.marked, keys=KEY_A)["found"]
    assert np.isfinite(d.scores["psnr_db"])
