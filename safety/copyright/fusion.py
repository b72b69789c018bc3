"""Fusing per-signal evidence into one score per registered work.

Each signal's hit score is already calibrated so that 0.5 is that signal's own match point. For a work we
take each signal's best hit (over the work's references and, for video, over frames) and combine them as a
noisy-OR, 1 - prod(1 - s): one confident signal suffices, two independent weak ones reinforce each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MATCH_SCORE = 0.5  # a Match is reported at or above this fused score


@dataclass
class Match:
    work_id: int
    work: str
    score: float
    signals: dict[str, Any]
    frame: int | None
    reference_id: int | None
    owner: str | None = None
    policy: str | None = None
    time: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "work_id": self.work_id,
            "work": self.work,
            "owner": self.owner,
            "policy": self.policy,
            "score": round(self.score, 4),
            "signals": self.signals,
            "frame": self.frame,
            "time": self.time,
            "reference_id": self.reference_id,
        }


@dataclass
class WorkEvidence:
    """Best hit per signal for one work, with where it was found."""

    best: dict[str, dict[str, Any]] = field(default_factory=dict)

    def offer(
        self,
        signal: str,
        score: float,
        reference_id: int,
        frame: int | None,
        time: float | None,
        evidence: dict[str, Any],
    ) -> None:
        cur = self.best.get(signal)
        if cur is None or score > cur["score"]:
            self.best[signal] = {
                "score": round(float(score), 4),
                "reference_id": reference_id,
                "frame": frame,
                "time": None if time is None else round(time, 3),
                **evidence,
            }

    def fused(self) -> float:
        miss = 1.0
        for hit in self.best.values():
            miss *= 1.0 - hit["score"]
        return 1.0 - miss

    def lead(self) -> dict[str, Any]:
        return max(self.best.values(), key=lambda h: h["score"])
