"""Per-style look: drawing parameters and a whole-frame post-process, plus time-of-day lighting.

All whole-frame work is OpenCV / lookup tables on uint8 (a few ms per 480p frame), never Python per pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Lighting:
    sky_top: tuple[int, int, int]
    sky_bottom: tuple[int, int, int]
    ambient: float  # overall brightness multiplier
    tint: tuple[float, float, float]  # per-channel multiplier (RGB)
    sun: tuple[float, float] | None  # (x fraction of width, height in metres) of sun or moon
    sun_color: tuple[int, int, int]
    stars: bool
    shadow_dx: float  # horizontal shadow offset per metre of height (low sun = long shadow)


LIGHTING: dict[str, Lighting] = {
    "dawn": Lighting((90, 110, 170), (250, 170, 150), 0.85, (1.05, 0.94, 0.95), (0.15, 3.4), (255, 200, 160),
                     False, 1.1),
    "morning": Lighting((90, 150, 230), (200, 225, 245), 0.97, (1.0, 1.0, 0.98), (0.25, 6.0), (255, 245, 220),
                        False, 0.6),
    "day": Lighting((60, 130, 230), (185, 215, 250), 1.0, (1.0, 1.0, 1.0), (0.6, 8.2), (255, 255, 235),
                    False, 0.25),
    "sunset": Lighting((70, 60, 140), (255, 140, 60), 0.82, (1.15, 0.88, 0.72), (0.8, 3.3), (255, 150, 60),
                       False, -1.3),
    "dusk": Lighting((30, 30, 80), (150, 90, 120), 0.62, (0.88, 0.82, 1.05), None, (0, 0, 0), True, 0.0),
    "night": Lighting((5, 8, 25), (25, 35, 70), 0.48, (0.75, 0.85, 1.15), (0.75, 7.6), (235, 235, 215),
                      True, 0.4),
}


@dataclass(frozen=True)
class StyleLook:
    outline: int  # outline thickness in px at 480p (0 = none)
    shading: str  # "smooth" | "cel" | "flat"
    saturation: float


LOOKS: dict[str, StyleLook] = {
    "photorealistic": StyleLook(0, "smooth", 1.0),
    "cinematic": StyleLook(0, "smooth", 0.95),
    "anime": StyleLook(2, "cel", 1.35),
    "cartoon": StyleLook(3, "flat", 1.45),
    "watercolor": StyleLook(0, "smooth", 0.8),
    "noir": StyleLook(0, "smooth", 0.0),
    "pixel": StyleLook(0, "flat", 1.2),
    "sketch": StyleLook(2, "flat", 0.0),
}


def lighting_lut(light: Lighting, indoor: bool) -> np.ndarray:
    """256x1x3 LUT applying ambient level and colour tint (indoor rooms are lamp-lit: half the effect)."""
    amb = light.ambient if not indoor else 0.5 + 0.5 * light.ambient
    tint = np.array(light.tint) if not indoor else (np.array(light.tint) + 1.0) / 2
    x = np.arange(256, dtype=np.float32)[:, None]
    lut = np.clip(x * amb * tint[None, :], 0, 255).astype(np.uint8)
    return lut.reshape(256, 1, 3)


def _curve(points: list[tuple[int, int]]) -> np.ndarray:
    xs, ys = zip(*points, strict=True)
    return np.clip(np.interp(np.arange(256), xs, ys), 0, 255).astype(np.uint8)


class StylePost:
    """Whole-frame post-process of one style at one frame size; holds its precomputed textures."""

    def __init__(self, style: str, width: int, height: int, seed: int) -> None:
        self.style, self.w, self.h = style, width, height
        rng = np.random.default_rng([seed, 31])
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        r = np.sqrt(((xx - width / 2) / (width / 2)) ** 2 + ((yy - height / 2) / (height / 2)) ** 2)
        strength = {"noir": 0.55, "cinematic": 0.4, "photorealistic": 0.18}.get(style, 0.0)
        self.vignette = None
        if strength:
            v = np.clip(1.0 - strength * np.clip(r - 0.45, 0, None) ** 1.5, 0, 1)
            self.vignette = cv2.merge([(v * 255).astype(np.uint8)] * 3)
        self.grain = None
        amp = {"noir": 14, "photorealistic": 5, "cinematic": 6}.get(style, 0)
        if amp:
            # one fixed grain pattern (like a sensor's): a per-frame pattern would triple the encode time
            g = rng.normal(0, amp, (height, width)).astype(np.float32)
            self.grain_pos = cv2.merge([np.clip(g, 0, 255).astype(np.uint8)] * 3)
            self.grain_neg = cv2.merge([np.clip(-g, 0, 255).astype(np.uint8)] * 3)
            self.grain = True
        if style == "cinematic":
            # teal shadows, warm highlights, gentle S contrast
            r_c = _curve([(0, 0), (64, 52), (128, 132), (192, 205), (255, 255)])
            g_c = _curve([(0, 8), (64, 64), (128, 128), (192, 190), (255, 245)])
            b_c = _curve([(0, 22), (64, 78), (128, 126), (192, 172), (255, 225)])
            self.lut = np.stack([r_c, g_c, b_c], axis=1).reshape(256, 1, 3)
            bar = max(0, int(round((height - width / 2.39) / 2)))
            self.bar = bar - bar % 2
        elif style == "noir":
            self.gray_lut = _curve([(0, 0), (50, 20), (128, 128), (200, 235), (255, 255)])
        elif style == "cartoon":
            lv = np.arange(256)
            self.poster = ((lv // 51) * 51 + 25).clip(0, 255).astype(np.uint8)
        elif style == "pixel":
            lv = np.arange(256)
            self.poster = ((lv // 48) * 48 + 24).clip(0, 255).astype(np.uint8)
        elif style in ("watercolor", "sketch"):
            hw, hh = width // 2, height // 2
            paper: np.ndarray = rng.normal(0, 1, (hh // 4 + 1, hw // 4 + 1)).astype(np.float32)
            paper = cv2.resize(paper, (hw, hh), interpolation=cv2.INTER_CUBIC)
            paper += rng.normal(0, 0.5, (hh, hw)).astype(np.float32)
            paper = 1.0 - 0.05 * (paper - paper.min()) / (np.ptp(paper) + 1e-6)
            self.paper = cv2.merge([(paper * 255).astype(np.uint8)] * 3)
            self.paper_tone = np.array([252, 246, 232], np.float32)

    def _saturate(self, f: np.ndarray, k: float) -> np.ndarray:
        hsv = cv2.cvtColor(f, cv2.COLOR_RGB2HSV)
        hsv[..., 1] = cv2.convertScaleAbs(hsv[..., 1], alpha=k)
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)

    def apply(self, f: np.ndarray, index: int) -> np.ndarray:
        s = self.style
        if s == "photorealistic":
            f = cv2.GaussianBlur(f, (3, 3), 0)
        elif s == "cinematic":
            f = cv2.LUT(f, self.lut)
        elif s == "anime":
            f = self._saturate(f, 1.35)
        elif s == "cartoon":
            f = cv2.LUT(self._saturate(f, 1.45), self.poster)
        elif s == "noir":
            g = cv2.LUT(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), self.gray_lut)
            f = cv2.cvtColor(g, cv2.COLOR_GRAY2RGB)
        elif s == "pixel":
            small = cv2.resize(f, (self.w // 6, self.h // 6), interpolation=cv2.INTER_AREA)
            f = cv2.resize(cv2.LUT(small, self.poster), (self.w, self.h), interpolation=cv2.INTER_NEAREST)
        elif s == "watercolor":
            half = cv2.resize(f, (self.w // 2, self.h // 2), interpolation=cv2.INTER_AREA)
            soft = cv2.medianBlur(half, 5)
            soft = cv2.addWeighted(soft, 0.8, np.full_like(soft, 245), 0.2, 0)  # pigment is translucent
            edges = cv2.Laplacian(cv2.cvtColor(soft, cv2.COLOR_RGB2GRAY), cv2.CV_8U, ksize=3)
            soft = cv2.subtract(soft, cv2.merge([cv2.GaussianBlur(edges, (3, 3), 0)] * 3))
            soft = cv2.multiply(soft, self.paper, scale=1 / 255)
            f = cv2.resize(soft, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        elif s == "sketch":
            half = cv2.resize(f, (self.w // 2, self.h // 2), interpolation=cv2.INTER_AREA)
            g = cv2.cvtColor(half, cv2.COLOR_RGB2GRAY)
            blur = cv2.GaussianBlur(255 - g, (0, 0), 4)
            dodge = cv2.divide(g, 255 - blur, scale=256)
            rgb = cv2.merge([dodge] * 3)
            rgb = cv2.multiply(rgb, self.paper, scale=1 / 255)
            f = cv2.resize(rgb, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        if self.vignette is not None:
            f = cv2.multiply(f, self.vignette, scale=1 / 255)
        if self.grain is not None:
            f = cv2.subtract(cv2.add(f, self.grain_pos), self.grain_neg)
        return f

    def finish(self, f: np.ndarray) -> np.ndarray:
        """Last touches drawn over everything (letterbox bars)."""
        if self.style == "cinematic" and self.bar:
            f[: self.bar] = 0
            f[self.h - self.bar:] = 0
        return f
