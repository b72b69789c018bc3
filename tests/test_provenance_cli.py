"""`reelgate certs init-dev`, `reelgate c2pa read`, `reelgate watermark embed|detect` end to end."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

import api.cli.provenance  # noqa: F401  registers the groups
from api.cli.base import cli
from provenance.c2pa_sign import sign_video
from provenance.certs import ensure_dev_signer
from provenance.synthetic import make_test_clip


def run(*args: str):
    return CliRunner().invoke(cli, list(args), obj={})


def test_certs_and_c2pa_read(settings, tmp_path):
    res = run("certs", "init-dev", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    keys = Path(out["keys_dir"])
    assert (keys / "dev-signer.key").exists() and "C2PA signer" in out["subject"]

    clip = make_test_clip(tmp_path / "c.mp4", seconds=1.0, width=96, height=64, audio=False)
    signed = tmp_path / "s.mp4"
    sign_video(clip, signed, ensure_dev_signer(keys), title="t", software_agent="reelgate", model="m",
               cameos=[], watermark=None)
    # the configured data dir's development CA is trusted by default
    res = run("c2pa", "read", str(signed), "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["state"] == "trusted"
    res = run("c2pa", "read", str(clip), "--json")
    assert json.loads(res.output)["state"] == "absent"
    empty = tmp_path / "e.mp4"
    empty.write_bytes(b"")
    res = run("c2pa", "read", str(empty))
    assert res.exit_code != 0 and "empty" in res.output and "Traceback" not in res.output


def test_watermark_embed_detect(settings, tmp_path):
    src = make_test_clip(tmp_path / "src.mp4", seconds=2.0, width=256, height=192)
    dst = tmp_path / "wm.mp4"
    res = run("watermark", "embed", str(src), str(dst), "--payload", "00112233aabbccdd", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["psnr_db"] >= 40
    res = run("watermark", "detect", str(dst), "--json")
    out = json.loads(res.output)
    assert out["found"] and out["payload"] == "00112233aabbccdd" and out["p_value"] < 1e-6
    res = run("watermark", "detect", str(src), "--json")
    assert json.loads(res.output)["found"] is False
    res = run("watermark", "embed", str(src), str(dst), "--payload", "xyz")
    assert res.exit_code != 0 and "hex" in res.output
    res = run("watermark", "embed", str(src), str(dst), "--payload", "0011")
    assert res.exit_code != 0 and "64 bits" in res.output
