"""Small synthetic test clips (textured moving pattern + tone/noise soundtrack) for tests and evals."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np


def make_test_clip(
    path: Path,
    *,
    seconds: float = 3.0,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    seed: int = 0,
    audio: bool = True,
    sample_rate: int = 44100,
    crf: int = 18,
) -> Path:
    """Write an H.264 (+AAC) MP4: a blurred noise texture panning diagonally, with a moving bright disc."""
    rng = np.random.default_rng(seed)
    n = max(1, int(round(seconds * fps)))
    pad = 2 * n + 8
    noise = rng.integers(0, 256, (height + pad, width + 2 * pad, 3), dtype=np.uint8)
    base = cv2.normalize(cv2.GaussianBlur(noise, (0, 0), 2.5), np.empty_like(noise), 20, 235, cv2.NORM_MINMAX)
    path = Path(path)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.options = {"crf": str(crf), "preset": "veryfast"}
        a_stream = None
        if audio:
            a_stream = out.add_stream("aac", rate=sample_rate)
            a_stream.layout = "mono"
        for i in range(n):
            frame = np.ascontiguousarray(base[i // 2 : i // 2 + height, i : i + width], dtype=np.uint8)
            cx = int(width * (0.2 + 0.6 * (i / max(1, n - 1))))
            cv2.circle(frame, (cx, height // 2), max(6, height // 10), (240, 200, 60), -1)
            for pkt in vs.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
        if a_stream is not None:
            total = int(seconds * sample_rate)
            t = np.arange(total) / sample_rate
            # a chord with a slow melody and some noise: a soundtrack with real spectral content
            f0 = 220 * 2 ** (np.floor(t * 2) % 5 / 12)
            sig = 0.15 * np.sin(2 * np.pi * np.cumsum(f0) / sample_rate) + 0.1 * np.sin(2 * np.pi * 660 * t)
            sig += 0.03 * rng.standard_normal(total)
            sig = sig.astype(np.float32)
            for k in range(0, total, 1024):
                chunk = av.AudioFrame.from_ndarray(sig[None, k : k + 1024], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = sample_rate, k
                for pkt in a_stream.encode(chunk):
                    out.mux(pkt)
            for pkt in a_stream.encode():
                out.mux(pkt)
    return path
