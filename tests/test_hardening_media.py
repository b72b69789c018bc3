"""Issue 17, hole 3: media whose header lies cannot make the gate or the public verify path decode more than
its limits. The files are crafted here with PyAV: an MKV whose container duration says 1 s but which
carries 10 minutes of audio, audio at absurd rates and channel counts, and a stream whose frames grow past
the pixel limit mid-way (the header declares 64x64)."""

from __future__ import annotations

import io
import struct
import tracemalloc
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from gate.uploads import UploadError, check_media
from provenance.errors import ProvenanceError
from provenance.media import MAX_AUDIO_SECONDS, MediaLimitError, iter_luma, read_audio, transcode

AUDIO_RATE = 8000  # mono 8 kHz keeps the crafted files tiny and the old code's whole-track read at ~20 MB


def _video_stream(out: av.container.OutputContainer) -> av.video.stream.VideoStream:
    vs = out.add_stream("mjpeg", rate=1)
    vs.width = vs.height = 64
    vs.pix_fmt = "yuvj420p"
    return vs


def _one_frame(out: av.container.OutputContainer, vs: av.video.stream.VideoStream) -> None:
    frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 90, np.uint8), "rgb24").reformat(format="yuvj420p")
    frame.pts = 0
    for pkt in [*vs.encode(frame), *vs.encode()]:
        out.mux(pkt)


def _patch_ebml(path: Path, element: bytes, value: bytes) -> None:
    """Overwrite the value of the first occurrence of an EBML element (id + 1-byte size) in place."""
    data = bytearray(path.read_bytes())
    at = data.find(element)
    assert at > 0, f"element {element.hex()} not found"
    data[at + len(element) : at + len(element) + len(value)] = value
    path.write_bytes(bytes(data))


def lying_mkv(path: Path, audio_seconds: float, header_seconds: float | None = 1.0) -> Path:
    """One video frame and `audio_seconds` of FLAC; the Segment Duration rewritten to `header_seconds`."""
    with av.open(str(path), "w", format="matroska") as out:
        vs = _video_stream(out)
        a = out.add_stream("flac", rate=AUDIO_RATE, layout="mono")  # every stream before the first packet
        _one_frame(out, vs)
        block = AUDIO_RATE * 10
        rng = np.random.default_rng(0)
        chunk = (rng.standard_normal((1, block)) * 300).astype(np.int16)  # quiet noise: real samples to decode
        for pos in range(0, int(audio_seconds * AUDIO_RATE), block):
            af = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            af.sample_rate, af.pts = AUDIO_RATE, pos
            for pkt in a.encode(af):
                out.mux(pkt)
        for pkt in a.encode():
            out.mux(pkt)
    if header_seconds is not None:  # Duration (0x4489), an 8-byte float in ms (TimecodeScale 1 ms)
        _patch_ebml(path, b"\x44\x89\x88", struct.pack(">d", header_seconds * 1000))
    return path


