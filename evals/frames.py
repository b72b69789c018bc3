"""Frame gate evaluation: `python -m evals.frames [--data ../shared/data]`.

The shared data holds no labelled explicit imagery (by design: none may enter the repo or this folder), so
the detection rate cannot be measured here; this reports what can be justified:
- false-positive rate of the NudeNet frame score on safe media (photos without faces, face portraits,
  characters, real camera clips and AI-generated clips), per frame, at the default policy's bars;
- milliseconds per frame for sampling+decode and for NudeNet scoring, and which signals ran.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from gate.policy import Policy
from safety.frames import FrameError, FrameGate, nudity_score, sample_frames

MEDIA = {".png", ".jpg", ".jpeg", ".gif", ".mp4", ".webm", ".mov"}
SUITES = ("no_faces", "faces", "characters", "videos_real", "ai_generated_video")


def run(data_dir: Path) -> str:
    policy = Policy()
    gate = FrameGate()
    lines = ["# Frame gate (safe media only: detection rate not measurable on this data)", "",
             "| suite | files | frames | max nudity | frames >= review | frames >= block | "
             "decode ms/frame | nudenet ms/frame |", "|---|---|---|---|---|---|---|---|"]
    review, block = policy.frames["nudity"].review, policy.frames["nudity"].block
    all_ms: list[float] = []
    errors: list[str] = []
    for suite in SUITES:
        files = sorted(p for p in (data_dir / suite).rglob("*") if p.suffix.lower() in MEDIA)
        scores: list[float] = []
        dec_ms: list[float] = []
        nn_ms: list[float] = []
        for f in files:
            t0 = time.perf_counter()
            try:
                frames = sample_frames(f, every_seconds=0.5, max_frames=32)
            except FrameError as exc:
                errors.append(f"{suite}/{f.name}: {exc}")
                continue
            dec_ms.append((time.perf_counter() - t0) * 1000 / len(frames))
            for fr in frames:
                t1 = time.perf_counter()
                s, _ = nudity_score(gate.detect_nudity(fr.image))
                nn_ms.append((time.perf_counter() - t1) * 1000)
                scores.append(s)
        if not scores:
            continue
        arr = np.array(scores)
        all_ms += nn_ms
        lines.append(f"| {suite} | {len(files)} | {len(arr)} | {arr.max():.3f} | {np.mean(arr >= review):.3f} | "
                     f"{np.mean(arr >= block):.3f} | {np.median(dec_ms):.1f} | {np.median(nn_ms):.1f} |")
    sig = gate.signals()
    lines += ["", f"NudeNet p50 {np.median(all_ms):.1f} ms, p95 {np.percentile(all_ms, 95):.1f} ms per frame.", "",
              "Signals: " + "; ".join(f"{k}: ran={v['ran']} ({v['why']})" for k, v in sig.items())]
    if errors:
        lines += ["", "Unreadable files (reported as FrameError): " + "; ".join(errors)]
    return "\n".join(lines) + "\n"


def main() -> None:
    from evals import main as run_main

    run_main(run, "frame gate evaluation")


if __name__ == "__main__":
    main()
