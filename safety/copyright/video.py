"""Sampling frames from a video (PyAV), bounded in count and size."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from safety.copyright.errors import CopyrightError
from safety.copyright.images import MAX_PIXELS

MAX_SAMPLED_FRAMES = 600


def sample_frames(
    path: Path, every_seconds: float = 0.5, max_frames: int = MAX_SAMPLED_FRAMES
) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield (frame index, time in s, RGB frame) about every `every_seconds` (the first frame always)."""
    import av

    if every_seconds < 0:
        raise CopyrightError("sample interval must be >= 0")
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise CopyrightError(f"{path.name}: not a file or empty")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise CopyrightError(f"{path.name} is not a readable video: {exc}") from None
    try:
        if not container.streams.video:
            raise CopyrightError(f"{path.name} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        # a frame can be larger than the header says: the decoder refuses it before allocating it
        stream.codec_context.options = {**stream.codec_context.options, "max_pixels": str(MAX_PIXELS)}
        next_t, emitted = 0.0, 0
        for i, frame in enumerate(container.decode(stream)):
            if frame.width * frame.height > MAX_PIXELS:
                raise CopyrightError(f"{path.name}: frame of {frame.width}x{frame.height} is too large")
            t = float(frame.time) if frame.time is not None else i / float(stream.average_rate or 25)
            if t + 1e-6 < next_t:
                continue
            yield i, t, frame.to_ndarray(format="rgb24")
            emitted += 1
            next_t = t + every_seconds
            if emitted >= max_frames:
                break
    except av.FFmpegError as exc:
        raise CopyrightError(f"{path.name}: decoding failed: {exc}") from None
    finally:
        container.close()
