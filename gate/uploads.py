"""Uploads are checked at the boundary, before any domain code sees them: size, type, decodability,
pixel and duration limits (a truncated MP4, a 2 GB upload or a PNG bomb gets a clear error)."""

from __future__ import annotations

from pathlib import Path

import av
from PIL import Image

from provenance.media import MAX_AUDIO_CHANNELS, MAX_AUDIO_RATE

MAX_PIXELS = 40_000_000  # per image or frame: ~ 8K x 5K
MAX_VIDEO_SECONDS = 120.0
MAX_FRAMES = 7_200  # 120 s at 60 fps: a GIF of 0-delay frames has no duration to refuse it by
# FFmpeg allocates a stream per declared track while probing: an MP4 declaring 1,000 tracks took 0.8 GB
# here, so 100,000 would take the server down. The demuxer refuses past this many (option max_streams).
MAX_STREAMS = 16
DURATION_SLACK = 0.5  # s: encoder priming and padding make an honest track run a little past its header
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


class UploadError(ValueError):
    pass


def _check_size(path: Path, max_bytes: int) -> int:
    if not path.is_file():
        raise UploadError(f"{path.name}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise UploadError(f"{path.name}: the file is empty")
    if size > max_bytes:
        raise UploadError(f"{path.name}: {size / 2**20:.0f} MiB is over the {max_bytes / 2**20:.0f} MiB limit")
    return size


def check_image(path: Path, max_bytes: int) -> tuple[int, int]:
    _check_size(path, max_bytes)
    try:
        with Image.open(path) as im:
            w, h = im.size  # read from the header: a bomb is refused before it is decompressed
            if w * h > MAX_PIXELS:
                raise UploadError(f"{path.name}: {w}x{h} pixels is over the {MAX_PIXELS:,} pixel limit")
            im.verify()
    except UploadError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise UploadError(f"{path.name}: not a readable image ({exc})") from exc
    return w, h


def _check_audio(name: str, rate: int, channels: int) -> None:
    if rate > MAX_AUDIO_RATE:
        raise UploadError(f"{name}: audio at {rate:,} Hz is over the {MAX_AUDIO_RATE:,} Hz limit")
    if channels > MAX_AUDIO_CHANNELS:
        raise UploadError(f"{name}: {channels} audio channels; the limit is {MAX_AUDIO_CHANNELS}")


def check_video(path: Path, max_bytes: int) -> dict[str, float]:
    """Open the container (at most MAX_STREAMS streams), check the frame size and duration it declares, then
    decode every video frame (at most MAX_FRAMES) and the first audio track (the one every reader uses),
    counting what is really there: each frame's size, the video's and the audio's real duration. A header
    can lie about all of these; decoding stops at the first frame or sample over a limit."""
    _check_size(path, max_bytes)
    try:
        try:
            container = av.open(str(path), options={"max_streams": str(MAX_STREAMS)})
        except av.error.MemoryError as exc:  # what FFmpeg raises past max_streams (or on a real OOM)
            raise UploadError(f"{path.name}: not a readable video (more than {MAX_STREAMS} streams?)") from exc
        with container:
            streams = container.streams.video
            if not streams:
                raise UploadError(f"{path.name}: no video stream")
            v = streams[0]
            w, h = v.codec_context.width, v.codec_context.height
            if w * h > MAX_PIXELS:
                raise UploadError(f"{path.name}: {w}x{h} frames are over the pixel limit")
            duration = float(container.duration / av.time_base) if container.duration else 0.0
            if duration > MAX_VIDEO_SECONDS:
                raise UploadError(f"{path.name}: {duration:.0f} s is longer than {MAX_VIDEO_SECONDS:.0f} s")
            # A stream can switch to a larger frame size mid-way: the decoder refuses a frame over the
            # limit before allocating it (checking after decoding is too late for a 60000x60000 frame).
            v.codec_context.options = {**v.codec_context.options, "max_pixels": str(MAX_PIXELS)}
            audio = container.streams.audio[0] if container.streams.audio else None
            if audio is not None:
                _check_audio(path.name, audio.codec_context.sample_rate or 0, audio.codec_context.channels or 0)
            n, audio_s, first_t, last_t = 0, 0.0, None, 0.0
            try:
                for frame in container.decode(*(s for s in (v, audio) if s is not None)):
                    if isinstance(frame, av.AudioFrame):
                        _check_audio(path.name, frame.sample_rate, len(frame.layout.channels))
                        audio_s += frame.samples / max(1, frame.sample_rate)
                        if audio_s > MAX_VIDEO_SECONDS + DURATION_SLACK:
                            raise UploadError(f"{path.name}: its audio runs longer than {MAX_VIDEO_SECONDS:.0f} s "
                                              f"(the header says {duration:.0f} s)")
                        continue
                    if not isinstance(frame, av.VideoFrame):  # only the video and audio streams are decoded
                        continue
                    n += 1
                    if n > MAX_FRAMES:
                        raise UploadError(f"{path.name}: more than {MAX_FRAMES:,} frames")
                    if frame.width * frame.height > MAX_PIXELS:
                        raise UploadError(f"{path.name}: frame {n} is {frame.width}x{frame.height}, over the pixel "
                                          "limit")
                    t = float(frame.time or 0.0)
                    first_t = t if first_t is None else first_t  # a clip cut from a stream may start late
                    last_t = max(last_t, t - first_t)
                    if last_t > MAX_VIDEO_SECONDS + DURATION_SLACK:
                        raise UploadError(f"{path.name}: its video runs longer than {MAX_VIDEO_SECONDS:.0f} s "
                                          f"(the header says {duration:.0f} s)")
            except av.error.FFmpegError as exc:
                raise UploadError(f"{path.name}: not a readable video: frame {n + 1} does not decode (corrupt, "
                                  f"truncated, or over the {MAX_PIXELS:,} pixel limit: {exc})") from exc
            if n == 0:
                raise UploadError(f"{path.name}: no decodable video frames (truncated?)")
    except UploadError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise UploadError(f"{path.name}: not a readable video ({exc})") from exc
    return {"width": w, "height": h, "seconds": duration, "frames": n, "audio_seconds": round(audio_s, 3)}


def check_media(path: Path, max_bytes: int) -> str:
    """'image' or 'video' after the checks above."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        check_image(path, max_bytes)
        return "image"
    check_video(path, max_bytes)
    return "video"
