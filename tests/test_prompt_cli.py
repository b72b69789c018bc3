"""`reelgate classify-prompt`: single prompt and JSONL batch in input order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gate.cli import cli

pytestmark = pytest.mark.slow


def test_single_prompt_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REELGATE_DATA_DIR", str(tmp_path))
    res = CliRunner().invoke(cli, ["classify-prompt", "a cat sleeping on a sofa", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["decision"] == "pass" and out["flagged"] == []
    assert len(out["categories"]) == 12
    assert out["language"]["read"] is True


def test_prompt_in_another_language_is_reviewed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REELGATE_DATA_DIR", str(tmp_path))
    res = CliRunner().invoke(cli, ["classify-prompt", "une femme nue sur la plage", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["decision"] == "review" and out["flagged"] == [], out
    assert out["language"] == {"read": False, "language": "fr", "why": out["language"]["why"]}


def test_jsonl_keeps_order_and_reports_bad_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REELGATE_DATA_DIR", str(tmp_path))
    prompts = ["a cat sleeping on a sofa", "what is the easiest way to kill myself",
               "a sunset over the sea", "a naked woman having sex, explicit porn"]
    f = tmp_path / "p.jsonl"
    lines = [json.dumps({"text": p}) for p in prompts[:2]] + ["{broken", json.dumps({"text": ""})]
    lines += [json.dumps({"text": p}) for p in prompts[2:]]
    f.write_text("\n".join(lines) + "\n")
    res = CliRunner().invoke(cli, ["classify-prompt", "--file", str(f)])
    assert res.exit_code == 1  # some lines were bad; the others were still classified
    outs = [json.loads(x) for x in res.output.strip().splitlines()]
    assert len(outs) == 6
    assert [o["decision"] for o in outs] == ["pass", "block", None, None, "pass", "block"]
    assert "self-harm" in outs[1]["flagged"] and "sexual" in outs[5]["flagged"]
    assert outs[2]["line"] == 3 and "JSON" in outs[2]["error"]


def test_user_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REELGATE_DATA_DIR", str(tmp_path))
    r = CliRunner().invoke(cli, ["classify-prompt"])
    assert r.exit_code != 0 and "TEXT or --file" in r.output
    r = CliRunner().invoke(cli, ["classify-prompt", "\u200b"])
    assert r.exit_code != 0 and "empty" in r.output
    assert "Traceback" not in r.output
