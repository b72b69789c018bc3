"""Sound synthesis for a clip: impacts placed at the exact sample of each collision, footsteps, ambient
beds, a music bed by mood, and placed speech. Vectorised numpy/scipy; everything seeded."""

from __future__ import annotations

import functools

import numpy as np
from scipy.signal import butter, sosfilt

SR = 48000

# modal frequencies (Hz) and decay time (s) of what a material rings like when struck
MODES: dict[str, tuple[tuple[float, ...], float]] = {
    "wood": ((380.0, 910.0, 1630.0, 2450.0), 0.05), "rubber": ((150.0, 330.0, 560.0), 0.04),
    "metal": ((870.0, 2290.0, 3710.0, 5150.0), 0.3), "glass": ((1850.0, 4150.0, 6230.0), 0.2),
    "stone": ((240.0, 690.0, 1400.0), 0.035), "plastic": ((620.0, 1450.0, 2600.0), 0.05),
    "concrete": ((190.0, 520.0, 1250.0), 0.03), "tile": ((700.0, 1900.0, 3300.0), 0.06),
    "marble": ((650.0, 1800.0, 3100.0), 0.07), "fruit": ((180.0, 400.0), 0.025), "cloth": ((120.0, 260.0), 0.03),
    "fur": ((110.0, 240.0), 0.03), "feather": ((300.0,), 0.02), "ice": ((900.0, 2600.0), 0.08),
}
SOFT = {"grass": 1800.0, "sand": 900.0, "snow": 700.0, "carpet": 1200.0, "dirt": 1500.0}  # noise lowpass

_SOS_CACHE: dict[tuple, np.ndarray] = {}


def _sos(kind: str, freq: float | tuple[float, float], order: int = 2) -> np.ndarray:
    key = (kind, freq, order)
    if key not in _SOS_CACHE:
        _SOS_CACHE[key] = butter(order, freq, btype=kind, fs=SR, output="sos")
    return _SOS_CACHE[key]


def impact(obj_mat: str, surf_mat: str, speed: float, rng: np.random.Generator) -> np.ndarray:
    """Mono impact: modes of both bodies + a short contact click; 0.5 ms attack so the onset is sharp."""
    strength = float(np.clip(speed / 7.0, 0.3, 1.0))
    dur = 0.9 if "metal" in (obj_mat, surf_mat) or "glass" in (obj_mat, surf_mat) else 0.35
    t = np.arange(int(dur * SR)) / SR
    out = np.zeros_like(t)
    for mat, weight in ((obj_mat, 0.55), (surf_mat, 0.45)):
        if mat in SOFT:
            n = rng.normal(0, 1, len(t)) * np.exp(-t / 0.035)
            out += weight * 2.2 * sosfilt(_sos("lowpass", SOFT[mat]), n)
            continue
        freqs, decay = MODES.get(mat, MODES["wood"])
        for k, f in enumerate(freqs):
            f = f * (1.0 + 0.03 * rng.standard_normal())
            out += weight * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.28)) * np.exp(-t / (decay / (1 + 0.5 * k))) \
                / (1 + 0.6 * k)
    # the broadband contact click carries the onset; ringing alone would blur it under earlier tails
    click = sosfilt(_sos("highpass", 2000.0), rng.normal(0, 1, len(t)) * np.exp(-t / 0.004))
    out = 0.6 * out / (np.abs(out).max() + 1e-9) + 0.6 * click / (np.abs(click).max() + 1e-9)
    attack = min(len(t), int(0.0005 * SR))
    out[:attack] *= np.linspace(0, 1, attack, endpoint=False)
    return (out / (np.abs(out).max() + 1e-9) * 0.85 * strength).astype(np.float32)


def footstep(mat: str, rng: np.random.Generator, legs: int = 2) -> np.ndarray:
    t = np.arange(int(0.09 * SR)) / SR
    n = rng.normal(0, 1, len(t)) * np.exp(-t / 0.018)
    cutoff = SOFT.get(mat, 2500.0 if mat in ("wood", "tile", "marble", "concrete", "stone") else 1500.0)
    out = sosfilt(_sos("lowpass", cutoff), n)
    thump = np.sin(2 * np.pi * 90 * t) * np.exp(-t / 0.02)
    out = out / (np.abs(out).max() + 1e-9) + 0.5 * thump
    attack = int(0.001 * SR)
    out[:attack] *= np.linspace(0, 1, attack, endpoint=False)
    return (out / np.abs(out).max() * (0.28 if legs == 2 else 0.16)).astype(np.float32)


def place(buf: np.ndarray, sound: np.ndarray, start: int, pan: float = 0.0, gain: float = 1.0) -> None:
    """Add mono `sound` into stereo `buf` at sample `start` with equal-power panning (pan in [-1, 1])."""
    if start >= buf.shape[1] or len(sound) == 0:
        return
    s0 = max(0, start)
    seg = sound[s0 - start: s0 - start + buf.shape[1] - s0]
    theta = (np.clip(pan, -1, 1) + 1) * np.pi / 4
    buf[0, s0: s0 + len(seg)] += seg * np.cos(theta) * gain
    buf[1, s0: s0 + len(seg)] += seg * np.sin(theta) * gain


