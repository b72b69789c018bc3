"""Visible moving watermark (off by default; policy switches it on), like the big apps' drifting logo."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from provenance.errors import ProvenanceError
from provenance.media import transcode


def add_visible_mark(src: Path, dst: Path, text: str, *, crf: int = 18, opacity: float = 0.45) -> dict:
    """Burn a semi-transparent label that drifts around the frame (harder to crop or blur out)."""
    if not text or not text.strip():
        raise ProvenanceError("visible watermark text is empty")
    # Hershey fonts draw ASCII only
    text = "".join(ch if 32 <= ord(ch) < 127 else "-" for ch in text)[:64]

    def draw(rgb: np.ndarray, i: int) -> np.ndarray:
        h, w = rgb.shape[:2]
        scale = max(0.4, h / 600)
        thick = max(1, int(round(scale * 2)))
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        # bounce on a slow Lissajous path so no fixed crop removes it
        span_x, span_y = max(1, w - tw - 8), max(1, h - th - 8)
        x = int(4 + span_x * (0.5 + 0.5 * math.sin(i / 47.0)))
        y = int(th + 4 + span_y * (0.5 + 0.5 * math.sin(i / 61.0 + 1.3)))
        overlay = rgb.copy()
        cv2.putText(overlay, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
        cv2.putText(overlay, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)
        return cv2.addWeighted(overlay, opacity, rgb, 1 - opacity, 0)

    info = transcode(Path(src), Path(dst), rgb_fn=draw, audio=True, crf=crf)
    return {"dst": str(dst), "text": text, **info}
