"""Gate decisions in words a person understands: what each stage checks and why it stopped a clip."""

from __future__ import annotations

from typing import Any

from gate.models import JobStatus
from gate.stages import STAGE_DESCRIPTIONS, STAGE_NAMES
from gate.stages import STAGE_TITLES as _TITLES

# order, titles and descriptions come from the stages themselves; "gate" is a failure outside any stage
STAGE_ORDER = STAGE_NAMES
STAGE_TITLES = {**_TITLES, "gate": "Gate"}
STAGE_WHAT = dict(STAGE_DESCRIPTIONS)
CATEGORY_WORDS = {
    "sexual": "sexual content", "sexual/minors": "sexual content involving minors", "hate": "hateful content",
    "hate/threatening": "threats against a group", "harassment": "harassment of a person",
    "self-harm": "self-harm", "violence": "violence", "violence/graphic": "graphic violence",
    "public_figure": "a real public figure", "character": "a protected character", "deception": "deceptive content",
    "illegal": "illegal activity", "trademark": "a brand's logo or product",
    "nudity": "nudity", "minor_sexual": "sexualised content that may involve minors",
}
VERDICT_WORDS = {"block": "stopped the clip", "review": "sent the clip to a person for review"}


def _flagged_categories(d: dict[str, Any]) -> list[str]:
    words = []
    for reason in d.get("reasons") or []:
        head = reason.split(" ", 1)[0].removeprefix("spoken")
        for cat, word in CATEGORY_WORDS.items():
            hit = head == cat or reason.startswith((f"{cat} score", f"spoken dialogue: {cat} "))
            if hit and word not in words:
                words.append(word)
    return words


def sentence(d: dict[str, Any]) -> str:
    """One plain sentence for a review/block decision."""
    stage, verdict = d.get("name", "gate"), d.get("decision", "block")
    did = VERDICT_WORDS.get(verdict, verdict)
    reasons = " ".join(d.get("reasons") or [])
    if "failed closed" in reasons or "cannot run" in reasons:
        return (f"The {STAGE_TITLES.get(stage, stage).lower()} could not complete, so the gate {did} rather than "
                "let it through unchecked.")
    cats = _flagged_categories(d)
    if stage == "prompt":
        if cats:
            return f"Your prompt appears to ask for {', '.join(cats)}, so the gate {did}."
        if "registered character" in reasons:
            return f"Your prompt names a character whose rights holder does not allow it, so the gate {did}."
    if stage == "frames" and cats:
        where = " in what was said" if "spoken dialogue" in reasons else " in the generated frames"
        return f"The check found {', '.join(cats)}{where}, so the gate {did}."
    if stage == "consent":
        return f"A cameo you asked for is not available to you (its owner has not given consent), so the gate {did}."
    if stage == "likeness":
        return f"The clip shows the face of a person who has not allowed you to use their likeness, so the gate {did}."
    if stage == "copyright":
        return f"The clip looks like a work registered by its rights holder, so the gate {did}."
    if stage == "publish" and verdict == "review":
        return "An earlier check asked for a person to look, so the clip is held as a draft until an operator decides."
    if stage == "publish" and "revoked" in reasons:
        return f"A cameo owner withdrew consent while the clip was being made, so the gate {did}."
    return f"The {STAGE_TITLES.get(stage, stage).lower()} {did}."


def frames_of(d: dict[str, Any]) -> list[dict[str, Any]]:
    """Evidence that points at a frame of the clip: index, time, label and boxes (x, y, w, h)."""
    out = []
    for e in d.get("evidence") or []:
        if not isinstance(e, dict) or not isinstance(e.get("frame"), int):
            continue
        label = e.get("category") or (f"@{e['handle']}" if e.get("handle") else None) or e.get("work") or ""
        score = e.get("score", e.get("distance"))
        out.append({"frame": e["frame"], "time": e.get("time"), "label": CATEGORY_WORDS.get(label, label),
                    "score": score, "boxes": [b for b in e.get("boxes") or [] if isinstance(b, dict)]})
    return out[:8]


def timeline(decisions: list[dict[str, Any]], status: str) -> list[dict[str, Any]]:
    """Every stage in flow order: its decision so far, or pending / skipped."""
    seen = {d.get("name"): d for d in decisions}
    stopped = (status in (JobStatus.BLOCKED, JobStatus.FAILED, JobStatus.TAKEN_DOWN)
               or any(d.get("decision") == "block" for d in decisions))
    rows = []
    for name in STAGE_ORDER:
        d = seen.pop(name, None)
        if d is None:
            state = "skipped" if stopped or status in (JobStatus.PUBLISHED, JobStatus.REVIEW) else "pending"
            rows.append({"name": name, "title": STAGE_TITLES[name], "state": state, "what": STAGE_WHAT[name]})
            continue
        rows.append(_row(name, d))
    rows.extend(_row(str(name), d) for name, d in seen.items())  # e.g. "gate" when a job failed outside a stage
    return rows


def _row(name: str, d: dict[str, Any]) -> dict[str, Any]:
    verdict = d.get("decision", "pending")
    row = {"name": name, "title": STAGE_TITLES.get(name, name), "state": verdict, "what": STAGE_WHAT.get(name, ""),
           "reasons": d.get("reasons") or [], "seconds": d.get("seconds"), "models": d.get("models") or {},
           "scores": d.get("scores") or {}, "not_run": d.get("not_run") or {}}
    if verdict in ("block", "review"):
        row["sentence"] = sentence(d)
        row["frames"] = frames_of(d)
    return row
