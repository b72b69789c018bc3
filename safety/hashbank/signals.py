"""The signal types a bank holds and how a picture, a video or a file is hashed into them.

Names, validation and serialisations are ThreatExchange's (`threatexchange` package): `pdq` (64 hex digits),
`video_sha256`, `video_md5`, and `vpdq`, whose signal is the JSON list of "pdq_hex,quality,timestamp" frame
strings that threatexchange's VPDQSignal reads. The `vpdq` package (Meta's C++ hasher, which decodes with
FFmpeg) does not build from PyPI without the FFmpeg development headers, and threatexchange's vPDQ extension
imports it at load, so vPDQ is computed here the way vpdq does it: the PDQ hash of a frame every so many
seconds, with its quality and time, from frames PyAV already decoded for the gate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pdqhash
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.pdq_utils import PDQ_CONFIDENT_MATCH_THRESHOLD
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.sha256 import VideoSHA256Signal

PDQ = PdqSignal.get_name()  # "pdq"
VPDQ = "vpdq"  # threatexchange.extensions.vpdq's VPDQSignal.get_name()
SHA256 = VideoSHA256Signal.get_name()  # "video_sha256"
MD5 = VideoMD5Signal.get_name()  # "video_md5"
SIGNAL_TYPES = (PDQ, VPDQ, SHA256, MD5)
EXACT_TYPES = (SHA256, MD5)
PERCEPTUAL_TYPES = (PDQ, VPDQ)

# Meta's published confident-match distance for PDQ (of 256 bits); unrelated pictures sit near 128.
DISTANCE_THRESHOLD = PDQ_CONFIDENT_MATCH_THRESHOLD  # 31
MIN_QUALITY = PdqSignal.QUALITY_THRESHOLD  # 50: flat frames hash unreliably and are neither stored nor queried
# Every frame is resized to this square before hashing: PDQ reduces any picture to 64x64 anyway, and a fixed
# size makes a half-size copy hash like the original (measured on the shared clips: 2-6 bits at 256 or 512; a
# resize to 512 on the longer side left 12-36). 256 costs half of 512 (a 720p frame as is and mirrored: 11 ms
# of CPU against 22), which the frame gate pays on every frame it checks.
HASH_SIDE = 256
# Centred crops of a taken-down clip that are banked beside it (fraction of width and height kept): PDQ does
# not survive cropping (a 20% crop is as far as an unrelated picture), but a crop within about 2.5% of a
# banked one lands at 14-38 bits.
CROP_KEEPS = (0.95, 0.9, 0.85, 0.8, 0.75, 0.7)
MAX_VPDQ_FRAMES = 20_000  # a longer vPDQ signal is refused on import (5 minutes at 30 frames/s: 9,000)


class SignalError(ValueError):
    """A signal that is not valid for its type (the message says which and why)."""


def normalise(signal_type: str, signal: str) -> str:
    """The canonical string of a signal, checked by threatexchange's own validators (vPDQ: parsed here)."""
    signal = signal.strip()
    try:
        if signal_type == PDQ:
            return PdqSignal.validate_signal_str(signal.lower())
        if signal_type == SHA256:
            return VideoSHA256Signal.validate_signal_str(signal)
        if signal_type == MD5:
            return VideoMD5Signal.validate_signal_str(signal.lower())
        if signal_type == VPDQ:
            return vpdq_dump(vpdq_parse(signal))
    except (ValueError, TypeError) as exc:
        raise SignalError(f"invalid {signal_type} signal: {exc}") from exc
    raise SignalError(f"unknown signal type {signal_type!r} (known: {', '.join(SIGNAL_TYPES)})")


def digest(signal_type: str, signal: str) -> str:
    """Identity of a normalised signal within a bank (and the key exact hashes are looked up by)."""
    return hashlib.sha256(f"{signal_type}:{signal}".encode()).hexdigest()


@dataclass(frozen=True)
class VpdqFrame:
    """One frame of a vPDQ hash, as threatexchange's VpdqCompactFeature serialises it."""

    pdq_hex: str
    quality: int
    timestamp: float

    def __str__(self) -> str:
        return f"{self.pdq_hex},{self.quality},{self.timestamp:.3f}"


def vpdq_parse(signal: str) -> list[VpdqFrame]:
    items = json.loads(signal or "[]")
    if not isinstance(items, list):
        raise ValueError("a vPDQ signal is a JSON list of 'pdq_hex,quality,timestamp' strings")
    if len(items) > MAX_VPDQ_FRAMES:
        raise ValueError(f"{len(items)} frames (at most {MAX_VPDQ_FRAMES})")
    out = []
    for item in items:
        parts = str(item).split(",")
        if len(parts) != 3:
            raise ValueError(f"frame {item!r} is not 'pdq_hex,quality,timestamp'")
        pdq_hex, quality, ts = parts[0].strip().lower(), int(parts[1]), float(parts[2])
        PdqSignal.validate_signal_str(pdq_hex)
        if not 0 <= quality <= 100 or not ts >= 0:
            raise ValueError(f"frame {item!r}: quality must be 0..100 and the timestamp >= 0")
        out.append(VpdqFrame(pdq_hex, quality, ts))
    if not out:
        raise ValueError("no frames")
    return out


