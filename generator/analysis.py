"""Measurements on produced clips, shared by tests and evals: impact onsets in audio (for A/V sync) and
colour-blob tracks in frames (for motion checks)."""

from __future__ import annotations

import cv2
import numpy as np
from scipy.signal import butter, sosfiltfilt


def onset_offsets(audio: np.ndarray, sr: int, times: list[float], fps: int, window_frames: float = 2.0
                  ) -> list[float | None]:
    """For each expected impact time, the offset (s) of the detected sound onset from it, or None.

    The onset is where the high-passed (> 1 kHz) amplitude envelope rises fastest within +-window_frames
    of the expected time: a struck object's attack is the steepest rise there, even over rain, music or
    the ringing tail of an earlier impact. None when nothing rises at all.
    """
    mono = np.asarray(audio, np.float64)
    mono = mono.mean(axis=0) if mono.ndim == 2 else mono
    hp = sosfiltfilt(butter(4, 1000.0, btype="highpass", fs=sr, output="sos"), mono)
    k = max(1, int(0.001 * sr))
    env = np.sqrt(np.convolve(hp * hp, np.ones(k) / k, mode="same"))
    lag = max(1, int(0.002 * sr))
    rise = np.zeros_like(env)
    rise[lag:] = env[lag:] - env[:-lag]
    out: list[float | None] = []
    half = int(window_frames / fps * sr)
    for t in times:
        c = int(round(t * sr))
        a, b = max(lag, c - half), min(len(env), c + half)
        if b - a < 10 or rise[a:b].max() <= 1e-5:
            out.append(None)
            continue
        peak = a + int(np.argmax(rise[a:b]))
        # walk back from the steepest point to where the rise began (the attack's first sample)
        start = peak
        while start > a and rise[start - 1] > 0.1 * rise[peak]:
            start -= 1
        out.append((start - lag // 2 - c) / sr)
    return out


def hue_mask(frame: np.ndarray, hue: int, hue_tol: int = 10, min_sat: int = 120, min_val: int = 50) -> np.ndarray:
    """Boolean mask of saturated pixels whose OpenCV hue (0..179) is within hue_tol of `hue`."""
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
    d = np.abs(hsv[..., 0].astype(np.int16) - hue)
    return (np.minimum(d, 180 - d) <= hue_tol) & (hsv[..., 1] >= min_sat) & (hsv[..., 2] >= min_val)


def color_track(frames: list[np.ndarray], hue: int, min_pixels: int = 30, **kw: int) -> np.ndarray:
    """(n, 2) centroid (x, y) of the pixels of one hue per frame; NaN where fewer than min_pixels."""
    out = np.full((len(frames), 2), np.nan)
    for i, f in enumerate(frames):
        ys, xs = np.nonzero(hue_mask(f, hue, **kw))
        if len(xs) >= min_pixels:
            out[i] = (xs.mean(), ys.mean())
    return out
