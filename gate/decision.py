"""What every stage returns, and what a signal reports about itself."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Verdict = Literal["pass", "review", "block"]
_ORDER = {"pass": 0, "review": 1, "block": 2}


def worst(*verdicts: Verdict) -> Verdict:
    return max(verdicts, key=_ORDER.__getitem__, default="pass")


@dataclass
class Signal:
    """One detector a stage relies on: which model, whether it runs, whether its weights are real."""

    name: str  # e.g. "frames.nudenet"
    model: str
    available: bool
    real_weights: bool
    why: str = ""  # why it cannot run (missing weights, ...)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_report(cls, name: str, info: dict[str, Any], default_model: str = "") -> Signal:
        """From a domain package's status dict: {"ran", "why", "model", "real_weights"}."""
        return cls(name, info.get("model", default_model), bool(info.get("ran", info.get("available", False))),
                   bool(info.get("real_weights", False)), info.get("why", ""))


@dataclass
class Decision:
    stage: str
    decision: Verdict
    reasons: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    not_run: dict[str, str] = field(default_factory=dict)  # optional signal -> why it did not run
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["name"] = d.pop("stage")
        return d
