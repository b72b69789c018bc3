"""Measurements on produced clips, shared by tests and evals: impact onsets in audio (for A/V sync) and
colour-blob tracks in frames (for motion checks)."""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt


def onset_offsets(audio: np.ndarray, sr: int, times: list[float], fps: int, window_frames: float = 2.0
                  ) -> list[float | None]:
    """For each expected impact time, the offset (s) of the detected sound onset from it, or None.

    Onset = first sample, within +-window_frames of the expected time, where the high-passed envelope
    rises above both 4x the level just before the window and a quarter of the window's peak.
    """
    mono = np.asarray(audio, np.float64)
    mono = mono.mean(axis=0) if mono.ndim == 2 else mono
    hp = sosfiltfilt(butter(4, 1000.0, btype="highpass", fs=sr, output="sos"), mono)
    env = np.abs(hp)
    k = max(1, int(0.0005 * sr))
    env = np.convolve(env, np.ones(k) / k, mode="same")
    out: list[float | None] = []
    half = int(window_frames / fps * sr)
    for t in times:
        c = int(round(t * sr))
        a, b = max(0, c - half), min(len(env), c + half)
        if b - a < 10:
            out.append(None)
            continue
        pre = env[max(0, a - int(0.03 * sr)): a]
        floor = float(np.median(pre)) if len(pre) else 0.0
        seg = env[a:b]
        thr = max(4 * floor, 0.25 * float(seg.max()))
        idx = np.flatnonzero(seg > thr)
        out.append(None if not len(idx) or seg.max() < 1e-4 else (a + int(idx[0]) - c) / sr)
    return out


def color_track(frames: list[np.ndarray], rgb: tuple[int, int, int], tol: int = 60,
                min_pixels: int = 20) -> np.ndarray:
    """(n, 2) centroid (x, y) of pixels near `rgb` per frame (NaN where too few), plus nothing else."""
    target = np.array(rgb, np.int16)
    out = np.full((len(frames), 2), np.nan)
    for i, f in enumerate(frames):
        d = np.abs(f.astype(np.int16) - target).max(axis=2)
        ys, xs = np.nonzero(d < tol)
        if len(xs) >= min_pixels:
            out[i] = (xs.mean(), ys.mean())
    return out