def pcm_mkv(path: Path, rate: int, channels: int | None = None) -> Path:
    """One video frame and 0.1 s of PCM at `rate`; `channels` rewrites the track header's channel count
    (the PCM decoder believes it)."""
    with av.open(str(path), "w", format="matroska") as out:
        vs = _video_stream(out)
        a = out.add_stream("pcm_s16le", rate=rate, layout="mono")
        _one_frame(out, vs)
        af = av.AudioFrame.from_ndarray(np.zeros((1, rate // 10), np.int16), format="s16", layout="mono")
        af.sample_rate, af.pts = rate, 0
        for pkt in [*a.encode(af), *a.encode()]:
            out.mux(pkt)
    if channels is not None:
        _patch_ebml(path, b"\x9f\x81", bytes([channels]))  # Channels (0x9F), 1 byte
    return path


def growing_mkv(path: Path, big: tuple[int, int]) -> Path:
    """MJPEG in MKV: the track header and the first frames say 64x64, the third frame is `big`."""

    def jpeg(w: int, h: int) -> bytes:
        buf = io.BytesIO()
        Image.new("L", (w, h), 128).save(buf, format="JPEG", quality=50)
        return buf.getvalue()

    small = jpeg(64, 64)
    with av.open(str(path), "w", format="matroska") as out:
        st = out.add_stream("mjpeg", rate=10)
        st.width, st.height, st.pix_fmt = 64, 64, "yuvj420p"
        for i, data in enumerate([small, small, jpeg(*big), small]):
            pkt = av.Packet(data)
            pkt.stream, pkt.pts, pkt.dts, pkt.time_base = st, i, i, Fraction(1, 10)
            out.mux(pkt)
    return path


def test_the_crafted_header_really_lies(tmp_path) -> None:
    path = lying_mkv(tmp_path / "lie.mkv", 600)
    with av.open(str(path)) as box:
        assert box.duration / av.time_base == pytest.approx(1.0)
        assert sum(f.samples for f in box.decode(audio=0)) == 600 * AUDIO_RATE
    with av.open(str(growing_mkv(tmp_path / "grow.mkv", (8000, 6000)))) as box:
        v = box.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (64, 64)


def test_upload_check_counts_the_audio_a_short_header_hides(tmp_path) -> None:
    with pytest.raises(UploadError, match=r"audio runs longer than 120 s \(the header says 1 s\)"):
        check_media(lying_mkv(tmp_path / "lie.mkv", 600), 1 << 24)
    # an honest clip with a little audio, and one whose header understates a short track, still pass
    assert check_media(lying_mkv(tmp_path / "ok.mkv", 30, header_seconds=None), 1 << 24) == "video"
    assert check_media(lying_mkv(tmp_path / "short.mkv", 30), 1 << 24) == "video"


def test_public_verify_refuses_the_lying_file(components, tmp_path) -> None:
    from api.app import create_app

    client = TestClient(create_app(components=components, dispatch=lambda j: None))
    data = lying_mkv(tmp_path / "lie.mkv", 600).read_bytes()
    r = client.post("/v1/verify", files={"file": ("lie.mkv", data, "video/x-matroska")})
    assert r.status_code == 422 and "audio runs longer" in r.json()["detail"], r.text


def test_read_audio_stops_decoding_at_the_limit(tmp_path) -> None:
    path = lying_mkv(tmp_path / "lie.mkv", 600)
    tracemalloc.start()
    try:
        samples, sr, layout = read_audio(path, max_seconds=20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (sr, layout) == (AUDIO_RATE, "mono")
    assert samples.shape == (1, 20 * AUDIO_RATE) and samples.dtype == np.float32
    # 20 s of float32 is 0.64 MB; the whole 600 s track would be 19.2 MB (plus a copy when concatenated)
    assert peak < 3 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    with pytest.raises(MediaLimitError, match=f"longer than {MAX_AUDIO_SECONDS:.0f} s"):
        read_audio(path)  # a whole-track read refuses, it does not hold 10 minutes in memory


def test_watermark_detection_decodes_only_the_span_it_reads(tmp_path, monkeypatch) -> None:
    from provenance import watermark
    from provenance.wm_keys import new_key

    calls: list[tuple] = []
    real = watermark.read_audio

    def recorded(*args, **kwargs):  # the soundtrack read as detect_clip asks for it
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(watermark, "read_audio", recorded)
    res = watermark.detect_clip(lying_mkv(tmp_path / "lie.mkv", 600), keys=new_key()[0], max_seconds=20)
    assert res["audio"]["seconds"] == pytest.approx(20.0)
    # that read's own peak memory, measured alone (detect_clip reads the sound beside the picture, whose
    # allocations a process-wide tracemalloc peak would count too)
    args, kwargs = calls[0]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        real(*args, **kwargs)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    # 20 s of 8 kHz float32 is 0.64 MB; the whole 600 s track would be 19.2 MB, twice over when concatenated
    assert peak < 3 * 2**20, f"read_audio peak {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize(("rate", "channels", "needle"), [
    (1_000_000, None, "Hz"),
    (8000, 200, "channels"),
])
def test_absurd_sample_rates_and_channel_counts_are_refused(tmp_path, rate, channels, needle) -> None:
    path = pcm_mkv(tmp_path / "pcm.mkv", rate, channels)
    with pytest.raises(UploadError, match=needle):
        check_media(path, 1 << 24)
    with pytest.raises(MediaLimitError, match=needle):
        read_audio(path, max_seconds=20)


def test_sane_audio_is_read_whole(tmp_path) -> None:
    samples, sr, _ = read_audio(pcm_mkv(tmp_path / "pcm.mkv", 48_000))
    assert sr == 48_000 and samples.shape == (1, 4800)


def test_a_frame_growing_past_the_pixel_limit_mid_stream_is_refused(tmp_path) -> None:
    from safety.detector.decode import DetectorError, load_clip
    from safety.frames import FrameError, sample_frames

    gate_bomb = growing_mkv(tmp_path / "grow48m.mkv", (8000, 6000))  # over the gate's 40 M pixels
    with pytest.raises(UploadError, match="pixel limit"):
        check_media(gate_bomb, 1 << 24)
    with pytest.raises(DetectorError):
        load_clip(gate_bomb)
    try:  # the decoder refuses the big frame; frame sampling keeps what came before as a truncated tail
        kept = sample_frames(gate_bomb)
    except FrameError:
        kept = []
    assert all(f.image.shape[:2] == (64, 64) for f in kept)

    mark_bomb = growing_mkv(tmp_path / "grow20m.mkv", (5000, 4000))  # over the watermark path's 9.4 M
    with pytest.raises(ProvenanceError, match="pixel limit"):
        for _ in iter_luma(mark_bomb):
            pass
    with pytest.raises(ProvenanceError, match="pixel limit"):
        transcode(mark_bomb, tmp_path / "out.mp4", audio=False)
    assert not (tmp_path / "out.mp4").exists()


def test_a_steady_stream_still_decodes(tmp_path) -> None:
    path = growing_mkv(tmp_path / "steady.mkv", (64, 64))
    assert check_media(path, 1 << 24) == "video"
    assert len(list(iter_luma(path))) == 4
