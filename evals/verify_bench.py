"""Verification speed: latency of a full report (C2PA, watermark + registry, detector) for a 10 s 720p
clip, ours and someone else's, and the HTTP endpoint under concurrent requests against a real server."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _latency(c, path: Path, runs: int) -> tuple[list[float], dict]:
    from gate.verify import verify_file

    times, last = [], {}
    for _ in range(runs):
        t0 = time.perf_counter()
        last = verify_file(c, path)
        times.append(time.perf_counter() - t0)
    return times, last


def run(data_dir: Path, runs: int = 5, concurrent: int = 4, requests: int = 12) -> str:
    import httpx

    from gate import jobs
    from gate.components import Components
    from gate.requests import GenerationRequest
    from gate.settings import Settings
    from gate.users import create_user

    lines = ["Verify latency (seconds) and endpoint throughput", ""]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        c = Components(Settings(data_dir=data))
        job = jobs.create_job(c, "bench", GenerationRequest(
            prompt="a red ball bouncing on a wooden floor, then cut to rain on a city street",
            seconds=10, resolution="720p"))
        status = jobs.run_job(c, job.id)
        published = c.storage.path(jobs.get_job(c, job.id).video_key) if status == "published" else None
        real = data_dir / "videos_real" / "bikes_scene_cuts.mp4"
        lines += ["| clip | verdict | p50 | p95 | c2pa | watermark | detector |", "|---|---|---|---|---|---|---|"]
        for label, path in (("ours, 10 s 720p, published", published), ("real camera clip, unsigned", real)):
            if path is None or not Path(path).exists():
                lines.append(f"| {label} | (not available: job {status}) | | | | | |")
                continue
            times, rep = _latency(c, Path(path), runs)
            t = rep["timings"]
            p95 = sorted(times)[max(0, int(round(0.95 * len(times))) - 1)]
            lines.append(f"| {label} | {rep['verdict_code']} | {statistics.median(times):.2f} | {p95:.2f} | "
                         f"{t['c2pa']:.2f} | {t['watermark']:.2f} | {t['detector']:.2f} |")
        _, key = create_user(c.engine, "bench_journalist", "journalist")
        c.engine.dispose()

        port = _free_port()
        env = {**os.environ, "REELGATE_DATA_DIR": str(data)}
        server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", "0"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(120):
                try:
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            body = Path(published or real).read_bytes()

            def one(_: int) -> tuple[int, float]:
                t0 = time.perf_counter()
                r = httpx.post(f"{base}/v1/verify", files={"file": ("clip.mp4", body, "video/mp4")},
                               headers={"Authorization": f"Bearer {key}"}, timeout=300)
                return r.status_code, time.perf_counter() - t0

            t0 = time.perf_counter()
            with ThreadPoolExecutor(concurrent) as pool:
                results = list(pool.map(one, range(requests)))
            wall = time.perf_counter() - t0
        finally:
            server.terminate()
            server.wait(timeout=30)
    codes = [code for code, _ in results]
    lat = [t for _, t in results]
    lines += ["", f"Endpoint: {requests} requests, {concurrent} at a time, one server process on this 2-core machine: "
              f"{sum(code == 200 for code in codes)}/{requests} OK, errors {[x for x in codes if x != 200] or 'none'}, "
              f"{requests / wall:.2f} requests/s, latency p50 {statistics.median(lat):.2f} s, max {max(lat):.2f} s"]
    return "\n".join(lines)


def main() -> None:
    from evals import main as run_main

    run_main(run, __doc__)


if __name__ == "__main__":
    main()
