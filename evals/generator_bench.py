"""Generation core benchmark: speed per resolution/duration (with the ratio to a bare encode of the same
frames), audio-visual sync of impact sounds measured from the decoded MP4, and determinism.

    .venv/bin/python -m evals.generator_bench [--data ../shared/data] [--quick]
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from generator import GenerationSpec, get_backend
from generator.analysis import onset_offsets
from generator.encode import read_audio, read_clip, write_mp4
from generator.spec import Clip

SPEED_CASES = [("480p", 5.0, 24), ("480p", 10.0, 24), ("720p", 10.0, 24), ("720p", 10.0, 30), ("1080p", 5.0, 24)]
SPEED_PROMPTS = {
    "ball": "a red ball bouncing on a wooden floor",
    "rich": "a corgi running on the beach at sunset in the rain, gentle ukulele music, "
            "then cut to two blue balls colliding in a city street at night, pan left",
}
SYNC_PROMPTS = [
    ("a red ball bouncing on a wooden floor", 24),
    ("a red ball bouncing on a wooden floor", 30),
    ("two balls collide in a gym", 24),
    ("a metal box and a glass marble falling on a tiled floor", 24),
    ("three tennis balls bouncing on concrete in the rain, upbeat music", 24),
    ("a basketball bouncing on a wooden court in slow motion", 30),
    ("a red ball bouncing on the moon", 24),
]


def _timed_encode(clip: Clip, tmp: Path) -> dict:
    """Render+encode, render only, and a bare encode of the same frames replayed from disk."""
    t0 = time.perf_counter()
    write_mp4(clip, tmp / "full.mp4")
    total = time.perf_counter() - t0
    raw = np.lib.format.open_memmap(tmp / "frames.npy", mode="w+", dtype=np.uint8,
                                    shape=(clip.n_frames, clip.height, clip.width, 3))
    t0 = time.perf_counter()
    for i, f in enumerate(clip.frames()):
        raw[i] = f
    render = time.perf_counter() - t0
    raw.flush()
    replay = Clip(clip.fps, clip.width, clip.height, clip.n_frames, lambda: iter(raw), clip.audio, clip.sample_rate)
    t0 = time.perf_counter()
    write_mp4(replay, tmp / "bare.mp4")
    bare = time.perf_counter() - t0
    (tmp / "frames.npy").unlink()
    return {"total": total, "render": render, "bare": bare}


def speed_table(quick: bool) -> str:
    backend = get_backend()
    rows = ["| prompt | resolution | seconds | fps | plan (s) | generate+encode (s) | x real time | "
            "render only (s) | bare encode (s) | ratio to bare encode |", "|---|---|---|---|---|---|---|---|---|---|"]
    cases = SPEED_CASES[:3] if quick else SPEED_CASES
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name, prompt in SPEED_PROMPTS.items():
            for res, secs, fps in cases:
                t0 = time.perf_counter()
                clip = backend.generate(GenerationSpec(prompt, seconds=secs, resolution=res, fps=fps))
                plan = time.perf_counter() - t0
                m = _timed_encode(clip, tmp)
                total = plan + m["total"]
                rows.append(f"| {name} | {res} | {secs:g} | {fps} | {plan:.2f} | {total:.2f} | {total / secs:.2f} | "
                            f"{m['render']:.2f} | {m['bare']:.2f} | {total / m['bare']:.2f} |")
    return "\n".join(rows)


def sync_table() -> tuple[str, list[float]]:
    backend = get_backend()
    rows = ["| prompt | fps | collisions (clusters) | clusters detected | mean abs offset (ms) | max abs offset (ms) | "
            "max offset (frames) | within 1 frame |", "|---|---|---|---|---|---|---|---|"]
    all_offsets: list[float] = []
    with tempfile.TemporaryDirectory() as d:
        for k, (prompt, fps) in enumerate(SYNC_PROMPTS):
            clip = backend.generate(GenerationSpec(prompt, seconds=5.0, fps=fps, seed=k))
            path = Path(d) / f"s{k}.mp4"
            write_mp4(clip, path)
            audio, sr = read_audio(path)
            cols = clip.metadata["collisions"]
            # impacts two frames apart or closer merge into one sound: detect one onset per cluster and
            # measure it against the nearest collision frame of that cluster
            clusters: list[list[float]] = []
            for c in cols:
                t = c["frame"] / fps
                if clusters and t - clusters[-1][-1] < 2.5 / fps:  # the onset search window is +-2 frames
                    clusters[-1].append(t)
                else:
                    clusters.append([t])
            times = [cl[0] for cl in clusters]
            raw = onset_offsets(audio, sr, times, fps)
            offs = [None if o is None else min((cl[0] + o - m for m in cl), key=abs)
                    for o, cl in zip(raw, clusters, strict=True)]
            found = [abs(o) for o in offs if o is not None]
            all_offsets += found
            within = sum(o <= 1.0 / fps for o in found)
            mean = 1000 * float(np.mean(found)) if found else float("nan")
            mx = max(found) if found else float("nan")
            rows.append(f"| {prompt} | {fps} | {len(cols)} ({len(times)}) | {len(found)} | {mean:.1f} | "
                        f"{1000 * mx:.1f} | {mx * fps:.2f} | {within}/{len(times)} |")
    return "\n".join(rows), all_offsets


def determinism_table(runs: int = 3) -> str:
    """Same seed, several runs: hashes of the rendered frames, of the MP4 bytes and of the decoded frames,
    so a mismatch shows whether it comes from the generator or from the codec."""
    backend = get_backend()
    rows = ["| prompt | seed | runs | rendered frames (sha256) | MP4 bytes | decoded frames | all the same |",
            "|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as d:
        for prompt, seed in (("a red ball bouncing on a wooden floor", 1),
                             ("a corgi running on the beach at sunset in the rain, gentle ukulele music", 9)):
            sets: list[set[str]] = [set(), set(), set()]
            for run in range(runs):
                clip = backend.generate(GenerationSpec(prompt, seconds=3.0, seed=seed))
                h = hashlib.sha256()
                for f in clip.frames():
                    h.update(f.tobytes())
                sets[0].add(h.hexdigest()[:12])
                path = Path(d) / f"d{run}.mp4"
                write_mp4(clip, path)
                sets[1].add(hashlib.sha256(path.read_bytes()).hexdigest()[:12])
                h = hashlib.sha256()
                for f in read_clip(path).frames():
                    h.update(f.tobytes())
                sets[2].add(h.hexdigest()[:12])
            same = all(len(x) == 1 for x in sets)
            cells = " | ".join(", ".join(sorted(x)) for x in sets)
            rows.append(f"| {prompt} | {seed} | {runs} | {cells} | {'yes' if same else 'NO'} |")
    return "\n".join(rows)


def remix_table(data_dir: Path) -> str:
    src = data_dir / "videos_real" / "carphone_face_qcif.mp4"  # hand_wave_h264.webm is held out (imageio)
    if not src.is_file():
        return f"(remix of a real clip not measured: {src} not found)"
    backend = get_backend()
    rows = ["| source | change | seconds | generate+encode (s) |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as d:
        for prompt in ("in watercolor style", "replace the background with a beach at sunset"):
            t0 = time.perf_counter()
            clip = backend.generate(GenerationSpec(prompt, seconds=5.0, source_clip=src))
            write_mp4(clip, Path(d) / "r.mp4")
            rows.append(f"| {src.name} | {clip.metadata['remix']['change']} | {clip.n_frames / clip.fps:.1f} | "
                        f"{time.perf_counter() - t0:.2f} |")
    return "\n".join(rows)


def run(data_dir: Path, quick: bool = False) -> str:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sync, offs = sync_table()
    load = os.getloadavg()[0]
    parts = [
        "## Generator: speed (procedural backend, this machine)",
        f"Load average when the timing started: {load:.1f} on {os.cpu_count()} cores (shared machine).",
        speed_table(quick),
        "", "## Generator: audio-visual sync (impact onset vs collision frame, from the decoded MP4)", sync,
        f"\nAll impacts: {len(offs)} measured, max |offset| {1000 * max(offs):.1f} ms, "
        f"mean {1000 * float(np.mean(offs)):.1f} ms." if offs else "\nNo impacts measured.",
        "", "## Generator: determinism", determinism_table(),
        "", "## Generator: remix of a real clip", remix_table(data_dir),
    ]
    return "\n".join(parts)


def main() -> None:
    from evals import main as run_main

    run_main(run, __doc__.splitlines()[0], quick_help="fewer speed cases")

if __name__ == "__main__":
    main()
