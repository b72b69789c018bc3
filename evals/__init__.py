"""Reproducible evaluations and benchmarks. `reelgate eval NAME` or `python -m evals.NAME`."""

from __future__ import annotations

import os
from pathlib import Path

# name -> module with `run(data_dir: Path) -> str` (a markdown table)
EVALS: dict[str, str] = {
    "verify": "evals.verify_bench",
    "likeness_gate": "evals.likeness_gate",
    "generator": "evals.generator_bench",
    "detector": "evals.detector",
    "copyright": "evals.copyright",
    "faces": "evals.faces",
    "faces_index": "evals.faces_index",
    "liveness": "evals.liveness",
    "prompt": "evals.prompt_gate",
    "prompt_names": "evals.prompt_names",
    "prompt_identity": "evals.prompt_identity",
    "frames": "evals.frames",
    "watermark": "evals.watermark",
    "watermark_audio": "evals.watermark_audio",
    "faults": "evals.faults",
    "foreign_marks": "evals.foreign_marks",
    "gate_bench": "evals.gate_bench",
    "stay_down": "evals.stay_down",
    "bank_index": "evals.bank_index",
}


def default_data_dir() -> Path:
    env = os.environ.get("REELGATE_EVAL_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def main(run, description: str | None = None, quick_help: str | None = None) -> None:
    """`python -m evals.NAME [--data DIR]` for an evaluation whose only input is the data folder; with
    `quick_help`, also `--quick` (a smaller run), passed on as run(data, quick=...)."""
    import argparse

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--data", type=Path, default=default_data_dir(), help="the shared data folder")
    if quick_help:
        ap.add_argument("--quick", action="store_true", help=quick_help)
    args = ap.parse_args()
    print(run(args.data, quick=args.quick) if quick_help else run(args.data))
