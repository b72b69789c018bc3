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


def decode_image(data: bytes, what: str = "image", keep_alpha: bool = False) -> np.ndarray:
    """Bytes of a PNG/JPEG/WebP/... -> RGB uint8 array. Transparency is flattened onto white, unless
    `keep_alpha`: then an image with transparent pixels comes back RGBA (a figure, see `figure_on`)."""
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
    return to_rgb(im, what, keep_alpha)


def has_transparency(im: Image.Image) -> bool:
    """An alpha channel, or a palette / grey / RGB image with a transparent colour (tRNS)."""
    return im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info


def to_rgb(im: Image.Image, what: str = "image", keep_alpha: bool = False) -> np.ndarray:
    if has_transparency(im):
        rgba = im.convert("RGBA")
        if keep_alpha:
            arr = np.asarray(rgba, dtype=np.uint8)
            if arr[..., 3].min() < 255:  # an alpha channel that is all opaque is no figure
                return validate_array(arr, what, allow_alpha=True)
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        bg.alpha_composite(rgba)
        im = bg
    arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return validate_array(arr, what)


def validate_array(img: np.ndarray, what: str = "image", allow_alpha: bool = False) -> np.ndarray:
    """An RGB (or, `allow_alpha`, RGBA) uint8 array of sane size, contiguous (what the hashers and OpenCV
    need)."""
    channels = (3, 4) if allow_alpha else (3,)
    if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] not in channels:
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


def read_image_file(path: str | bytes | object, what: str | None = None, keep_alpha: bool = False) -> np.ndarray:
    from pathlib import Path

    p = Path(str(path))
    label = what or p.name
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise CopyrightError(f"{label}: cannot read ({exc.strerror})") from None
    if size > MAX_BYTES:
        raise CopyrightError(f"{label} is {size} bytes; the limit is {MAX_BYTES}")
    return decode_image(p.read_bytes(), label, keep_alpha)


def fit_within(img: np.ndarray, max_side: int) -> np.ndarray:
    """Downscale (never upscale) so the longer side is at most max_side: bounds the work per frame."""
    import cv2

    h, w = img.shape[:2]
    s = max_side / max(h, w)
    if s >= 1:
        return img
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


# -- figures: references with transparency -------------------------------------------------------------------
FIGURE_ALPHA = 128  # alpha at or above which a pixel belongs to the figure


def _texture(h: int, w: int, seed: int) -> np.ndarray:
    """A photo-like background: smooth colour blobs plus fine grain (deterministic per seed)."""
    import cv2

    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (max(2, h // 32), max(2, w // 32), 3), dtype=np.uint8)
    smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    grain = rng.integers(-24, 25, (h, w, 3), dtype=np.int16)
    return np.clip(smooth + grain, 0, 255).astype(np.uint8)


def figure_on(img: np.ndarray, background: str | tuple[int, int, int] = "white") -> np.ndarray:
    """An RGBA figure composited onto a background ("black", "white", "grey", "noise", "texture" or an RGB
    colour); an RGB image is returned as it is. Where alpha is 0 the figure's RGB is never read."""
    if img.shape[2] == 3:
        return img
    h, w = img.shape[:2]
    named = {"black": (0, 0, 0), "white": (255, 255, 255), "grey": (128, 128, 128)}
    if background == "noise":
        bg = np.random.default_rng(7).integers(0, 256, (h, w, 3), dtype=np.uint8)
    elif background == "texture":
        bg = _texture(h, w, 11)
    else:
        colour = named[background] if isinstance(background, str) else background
        bg = np.empty((h, w, 3), np.uint8)
        bg[:] = colour
    a = img[..., 3:4].astype(np.float32) / 255.0
    out = img[..., :3].astype(np.float32) * a + bg.astype(np.float32) * (1.0 - a)
    return np.ascontiguousarray(np.clip(out + 0.5, 0, 255).astype(np.uint8))


def alpha_bbox(alpha: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the figure's pixels (alpha >= FIGURE_ALPHA); None when there are none."""
    ys, xs = np.nonzero(alpha >= FIGURE_ALPHA)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
