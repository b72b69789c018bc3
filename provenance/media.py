"""PyAV decode/encode helpers for the watermark: luma frames in, H.264 + AAC out, with clear errors."""

from __future__ import annotations

import math
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt

from provenance.errors import ProvenanceError

MAX_PIXELS = 4096 * 2304  # refuse absurd frame sizes (decompression bombs)
# Audio is decoded to float32: memory is seconds x rate x channels x 4 bytes, so all three are bounded.
MAX_AUDIO_RATE = 192_000  # the highest rate studios use; a 1 MHz track is a crafted file
MAX_AUDIO_CHANNELS = 16  # read_audio mixes to stereo anyway; more only costs decoder memory
MAX_AUDIO_SECONDS = 180.0  # a whole-track read (embedding our own <= 60 s clips) longer than this is refused


class MediaLimitError(ProvenanceError):
    """The file is over a decoding limit (frame size, sample rate, channels, audio length)."""


def open_media(path: Path) -> av.container.InputContainer:
    path = Path(path)
    if not path.is_file():
        raise ProvenanceError(f"no such file: {path}")
    if path.stat().st_size == 0:
        raise ProvenanceError(f"file is empty: {path}")
    try:
        return av.open(str(path))
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise ProvenanceError(f"not a readable media file: {path.name}: {exc}") from exc


def _check_video_stream(stream: av.video.stream.VideoStream, path: Path) -> None:
    w, h = stream.codec_context.width, stream.codec_context.height
    if w <= 0 or h <= 0 or w * h > MAX_PIXELS:
        raise MediaLimitError(f"unsupported frame size {w}x{h} in {path.name}")
    # The header speaks for the first frame only: a stream can switch to a larger size mid-way. With
    # max_pixels the decoder refuses such a frame before allocating it (a check after decoding is too late
    # for a 60000x60000 frame); _check_frame covers decoders that do not honour the option.
    stream.codec_context.options = {**stream.codec_context.options, "max_pixels": str(MAX_PIXELS)}


def _check_frame(frame: av.VideoFrame, path: Path) -> None:
    if frame.width * frame.height > MAX_PIXELS:
        raise MediaLimitError(f"frame size changes to {frame.width}x{frame.height} mid-stream in {path.name}, "
                              f"over the {MAX_PIXELS:,} pixel limit")


def _decode_failed(what: str, path: Path, exc: Exception) -> ProvenanceError:
    return ProvenanceError(f"cannot decode {what} in {path.name} (corrupt, or a frame over the "
                           f"{MAX_PIXELS:,} pixel limit): {exc}")


def _check_audio(rate: int, channels: int, path: Path) -> None:
    if rate > MAX_AUDIO_RATE:
        raise MediaLimitError(f"audio sample rate {rate:,} Hz in {path.name} is over the {MAX_AUDIO_RATE:,} Hz limit")
    if channels > MAX_AUDIO_CHANNELS:
        raise MediaLimitError(f"{channels} audio channels in {path.name}; the limit is {MAX_AUDIO_CHANNELS}")


def estimate_frames(path: Path, start_s: float = 0.0, max_seconds: float | None = None) -> int | None:
    """Frames of the first video stream in [start_s, start_s + max_seconds), from the container's
    duration and frame rate (None when it does not say)."""
    with open_media(path) as box:
        if not box.streams.video:
            return None
        vs = box.streams.video[0]
        rate = float(vs.average_rate or vs.guessed_rate or 0)
        if vs.duration is not None and vs.time_base is not None:
            duration = float(vs.duration * vs.time_base)
        elif box.duration:
            duration = box.duration / av.time_base
        else:
            return None
    span = max(0.0, duration - start_s)
    if max_seconds is not None:
        span = min(span, max_seconds)
    return int(math.ceil(span * rate)) if rate > 0 else None


def iter_luma(
    path: Path, start_s: float = 0.0, max_seconds: float | None = None, stride: int = 1
) -> Iterator[tuple[float, np.ndarray]]:
    """(time, luma uint8 HxW) for every `stride`-th decoded frame in [start_s, start_s + max_seconds)."""
    with open_media(path) as box:
        if not box.streams.video:
            raise ProvenanceError(f"no video stream in {Path(path).name}")
        vs = box.streams.video[0]
        _check_video_stream(vs, Path(path))
        vs.thread_type = "AUTO"
        try:
            i = 0
            for frame in box.decode(vs):
                _check_frame(frame, Path(path))
                t = float(frame.time) if frame.time is not None else 0.0
                if t < start_s:
                    continue
                if max_seconds is not None and t >= start_s + max_seconds:
                    break
                if i % stride == 0:
                    yield t, frame.to_ndarray(format="gray")
                i += 1
        except av.FFmpegError as exc:
            raise _decode_failed("video", Path(path), exc) from exc