def resample(x: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    if src_rate == dst_rate:
        return x.astype(np.float32)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(src_rate, dst_rate)
    return resample_poly(x, dst_rate // g, src_rate // g).astype(np.float32)


def _tick(rng: np.random.Generator, hp: float, decay: float) -> np.ndarray:
    t = np.arange(int(decay * 6 * SR)) / SR
    return sosfilt(_sos("highpass", hp), rng.normal(0, 1, len(t)) * np.exp(-t / decay)).astype(np.float32)


def _noise(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.standard_normal((2, n), dtype=np.float32)


def ambience(kinds: list[str], n: int, rng: np.random.Generator) -> np.ndarray:
    """Stereo ambient beds (rain, wind, waves, crowd, cheer, birds, traffic, thunder, fire, crickets, room)."""
    out = np.zeros((2, n), np.float32)
    t = np.arange(n) / SR
    for kind in kinds:
        if kind == "rain":
            out += 0.02 * sosfilt(_sos("highpass", 1200.0), _noise(rng, n))
            drops = [_tick(rng, 5000.0, 0.003) * 0.05 for _ in range(8)]
            for k, s in enumerate(rng.integers(0, n, int(n / SR * 30))):  # individual drops
                place(out, drops[k % 8], int(s), float(rng.uniform(-1, 1)))
        elif kind == "wind":
            am = 0.6 + 0.4 * np.sin(2 * np.pi * 0.13 * t + rng.uniform(0, 6)) * np.sin(2 * np.pi * 0.05 * t)
            out += 0.12 * sosfilt(_sos("lowpass", 500.0), _noise(rng, n)) * am
        elif kind == "waves":
            env = (0.5 + 0.5 * np.sin(2 * np.pi * t / 6.5 + rng.uniform(0, 6))) ** 2
            out += 0.16 * sosfilt(_sos("lowpass", 900.0), _noise(rng, n)) * env
        elif kind in ("crowd", "cheer"):
            syll = sosfilt(_sos("lowpass", 6.0), np.abs(_noise(rng, n)))
            babble = sosfilt(_sos("bandpass", (300.0, 3000.0)), _noise(rng, n)) * (syll / (syll.max() + 1e-9))
            level = 0.03 if kind == "crowd" else 0.04 * (0.6 + 0.4 * np.sin(2 * np.pi * t / 3.0) ** 2)
            out += level * babble / (np.abs(babble).max() + 1e-9) * 4
        elif kind == "birds":
            for s in rng.integers(0, n, max(1, int(n / SR * 1.2))):
                d = int(0.08 * SR)
                tt = np.arange(d) / SR
                f0 = rng.uniform(2500, 4500)
                chirp = np.sin(2 * np.pi * (f0 * tt + rng.uniform(-8000, 8000) * tt * tt)) * np.sin(np.pi * tt / tt[-1])
                place(out, (0.05 * chirp).astype(np.float32), int(s), float(rng.uniform(-0.8, 0.8)))
        elif kind == "traffic":
            am = 0.7 + 0.3 * np.sin(2 * np.pi * t / 9.0 + rng.uniform(0, 6))
            out += 0.12 * sosfilt(_sos("lowpass", 220.0), _noise(rng, n)) * am
        elif kind == "thunder":
            for s in rng.integers(0, max(1, n - SR), max(1, int(n / SR / 8))):
                d = int(2.5 * SR)
                tt = np.arange(d) / SR
                rum = sosfilt(_sos("lowpass", 150.0), rng.normal(0, 1, d)) * np.exp(-tt / 0.8)
                place(out, (0.5 * rum / (np.abs(rum).max() + 1e-9)).astype(np.float32), int(s))
        elif kind == "fire":
            out += 0.04 * sosfilt(_sos("lowpass", 400.0), _noise(rng, n))
            pops = [_tick(rng, 1500.0, 0.004) * 0.12 for _ in range(8)]
            for k, s in enumerate(rng.integers(0, n, int(n / SR * 12))):
                place(out, pops[k % 8], int(s))
        elif kind == "crickets":
            pulse = (np.sin(2 * np.pi * 30 * t) > 0.3) * (np.sin(2 * np.pi * 0.8 * t) > 0)
            out += (0.02 * np.sin(2 * np.pi * 4600 * t) * pulse)[None, :]
        elif kind == "room":
            out += 0.012 * sosfilt(_sos("lowpass", 300.0), _noise(rng, n))
    return out


NOTE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
PROGRESSIONS = {  # root names with chord quality per bar
    "happy": [("C", "maj"), ("G", "maj"), ("A", "min"), ("F", "maj")],
    "sad": [("A", "min"), ("F", "maj"), ("C", "maj"), ("E", "min")],
    "calm": [("C", "maj7"), ("A", "min7"), ("F", "maj7"), ("G", "sus")],
    "tense": [("A", "min"), ("A", "dim"), ("F", "min"), ("E", "dim")],
    "epic": [("A", "min"), ("F", "maj"), ("C", "maj"), ("G", "maj")],
}
QUALITY = {"maj": (0, 4, 7), "min": (0, 3, 7), "maj7": (0, 4, 7, 11), "min7": (0, 3, 7, 10), "sus": (0, 5, 7),
           "dim": (0, 3, 6)}


def _freq(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


@functools.lru_cache(maxsize=256)  # the progression loops: the same notes come back every four bars
def _pluck(f: float, dur: float, bright: float) -> np.ndarray:
    t = np.arange(int(dur * SR)) / SR
    out = np.zeros_like(t)
    for h in range(1, 9):
        if f * h > SR / 2.2:
            break
        out += (bright ** (h - 1)) / h * np.sin(2 * np.pi * f * h * t) * np.exp(-t * (1.5 + 1.2 * h))
    out[: int(0.002 * SR)] *= np.linspace(0, 1, int(0.002 * SR), endpoint=False)
    return out


@functools.lru_cache(maxsize=256)
def _pad(f: float, dur: float) -> np.ndarray:
    t = np.arange(int(dur * SR)) / SR
    out = sum(np.sin(2 * np.pi * f * d * t) for d in (0.996, 1.0, 1.004)) + 0.3 * np.sin(2 * np.pi * 2 * f * t)
    env = np.minimum(1, t / 0.4) * np.minimum(1, (dur - t) / 0.3)
    return out * np.clip(env, 0, 1) / 3


def music(mood: str, instrument: str, tempo: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """A looped four-bar progression for the mood, played on a synthesised instrument, around -22 dBFS."""
    out = np.zeros((2, n), np.float32)
    beat = 60.0 / tempo
    bar = 4 * beat
    prog = PROGRESSIONS.get(mood, PROGRESSIONS["happy"])
    octave = {"ukulele": 67, "guitar": 55, "piano": 60, "synth": 48, "strings": 48, "flute": 72}.get(instrument, 55)
    t_bar = 0.0
    b = 0
    while t_bar < n / SR:
        root, q = prog[b % len(prog)]
        notes = [octave + NOTE[root] + i for i in QUALITY[q]]
        start = int(t_bar * SR)
        if instrument in ("strings", "synth"):
            chord = np.asarray(sum(_pad(_freq(m), bar + 0.3) for m in notes)) / len(notes)
            place(out, chord.astype(np.float32) * 0.12, start, 0.0)
        elif instrument == "flute":
            for k in range(4):
                m = notes[int(rng.integers(len(notes)))] + 12
                tt = np.arange(int(beat * SR)) / SR
                tone = np.sin(2 * np.pi * _freq(m) * tt + 0.02 * np.sin(2 * np.pi * 5 * tt)) * np.minimum(1, tt / 0.05)
                place(out, (tone * np.minimum(1, (beat - tt) / 0.05) * 0.07).astype(np.float32),
                      start + int(k * beat * SR), 0.2)
            bass = np.asarray(sum(_pad(_freq(m - 12), bar) for m in notes))
            place(out, (bass / len(notes) * 0.05).astype(np.float32), start)
        else:  # plucked or struck: arpeggio in eighth notes
            bright = {"ukulele": 0.55, "guitar": 0.5, "piano": 0.35, "drums": 0.4}.get(instrument, 0.5)
            pattern = [0, 1, 2, 1, len(notes) - 1, 1, 2, 1]
            for k, idx in enumerate(pattern):
                m = notes[idx % len(notes)] + (12 if k == 4 else 0)
                note = _pluck(_freq(m), beat * 2.5, bright).astype(np.float32)
                place(out, note * 0.06, start + int(k * beat / 2 * SR), -0.3 + 0.6 * (idx % 2))
            place(out, (_pluck(_freq(notes[0] - 12), bar, 0.3) * 0.07).astype(np.float32), start)
        if mood in ("epic", "happy") or instrument == "drums":
            for k in range(4):
                tt = np.arange(int(0.25 * SR)) / SR
                if k % 2 == 0:
                    hit = np.sin(2 * np.pi * (55 + 90 * np.exp(-tt / 0.03)) * tt) * np.exp(-tt / 0.12)
                else:
                    hit = sosfilt(_sos("highpass", 1500.0), rng.normal(0, 1, len(tt))) * np.exp(-tt / 0.06) * 0.5
                place(out, (hit * 0.08).astype(np.float32), start + int(k * beat * SR))
        t_bar += bar
        b += 1
    return out


def speaking_envelope(speech: np.ndarray, start: int, n_frames: int, fps: int, total: int) -> np.ndarray:
    """Per-frame loudness (0..1) of a speech track placed at `start`: drives the mouth animation."""
    env = np.zeros(n_frames, np.float32)
    spf = SR / fps
    for i in range(n_frames):
        a, b = int(i * spf) - start, int((i + 1) * spf) - start
        if b <= 0 or a >= len(speech):
            continue
        seg = speech[max(0, a): max(0, min(b, len(speech)))]
        if len(seg):
            env[i] = float(np.sqrt(np.mean(seg**2)))
    return np.clip(env / (env.max() + 1e-9), 0, 1) if env.max() > 0 else env
