"""Global forensic statistics of normalised grey frames (decode.py), per window: spectrum, tone, temporal change.

Cheap (numpy FFTs and frame differences on 256 px frames), complementary to the artifact features of
features.py, which look at edges, noise residuals, flow and tracks:
  spectrum   radial power-spectrum slope and high/mid band ratio (upsampling and denoising reshape them)
  tone       contrast, histogram entropy, share of clipped pixels (generators' tone curves)
  temporal   acceleration/velocity ratio of pixel change (interpolated motion is smooth), correlation of
             consecutive frame differences, change per unit of image gradient, Laplacian/gradient ratio
The frames have been through one codec, size, rate and palette whatever the source, so a difference here is
a difference in picture, not in file format (as far as the normalisation goes: see evals.detector's baseline).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

FORENSIC_GROUPS: dict[str, list[str]] = {
    "spectrum": ["spec_slope", "spec_high_mid_ratio"],
    "tone": ["tone_contrast", "tone_entropy", "tone_clipped"],
    "temporal": ["temp_accel_ratio", "temp_diff_autocorr", "temp_change_per_gradient", "lap_gradient_ratio"],
}
FORENSIC_NAMES: list[str] = [n for names in FORENSIC_GROUPS.values() for n in names]
FORENSIC_TEMPORAL: frozenset[str] = frozenset(["temp_accel_ratio", "temp_diff_autocorr", "temp_change_per_gradient"])

_N = 256
_fy = np.fft.fftfreq(_N)[:, None]
_fx = np.fft.rfftfreq(_N)[None, :]
_radius = np.sqrt(_fx**2 + _fy**2)
_BANDS = np.geomspace(0.02, 0.3, 13)
_WIN = np.outer(np.hanning(_N), np.hanning(_N)).astype(np.float32)


def _spectrum(g: np.ndarray) -> tuple[float, float]:
    if g.shape != (_N, _N):
        g = cv2.resize(g, (_N, _N), interpolation=cv2.INTER_AREA)
    x = g.astype(np.float32)
    p = np.abs(np.fft.rfft2((x - x.mean()) * _WIN)) ** 2
    mids = np.sqrt(_BANDS[:-1] * _BANDS[1:])
    power = np.array([p[(_radius >= a) & (_radius < b)].mean() for a, b in zip(_BANDS[:-1], _BANDS[1:], strict=True)])
    power = np.maximum(power, 1e-6)
    keep = mids < 0.2
    slope = float(np.polyfit(np.log(mids[keep]), np.log(power[keep]), 1)[0])
    high = p[(_radius >= 0.15) & (_radius < 0.3)].mean()
    mid = p[(_radius >= 0.02) & (_radius < 0.15)].mean()
    return slope, float(math.log((high + 1e-6) / (mid + 1e-6)))


def _tone(g: np.ndarray) -> tuple[float, float, float]:
    hist = np.bincount(g.ravel(), minlength=256).astype(np.float64)
    q = hist / hist.sum()
    ent = float(-(q[q > 0] * np.log2(q[q > 0])).sum())
    clipped = float(((g < 8) | (g > 247)).mean())
    return float(g.std() / 255.0), ent, clipped


def _grad(g: np.ndarray) -> float:
    gf = g.astype(np.float32)
    return float(np.hypot(cv2.Sobel(gf, cv2.CV_32F, 1, 0), cv2.Sobel(gf, cv2.CV_32F, 0, 1)).mean())


def window_forensics(grey: np.ndarray) -> dict[str, float]:
    """Features of one window of grey frames (n, H, W) uint8; temporal ones NaN for fewer than 3 frames."""
    spec = np.array([_spectrum(g) for g in grey])
    tone = np.array([_tone(g) for g in grey])
    grads = np.array([_grad(g) for g in grey])
    laps = np.array([float(np.abs(cv2.Laplacian(g.astype(np.float32), cv2.CV_32F)).mean()) for g in grey])
    out = {
        "spec_slope": float(spec[:, 0].mean()),
        "spec_high_mid_ratio": float(spec[:, 1].mean()),
        "tone_contrast": float(tone[:, 0].mean()),
        "tone_entropy": float(tone[:, 1].mean()),
        "tone_clipped": float(tone[:, 2].mean()),
        "lap_gradient_ratio": float(laps.mean() / (grads.mean() + 1e-3)),
        "temp_accel_ratio": math.nan,
        "temp_diff_autocorr": math.nan,
        "temp_change_per_gradient": math.nan,
    }
    if len(grey) >= 3:
        f = grey.astype(np.float32)
        d1 = np.diff(f, axis=0)
        d2 = np.diff(d1, axis=0)
        v = float(np.abs(d1).mean())
        out["temp_accel_ratio"] = float(np.abs(d2).mean() / (v + 1e-3))
        cors = []
        for a, b in zip(d1[:-1], d1[1:], strict=True):
            sa, sb = a.std(), b.std()
            if sa > 1e-3 and sb > 1e-3:
                cors.append(float(((a - a.mean()) * (b - b.mean())).mean() / (sa * sb)))
        out["temp_diff_autocorr"] = float(np.mean(cors)) if cors else math.nan
        out["temp_change_per_gradient"] = float(v / (grads.mean() + 1e-3))
    return out
