"""`reelgate banks import|export|list|check|policy` against a fresh data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import api.cli.banks  # noqa: F401  registers the `banks` group
from api.cli.base import cli
from tests.conftest import FIXTURES

BANK_FILES = FIXTURES / "banks"
CLIP = FIXTURES / "liveness" / "carphone_face_qcif.mp4"  # its hashes are in industry.te


def run(*args: str):
    return CliRunner().invoke(cli, list(args), obj={})


@pytest.fixture(autouse=True)
def _fresh_install(settings):
    from gate.components import reset_components

    reset_components()
    yield
    reset_components()


def test_import_list_export_check(tmp_path: Path) -> None:
    r = run("banks", "import", str(BANK_FILES / "industry.te"), "--bank", "industry", "--policy", "review", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["added"] == 4
    banks = {b["name"]: b for b in json.loads(run("banks", "list", "--json").output)["banks"]}
    assert banks["industry"]["by_signal"] == {"pdq": 1, "video_md5": 1, "video_sha256": 1, "vpdq": 1}
    out = tmp_path / "industry.te"
    assert run("banks", "export", "--bank", "industry", "-o", str(out)).exit_code == 0
    assert out.read_text() == (BANK_FILES / "industry.te").read_text()
    r = run("banks", "check", str(CLIP), "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["decision"] == "review" and {m["bank"] for m in res["matches"]} == {"industry"}
    assert {"bank", "signal", "distance", "policy"} <= set(res["matches"][0])
    assert json.loads(run("banks", "policy", "industry", "block", "--json").output)["policy"] == "block"


def test_bad_input_is_one_line_and_imports_nothing(tmp_path: Path) -> None:
    assert run("banks", "import", str(BANK_FILES / "industry.te"), "--bank", "industry").exit_code == 0
    before = run("banks", "list", "--json").output
    r = run("banks", "import", str(BANK_FILES / "malformed.te"), "--bank", "industry")
    assert r.exit_code == 2 and "line 3" in r.output and len(r.output.strip().splitlines()) == 1
    assert run("banks", "list", "--json").output == before
    assert run("banks", "export", "--bank", "nope").exit_code == 2
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    r = run("banks", "check", str(junk))
    assert r.exit_code == 2 and r.output.startswith("reelgate: error:")
