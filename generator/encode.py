"""Clip <-> file: H.264 + AAC MP4 writing (streaming, atomic) and decoding of remix sources via PyAV."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from generator.errors import ClipDecodeError, GeneratorError
from generator.spec import Clip

AUDIO_RATE = 48000
AAC_FRAME = 1024  # the AAC encoder takes exactly this many samples per frame
MAX_SOURCE_PIXELS = 4096 * 2304  # larger sources are refused (decompression-bomb guard)
MAX_SOURCE_SECONDS = 120.0
MAX_SOURCE_BYTES = 2 * 1024**3


def _stereo(audio: np.ndarray) -> np.ndarray:
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[0] not in (1, 2):
        raise GeneratorError(f"audio must have shape (channels, samples) with 1 or 2 channels, got {a.shape}")
    if a.shape[0] == 1:
        a = np.repeat(a, 2, axis=0)
    return np.clip(np.nan_to_num(a), -1.0, 1.0)


def _resample_audio(audio: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    if src_rate == dst_rate:
        return audio
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(src_rate, dst_rate)
    return resample_poly(audio, dst_rate // g, src_rate // g, axis=-1).astype(np.float32)


def write_mp4(
    clip: Clip,
    path: Path,
    crf: int = 18,
    progress: Callable[[int, int], None] | None = None,
    preset: str = "veryfast",
    *,
    yuv_fn: Callable[[np.ndarray, int], np.ndarray] | None = None,
    audio_fn: Callable[[np.ndarray, int], np.ndarray] | None = None,
    audio_bitrate: int | None = 160_000,
    aac_coder: str | None = None,
) -> None:
    """Encode `clip` as H.264 (yuv420p) + AAC stereo at 48 kHz. Frames are streamed, never all held: drawn,
    changed by yuv_fn and encoded on three threads a few frames apart (_Ahead), the same file as in turn.

    yuv_fn(planes, index) may change each frame's yuv420p planes (H*3/2 x W uint8, its own copy) just before
    the encode, and audio_fn(samples, rate) the (2, n) float32 soundtrack (run on a thread beside the
    picture; its sound is muxed once ready): the gate marks the clip here, so that its draft is not decoded
    and encoded a second time. audio_bitrate None and aac_coder: the AAC encoder's defaults / its coder.

    The file appears at `path` only when complete (written to a temp file in the same folder, then renamed).
    """
    path = Path(path)
    if clip.width % 2 or clip.height % 2:
        raise GeneratorError(f"H.264 yuv420p needs even dimensions, got {clip.width}x{clip.height}")
    if clip.n_frames <= 0:
        raise GeneratorError("clip has no frames")
    audio = _resample_audio(_stereo(clip.audio), int(clip.sample_rate), AUDIO_RATE)
    n_audio = int(round(clip.n_frames / clip.fps * AUDIO_RATE))
    if audio.shape[1] < n_audio:
        audio = np.pad(audio, ((0, 0), (0, n_audio - audio.shape[1])))
    audio = np.ascontiguousarray(audio[:, :n_audio])

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audio") if audio_fn is not None else None
    marking = pool.submit(_changed_audio, audio_fn, audio, n_audio) if pool and audio_fn else None
    try:
        with av.open(str(tmp), mode="w", format="mp4") as out:
            vs = out.add_stream("libx264", rate=clip.fps)
            vs.width, vs.height, vs.pix_fmt = clip.width, clip.height, "yuv420p"
            vs.options = {"crf": str(int(crf)), "preset": preset}
            vs.codec_context.time_base = Fraction(1, clip.fps)
            aus = out.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
            if audio_bitrate:
                aus.bit_rate = audio_bitrate
            if aac_coder:
                aus.codec_context.options = {**aus.codec_context.options, "aac_coder": aac_coder}
            a_pos = 0

            def push_audio(until: int, wait: bool = False) -> None:
                nonlocal a_pos, audio, marking
                if marking is not None:  # the changed sound, once ready (the muxer interleaves it)
                    if not (wait or marking.done()):
                        return
                    audio, marking = marking.result(), None
                while a_pos < min(until, n_audio):
                    chunk = audio[:, a_pos : a_pos + AAC_FRAME]
                    if chunk.shape[1] < AAC_FRAME:  # last frame: pad, the container's duration trims it
                        chunk = np.pad(chunk, ((0, 0), (0, AAC_FRAME - chunk.shape[1])))
                    af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="stereo")
                    af.sample_rate, af.pts, af.time_base = AUDIO_RATE, a_pos, Fraction(1, AUDIO_RATE)
                    out.mux(aus.encode(af))
                    a_pos += AAC_FRAME

            # the picture is drawn (and converted for yuv_fn) on one thread, changed by yuv_fn on another, and
            # encoded on this one, a few frames apart
            frames = _Ahead(_checked_frames(clip, planes=yuv_fn is not None), "render")
            stages = [frames]
            if yuv_fn is not None:
                stages.append(_Ahead(_changed_yuv(frames, yuv_fn, clip), "yuv_fn", frames.stop))
            try:
                for i, vf in enumerate(stages[-1]):
                    vf.pts = i
                    out.mux(vs.encode(vf))
                    push_audio(int((i + 1) / clip.fps * AUDIO_RATE))
                    if progress is not None:
                        progress(i + 1, clip.n_frames)
            finally:
                for st in reversed(stages):
                    st.close()
            push_audio(n_audio, wait=True)
            out.mux(vs.encode(None))
            out.mux(aus.encode(None))
        os.replace(tmp, path)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if tmp.exists():
            tmp.unlink()


class _Stopped(Exception):
    """The pipeline was closed while this stage waited for its input."""


_END = object()


class _Ahead:
    """An iterator run on its own thread, up to DEPTH items ahead of its reader. write_mp4 chains them (the
    picture drawn, the planes changed, the encoder), so the three work on different frames at once, on
    different cores: drawing, numpy and OpenCV, and x264 release the GIL. One after another on one thread,
    the generate stage of a 10 s 720p clip kept one of two cores busy (issue 19). Items come out in order; an
    exception in the iterator is raised to the reader in its place; close() (or an error in any stage
    sharing `stop`) ends every stage's thread."""

    DEPTH = 4  # frames in flight between two stages (a 1080p RGB frame is 6 MB)
    POLL = 0.05  # seconds between looks at `stop` while a stage waits

    def __init__(self, items: Iterator[Any], name: str, stop: threading.Event | None = None) -> None:
        self.stop = stop if stop is not None else threading.Event()
        self._q: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(self.DEPTH)
        self._thread = threading.Thread(target=self._run, args=(items,), name=f"write_mp4-{name}", daemon=True)
        self._thread.start()

    def _run(self, items: Iterator[Any]) -> None:
        try:
            for item in items:
                if not self._put(item, None):
                    return
            self._put(_END, None)
        except BaseException as exc:  # handed to the reader, which raises it
            self._put(_END, exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # a generator's own clean-up runs here, on its thread
                close()

    def _put(self, item: Any, exc: BaseException | None) -> bool:
        while not self.stop.is_set():
            try:
                self._q.put((item, exc), timeout=self.POLL)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[Any]:
        while True:
            try:
                item, exc = self._q.get(timeout=self.POLL)
            except queue.Empty:
                if self.stop.is_set():
                    raise _Stopped from None
                continue
            if exc is not None:
                raise exc
            if item is _END:
                return
            yield item

    def close(self) -> None:
        self.stop.set()
        self._thread.join()


def _checked_frames(clip: Clip, planes: bool) -> Iterator[Any]:
    """clip.frames() as rgb24 VideoFrames, or with `planes` as yuv420p planes (H*3/2 x W uint8: the conversion
    the encoder makes of an rgb24 frame itself), each checked against the clip's declared size and count."""
    n = 0
    for rgb in clip.frames():
        if n >= clip.n_frames:
            raise GeneratorError(f"clip yielded more than its {clip.n_frames} frames")
        arr = np.asarray(rgb)
        if arr.shape != (clip.height, clip.width, 3) or arr.dtype != np.uint8:
            raise GeneratorError(
                f"frame {n} is {arr.shape} {arr.dtype}; expected ({clip.height}, {clip.width}, 3) uint8")
        if planes:
            # converted before the clip is asked for its next frame, so arr is read in place (no copy; 2.7 -> 2.2 ms
            # a 720p frame, the same planes) and to_ndarray's planes are new
            rgb_frame = av.VideoFrame.from_numpy_buffer(np.ascontiguousarray(arr), "rgb24")
            yield rgb_frame.reformat(format="yuv420p").to_ndarray()
        else:
            yield av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")  # a copy: arr may be reused
        n += 1
    if n != clip.n_frames:
        raise GeneratorError(f"clip yielded {n} frames, declared {clip.n_frames}")


def _changed_yuv(frames: Iterable[np.ndarray], fn: Callable[[np.ndarray, int], np.ndarray],
                 clip: Clip) -> Iterator[av.VideoFrame]:
    """Each frame's yuv420p planes handed to fn, in order, and fn's planes as the frame to encode."""
    for i, planes in enumerate(frames):
        yuv = fn(planes, i)
        if yuv.dtype != np.uint8 or yuv.shape != (clip.height * 3 // 2, clip.width):
            raise GeneratorError(f"yuv_fn returned {yuv.shape} {yuv.dtype} for frame {i}")
        yield av.VideoFrame.from_numpy_buffer(np.ascontiguousarray(yuv), "yuv420p")


def _changed_audio(fn: Callable[[np.ndarray, int], np.ndarray], audio: np.ndarray, n: int) -> np.ndarray:
    """fn's soundtrack, as (2, n) float32 like the one it was given."""
    out = np.asarray(fn(audio.copy(), AUDIO_RATE), dtype=np.float32)
    if out.ndim != 2 or out.shape[0] != 2:
        raise GeneratorError(f"audio_fn returned shape {out.shape}; expected (2, samples)")
    if out.shape[1] < n:
        out = np.pad(out, ((0, 0), (0, n - out.shape[1])))
    return np.ascontiguousarray(out[:, :n])


def probe(path: Path) -> dict:
    """Codec names, size, fps, duration and frame count of a media file (for checks and tests)."""
    with _open(path) as c:
        v = c.streams.video[0] if c.streams.video else None
        a = c.streams.audio[0] if c.streams.audio else None
        info: dict = {"duration": float(c.duration / av.time_base) if c.duration else None}
        if v is not None:
            rate = v.average_rate or v.guessed_rate
            info.update(video_codec=v.codec_context.name, width=v.width, height=v.height,
                        fps=float(rate) if rate else None, frames=v.frames, pix_fmt=v.codec_context.pix_fmt)
        if a is not None:
            info.update(audio_codec=a.codec_context.name, sample_rate=a.rate, channels=a.channels)
        return info


def _open(path: Path) -> av.container.InputContainer:
    path = Path(path)
    if not path.is_file():
        raise ClipDecodeError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise ClipDecodeError(f"{path}: file is empty")
    if size > MAX_SOURCE_BYTES:
        raise ClipDecodeError(f"{path}: {size} bytes is larger than the {MAX_SOURCE_BYTES} byte limit")
    try:
        return av.open(str(path), mode="r")
    except (av.FFmpegError, UnicodeDecodeError, OSError) as e:
        raise ClipDecodeError(f"{path}: not a readable video ({e.__class__.__name__}: {e})") from e


def _decode_video(path: Path, limit: int) -> Iterator[np.ndarray]:
    with _open(path) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        n = 0
        try:
            for frame in c.decode(vs):
                if n >= limit:
                    return
                yield frame.to_ndarray(format="rgb24")
                n += 1
        except av.FFmpegError as e:
            raise ClipDecodeError(f"{path}: corrupt or truncated video after {n} frames ({e})") from e


def _decode_audio(c: av.container.InputContainer, seconds: float) -> np.ndarray:
    total = int(round(seconds * AUDIO_RATE))
    out = np.zeros((2, total), np.float32)
    if not c.streams.audio:
        return out
    res = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
    pos = 0
    for frame in c.decode(c.streams.audio[0]):
        start = pos
        if frame.pts is not None and frame.time_base is not None:
            # place by timestamp so encoder priming and gaps do not shift the sound against the picture
            start = max(0, int(round(float(frame.pts * frame.time_base) * AUDIO_RATE)))
        for rf in res.resample(frame):
            data = rf.to_ndarray().astype(np.float32)
            end = min(total, start + data.shape[1])
            if end > start:
                out[:, start:end] = data[:, : end - start]
            start += data.shape[1]
        pos = start
        if pos >= total:
            break
    return out


def read_audio(path: Path, seconds: float | None = None) -> tuple[np.ndarray, int]:
    """The audio track as float32 (2, samples) at 48 kHz, placed by timestamps (zeros if none)."""
    with _open(path) as c:
        if seconds is None:
            seconds = float(c.duration / av.time_base) if c.duration else 0.0
        try:
            return _decode_audio(c, seconds), AUDIO_RATE
        except av.FFmpegError as e:
            raise ClipDecodeError(f"{path}: corrupt audio ({e})") from e


def read_clip(path: Path, max_seconds: float | None = None) -> Clip:
    """Decode an MP4/MOV/WebM/GIF (first video stream, plus audio if any) into a Clip.

    The whole file is decoded once here to validate it and count frames; `frames()` decodes again lazily,
    so a long 1080p source never sits in memory.
    """
    path = Path(path)
    with _open(path) as c:
        if not c.streams.video:
            raise ClipDecodeError(f"{path}: has no video stream")
        vs = c.streams.video[0]
        w, h = vs.codec_context.width, vs.codec_context.height
        if not w or not h:
            raise ClipDecodeError(f"{path}: video stream has no frame size")
        if w * h > MAX_SOURCE_PIXELS:
            raise ClipDecodeError(f"{path}: {w}x{h} frames exceed the {MAX_SOURCE_PIXELS} pixel limit")
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        fps = float(rate) if rate else 10.0
        if not 1.0 <= fps <= 120.0:
            fps = 10.0
    limit_s = min(max_seconds if max_seconds is not None else MAX_SOURCE_SECONDS, MAX_SOURCE_SECONDS)
    limit = max(1, int(round(limit_s * fps)))
    n = 0
    for arr in _decode_video(path, limit):
        if arr.shape[:2] != (h, w):
            raise ClipDecodeError(f"{path}: frame size changes mid-stream ({arr.shape[1]}x{arr.shape[0]})")
        n += 1
    if n == 0:
        raise ClipDecodeError(f"{path}: no decodable video frames (truncated or garbage)")
    ifps = max(1, int(round(fps)))
    audio, sr = read_audio(path, n / fps)

    def frames() -> Iterator[np.ndarray]:
        return _decode_video(path, n)

    return Clip(fps=ifps, width=w, height=h, n_frames=n, frames=frames, audio=audio, sample_rate=sr,
                metadata={"source": str(path), "source_fps": fps})
