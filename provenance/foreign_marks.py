"""Other generators' open marks: the fixed messages that public reference pipelines embed by default with
the `invisible-watermark` library (method "dwtDct"), found by decoding each scheme and testing the decoded
bits against the known message.

The method (read from imwatermark 0.2.0, re-implemented vectorised here so one pass serves every scheme):
the frame goes BGR -> YUV (OpenCV), the U plane's Haar DWT approximation band is cut into 4x4 blocks in
row-major order, block k carries message bit k mod L as the quantisation phase (step 36) of its largest
non-DC coefficient, and the decoder takes the majority vote over the blocks of each bit.

A match is claimed only when the bit errors are so few that random bits would give as few with probability
below ALPHA after a Bonferroni correction for every (frame, scheme, channel order) tried. The marks are
public: anyone can add one to any file, and JPEG recompression, resizing or cropping remove them, so a
match says the file carries that pipeline's default mark, not who made it, and no match proves nothing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from math import comb
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pywt
from PIL import Image

ALPHA = 1e-6  # the false-positive probability we accept per file, under random bits, after correction
STEP = 36.0  # imwatermark's default quantisation step for the U plane
BLOCK = 4
MIN_PIXELS = 256 * 256  # the library refuses smaller images, so the pipelines leave them unmarked
MAX_FRAMES = 8
SPAN_S = 1.0
PIXEL_BUDGET = 4 * 1280 * 720  # pixels read per file (4 frames of 720p, 8 of 480p, 1 of 4K)
HAAR = float(pywt.Wavelet("haar").dec_lo[0])  # 1/sqrt(2), as pywt stores it
ORDERS = ("bgr", "rgb")  # "rgb": RGB pixels handed to the BGR-expecting encoder, as some pipelines do


def _bits_of_int(value: int, n: int) -> np.ndarray:
    return np.array([int(b) for b in format(value, f"0{n}b")], dtype=np.uint8)


def _bits_of_text(text: str) -> np.ndarray:
    return np.unpackbits(np.frombuffer(text.encode("utf-8"), dtype=np.uint8))


@dataclass(frozen=True)
class Scheme:
    key: str
    label: str  # "the default watermark of {label}"
    bits: np.ndarray
    source: str  # where the message and the call are public


SCHEMES: tuple[Scheme, ...] = (
    Scheme("stability_sgm_48bit", "Stable Diffusion XL / Stable Video Diffusion (Stability AI reference code)",
           _bits_of_int(0b101100111110110010010000011110111011000110011110, 48),
           "Stability-AI/generative-models sgm/inference/helpers.py (SDXL, SVD sampling scripts); "
           "huggingface/diffusers pipelines/stable_diffusion_xl/watermark.py"),
    Scheme("sd_v1", "Stable Diffusion v1 (CompVis reference scripts)", _bits_of_text("StableDiffusionV1"),
           "CompVis/stable-diffusion scripts/txt2img.py"),
    Scheme("sd_v1_inpainting", "Stable Diffusion v1 inpainting (RunwayML reference scripts)",
           _bits_of_text("StableDiffusionV1-Inpainting"), "runwayml/stable-diffusion scripts"),
    Scheme("sd_v2", "Stable Diffusion 2 (Stability AI reference scripts)", _bits_of_text("SDV2"),
           "Stability-AI/stablediffusion scripts/txt2img.py"),
)


def binom_tail(errors: int, n: int) -> float:
    """P(X <= errors) for X ~ Binomial(n, 1/2): the chance random bits agree this well with a message."""
    return sum(comb(n, k) for k in range(errors + 1)) / 2.0**n


def block_votes(rgb: np.ndarray, order: str) -> np.ndarray:
    """Per-block hard bit (0/1) of the dwtDct decoder for an RGB uint8 frame, in the encoder's block order."""
    pix = rgb[:, :, ::-1] if order == "bgr" else rgb  # the array the encoder saw as "BGR"
    yuv = cv2.cvtColor(np.ascontiguousarray(pix), cv2.COLOR_BGR2YUV)
    h, w = yuv.shape[:2]
    # the approximation band of pywt.dwt2(u, "haar"), computed in the same order (axis 0, then axis 1) with the
    # same filter tap so it is bit-identical (block values at exact multiples of the step decode differently
    # under another rounding), at a fraction of the cost of all four bands
    u = yuv[: h // 4 * 4, : w // 4 * 4, 1].astype(np.float64)
    lo = u[0::2] * HAAR + u[1::2] * HAAR
    ca = lo[:, 0::2] * HAAR + lo[:, 1::2] * HAAR
    r, c = ca.shape[0] // BLOCK, ca.shape[1] // BLOCK
    blocks = ca[: r * BLOCK, : c * BLOCK].reshape(r, BLOCK, c, BLOCK).transpose(0, 2, 1, 3).reshape(r * c, -1)
    ac = blocks[:, 1:]
    val = np.abs(ac[np.arange(len(ac)), np.argmax(np.abs(ac), axis=1)])
    return ((val % STEP) > 0.5 * STEP).astype(np.uint8)


def decode(votes: np.ndarray, n_bits: int, frames: int = 1) -> np.ndarray:
    """The message bits from block votes (summed over `frames` frames): block k votes for bit k mod n_bits,
    and a bit is 1 on the library's threshold (mean * 255 > 127)."""
    idx = np.arange(len(votes)) % n_bits
    ones = np.bincount(idx, weights=votes, minlength=n_bits)
    total = np.bincount(idx, minlength=n_bits) * frames
    return (ones * 255 > 127 * total).astype(np.uint8)


def _frames_of(path: Path, max_frames: int) -> Iterator[tuple[float | None, np.ndarray]]:
    try:
        with Image.open(path) as im:
            # a still (an MPO camera JPEG carries a preview as a second frame); animations go to PyAV
            if getattr(im, "n_frames", 1) == 1 or im.format not in ("GIF", "PNG", "WEBP"):
                yield None, np.asarray(im.convert("RGB"))
                return
    except (OSError, Image.DecompressionBombError, ValueError):
        pass
    from provenance.media import _check_frame, _check_video_stream, open_media

    with open_media(path) as box:
        if not box.streams.video:
            return
        vs = box.streams.video[0]
        _check_video_stream(vs, path)
        # fewer frames of a large picture (the decode and the transform cost scale with pixels), spread
        # over the first seconds only: the reference pipelines mark every frame
        w, h = vs.codec_context.width, vs.codec_context.height
        n_max = max(1, min(max_frames, PIXEL_BUDGET // max(1, w * h)))
        rate = float(vs.average_rate or vs.guessed_rate or 0)
        stride = max(1, int(rate * SPAN_S * n_max / max_frames) // n_max) if rate > 0 else 1
        n = 0
        for i, frame in enumerate(box.decode(vs)):
            if i % stride:
                continue
            _check_frame(frame, path)
            yield (float(frame.time) if frame.time is not None else None), frame.to_ndarray(format="rgb24")
            n += 1
            if n >= n_max:
                return


def detect_frames(frames: Iterable[tuple[float | None, np.ndarray]], alpha: float = ALPHA,
                  schemes: tuple[Scheme, ...] = SCHEMES) -> dict[str, Any]:
    """Test every scheme and channel order on each frame, and on the votes pooled over frames of one size
    (a video marks every frame); report the matches whose corrected p-value is below alpha."""
    per: list[tuple[str, dict[str, np.ndarray]]] = []
    pooled: dict[str, np.ndarray] = {}
    pooled_n = 0
    skipped = 0
    for t, rgb in frames:
        if rgb.ndim != 3 or rgb.shape[0] * rgb.shape[1] < MIN_PIXELS:
            skipped += 1
            continue
        votes = {o: block_votes(rgb, o) for o in ORDERS}
        per.append((f"t={t:.2f}s" if t is not None else "image", votes))
        if not pooled:
            pooled = {o: v.astype(np.int64) for o, v in votes.items()}
            pooled_n = 1
        elif all(len(pooled[o]) == len(v) for o, v in votes.items()):  # frames of the first frame's size
            pooled = {o: pooled[o] + v for o, v in votes.items()}
            pooled_n += 1
    cases: list[tuple[str, dict[str, np.ndarray], int]] = [(w, v, 1) for w, v in per]
    if pooled_n > 1:
        cases.append((f"pooled over {pooled_n} frames", pooled, pooled_n))
    tests = len(cases) * len(schemes) * len(ORDERS)
    found: list[dict[str, Any]] = []
    best: dict[str, dict[str, Any]] = {}
    for where, votes, weight in cases:
        for s in schemes:
            n = len(s.bits)
            for o in ORDERS:
                errors = int(np.sum(decode(votes[o], n, weight) != s.bits))
                p = min(1.0, binom_tail(errors, n) * tests)
                row = {"scheme": s.key, "label": s.label, "channel_order": o, "where": where,
                       "bits": n, "bit_errors": errors, "p_corrected": float(f"{p:.3g}")}
                if s.key not in best or errors / n < best[s.key]["bit_errors"] / n:
                    best[s.key] = row
                if p < alpha:
                    found.append(row)
    labels = sorted({r["label"] for r in found})
    return {"checked": bool(per), "frames": len(per), "skipped_small": skipped, "tests": tests, "alpha": alpha,
            "found": labels, "matches": found, "closest": list(best.values()),
            "schemes": [{"key": s.key, "label": s.label, "bits": len(s.bits), "source": s.source} for s in schemes]}


def detect_file(path: Path, max_frames: int = MAX_FRAMES, alpha: float = ALPHA) -> dict[str, Any]:
    return detect_frames(_frames_of(Path(path), max_frames), alpha=alpha)


def mark(rgb: np.ndarray, scheme: Scheme, order: str = "bgr") -> np.ndarray:
    """The scheme's default mark put on an RGB frame with imwatermark's own encoder (for evals and tests)."""
    from imwatermark import WatermarkEncoder

    enc = WatermarkEncoder()
    enc.set_watermark("bits", [int(b) for b in scheme.bits])
    pix = rgb[:, :, ::-1] if order == "bgr" else rgb
    out = enc.encode(np.ascontiguousarray(pix), "dwtDct")
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out[:, :, ::-1] if order == "bgr" else out
