"""Face search at scale: exact FaceIndex (IndexFlatL2) vs approximate FAISS IVF, synthetic vectors.

N enrolled unit vectors (128-d, dlib's size), queries = an enrolled vector plus noise at a same-person
distance (~0.35, the median genuine distance dlib gives on the shared photos). Reports build time,
milliseconds per query face (one thread), index memory, and how often the true owner comes back within
the gate threshold (0.6). Synthetic random vectors are far more spread out than real faces (random unit
vectors sit ~1.41 apart, real impostors ~0.86), so approximate recall here is an upper bound.

    .venv/bin/python -m evals.faces_index [--n 1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def bench(n: int = 1_000_000, queries: int = 200, dim: int = 128, seed: int = 0) -> str:
    import faiss

    from consent.index import FaceIndex

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(seed)
    base = np.empty((n, dim), np.float32)
    for s in range(0, n, 100_000):  # generate in chunks to keep peak memory down
        base[s : s + 100_000] = _unit(rng.standard_normal((min(100_000, n - s), dim)))
    truth = rng.choice(n, size=queries, replace=False)
    noise = _unit(rng.standard_normal((queries, dim))) * 0.35
    q = (base[truth] + noise).astype(np.float32)
    rows = ["| index | build s | ms / query face | memory MB | true owner found within 0.6 |", "|---|---|---|---|---|"]

    t0 = time.perf_counter()
    exact = FaceIndex(dim)
    # One owner per vector; row ids = positions (as `rebuild` would use database row ids).
    chunk = 50_000
    for s in range(0, n, chunk):
        ids = np.arange(s, min(n, s + chunk))
        exact._index.add_with_ids(base[ids], ids.astype(np.int64))  # bulk path for the benchmark
        exact._owner_of.update(zip(ids.tolist(), ids.tolist(), strict=True))
    build = time.perf_counter() - t0
    mem = faiss.serialize_index(exact._index).nbytes / 1e6
    t0 = time.perf_counter()
    hits = 0
    for i in range(queries):
        res = exact.search(q[i], k=5)
        hits += bool(res) and res[0][0] == truth[i] and res[0][1] < 0.6
    ms = (time.perf_counter() - t0) * 1000 / queries
    rows.append(
        f"| exact FaceIndex (IDMap2 + FlatL2) | {build:.1f} | {ms:.1f} | {mem:.0f} | {hits / queries:.3f} |"
    )
    del exact

    nlist = max(16, int(np.sqrt(n)))
    t0 = time.perf_counter()
    quant = faiss.IndexFlatL2(dim)
    ivf = faiss.IndexIVFFlat(quant, dim, nlist)
    ivf.train(base[rng.choice(n, size=min(n, 30 * nlist), replace=False)])
    ivf.add(base)
    build = time.perf_counter() - t0
    mem = faiss.serialize_index(ivf).nbytes / 1e6
    for nprobe in (8, 32):
        ivf.nprobe = nprobe
        t0 = time.perf_counter()
        hits = 0
        for i in range(queries):
            d2, ids = ivf.search(q[i : i + 1], 5)
            hits += ids[0][0] == truth[i] and np.sqrt(d2[0][0]) < 0.6
        ms = (time.perf_counter() - t0) * 1000 / queries
        rows.append(
            f"| IVFFlat nlist={nlist} nprobe={nprobe} | {build:.1f} | {ms:.2f} | {mem:.0f} | {hits / queries:.3f} |"
        )
    rows.append("")
    rows.append(f"N = {n:,} enrolled vectors, {queries} queries, 1 thread, dim {dim}.")
    return "\n".join(rows)


def run(data_dir: Path) -> str:  # noqa: ARG001  synthetic: needs no data
    return bench(int(os.environ.get("REELGATE_FACES_INDEX_N", "1000000")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--data", type=Path, default=None, help="unused (synthetic vectors)")
    args = ap.parse_args()
    print(bench(args.n, args.queries))


if __name__ == "__main__":
    main()
