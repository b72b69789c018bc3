"""Reproducible evaluations and benchmarks. `reelgate eval NAME` or `python -m evals.NAME`."""

from __future__ import annotations

import os
from pathlib import Path

# name -> module with `run(data_dir: Path) -> str` (a markdown table)
EVALS: dict[str, str] = {
    "generator": "evals.generator_bench",
    "detector": "evals.detector",
    "copyright": "evals.copyright",
    "faces": "evals.faces",
    "faces_index": "evals.faces_index",
    "liveness": "evals.liveness",
    "prompt": "evals.prompt_gate",
    "frames": "evals.frames",
    "watermark": "evals.watermark",
}


def default_data_dir() -> Path:
    env = os.environ.get("REELGATE_EVAL_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"