def read_audio(
    path: Path, rate: int | None = None, max_seconds: float | None = None
) -> tuple[np.ndarray, int, str] | None:
    """Audio as float32 (channels, samples), its rate and layout name; None if there is no audio.

    With max_seconds, decoding stops once that much audio is read (the rest is never decoded, whatever the
    header claims); without it the whole track is read and one over MAX_AUDIO_SECONDS is refused. Memory is
    at most seconds x MAX_AUDIO_RATE x 2 channels x 4 bytes."""
    path = Path(path)
    with open_media(path) as box:
        if not box.streams.audio:
            return None
        st = box.streams.audio[0]
        _check_audio(st.codec_context.sample_rate or 0, st.codec_context.channels or 0, path)
        sr = rate or st.codec_context.sample_rate or 48000
        _check_audio(sr, 0, path)
        layout = "stereo" if (st.codec_context.channels or 1) >= 2 else "mono"
        limit = math.ceil((MAX_AUDIO_SECONDS if max_seconds is None else max(0.0, max_seconds)) * sr)
        res = av.AudioResampler(format="fltp", layout=layout, rate=sr)
        chunks = []
        n = 0
        try:
            for frame in box.decode(st):
                _check_audio(frame.sample_rate, len(frame.layout.channels), path)  # can change mid-stream
                for out in res.resample(frame):
                    chunks.append(out.to_ndarray())
                    n += out.samples
                if n > limit:
                    break
            else:
                for out in res.resample(None):
                    chunks.append(out.to_ndarray())
                    n += out.samples
        except av.FFmpegError as exc:
            raise ProvenanceError(f"cannot decode audio in {path.name}: {exc}") from exc
    if n > limit and max_seconds is None:
        raise MediaLimitError(f"the audio in {path.name} is longer than {MAX_AUDIO_SECONDS:.0f} s")
    if not chunks:
        return None
    return np.concatenate(chunks, axis=1)[:, :limit].astype(np.float32, copy=False), sr, layout


YuvFn = Callable[[np.ndarray, int], np.ndarray]  # (yuv420p array (H*3/2, W), frame index) -> same shape
RgbFn = Callable[[np.ndarray, int], np.ndarray]  # (rgb24 array (H, W, 3), frame index) -> same shape
Audio = tuple[np.ndarray | Future[np.ndarray], int, str]  # (samples (channels, n) float32, rate, layout name)

# The published clip's encode (the watermark's output) and the gate bench's bare transcode, which must match it
X264_PRESET = "veryfast"
X264_CRF = 18
# The watermark's output's AAC coder (None: FFmpeg's default, "twoloop"); every other transcode keeps FFmpeg's
# default. "fast" is twice as quick (0.2 -> 0.1 s CPU for the bench's 10 s of 48 kHz stereo at 128 kb/s) but not
# kept: `python -m evals.watermark_audio --quick --only attacks --fp-windows 20 --published default|fast` (load
# ~19) found the same 82 / 88 cells, one lost (tone+noise after speed +3% + MP3: log10 p -9.82 -> -1.63) and one
# gained (JFK's 5-s excerpt: -1.63 -> -6.45), and the audio figures must not drop.
PUBLISHED_AAC_CODER: str | None = None


def x264_options(crf: int = X264_CRF, preset: str = X264_PRESET) -> dict[str, str]:
    return {"crf": str(crf), "preset": preset}


