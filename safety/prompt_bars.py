"""Where the prompt heads' review and block bars fall, chosen on left-out predictions (evals/prompt_bars.py).

The policy's bars (gate/policy.py: review 0.5 / block 0.85 for most categories) are fixed numbers an operator
may edit; what share of unsafe and benign prompts lands above them depends on the heads' calibration, and
prompt-heads-v4's stacker was calibrated on a fifth of its own training sources, not on text it never saw.
A bar map moves each learned category's score monotonically and piecewise linearly, so that the score chosen
on left-out predictions as that category's review bar lands on the policy's default review bar (the map's
anchor) and the chosen block bar on its default block bar. The defaults then mean the left-out operating
points, an operator's own bars still order prompts the same way, and every score stays in [0, 1].

File: safety/models/prompt_bars-v<heads version>.json, versioned by `bars_version`, naming the sha of the heads
file it was chosen for; a map chosen for other heads is refused (the gate fails closed), never applied.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


class BarMapError(ValueError):
    """The bar map file is malformed or was chosen for other heads."""


@dataclass(frozen=True)
class BarMap:
    version: int
    heads_sha: str
    categories: tuple[str, ...]
    bars: np.ndarray  # (n, 2): the chosen review and block bars on the heads' own scale
    anchors: np.ndarray  # (n, 2): the policy's default review and block bars they are mapped to
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return f"bars-{self.version}"

    def apply(self, scores: dict[str, float]) -> dict[str, float]:
        """The scores with every mapped category moved onto the policy's scale (others unchanged)."""
        out = dict(scores)
        for j, c in enumerate(self.categories):
            if c in out:
                out[c] = float(remap(np.array([out[c]]), self.bars[j], self.anchors[j])[0])
        return out


def remap(p: np.ndarray, bars: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """0 -> 0, review bar -> review anchor, block bar -> block anchor, 1 -> 1, linear in between."""
    return np.interp(p, [0.0, float(bars[0]), float(bars[1]), 1.0], [0.0, float(anchors[0]), float(anchors[1]), 1.0])


def _increasing(v: np.ndarray) -> bool:
    return bool(0.0 < v[0] < v[1] < 1.0)


def load_bars(path: Path, heads_sha: str) -> BarMap:
    """The bar map in `path` for the heads whose file hashes to heads_sha; BarMapError if it cannot apply."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        cats = tuple(raw["categories"])
        bars = np.array([raw["bars"][c] for c in cats], dtype=np.float64)
        anchors = np.array([raw["anchors"][c] for c in cats], dtype=np.float64)
        version = int(raw["bars_version"])
        sha = str(raw["heads_sha"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BarMapError(f"cannot read {path.name}: {exc}") from exc
    if bars.shape != (len(cats), 2) or anchors.shape != (len(cats), 2):
        raise BarMapError(f"{path.name}: expected a [review, block] pair per category")
    bad = [c for c, b, a in zip(cats, bars, anchors, strict=True) if not (_increasing(b) and _increasing(a))]
    if bad:
        raise BarMapError(f"{path.name}: bars must satisfy 0 < review < block < 1 ({', '.join(bad)})")
    if sha != heads_sha:
        raise BarMapError(f"{path.name} was chosen for heads {sha}, these are {heads_sha}; choose the bars again "
                          "(python -m evals.prompt_bars --write)")
    meta = {k: v for k, v in raw.items() if k not in ("bars", "anchors", "categories")}
    return BarMap(version, sha, cats, bars, anchors, meta)