def vpdq_dump(frames: Iterable[VpdqFrame]) -> str:
    return json.dumps([str(f) for f in frames])


def _square(image: np.ndarray) -> np.ndarray:
    return cv2.resize(np.ascontiguousarray(image), (HASH_SIDE, HASH_SIDE), interpolation=cv2.INTER_AREA)


def _hash_square(square: np.ndarray) -> tuple[bytes, int]:
    bits, quality = pdqhash.compute(np.ascontiguousarray(square))
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes(), int(quality)


def pdq(image: np.ndarray) -> tuple[bytes, int]:
    """(32-byte PDQ hash, quality 0..100) of an RGB uint8 picture."""
    return _hash_square(_square(image))


def query_variants(image: np.ndarray) -> tuple[list[tuple[str, bytes]], int]:
    """The hashes a picture is looked up by: as it is and mirrored (a mirror is the commonest re-upload
    edit; pdqhash's dihedral variants of a 512 picture were 12-28 bits from the mirrored copy's own hash, so
    the mirror is hashed from flipped pixels: the resized square flipped, as area resizing commutes with a
    mirror)."""
    square = _square(image)
    h, quality = _hash_square(square)
    mirrored, _ = _hash_square(square[:, ::-1])
    return [("as is", h), ("mirror", mirrored)], quality


def crop_centre(image: np.ndarray, keep: float) -> np.ndarray:
    hgt, wid = image.shape[:2]
    ch, cw = max(1, round(hgt * keep)), max(1, round(wid * keep))
    y, x = (hgt - ch) // 2, (wid - cw) // 2
    return image[y : y + ch, x : x + cw]


def vpdq(frames: Iterable[tuple[float, np.ndarray]], keep: float = 1.0) -> list[VpdqFrame]:
    """vPDQ of (time, RGB frame) pairs, each frame cropped to its centre `keep` first."""
    out = []
    for t, img in frames:
        h, q = pdq(crop_centre(img, keep) if keep < 1.0 else img)
        out.append(VpdqFrame(h.hex(), q, round(max(0.0, float(t)), 3)))
    return out


def hash_video(path: Path, every: float, crop_every: float, crops: tuple[float, ...] = CROP_KEEPS,
               max_seconds: float = 300.0) -> dict[float, list[VpdqFrame]]:
    """vPDQ of a clip as a bank stores it, hashed while decoding (frames are never all held): the whole
    picture every `every` seconds and each centred crop in `crops` every `crop_every` seconds, over the first
    `max_seconds`. Returns {1.0: frames, keep: frames, ...}. A picture file gives its one frame."""
    import av

    from safety.frames import MAX_PIXELS, FrameError, decode_sample

    if Path(path).suffix.lower() in {".png", ".jpg", ".jpeg", ".webp", ".bmp"}:
        img = decode_sample(Path(path))[0].image
        return {k: vpdq([(0.0, img)], k) for k in (1.0, *crops)}
    out: dict[float, list[VpdqFrame]] = {k: [] for k in (1.0, *crops)}
    next_full = next_crop = 0.0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise FrameError(f"{Path(path).name}: no video stream")
            stream = container.streams.video[0]
            stream.codec_context.options = {**stream.codec_context.options, "max_pixels": str(MAX_PIXELS)}
            rate = float(stream.average_rate or 25)
            for i, frame in enumerate(container.decode(stream)):
                t = float(frame.time) if frame.time is not None else i / rate
                if t > max_seconds:
                    break
                full, crop = t >= next_full - 1e-6, t >= next_crop - 1e-6
                if not (full or crop):
                    continue
                img = frame.to_ndarray(format="rgb24")
                if full:
                    out[1.0] += vpdq([(t, img)])
                    next_full = t + every
                if crop:
                    for k in crops:
                        out[k] += vpdq([(t, img)], k)
                    next_crop = t + crop_every
    except av.FFmpegError as exc:
        raise FrameError(f"{Path(path).name}: cannot decode ({exc})") from exc
    return out


def file_digests(path: Path) -> dict[str, str]:
    """The exact signals of a file: SHA-256 and MD5 of its bytes (threatexchange calls them video_*; the
    same bytes of a picture hash the same way)."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
            md5.update(chunk)
    return {SHA256: sha.hexdigest(), MD5: md5.hexdigest()}
