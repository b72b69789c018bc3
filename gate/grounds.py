"""The policy grounds that reports, operators' decisions and statements of reasons name: the prompt gate's
categories, plus what the frame, likeness and copyright stages decide on. One list, so a viewer's report,
the decision taken on it and the transparency report count the same things."""

from __future__ import annotations

from typing import Any

from gate.policy import PROMPT_CATEGORIES

# what a viewer may report and an operator may decide on
GROUNDS: tuple[str, ...] = (*PROMPT_CATEGORIES, "likeness", "copyright", "other")
# grounds only the system records: consent withdrawn by the person shown, a stage that could not decide
SYSTEM_GROUNDS: tuple[str, ...] = ("cameo_revoked", "gate_error")

# severity orders the operators' queue: harm to a child first, then harm to a person, then the rest
SEVERITY: dict[str, int] = {
    "sexual/minors": 5, "hate/threatening": 4, "violence/graphic": 4, "self-harm": 4, "likeness": 4,
    "sexual": 3, "harassment": 3, "hate": 3, "violence": 3, "illegal": 3, "deception": 2, "public_figure": 2,
    "copyright": 1, "character": 1, "trademark": 1, "other": 1,
}
# a takedown on these grounds takes down the remixes too: they keep the source's pictures (the face, the
# nudity); on any other ground the remixes go back through the gate, which decides on what they show now
CARRIED_BY_REMIXES: frozenset[str] = frozenset({"likeness", "sexual", "sexual/minors", "cameo_revoked"})

_FRAME_GROUNDS = {"nudity": "sexual", "minor_sexual": "sexual/minors", "violence": "violence",
                  "gore": "violence/graphic"}
_STAGE_GROUNDS = {"consent": "likeness", "likeness": "likeness", "copyright": "copyright"}


def ground_of_decision(d: dict[str, Any]) -> str:
    """The policy ground a stage's refusal rests on: its highest-scoring category where it scores several."""
    stage = str(d.get("name", ""))
    if stage in _STAGE_GROUNDS:
        return _STAGE_GROUNDS[stage]
    scores = {k: v for k, v in (d.get("scores") or {}).items() if isinstance(v, int | float)}
    if stage == "prompt":
        cats = {k: v for k, v in scores.items() if k in PROMPT_CATEGORIES}
        return max(cats, key=cats.__getitem__) if cats else "other"
    if stage == "frames":
        cats = {_FRAME_GROUNDS[k]: v for k, v in scores.items() if k in _FRAME_GROUNDS}
        return max(cats, key=cats.__getitem__) if cats else "other"
    return "gate_error"
