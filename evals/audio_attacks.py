"""Edits a re-uploaded soundtrack goes through (issue 21), as functions of float audio (channels, samples).

speed: resampling played back at the old rate (pitch and tempo both move), scipy's polyphase filter.
tempo: pitch-preserving time stretch with FFmpeg's atempo (WSOLA) through a PyAV filter graph.
mp3 / opus: a real encode and decode with libmp3lame / libopus through PyAV (64 kb/s).
mix: another recording added under (or over) the marked one at a given level relative to it.
excerpt: a window cut out of the middle.
"""

from __future__ import annotations

import io
import math
from fractions import Fraction

import av
import numpy as np
from scipy.signal import resample_poly


def speed(x: np.ndarray, sr: int, factor: float) -> np.ndarray:
    """Play `factor` x faster by resampling (a 5% faster clip is 5% shorter and 5% higher)."""
    fr = Fraction(1 / factor).limit_denominator(200)
    return resample_poly(np.asarray(x, dtype=np.float64), fr.numerator, fr.denominator, axis=-1).astype(np.float32)


def _frames(x: np.ndarray, sr: int, layout: str, fmt: str = "fltp", size: int = 1024):
    for pos in range(0, x.shape[-1], size):
        f = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[:, pos : pos + size]), format=fmt, layout=layout)
        f.sample_rate, f.pts, f.time_base = sr, pos, Fraction(1, sr)
        yield f


def tempo(x: np.ndarray, sr: int, factor: float) -> np.ndarray:
    """Pitch-preserving tempo change by `factor` (FFmpeg atempo; > 1 is faster/shorter)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float32))
    layout = "mono" if x.shape[0] == 1 else "stereo"
    g = av.filter.Graph()
    src = g.add_abuffer(format="fltp", sample_rate=sr, layout=layout, time_base=Fraction(1, sr))
    at = g.add("atempo", f"{factor:.6f}")
    sink = g.add("abuffersink")
    src.link_to(at)
    at.link_to(sink)
    g.configure()
    out = []

    def drain() -> None:
        while True:
            try:
                out.append(g.pull().to_ndarray())
            except (av.BlockingIOError, av.EOFError):
                return

    for f in _frames(x, sr, layout):
        g.push(f)
        drain()
    g.push(None)
    drain()
    return np.concatenate(out, axis=1).astype(np.float32)


def codec(x: np.ndarray, sr: int, name: str, bitrate: int = 64000) -> tuple[np.ndarray, int]:
    """Encode with `name` ("libmp3lame" in MP3, "libopus" in Ogg) at `bitrate` and decode; (audio, rate)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float32))
    layout = "mono" if x.shape[0] == 1 else "stereo"
    rate = 48000 if name == "libopus" else (sr if sr in (32000, 44100, 48000) else 44100)
    if rate != sr:
        g = math.gcd(sr, rate)
        x = resample_poly(x, rate // g, sr // g, axis=-1).astype(np.float32)
    buf = io.BytesIO()
    fmt = "ogg" if name == "libopus" else "mp3"
    with av.open(buf, "w", format=fmt) as out:
        st = out.add_stream(name, rate=rate, layout=layout)
        st.bit_rate = bitrate
        want = st.codec_context.format.name  # s16 for opus, fltp for lame
        res = av.AudioResampler(format=want, layout=layout, rate=rate, frame_size=st.codec_context.frame_size or 1024)
        for f in _frames(x, rate, layout):
            for r in res.resample(f):
                for pkt in st.encode(r):
                    out.mux(pkt)
        for r in res.resample(None):
            for pkt in st.encode(r):
                out.mux(pkt)
        for pkt in st.encode(None):
            out.mux(pkt)
    buf.seek(0)
    chunks = []
    with av.open(buf, "r") as box:
        conv = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        for f in box.decode(box.streams.audio[0]):
            for r in conv.resample(f):
                chunks.append(r.to_ndarray())
    return np.concatenate(chunks, axis=1).astype(np.float32), rate


def mix(x: np.ndarray, other: np.ndarray, level_db: float) -> np.ndarray:
    """x plus `other` (same rate; looped or cut to length) scaled to level_db relative to x's RMS."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    o = np.atleast_2d(np.asarray(other, dtype=np.float64)).mean(axis=0)
    o = np.resize(o, x.shape[-1])
    rx, ro = math.sqrt(float(np.mean(x * x))) or 1e-12, math.sqrt(float(np.mean(o * o))) or 1e-12
    y = x + o[None, :] * (rx / ro) * 10 ** (level_db / 20)
    peak = float(np.max(np.abs(y)))
    return (y / max(1.0, peak)).astype(np.float32)  # a mixer normalises rather than clip


def excerpt(x: np.ndarray, sr: int, seconds: float, start_s: float) -> np.ndarray:
    a = int(start_s * sr)
    return np.ascontiguousarray(np.atleast_2d(x)[:, a : a + int(seconds * sr)])
