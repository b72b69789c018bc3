"""The hash banks' index at scale, and the distance threshold's false-match rate on unrelated frames.

`python -m evals.bank_index [--data DIR] [--quick]`

1. False matches: PDQ hashes (as gate.banks hashes them: 512x512, quality >= 50) of frames every 0.5 s of
   every usable clip in the shared data; every pair of frames from two different clips is an unrelated pair,
   compared as the matcher compares (the query as is and mirrored). The share of pairs within each distance
   is printed around the threshold 31.
2. Scale: safety.hashbank.index.PdqIndex (faiss multi-index hashing) holding 1,000,000 hashes: the real frames
   plus filler, (a) uniform random hashes, (b) clusters of 100 hashes 20-60 bits around random centres (a
   bank of videos: each vPDQ is a cluster of similar frames; fuller buckets than uniform hashes). A query is
   one frame (as is + mirrored) matched through PdqIndex.match, on one thread, timed by the wall clock and by
   the process's CPU time (the machine is shared); every real frame must find itself, and frames of clips
   left out of the index must find nothing.
3. The whole path: 1,000,000 PDQ hashes imported from a te file into the database, the index built from it.
Held-out sources are not read (evals.held_out, via evals.stay_down.shared_clips).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

N = 1_000_000


def frame_hashes(clips: list[Path]) -> list[tuple[Path, list[tuple[bytes, bytes]]]]:
    """Per clip, (as-is, mirrored) PDQ of its usable frames every 0.5 s."""
    from safety.frames import decode_sample
    from safety.hashbank import signals as sig

    out = []
    for clip in clips:
        rows = []
        for f in decode_sample(clip, 0.5):
            if "interval" not in f.reasons:
                continue
            variants, q = sig.query_variants(f.image)
            if q >= sig.MIN_QUALITY:
                rows.append((variants[0][1], variants[1][1]))
        if rows:
            out.append((clip, rows))
    return out


def _bits(codes: list[bytes]) -> np.ndarray:
    return np.unpackbits(np.frombuffer(b"".join(codes), np.uint8).reshape(-1, 32), axis=1)


def false_match_table(per_clip: list[tuple[Path, list[tuple[bytes, bytes]]]]) -> tuple[str, list[str]]:
    stored = _bits([a for _, rows in per_clip for a, _ in rows]).astype(np.int16)
    owner = np.concatenate([np.full(len(rows), i) for i, (_, rows) in enumerate(per_clip)])
    thresholds = (16, 24, 31, 36, 40, 48)
    counts = dict.fromkeys(thresholds, 0)
    pairs = 0
    close: list[str] = []
    for i, (clip, rows) in enumerate(per_clip):
        q = _bits([c for r in rows for c in r]).astype(np.int16)  # as is, mirrored, as is, mirrored ...
        other = owner != i
        # Hamming distance of every query variant to every frame of the other clips
        d = (q[:, None, :] != stored[None, other, :]).sum(-1)
        best = d.reshape(len(rows), 2, -1).min(1)  # per frame, the better of as is / mirrored
        pairs += best.size
        for t in thresholds:
            counts[t] += int((best <= t).sum())
        if (best <= 31).any():
            others = [per_clip[j][0].name for j in np.unique(owner[other][np.where(best <= 31)[1]])]
            close.append(f"{clip.name} ~ {', '.join(others)}")
    rows_ = [f"Unrelated frame pairs: {pairs:,} ({sum(len(r) for _, r in per_clip)} frames of {len(per_clip)} clips, "
             "each pair compared as is and mirrored)", "",
             "| distance <= | pairs | rate |", "|---|---|---|"]
    for t in thresholds:
        mark = " (threshold)" if t == 31 else ""
        rows_.append(f"| {t}{mark} | {counts[t]:,} | {counts[t] / max(1, pairs):.2e} |")
    return "\n".join(rows_), close


def _timed_queries(index, queries: list[tuple[bytes, bytes]]) -> tuple[list[float], list[float], int]:
    """Per query: wall ms, CPU ms; and how many found anything."""
    wall, cpu, hits = [], [], 0
    for a, b in queries:
        t0, c0 = time.perf_counter(), time.process_time()
        found = index.match([[("as is", a), ("mirror", b)]])
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        hits += bool(found)
    return wall, cpu, hits


def scale_table(per_clip: list[tuple[Path, list[tuple[bytes, bytes]]]], quick: bool) -> str:
    import faiss

    from safety.hashbank import signals as sig
    from safety.hashbank.index import PdqIndex

    faiss.omp_set_num_threads(1)
    n = 200_000 if quick else N
    held_out = per_clip[::4]  # clips left out of the index: their frames must find nothing
    indexed = [pc for pc in per_clip if pc not in held_out]
    real = [a for _, rows in indexed for a, _ in rows]
    rng = np.random.default_rng(0)
    out = ["| filler | hashes in the index | build (s) | query p50 (ms, wall / CPU) | p95 (wall / CPU) | max wall | "
           "real frames found | left-out frames matched |", "|---|---|---|---|---|---|---|---|"]
    for filler in ("uniform random", "clustered: 100 hashes 20-60 bits around each of n/100 centres"):
        m = n - len(real)
        if filler.startswith("uniform"):
            fill = rng.integers(0, 256, (m, 32), dtype=np.uint8)
        else:
            base = rng.integers(0, 2, (max(1, m // 100), 256), dtype=np.uint8)  # 100 hashes around each centre
            bits = base[np.arange(m) % len(base)]
            flips = rng.integers(20, 61, m)
            pos = rng.integers(0, 256, (m, 60))  # positions to flip (a repeat flips once: ~3 fewer)
            keep = np.arange(60)[None, :] < flips[:, None]
            mask = np.zeros((m, 256), bool)
            mask[np.nonzero(keep)[0], pos[keep]] = True
            fill = np.packbits(bits ^ mask, axis=1)
            del bits, mask, pos, keep
        codes = np.concatenate([np.frombuffer(b"".join(real), np.uint8).reshape(-1, 32), fill])
        entry = np.concatenate([np.arange(len(real)), np.arange(len(real), len(real) + 1)
                                .repeat(m)]).astype(np.int64)
        t0 = time.perf_counter()
        index = PdqIndex()
        index.add_many(entry, codes, np.zeros(len(codes), np.float32),
                       {**{i: (sig.PDQ, "") for i in range(len(real))}, len(real): (sig.PDQ, "filler")})
        build = time.perf_counter() - t0
        own = [(a, b) for _, rows in indexed for a, b in rows][:1000 if not quick else 300]
        wall, cpu, found = _timed_queries(index, own)
        left = [(a, b) for _, rows in held_out for a, b in rows]
        w2, c2, matched = _timed_queries(index, left)
        wall, cpu = wall + w2, cpu + c2
        out.append(f"| {filler} | {len(index):,} | {build:.1f} | {np.percentile(wall, 50):.2f} / "
                   f"{np.percentile(cpu, 50):.2f} | {np.percentile(wall, 95):.2f} / {np.percentile(cpu, 95):.2f} | "
                   f"{max(wall):.2f} | {found}/{len(own)} | {matched}/{len(left)} |")
        del index, codes, fill
    return "\n".join(out)


def database_table(quick: bool) -> str:
    """The whole path at scale: a 1,000,000-line `te` file imported into the embedded database (SQLite), then
    the index built from the database as a worker does at start (gate.banks.warm_index)."""
    import tempfile

    from gate import banks
    from gate.components import Components
    from gate.settings import Settings

    n = 100_000 if quick else N
    codes = np.random.default_rng(1).integers(0, 256, (n, 32), dtype=np.uint8)
    text = "".join(f"pdq {c.tobytes().hex()}\n" for c in codes)
    with tempfile.TemporaryDirectory() as d:
        os.environ["REELGATE_DATA_DIR"] = d
        c = Components(Settings())
        t0, c0 = time.perf_counter(), time.process_time()
        added = banks.import_text(c, "industry", text, "eval")["added"]
        imp = (time.perf_counter() - t0, time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        held = banks.warm_index(c)
        load = (time.perf_counter() - t0, time.process_time() - c0)
        c.engine.dispose()
    return ("| step | rows | wall (s) | CPU (s) |\n|---|---|---|---|\n"
            f"| import a te file (parse, validate, one transaction) | {added:,} | {imp[0]:.1f} | {imp[1]:.1f} |\n"
            f"| build the index from the database | {held:,} | {load[0]:.1f} | {load[1]:.1f} |")


def run(data: Path, quick: bool = False) -> str:
    from evals.stay_down import shared_clips

    t0 = time.perf_counter()
    clips = shared_clips(data)
    per_clip = frame_hashes(clips[:12] if quick else clips)
    fm, close = false_match_table(per_clip)
    scale = scale_table(per_clip, quick)
    db = database_table(quick)
    load = os.getloadavg()[0]
    lines = ["PDQ threshold 31 (Meta's confident-match distance) of 256 bits.", "", fm]
    if close:
        lines += ["", "Clip pairs with any frame pair within 31 bits:", *[f"- {c}" for c in close]]
    lines += ["", f"Index: faiss IndexBinaryMultiHash, 16 maps x 16 bits, 1 bit flipped per probe (every hash "
              f"within 31 bits is found); one thread; load average {load:.1f} on {os.cpu_count()} cores "
              "(other jobs running: times are upper bounds).", "", scale, "",
              "From a bank file to a loaded index (embedded SQLite):", "", db, "",
              f"whole run {time.perf_counter() - t0:.0f} s"]
    return "\n".join(lines)


def main() -> None:
    from evals import main as run_main

    run_main(run, __doc__, quick_help="12 clips, 200,000 hashes")


if __name__ == "__main__":
    main()
