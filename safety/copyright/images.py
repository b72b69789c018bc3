"""Decoding and validating images for the registry and the checks, bounded against bombs and junk."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from safety.copyright.errors import CopyrightError

MAX_PIXELS = 40_000_000  # ~ 8K x 5K; anything larger is refused before decoding
MAX_BYTES = 50 * 1024 * 1024
MIN_SIDE = 16


def decode_image(data: bytes, what: str = "image") -> np.ndarray:
    """Bytes of a PNG/JPEG/WebP/... -> RGB uint8 array. Transparency is flattened onto white."""
    if not data:
        raise CopyrightError(f"{what} is empty (0 bytes)")
    if len(data) > MAX_BYTES:
        raise CopyrightError(f"{what} is {len(data)} bytes; the limit is {MAX_BYTES}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            # The header gives the size before any pixel is decoded: refuse bombs here.
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise CopyrightError(f"{what} is too large: {w}x{h} pixels; the limit is {MAX_PIXELS}")
            im.load()
    except CopyrightError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise CopyrightError(f"{what} is too large to decode (decompression bomb): {exc}") from None
    except UnidentifiedImageError as exc:
        raise CopyrightError(f"{what} is not a readable image: {exc}") from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt data
        raise CopyrightError(f"{what} could not be decoded: {exc}") from None
    return to_rgb(im, what)


def to_rgb(im: Image.Image, what: str = "image") -> np.ndarray:
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        bg.alpha_composite(rgba)
        im = bg
    arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return validate_array(arr, what)


def validate_array(img: np.ndarray, what: str = "image") -> np.ndarray:
    """An RGB uint8 array of sane size, contiguous (what the hashers and OpenCV need)."""
    if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3:
        shape = getattr(img, "shape", None)
        raise CopyrightError(f"{what} must be an RGB array of shape (H, W, 3), got {shape}")
    h, w = img.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise CopyrightError(f"{what} is {w}x{h}; each side must be at least {MIN_SIDE} pixels")
    if h * w > MAX_PIXELS:
        raise CopyrightError(f"{what} is {w}x{h} pixels; the limit is {MAX_PIXELS} pixels")
    if img.dtype != np.uint8:
        raise CopyrightError(f"{what} must be uint8, got {img.dtype}")
    return np.ascontiguousarray(img)


def encode_png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def read_image_file(path: str | bytes | object, what: str | None = None) -> np.ndarray:
    from pathlib import Path

    p = Path(str(path))
    label = what or p.name
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise CopyrightError(f"{label}: cannot read ({exc.strerror})") from None
    if size > MAX_BYTES:
        raise CopyrightError(f"{label} is {size} bytes; the limit is {MAX_BYTES}")
    return decode_image(p.read_bytes(), label)


def fit_within(img: np.ndarray, max_side: int) -> np.ndarray:
    """Downscale (never upscale) so the longer side is at most max_side: bounds the work per frame."""
    import cv2

    h, w = img.shape[:2]
    s = max_side / max(h, w)
    if s >= 1:
        return img
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
