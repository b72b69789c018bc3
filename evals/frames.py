"""Frame gate evaluation: `python -m evals.frames [--data ../shared/data]`.

What the shared data can justify, and what it cannot:
- No labelled explicit, sexual, violent or child-sexual imagery exists here, and none may be used or stored,
  so no detection rate for nudity, minor_sexual, violence or gore is measured: the table says so row by row
  instead of printing a number. Nothing is invented as a positive.
- False positives ARE measurable: every decoded frame (up to FRAME_CAP per file) of every safe file in the
  data folder (real camera clips, AI-generated clips, face portraits, group photos, an astronaut, cartoon
  characters, objects, C2PA fixture media) is scored by the NudeNet mapping the gate uses, per frame and per
  file at the default policy's bars; the gate's own sampling (FrameGate.assess) is also run per file.
- NudeNet's non-explicit classes (FACE_FEMALE / FACE_MALE) have labels we can justify from the folder
  layout (faces/ holds people, no_faces/ and characters/ do not): their detection rate shows the detector
  is really running on these frames. It is a sanity check of the model, not a nudity detection rate.
- Milliseconds per frame: decode, NudeNet, and the whole gate at its default sampling.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from evals.held_out import usable
from gate.policy import Policy
from safety.frames import FrameError, FrameGate, nudity_score

IMAGES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
VIDEOS = {".gif", ".mp4", ".webm", ".mov", ".m4v", ".avi"}
# Suites: (label, folder under the data dir, whether people are shown (None: mixed / unknown)).
SUITES: tuple[tuple[str, str, bool | None], ...] = (
    ("real camera clips", "videos_real", None),
    ("AI-generated clips", "ai_generated_video", None),
    ("face photos (portraits, groups)", "faces", True),
    ("no faces (objects, space, a cat)", "no_faces", False),
    ("cartoon characters (gopher, bunny)", "characters", False),
    ("C2PA fixture media", "c2pa", None),
)
FRAME_CAP = 1500  # per file: a long clip is cut here (stated in the table)
FACE_CLASSES = {"FACE_FEMALE", "FACE_MALE"}


def _frames(path: Path) -> Iterator[np.ndarray]:
    """Every frame (RGB uint8) of an image or a clip, up to FRAME_CAP."""
    if path.suffix.lower() in IMAGES:
        from PIL import Image

        try:
            with Image.open(path) as im:
                yield np.asarray(im.convert("RGB"))
        except (OSError, Image.DecompressionBombError, SyntaxError) as exc:
            raise FrameError(f"{path.name}: {exc}") from exc
        return
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise FrameError(f"{path.name}: no video stream")
            for i, frame in enumerate(container.decode(container.streams.video[0])):
                if i >= FRAME_CAP:
                    return
                yield frame.to_ndarray(format="rgb24")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise FrameError(f"{path.name}: {exc}") from exc


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGES | VIDEOS)


def run(data_dir: Path) -> str:
    policy = Policy()
    gate = FrameGate()
    ok, why = gate.available()
    if not ok:
        return f"frame gate unavailable: {why}\n"
    review, block = policy.frames["nudity"].review, policy.frames["nudity"].block
    ms_review = policy.frames["minor_sexual"].review
    lines = ["# Frame gate", "",
             "## False positives on safe media (every frame; nudity score = NudeNet mapping in safety/frames.py)",
             "",
             f"Bars: nudity review {review}, block {block}; minor_sexual review {ms_review} (with no CLIP child "
             "signal it equals the nudity score: fail closed). Per file = any frame at or above the bar.", "",
             "| suite | files | frames | max score | frames >= review | frames >= block | files >= review | "
             "files >= minor_sexual review | gate verdict != pass (default sampling) |",
             "|---|---|---|---|---|---|---|---|---|"]
    decode_ms: list[float] = []
    nude_ms: list[float] = []
    assess_ms: list[float] = []
    face_hits: dict[str, list[bool]] = {"people": [], "no people": []}
    errors: list[str] = []
    top: list[tuple[float, str, list[str]]] = []
    totals = [0, 0, 0, 0]  # files, frames, frames >= review, files >= review
    capped: list[str] = []
    for label, folder, people in SUITES:
        files = usable(_files(data_dir / folder), data_dir)  # held-out origins never read
        if not files:
            lines.append(f"| {label} | 0 | | | | | | | (no files in {folder}/) |")
            continue
        scores: list[float] = []
        file_max: list[float] = []
        verdict_flags: list[bool] = []
        for f in files:
            best = 0.0
            n = 0
            try:
                t0 = time.perf_counter()
                for rgb in _frames(f):
                    t1 = time.perf_counter()
                    decode_ms.append((t1 - t0) * 1000)
                    dets = gate.detect_nudity(rgb)
                    s, boxes = nudity_score(dets)
                    t0 = time.perf_counter()
                    nude_ms.append((t0 - t1) * 1000)
                    scores.append(s)
                    n += 1
                    if s > best:
                        best = s
                        if s >= review:
                            top.append((s, f"{folder}/{f.relative_to(data_dir / folder)}",
                                        [f"{b['label']} {b['score']:.2f}" for b in boxes]))
                    if people is not None:
                        face_hits["people" if people else "no people"].append(
                            any(d.get("class") in FACE_CLASSES and float(d.get("score", 0)) >= 0.5 for d in dets))
                if n >= FRAME_CAP:
                    capped.append(f.name)
                t2 = time.perf_counter()
                report = gate.assess(f)
                assess_ms.append((time.perf_counter() - t2) * 1000 / max(1, report.frames))
                verdict_flags.append(any(policy.frames[c].verdict(v) != "pass"
                                         for c, v in report.categories.items() if c in policy.frames))
            except FrameError as exc:
                errors.append(f"{folder}/{f.name}: {exc}")
                continue
            file_max.append(best)
        if not scores:
            lines.append(f"| {label} | {len(files)} | 0 | | | | | | (unreadable) |")
            continue
        s_arr, f_arr = np.array(scores), np.array(file_max)
        totals[0] += len(f_arr)
        totals[1] += len(s_arr)
        totals[2] += int((s_arr >= review).sum())
        totals[3] += int((f_arr >= review).sum())
        lines.append(
            f"| {label} | {len(f_arr)} | {len(s_arr)} | {s_arr.max():.3f} | {int((s_arr >= review).sum())} "
            f"({np.mean(s_arr >= review):.2%}) | {int((s_arr >= block).sum())} | {int((f_arr >= review).sum())} | "
            f"{int((f_arr >= ms_review).sum())} | {sum(verdict_flags)}/{len(verdict_flags)} |")
    lines.append(f"| **all safe media** | {totals[0]} | {totals[1]} | | {totals[2]} "
                 f"({totals[2] / max(1, totals[1]):.2%}) | | {totals[3]} ({totals[3] / max(1, totals[0]):.1%}) | | |")
    if capped:
        lines += ["", f"Cut at {FRAME_CAP} frames: {', '.join(capped)}."]
    if top:
        lines += ["", "Frames at or above the nudity review bar (the false positives, with NudeNet's boxes):"]
        lines += [f"- {path}: {s:.3f} ({', '.join(b) or 'no boxes'})"
                  for s, path, b in sorted(top, reverse=True)[:10]]

    lines += ["", "## Detection rate: what this data can and cannot measure", "",
              "| signal | detection rate | why |", "|---|---|---|",
              "| nudity (NudeNet exposed parts) | not measured | no labelled explicit frames exist here, and none "
              "may be used or stored; the mapping's bars are stated, not fitted on positives |",
              "| minor_sexual (conjunction) | not measured | same; the conjunction logic is unit-tested on "
              "detection dicts (tests/test_frames.py) |",
              "| violence / gore / child (CLIP zero-shot) | not measured | " + gate.signals()["frames.clip"]["why"]
              + " |"]
    fp, fn = face_hits["no people"], face_hits["people"]
    if fn:
        lines.append(f"| sanity: NudeNet FACE_* class on frames with people (faces/) | {np.mean(fn):.1%} of "
                     f"{len(fn)} frames | folder labels; false alarms on frames without people "
                     f"(no_faces/, characters/): {np.mean(fp) if fp else 0:.1%} of {len(fp)} |")

    q = np.percentile(nude_ms, [50, 95]) if nude_ms else [0, 0]
    import os

    load = os.getloadavg()[0]
    lines += ["", f"## Speed (this CPU, {os.cpu_count()} cores, shared: load average {load:.1f} at the end of the run)",
              "",
              "| step | p50 ms/frame | p95 ms/frame | frames |", "|---|---|---|---|",
              f"| decode (PyAV / PIL) | {np.median(decode_ms):.1f} | {np.percentile(decode_ms, 95):.1f} | "
              f"{len(decode_ms)} |",
              f"| NudeNet 320n + mapping | {q[0]:.1f} | {q[1]:.1f} | {len(nude_ms)} |",
              f"| whole gate, default sampling (FrameGate.assess, per sampled frame) | {np.median(assess_ms):.1f} | "
              f"{np.percentile(assess_ms, 95):.1f} | {len(assess_ms)} files |", "",
              "Signals: " + "; ".join(f"{k}: ran={v['ran']} ({v['why']})" for k, v in gate.signals().items())]
    if errors:
        lines += ["", "Unreadable files (reported as FrameError, not scored): " + "; ".join(errors)]
    return "\n".join(lines) + "\n"


def main() -> None:
    from evals import main as run_main

    run_main(run, "frame gate evaluation")


if __name__ == "__main__":
    main()
