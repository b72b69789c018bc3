"""Decode a video, GIF or still image into normalised frames (PyAV), with format confounders removed.

Every input, whatever its container, resolution or frame rate, goes through the same steps so that the
features measure picture content, not the file format:
  * frames are sampled at a fixed rate (TARGET_FPS) by timestamp, and exact repeats of the previous
    sampled frame are dropped (GIF exports of 16-frame generators repeat frames; film telecine does too);
  * each frame is scaled so the short side is FRAME_SIZE and centre-cropped to a square;
  * each frame is reduced to luminance (every feature is measured on grey; colour palettes would quantise
    colourful and grey footage differently) and passed through a GIF-like adaptive palette (PALETTE_COLOURS
    levels, no dither), so
    MP4 camera footage and palette GIFs share the same colour quantisation, and then low-passed
    (Gaussian, BLUR_SIGMA px) which removes the pixel-scale dither pattern of GIF exports (AnimateDiff's
    GIFs are 20-95 colour dithered) along with the finest camera noise: a deliberate trade of signal
    for not learning the file format;
  * between the palette and the low-pass, the whole clip is re-encoded the same way (H.264, CRF
    REENCODE_CRF, at FRAME_SIZE and TARGET_FPS), so every input ends with one codec's artifacts.
Training additionally passes every clip of both classes through dithered low-colour GIF export steps
(`gif_export`: Floyd-Steinberg and 4x4 ordered dither) so that dither and colour count carry no label.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

FRAME_SIZE = 256
TARGET_FPS = 8.0
PALETTE_COLOURS = 64
MAX_PIXELS = 40_000_000  # larger than 8K; anything bigger is refused before decoding
MAX_DECODED_FRAMES = 4000  # bounds work on a GIF bomb / absurd frame rates
MAX_KEPT_FRAMES = 480  # 60 s at TARGET_FPS: bounds memory whatever max_seconds a caller passes
BLUR_SIGMA = 1.0
REENCODE_CRF = 26  # shared H.264 round trip: strong enough to overwrite GIF dither and pixel-scale noise
DUPLICATE_MAD = 0.5  # mean abs difference (0-255) below which a sampled frame repeats the previous one


class DetectorError(ValueError):
    """The input cannot be analysed (empty, truncated, not a video/image, absurd size)."""


@dataclass
class Clip:
    """Normalised frames of one input: uint8, grey replicated to RGB, shape (n, FRAME_SIZE, FRAME_SIZE, 3)."""

    frames: np.ndarray
    source_indices: list[int]  # index of each kept frame in the decoded stream (for evidence frames)
    width: int
    height: int
    native_fps: float | None
    is_image: bool
    notes: list[str] = field(default_factory=list)


_BAYER4 = (np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], np.float32) + 0.5) / 16 - 0.5


def quantise(rgb: np.ndarray, colours: int = PALETTE_COLOURS, dither: str | None = None) -> np.ndarray:
    """GIF-like adaptive palette (octree: ~100x faster than median cut on busy 256 px frames), back to RGB.

    dither: None, "fs" (Floyd-Steinberg, PIL's GIF default) or "bayer" (4x4 ordered, as in ffmpeg/gifski-style
    exports; it leaves periodic peaks at 1/4 and 1/2 cycles/px that must not be mistaken for a generator trace).
    """
    img = Image.fromarray(rgb)
    if dither == "fs":
        pal = img.quantize(colors=colours, method=Image.Quantize.FASTOCTREE)
        img = img.quantize(palette=pal, dither=Image.Dither.FLOYDSTEINBERG)
    elif dither == "bayer":
        pal = img.quantize(colors=colours, method=Image.Quantize.FASTOCTREE)
        step = 256.0 / max(2.0, colours ** (1.0 / 3.0))  # typical palette spacing per channel
        h, w = rgb.shape[:2]
        thr = np.tile(_BAYER4, (h // 4 + 1, w // 4 + 1))[:h, :w, None] * step
        noisy = np.clip(rgb.astype(np.float32) + thr, 0, 255).astype(np.uint8)
        img = Image.fromarray(noisy).quantize(palette=pal, dither=Image.Dither.NONE)
    else:
        img = img.quantize(colors=colours, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    return np.asarray(img.convert("RGB"))


def _quantised_grey(
    rgb: np.ndarray, palette_colours: int = PALETTE_COLOURS, gif_export: tuple[str, int] | None = None
) -> np.ndarray:
    """Cropped RGB -> (optional GIF-export augmentation: (dither, colours)) -> grey -> common palette (grey)."""
    if gif_export:
        rgb = quantise(rgb, gif_export[1], dither=gif_export[0])
    # Luminance only: the features are computed on grey anyway, and a colour palette quantises the luminance
    # of colourful clips more coarsely than that of grey ones (film, lab cameras: all real), a format leak.
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return quantise(np.repeat(grey[..., None], 3, axis=2), palette_colours)[..., 0]


def reencode(grey: np.ndarray) -> np.ndarray:
    """The same lossy H.264 round trip for every input (n, H, W) uint8 grey: the source codec's fingerprint
    (GIF dither, MPEG blocks, camera noise at pixel scale) is overwritten by one shared codec's."""
    n, h, w = grey.shape
    buf = io.BytesIO()
    with av.open(buf, "w", format="matroska") as out:
        st = out.add_stream("libx264", rate=int(TARGET_FPS))
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.options = {"crf": str(REENCODE_CRF), "preset": "veryfast", "threads": "1", "bframes": "0"}
        chroma = np.full((h // 2, w // 2), 128, np.uint8)
        for i in range(n):
            yuv = np.concatenate([grey[i], chroma.reshape(h // 4, w), chroma.reshape(h // 4, w)])
            vf = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            vf.pts = i
            for pkt in st.encode(vf):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    buf.seek(0)
    with av.open(buf, "r", format="matroska") as c:
        dec = [f.to_ndarray(format="gray") for f in c.decode(video=0)]
    if len(dec) != n:
        raise DetectorError(f"re-encode returned {len(dec)} of {n} frames")
    return np.stack(dec)


def finish(grey: np.ndarray) -> np.ndarray:
    """Quantised grey frames (n, H, W) -> shared H.264 round trip -> low-pass -> (n, H, W, 3) uint8."""
    out = reencode(grey)
    out = np.stack([cv2.GaussianBlur(f, (0, 0), BLUR_SIGMA) for f in out])
    return np.repeat(out[..., None], 3, axis=3)


def normalise_frame(
    rgb: np.ndarray, palette_colours: int = PALETTE_COLOURS, gif_export: tuple[str, int] | None = None
) -> np.ndarray:
    """One cropped RGB frame through the whole normalisation (as load_clip does for a clip)."""
    return finish(_quantised_grey(rgb, palette_colours, gif_export)[None])[0]


def _scaled_size(w: int, h: int) -> tuple[int, int]:
    s = FRAME_SIZE / min(w, h)
    return max(FRAME_SIZE, round(w * s)), max(FRAME_SIZE, round(h * s))


def _crop(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    y, x = (h - FRAME_SIZE) // 2, (w - FRAME_SIZE) // 2
    return np.ascontiguousarray(rgb[y : y + FRAME_SIZE, x : x + FRAME_SIZE])


def load_clip(
    path: Path,
    max_seconds: float = 10.0,
    palette_colours: int = PALETTE_COLOURS,
    fps: float = TARGET_FPS,
    gif_export: tuple[str, int] | None = None,
) -> Clip:
    """Decode `path` into a normalised Clip. Raises DetectorError on anything that is not decodable media."""
    path = Path(path)
    if not path.is_file():
        raise DetectorError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DetectorError(f"{path}: file is empty (0 bytes)")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise DetectorError(
            f"{path.name}: not a readable video, GIF or image, or truncated ({exc.__class__.__name__})"
        ) from exc
    with container:
        if not container.streams.video:
            raise DetectorError(f"{path.name}: contains no video or image stream")
        stream = container.streams.video[0]
        w, h = stream.codec_context.width, stream.codec_context.height
        if w <= 0 or h <= 0:
            raise DetectorError(
                f"{path.name}: frame size missing or beyond decoder limits (corrupt header or image bomb)"
            )
        if w * h > MAX_PIXELS:
            raise DetectorError(f"{path.name}: frame size {w}x{h} exceeds the {MAX_PIXELS:,} pixel limit")
        native_fps = float(stream.average_rate) if stream.average_rate else None
        sw, sh = _scaled_size(w, h)
        # The header speaks for the first frame: a later one can be larger. The decoder refuses a frame over
        # the limit before allocating it; the check in the loop covers decoders that ignore the option.
        stream.codec_context.options = {**stream.codec_context.options, "max_pixels": str(MAX_PIXELS)}
        step = 1.0 / fps
        next_t = 0.0
        frames: list[np.ndarray] = []
        indices: list[int] = []
        notes: list[str] = []
        dropped_repeats = 0
        decoded = 0
        try:
            for frame in container.decode(stream):
                if frame.width * frame.height > MAX_PIXELS:
                    raise DetectorError(f"{path.name}: frame size {frame.width}x{frame.height} too large")
                t = frame.time if frame.time is not None else decoded / (native_fps or fps)
                decoded += 1
                if t > max_seconds or decoded > MAX_DECODED_FRAMES or len(frames) >= MAX_KEPT_FRAMES:
                    notes.append(f"analysed the first {max_seconds:g} s only")
                    break
                if t + 1e-6 < next_t:
                    continue
                while next_t <= t + 1e-6:
                    next_t += step
                rgb = frame.to_ndarray(format="rgb24", width=sw, height=sh, interpolation="AREA")
                rgb = _quantised_grey(_crop(rgb), palette_colours, gif_export)
                if frames and np.abs(rgb.astype(np.int16) - frames[-1]).mean() < DUPLICATE_MAD:
                    dropped_repeats += 1
                    continue
                frames.append(rgb)
                indices.append(decoded - 1)
        except av.error.FFmpegError as exc:
            raise DetectorError(
                f"{path.name}: decoding failed after {decoded} frames (truncated or corrupt: {exc.__class__.__name__})"
            ) from exc
    if not frames:
        raise DetectorError(f"{path.name}: no decodable frames (truncated or corrupt)")
    if dropped_repeats:
        notes.append(f"dropped {dropped_repeats} repeated frames")
    is_image = decoded == 1
    return Clip(
        frames=finish(np.stack(frames)),
        source_indices=indices,
        width=w,
        height=h,
        native_fps=native_fps,
        is_image=is_image,
        notes=notes,
    )
