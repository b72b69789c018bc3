"""`reelgate rights register|check|list|delete` against a fresh data directory."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

import api.cli.rights  # noqa: F401  registers the `rights` group
from api.cli.base import cli
from safety.copyright import read_image_file

FIX = Path(__file__).parent / "fixtures" / "copyright"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), obj={})


@pytest.fixture(autouse=True)
def _fresh_install(settings):
    from gate.components import reset_components

    reset_components()
    yield
    reset_components()


def test_register_then_check_image_and_unrelated(tmp_path: Path) -> None:
    r = run("rights", "register", "Go Gopher", "--image", str(FIX / "vector_fairy-tale_king.png"),
            "--alias", "Gopher", "--policy", "review", "--owner", "acme", "--json")
    assert r.exit_code == 0, r.output
    reg = json.loads(r.output)
    assert reg["work"] == "Go Gopher" and reg["aliases"] == ["Gopher"] and reg["policy"] == "review"
    assert len(reg["references"]) == 1 and len(bytes.fromhex(reg["references"][0]["pdq"])) == 32

    query = tmp_path / "mirrored.jpg"
    Image.fromarray(read_image_file(FIX / "vector_fairy-tale_king.png")[:, ::-1]).save(query, quality=70)
    r = run("rights", "check", str(query), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    [m] = out["matches"]
    assert m["work"] == "Go Gopher" and m["score"] >= 0.5 and m["frame"] is None
    assert m["signals"]["pdq"]["query_transform"] == "mirror"
    assert m["signals"]["clip"]["ran"] is False
    assert out["signals"]["clip"]["ran"] is False and out["index"]["references"] == 1

    r = run("rights", "check", str(FIX / "rocket_400.jpg"), "--json")
    assert r.exit_code == 0 and json.loads(r.output)["matches"] == []

    r = run("rights", "list", "--owner", "acme", "--json")
    assert [w["work"] for w in json.loads(r.output)["works"]] == ["Go Gopher"]
    r = run("rights", "delete", str(reg["work_id"]), "--owner", "someone-else")
    assert r.exit_code != 0 and "no work" in r.output
    r = run("rights", "delete", str(reg["work_id"]), "--owner", "acme", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["media_removed"] == 1
    assert json.loads(run("rights", "list", "--json").output)["works"] == []


def test_bad_input_is_one_line_and_stores_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    tiny = tmp_path / "tiny.png"
    tiny.write_bytes(buf.getvalue())
    good = str(FIX / "vector_party_birthday.png")
    cases = [
        ("X", "--image", str(empty)),
        ("x" * 5000, "--image", good),
        ("X", "--image", str(tiny)),
        ("X", "--image", str(tmp_path / "missing.png")),
        ("X",),
    ]
    for args in cases:
        r = run("rights", "register", *args)
        assert r.exit_code != 0
        assert "Traceback" not in r.output and r.output.count("\n") == 1, r.output
    assert json.loads(run("rights", "list", "--json").output)["works"] == []
    r = run("rights", "check", str(empty))
    assert r.exit_code != 0 and "0 bytes" in r.output
