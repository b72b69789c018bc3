"""Cameo likeness: cut the face out of the owner's reference image (dlib HOG detector) and composite it
onto a character's head, upright and large enough that a face detector finds it again in the output."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from generator.errors import CameoError

MAX_IMAGE_PIXELS = 40_000_000
CROP_SCALE = 1.7  # crop side / detected face box side: keeps forehead, chin and cheeks


@dataclass(frozen=True)
class CameoFace:
    handle: str
    rgb: np.ndarray  # square crop centred on the face, HxWx3 uint8
    box: tuple[int, int, int, int]  # detected face box in the reference image (l, t, r, b)


@functools.cache
def _detector():
    import dlib

    return dlib.get_frontal_face_detector()


def load_image(path: Path) -> np.ndarray:
    """RGB uint8 of an image file, refusing unreadable files and decompression bombs."""
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                raise CameoError(f"{path}: {im.width}x{im.height} image is too large")
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise CameoError(f"{path}: not a readable image ({e})") from e


def detect_faces(rgb: np.ndarray, upsample: int = 0) -> list[tuple[int, int, int, int]]:
    dets = _detector()(np.ascontiguousarray(rgb), upsample)
    return [(d.left(), d.top(), d.right(), d.bottom()) for d in dets]


def load_cameo(handle: str, path: Path) -> CameoFace:
    img = load_image(Path(path))
    scale = 1.0
    if max(img.shape[:2]) > 1600:  # detection does not need more; keeps it fast on big photos
        scale = 1600 / max(img.shape[:2])
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    pad = max(img.shape[:2]) // 3
    faces = detect_faces(img, 0) or detect_faces(img, 1)
    if not faces:  # a tight face crop: give the detector some margin
        padded = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        faces = [(x0 - pad, y0 - pad, x1 - pad, y1 - pad) for x0, y0, x1, y1 in detect_faces(padded, 1)]
    if not faces:
        raise CameoError(f"cameo {handle!r}: no face found in {path}")
    left, t, r, b = max(faces, key=lambda f: (f[2] - f[0]) * (f[3] - f[1]))
    side = int(max(r - left, b - t) * CROP_SCALE)
    cx, cy = (left + r) // 2, (t + b) // 2 - (b - t) // 10
    padded = cv2.copyMakeBorder(img, side, side, side, side, cv2.BORDER_REPLICATE)
    crop = padded[cy - side // 2 + side: cy + side // 2 + side, cx - side // 2 + side: cx + side // 2 + side]
    return CameoFace(handle, np.ascontiguousarray(crop), (left, t, r, b))


@functools.lru_cache(maxsize=32)
def _mask(size: int) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    cv2.ellipse(m, (size // 2, size // 2), (int(size * 0.45), int(size * 0.49)), 0, 0, 360, 255, -1, cv2.LINE_AA)
    return cv2.GaussianBlur(m, (0, 0), max(1.0, size / 40)).astype(np.float32)[..., None] / 255.0


def paste_face(frame: np.ndarray, face: CameoFace, center: tuple[int, int], head_r: int, light: float) -> None:
    """Composite the face over a head of radius head_r (px) centred at `center`, in place."""
    size = int(head_r * 2.1)
    if size < 8:
        return
    crop = cv2.resize(face.rgb, (size, size), interpolation=cv2.INTER_AREA if size < face.rgb.shape[0]
                      else cv2.INTER_LINEAR).astype(np.float32) * light
    mask = _mask(size)
    x0, y0 = center[0] - size // 2, center[1] - size // 2
    fx0, fy0 = max(0, x0), max(0, y0)
    fx1, fy1 = min(frame.shape[1], x0 + size), min(frame.shape[0], y0 + size)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    sl = (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))
    roi = frame[fy0:fy1, fx0:fx1].astype(np.float32)
    m = mask[sl]
    frame[fy0:fy1, fx0:fx1] = np.clip(roi * (1 - m) + crop[sl] * m, 0, 255).astype(np.uint8)
