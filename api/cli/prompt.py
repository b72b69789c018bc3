"""`reelgate classify-prompt TEXT` / `--file PROMPTS.jsonl`: the prompt gate's verdicts, one per prompt.

The batch contract: one JSON object per input line, in input order, each with its line number and a
decision. A line that holds no prompt (blank, not JSON, no "text", nothing visible after normalisation) gets
{"line": n, "decision": "block", "error": "..."} (there is nothing the gate could let through) and the command
exits 1 after answering every line. Any length is scored: the classifier windows long text (see
safety.prompt_classifier.MAX_SCORED_CHARS); the generation limit (REELGATE_MAX_PROMPT_CHARS) is for requests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from api.cli.base import cli, emit, fail, json_option, settings
from gate.names import apply_names
from gate.policy import Policy
from gate.prompt_policy import prompt_decision

BATCH = 64


def _verdict(policy: Policy, result: Any) -> dict[str, Any]:
    decision, flagged, reasons, _ = prompt_decision(result, policy)
    return {
        "categories": result.categories, "flagged": flagged, "decision": decision, "reasons": reasons,
        "language": result.signals.get("language"),
        "normalized": result.normalized, "notes": result.notes, "mentions": result.mentions,
        "names": [{"kind": n["kind"], "name": n["canonical"], "score": n["score"], "matched": n["matched"],
                   **{k: n[k] for k in ("work", "franchise", "holder", "brand") if k in n}}
                  for n in result.names],
        "signals": {k: v for k, v in result.signals.items() if k in ("staged_news", "truncated")},
        "model": result.model,
    }


def _read_jsonl(path: Path) -> list[tuple[int, str | None, str | None]]:
    """(line number, text, error) per line; a bad or blank line is an error entry, not an abort or a gap."""
    out: list[tuple[int, str | None, str | None]] = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            out.append((n, None, f"line {n}: blank"))
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
    clf = PromptClassifier.load(cache_dir=cfg.resolved_data_dir / "cache")
    apply_names(clf, cfg.resolved_data_dir)  # first: the name matchers load once, with the operator's changes
    ok, why = clf.available()
    if not ok:
        fail(f"prompt classifier unavailable: {why}")
    items: list[tuple[int, str | None, str | None]] = (
        [(0, text, None)] if text is not None else _read_jsonl(file_)  # type: ignore[arg-type]
    )
    errors = 0
    for start in range(0, len(items), BATCH):
        chunk = items[start:start + BATCH]
        results: dict[int, Any] = {}
        good = []
        for k, (_, t, err) in enumerate(chunk):
            if err is None and t is not None:
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
                if file_ is not None:
                    out = {"line": line, **out}
                human = f"{out['decision']}: {', '.join(out['flagged']) or 'nothing flagged'}"
            else:
                errors += 1
                if text is not None:
                    fail(str(err))
                out = {"line": line, "decision": "block", "error": err, "flagged": [], "categories": {}}
                human = f"line {line}: error: {err}"
            emit(out, as_json or file_ is not None, human)
    if errors:
        raise SystemExit(1)