def transcode(
    src: Path,
    dst: Path,
    *,
    yuv_fn: YuvFn | None = None,
    rgb_fn: RgbFn | None = None,
    audio: Audio | None | bool = True,
    crf: int = X264_CRF,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
    crop: tuple[int, int, int, int] | None = None,
    drop: Callable[[float], bool] | None = None,
    audio_bitrate: int | None = None,
    audio_rate: int | None = None,
    preset: str = X264_PRESET,
    aac_coder: str | None = None,
) -> dict:
    """Re-encode src -> dst (H.264 yuv420p + AAC). `audio`: True = keep source audio, False/None = none,
    or (samples, rate, layout) to write instead; samples may be a Future (the watermark marks the sound while
    the picture is encoded: a thread encodes it once it is marked, and its packets are written as they come).
    aac_coder: FFmpeg's aac_coder option (None: its default).
    Written to a temp file, then atomically renamed."""
    src, dst = Path(src), Path(dst)
    sound = read_audio(src) if audio is True else (audio or None)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".wm-", suffix=".mp4", dir=dst.parent)
    os.close(fd)
    n_frames = 0
    try:
        # the audio thread (if any) is joined (ExitStack) before the container it encodes for is closed
        with open_media(src) as box, av.open(tmp, "w", format="mp4") as out, ExitStack() as joins:
            if not box.streams.video:
                raise ProvenanceError(f"no video stream in {src.name}")
            vin = box.streams.video[0]
            _check_video_stream(vin, src)
            vin.thread_type = "AUTO"  # frame/slice threads: decoding was a third of the watermark's time
            src_fps = float(vin.average_rate or vin.guessed_rate or 25)
            out_fps = Fraction(fps or src_fps).limit_denominator(1001)
            w, h = size or (crop[2:] if crop else (vin.codec_context.width, vin.codec_context.height))
            w, h = w - w % 2, h - h % 2
            vs = out.add_stream("libx264", rate=out_fps)
            vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
            vs.codec_context.time_base = 1 / out_fps
            vs.options = {**x264_options(crf, preset)}
            writer = None
            if sound is not None:
                writer = joins.enter_context(_AudioWriter(out, sound, drop, audio_rate, audio_bitrate, aac_coder))

            next_t = 0.0
            step = 1.0 / float(out_fps)
            idx_in = 0
            dropped_s = 0.0
            for frame in box.decode(vin):
                _check_frame(frame, src)
                t = float(frame.time) if frame.time is not None else idx_in / src_fps
                idx_in += 1
                if drop is not None and drop(t):
                    dropped_s += 1.0 / src_fps
                    continue
                t -= dropped_s  # time on the output timeline, after any cut
                # frame-rate change: duplicate or drop frames on the output clock
                reps = 0
                while next_t <= t + 1e-6 or (fps is None and reps == 0):
                    reps += 1
                    next_t += step
                    if fps is None:
                        break
                for _ in range(reps):
                    if rgb_fn is not None or crop is not None or size is not None:
                        rgb = _rgb(frame, crop, (w, h))
                        if rgb_fn is not None:
                            rgb = rgb_fn(rgb, n_frames)
                        # the frame borrows the array (no copy); the encoder copies what it keeps
                        vf = av.VideoFrame.from_numpy_buffer(_u8(rgb), "rgb24")
                        vf = vf.reformat(format="yuv420p")
                    else:
                        # a size only when it differs: with one, PyAV runs swscale even to copy the same size
                        # (0.6 instead of 0.1 ms a 720p frame; the same pixels)
                        same = (frame.width, frame.height) == (w, h)
                        yuv = frame.to_ndarray(format="yuv420p") if same else frame.to_ndarray(
                            format="yuv420p", width=w, height=h)
                        if yuv_fn is not None:
                            yuv = yuv_fn(yuv, n_frames)
                        vf = av.VideoFrame.from_numpy_buffer(_u8(yuv), "yuv420p")
                    vf.pts = n_frames
                    vf.time_base = vs.codec_context.time_base
                    for pkt in vs.encode(vf):
                        out.mux(pkt)
                    n_frames += 1
                    if writer is not None:
                        writer.write(int(n_frames / float(out_fps) * writer.rate))
            for pkt in vs.encode():
                out.mux(pkt)
            if writer is not None:
                writer.finish()
        if n_frames == 0:
            raise ProvenanceError(f"no decodable video frames in {src.name}")
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; published media must be readable
        os.replace(tmp, dst)
    except av.FFmpegError as exc:
        raise _decode_failed("or encode video", src, exc) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return {"frames": n_frames, "width": w, "height": h, "fps": float(out_fps)}


def _u8(arr: np.ndarray) -> npt.NDArray[np.uint8]:
    """A picture for the encoder: uint8, rows contiguous (what from_numpy_buffer needs; no copy if so already)."""
    if arr.dtype != np.uint8:
        raise ProvenanceError(f"a frame function returned {arr.dtype} pixels, not uint8")
    return np.ascontiguousarray(arr, np.uint8)


def _rgb(frame: av.VideoFrame, crop: tuple[int, int, int, int] | None, size: tuple[int, int]) -> np.ndarray:
    """The frame as rgb24, cropped and resized to size (w, h)."""
    rgb: np.ndarray = frame.to_ndarray(format="rgb24")
    if crop is not None:
        x0, y0, cw, ch = crop
        rgb = rgb[y0 : y0 + ch, x0 : x0 + cw]
    if rgb.shape[:2] != (size[1], size[0]):
        rgb = np.asarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
    return rgb


