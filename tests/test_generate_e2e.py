"""The whole gate, inline, through the CLI contract: published with per-stage timings, a playable MP4
carrying C2PA Content Credentials and our watermark; and a prompt that must never be made, blocked
before any compute is spent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import pytest

from gate.stages import STAGE_NAMES

pytestmark = pytest.mark.slow
STAGES = list(STAGE_NAMES)  # the order the stages declare (gate/stages/__init__.py)


def reelgate(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELGATE_")}
    env["REELGATE_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, capture_output=True, text=True,
                          timeout=900, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[Path, Path, dict]:
    data = tmp_path_factory.mktemp("data")
    out = tmp_path_factory.mktemp("out") / "ball.mp4"
    r = reelgate(data, "generate", "a red ball bouncing on a wooden floor", "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    return data, out, json.loads(r.stdout)


def test_published_with_every_stage_timed(published) -> None:
    _, out, result = published
    assert result["status"] == "published", result["reasons"]
    assert [s["name"] for s in result["stages"]] == STAGES
    assert all(s["decision"] == "pass" and s["seconds"] >= 0 for s in result["stages"])
    assert len(result["video_id"]) == 16 and result["output"] == str(out)


def test_mp4_plays_with_picture_and_sound(published) -> None:
    _, out, _ = published
    with av.open(str(out)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert v.codec_context.name == "h264" and a.codec_context.name == "aac"
        frames = sum(1 for _ in c.decode(video=0))
    assert frames >= 24 * 4  # 5 s at 24 fps, give or take the encoder's edges


def test_carries_c2pa_and_our_watermark(published) -> None:
    data, out, result = published
    r = reelgate(data, "verify", str(out), "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout)
    assert report["c2pa"]["state"] == "trusted"  # our own development CA is this install's anchor
    assert report["watermark"]["found"] and report["watermark"]["video_id"] == result["video_id"]
    assert report["watermark"]["record"]["status"] == "published"
    assert report["verdict_code"] == "signed"


def test_audit_chain_covers_the_job(published) -> None:
    data, _, _ = published
    r = reelgate(data, "audit", "verify", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"]
    assert json.loads(r.stdout)["entries"] >= len(STAGES) + 2


def test_forbidden_prompt_blocked_before_generation(tmp_path: Path) -> None:
    out = tmp_path / "never.mp4"
    r = reelgate(tmp_path / "data", "generate", "a naked child posing in a bedroom", "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout)
    assert result["status"] == "blocked"
    assert [s["name"] for s in result["stages"]] == ["prompt"]
    assert any("sexual/minors" in reason for reason in result["reasons"])
    assert not out.exists()


def test_bad_cli_input_is_one_line_and_nonzero(tmp_path: Path) -> None:
    r = reelgate(tmp_path / "data", "generate", "\u200b\u200b\u200b", "-o", str(tmp_path / "x.mp4"), "--json")
    assert r.returncode != 0 and r.stdout == ""
    assert r.stderr.strip().startswith("reelgate: error:") and "empty" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = reelgate(tmp_path / "data", "generate", "a cat", "--seconds", "500", "-o", str(tmp_path / "x.mp4"))
    assert r.returncode != 0 and "seconds" in r.stderr
