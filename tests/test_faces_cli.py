"""`reelgate faces embed|compare` on real photos and on bad input."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

import api.cli.faces  # noqa: F401  registers the `faces` group
from api.cli.base import cli

FIX = Path(__file__).parent / "fixtures" / "faces"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), obj={}, env={"REELGATE_INSIGHTFACE_DIR": ""})


def test_embed_and_compare(tmp_path: Path) -> None:
    r = run("faces", "embed", str(FIX / "two_people_composite.jpg"), str(FIX / "coffee.jpg"), "--json")
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in r.output.splitlines()]
    assert [len(o["faces"]) for o in lines] == [2, 0]
    assert lines[0]["backend"] == "dlib" and len(lines[0]["faces"][0]["embedding"]) == 128
    assert len(lines[0]["faces"][0]["box"]) == 4

    r = run("faces", "compare", str(FIX / "carphone_a.jpg"), str(FIX / "carphone_b.jpg"), "--json")
    out = json.loads(r.output)
    assert out["faces"] == [1, 1] and out["same_person"] is True and out["distance"] < out["threshold"]
    r = run("faces", "compare", str(FIX / "carphone_b.jpg"), str(FIX / "paul_rudd_1.jpg"), "--json")
    assert json.loads(r.output)["same_person"] is False
    r = run("faces", "compare", str(FIX / "carphone_b.jpg"), str(FIX / "coffee.jpg"), "--json")
    out = json.loads(r.output)
    assert out["faces"] == [1, 0] and out["distance"] is None


def test_bad_input_one_line_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.jpg"
    junk.write_text("hello")
    for bad in (empty, junk, tmp_path / "missing.png"):
        r = run("faces", "embed", str(bad), "--json")
        assert r.exit_code != 0
        assert r.exception is None or isinstance(r.exception, SystemExit)
        assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
