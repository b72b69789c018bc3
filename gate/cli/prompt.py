"""`reelgate classify-prompt TEXT` / `--file PROMPTS.jsonl`: the prompt gate's verdicts, one per prompt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from gate.cli.base import cli, emit, fail, json_option, settings
from gate.decision import worst
from gate.policy import Policy
from gate.stages.prompt import language_verdict

BATCH = 64


def _verdict(policy: Policy, result: Any) -> dict[str, Any]:
    decision, flagged = policy.prompt_verdict(result.categories)
    lang_verdict, _ = language_verdict(result, policy)
    return {
        "categories": result.categories, "flagged": flagged, "decision": worst(decision, lang_verdict),
        "language": result.signals.get("language"),
        "normalized": result.normalized, "notes": result.notes, "mentions": result.mentions,
        "names": [{"kind": n["kind"], "name": n["canonical"], "score": n["score"], "matched": n["matched"]}
                  for n in result.names],
        "model": result.model,
    }


def _read_jsonl(path: Path) -> list[tuple[int, str | None, str | None]]:
    """(line number, text, error) per non-blank line; a bad line is an error entry, not an abort."""
    out: list[tuple[int, str | None, str | None]] = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            out.append((n, None, f"line {n}: not JSON ({exc.msg})"))
            continue
        text = obj.get("text") if isinstance(obj, dict) else obj if isinstance(obj, str) else None
        if not isinstance(text, str):
            out.append((n, None, f'line {n}: expected {{"text": "..."}}'))
        else:
            out.append((n, text, None))
    return out


@cli.command("classify-prompt")
@click.argument("text", required=False)
@click.option("--file", "file_", type=click.Path(path_type=Path, dir_okay=False),
              help='JSONL file, one {"text": ...} per line; output keeps input order')
@json_option
def classify_prompt(text: str | None, file_: Path | None, as_json: bool) -> None:
    """Score a prompt (or a JSONL batch) for every category and give the policy's decision."""
    from safety.prompt_classifier import PromptClassifier, PromptError

    if (text is None) == (file_ is None):
        fail("give either TEXT or --file PROMPTS.jsonl")
    cfg = settings()
    policy = Policy.load(cfg.policy_file or cfg.resolved_data_dir / "policy.json")
    clf = PromptClassifier.load()
    ok, why = clf.available()
    if not ok:
        fail(f"prompt classifier unavailable: {why}")
    items = [(0, text, None)] if text is not None else _read_jsonl(file_)  # type: ignore[arg-type]
    errors = 0
    for start in range(0, len(items), BATCH):
        chunk = items[start:start + BATCH]
        results: dict[int, Any] = {}
        good = []
        for k, (_, t, err) in enumerate(chunk):
            if err is None and t is not None:
                if len(t) > cfg.max_prompt_chars:
                    chunk[k] = (chunk[k][0], None, f"{len(t)} characters exceeds the limit of {cfg.max_prompt_chars}")
                    continue
                good.append(k)
        try:
            batch = clf.classify_many([chunk[k][1] for k in good]) if good else []  # type: ignore[misc]
            results = dict(zip(good, batch, strict=True))
        except PromptError:
            for k in good:  # find the bad one(s) individually
                try:
                    results[k] = clf.classify(chunk[k][1])  # type: ignore[arg-type]
                except PromptError as exc:
                    chunk[k] = (chunk[k][0], None, str(exc))
        for k, (line, _, err) in enumerate(chunk):
            if k in results:
                out = _verdict(policy, results[k])
                human = f"{out['decision']}: {', '.join(out['flagged']) or 'nothing flagged'}"
            else:
                errors += 1
                if text is not None:
                    fail(str(err))
                out = {"line": line, "error": err, "decision": None}
                human = f"line {line}: error: {err}"
            emit(out, as_json or file_ is not None, human)
    if errors:
        raise SystemExit(1)