class _AudioWriter:
    """The output's AAC stream, muxed alongside the picture. Samples already at hand are encoded on the
    caller's thread, interleaved as the picture advances; a Future's (the watermark marks the sound while the
    picture is encoded) are encoded by a thread once marked, off the picture's path, and muxed as they come."""

    BLOCK = 1024  # samples per frame handed to the encoder (AAC's frame size)

    def __init__(self, out: av.container.OutputContainer, sound: Audio, drop: Callable[[float], bool] | None,
                 rate: int | None, bitrate: int | None, coder: str | None = None) -> None:
        data, sr, self.layout = sound
        if isinstance(data, Future) and (drop is not None or (rate and rate != sr)):
            data = data.result()  # a cut or a resampling needs every sample first
        if isinstance(data, np.ndarray):
            if drop is not None:  # a cut removes the sound with the picture (10 ms blocks)
                block = max(1, sr // 100)
                n_blocks = math.ceil(data.shape[1] / block)
                keep = np.repeat([not drop(i / 100) for i in range(n_blocks)], block)[: data.shape[1]]
                data = data[:, keep]
            if rate and rate != sr:
                data = _resample(data, sr, rate)
        self.rate = rate or sr
        self.out = out
        self.stream = out.add_stream("aac", rate=self.rate, layout=self.layout)
        if bitrate:
            self.stream.bit_rate = bitrate
        if coder:
            self.stream.codec_context.options = {**self.stream.codec_context.options, "aac_coder": coder}
        self.pos = 0
        self.samples: np.ndarray | None = data if isinstance(data, np.ndarray) else None
        self.packets: queue.SimpleQueue[av.Packet | BaseException | None] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.done = False  # the thread's last packet is muxed
        if isinstance(data, Future):
            out.start_encoding()  # opens every codec and writes the header here, not on two threads at once
            self.thread = threading.Thread(target=self._encode_when_ready, args=(data,), name="aac", daemon=True)
            self.thread.start()

    def __enter__(self) -> _AudioWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.thread is not None:  # also when the picture failed: the thread must not outlive the container
            self.thread.join()

    def _frames(self, samples: np.ndarray, until: int) -> Iterator[av.AudioFrame]:
        while self.pos < until:
            n = min(self.BLOCK, samples.shape[1] - self.pos)
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, self.pos : self.pos + n]),
                                            format="fltp", layout=self.layout)
            af.sample_rate, af.pts, af.time_base = self.rate, self.pos, Fraction(1, self.rate)
            yield af
            self.pos += n

    def _encode_when_ready(self, marked: Future[np.ndarray]) -> None:
        try:
            samples = marked.result()
            for af in self._frames(samples, samples.shape[1]):
                for pkt in self.stream.encode(af):
                    self.packets.put(pkt)
            for pkt in self.stream.encode(None):
                self.packets.put(pkt)
            self.packets.put(None)
        except BaseException as exc:  # handed to the muxing thread, which raises it
            self.packets.put(exc)

    def _mux_ready(self, wait: bool) -> None:
        """Mux the thread's packets that are ready (wait: all of them, until the thread is done)."""
        while not self.done and (wait or not self.packets.empty()):
            item = self.packets.get()
            if isinstance(item, BaseException):
                raise item
            if item is None:
                self.done = True
            else:
                self.out.mux(item)

    def write(self, until: int) -> None:
        """Audio up to sample `until`: encoded here, or the thread's packets so far."""
        if self.thread is not None:
            self._mux_ready(wait=False)
            return
        assert self.samples is not None
        for af in self._frames(self.samples, min(until, self.samples.shape[1])):
            for pkt in self.stream.encode(af):
                self.out.mux(pkt)

    def finish(self) -> None:
        """The rest of the audio and the encoder's flush (waiting for the thread's, if it has one)."""
        if self.thread is not None:
            self._mux_ready(wait=True)
            return
        assert self.samples is not None
        self.write(self.samples.shape[1])
        for pkt in self.stream.encode(None):
            self.out.mux(pkt)


def _resample(x: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    from scipy.signal import resample_poly

    g = np.gcd(sr_from, sr_to)
    return np.asarray(resample_poly(x, sr_to // g, sr_from // g, axis=1), dtype=np.float32)
