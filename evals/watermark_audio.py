"""Audio watermark by clip length: speech, ambient and generated soundtracks after AAC 64 kb/s + resampling.

python -m evals.watermark_audio [--data DIR] [--quick]

Sources: real speech (JFK 1961, an LJSpeech utterance, 3 CMU ARCTIC utterances back to back), eSpeak NG
speech (the product's own TTS), the ambient kitchen recording (12 s from 20 s in), soundtracks of the
procedural generator (5 s each: ambience/music beds), and a synthetic tone+noise clip. Each source is cut
to 3, 5, 7 and 10 s, marked, muxed as AAC 64 kb/s at 22.05 kHz (PyAV), decoded and read by the detector.
Per length: found (right payload) / clips tried. False positives: the unmarked cuts, random 3-10 s windows
of the 95-s ambient recording, and marked cuts read with another key; threshold p <= 1e-6 (the
detector's own bound). Audibility: SNR and segmental SNR (32 ms frames, those within 30 dB of the
loudest) of marked vs original at 10 s (or the longest cut).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from provenance.media import read_audio, transcode
from provenance.synthetic import make_test_clip
from provenance.watermark_audio import AudioMark, snr_db

PAYLOAD = bytes.fromhex("5eed0fc0ffee2026")
DURATIONS = (3.0, 5.0, 7.0, 10.0)
TTS_TEXT = ("Welcome back to the channel. Today we are testing a new camera in the park, and the light is "
            "perfect. Look at the trees over there, and listen to the birds. This is a generated voice.")


def segmental_snr_db(original: np.ndarray, marked: np.ndarray, sr: int) -> float:
    o = np.asarray(original, dtype=np.float64).ravel()
    d = np.asarray(marked, dtype=np.float64).ravel() - o
    n = max(1, int(0.032 * sr))
    k = len(o) // n
    a = (o[: k * n] ** 2).reshape(k, n).sum(axis=1)
    b = (d[: k * n] ** 2).reshape(k, n).sum(axis=1)
    keep = a > 1e-3 * a.max()
    return float(np.mean(np.clip(10 * np.log10(a[keep] / (b[keep] + 1e-20)), -10, 35)))


def _sources(data_dir: Path, work: Path, quick: bool) -> tuple[list[tuple[str, str, np.ndarray, int]], list[str]]:
    """(kind, label, mono (1, n) float32, rate) and notes on sources that could not be made."""
    out: list[tuple[str, str, np.ndarray, int]] = []
    notes: list[str] = []
    audio = data_dir / "audio"

    def add(kind: str, label: str, path: Path) -> None:
        got = read_audio(path) if path.exists() else None
        if got is None:
            notes.append(f"{label}: {path.name} missing")
            return
        out.append((kind, label, got[0][:1], got[1]))

    add("speech", "JFK 1961", audio / "speech" / "jfk_inaugural_1961.wav")
    add("speech", "LJSpeech", audio / "speech" / "ljspeech_LJ050-0131.wav")
    arctic = [read_audio(p) for p in sorted((audio / "speech").glob("cmu_arctic_us_aew_*.wav"))]
    if arctic and all(a is not None for a in arctic) and len({a[1] for a in arctic}) == 1:
        out.append(("speech", "CMU ARCTIC x3", np.concatenate([a[0][:1] for a in arctic], axis=1), arctic[0][1]))
    try:
        from generator.tts import get_tts

        tts = get_tts()
        ok, why = tts.available()
        if ok:
            out.append(("generated", "eSpeak NG speech", tts.synth(TTS_TEXT)[None, :], tts.sample_rate))
        else:
            notes.append(f"eSpeak NG unavailable: {why}")
    except Exception as exc:  # reported, never hidden
        notes.append(f"eSpeak NG unavailable: {type(exc).__name__}: {str(exc)[:80]}")
    amb = read_audio(audio / "ambient" / "doing_the_dishes_speech_commands_bg.wav")
    if amb is not None:
        out.append(("ambient", "kitchen", amb[0][:1, 20 * amb[1] : 32 * amb[1]], amb[1]))
    try:
        from generator import GenerationSpec, get_backend
        from generator.encode import write_mp4

        backend = get_backend("procedural")
        prompts = ["waves rolling onto a sandy beach", "a street musician playing guitar at night"]
        for i, prompt in enumerate(prompts[: 1 if quick else 2]):
            clip = work / f"gen{i}.mp4"
            write_mp4(backend.generate(GenerationSpec(prompt=prompt, seed=i)), clip)
            got = read_audio(clip)
            if got is None:
                notes.append(f"generated clip '{prompt}' has no soundtrack")
            else:
                out.append(("generated", f"procedural: {prompt[:22]}", got[0][:1], got[1]))
    except Exception as exc:  # reported, never hidden
        notes.append(f"procedural generator unavailable: {type(exc).__name__}: {str(exc)[:80]}")
    clip = make_test_clip(work / "tone.mp4", seconds=12.0, width=64, height=48, seed=10)
    x, sr, _ = read_audio(clip)
    out.append(("synthetic", "tone+noise", x[:1], sr))
    return out, notes


def length_table(data_dir: Path, work: Path, mark: AudioMark | None = None, quick: bool = False) -> list[str]:
    """Markdown lines: found-by-length per source, audibility, false positives."""
    am = mark or AudioMark()
    other = type(am)(key="some-other-operator-key")
    work.mkdir(parents=True, exist_ok=True)
    srcs, notes = _sources(data_dir, work, quick)
    host = work / "host_video.mp4"
    make_test_clip(host, seconds=12.0, width=64, height=48, audio=False)
    lines = ["| kind | source | SNR / segSNR (dB) | " + " | ".join(f"{d:g} s" for d in DURATIONS) + " |",
             "|---|---|---|" + "---|" * len(DURATIONS)]
    tot = {d: [0, 0] for d in DURATIONS}
    by_kind: dict[str, list[int]] = {}
    fp_n = fp_found = 0
    fp_min = 0.0
    for kind, label, x, sr in srcs:
        cells, snr = [], "-"
        for d in DURATIONS:
            n = int(d * sr)
            if x.shape[1] < n:
                cells.append("-")
                continue
            seg = np.ascontiguousarray(x[:, :n])
            m = am.embed(seg, sr, PAYLOAD)
            dst = work / f"a_{abs(hash((label, d)))}.mp4"
            transcode(host, dst, audio=(m, sr, "mono"), crf=30, audio_bitrate=64000, audio_rate=22050,
                      drop=lambda t, d=d: t >= d)
            got, got_sr, _ = read_audio(dst)
            res = am.detect(got, got_sr)
            ok = bool(res["found"] and res["payload"] == PAYLOAD.hex())
            cells.append(f"{'**yes**' if ok else 'no'} ({res['log10_p']:g})")
            tot[d][0] += ok
            tot[d][1] += 1
            by_kind.setdefault(kind, [0, 0])
            by_kind[kind][0] += ok
            by_kind[kind][1] += 1
            snr = f"{snr_db(seg, m):.1f} / {segmental_snr_db(seg, m, sr):.1f}"
            for r in (am.detect(seg, sr), other.detect(got, got_sr)):  # unmarked; marked read with another key
                fp_n += 1
                fp_found += int(r["found"])
                fp_min = min(fp_min, r["log10_p"])
        lines.append(f"| {kind} | {label} | {snr} | " + " | ".join(cells) + " |")
    lines.append("| **all** | found / tried | | " + " | ".join(f"{f}/{n}" for f, n in tot.values()) + " |")
    lines += ["", "Cells: found, then the detector's log10 p. By kind: "
              + ", ".join(f"{k} {f}/{n}" for k, (f, n) in by_kind.items()) + "."]
    amb = read_audio(data_dir / "audio" / "ambient" / "doing_the_dishes_speech_commands_bg.wav")
    if amb is not None:
        rng = np.random.default_rng(0)
        x, sr = amb[0][:1], amb[1]
        for _ in range(40 if quick else 200):
            d = float(rng.choice(DURATIONS))
            s = int(rng.integers(0, x.shape[1] - int(d * sr)))
            r = am.detect(x[:, s : s + int(d * sr)], sr)
            fp_n += 1
            fp_found += int(r["found"])
            fp_min = min(fp_min, r["log10_p"])
    lines += ["", f"False positives (unmarked cuts above, marked cuts read with another key, random 3-10 s "
              f"windows of the 95-s ambient recording): {fp_found} / {fp_n} found; lowest log10 p "
              f"{fp_min:g} (threshold -6)."]
    if notes:
        lines += ["", "Not measured: " + "; ".join(notes) + "."]
    return lines


def run(data_dir: Path, quick: bool = False) -> str:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="reelgate-wma-eval-") as tmp:
        lines = ["# Audio watermark vs clip length (AAC 64 kb/s + resample to 22.05 kHz)", ""]
        lines += length_table(data_dir, Path(tmp), quick=quick)
    return "\n".join(lines) + f"\n\nEval wall time: {math.ceil(time.perf_counter() - t0)} s.\n"


def main() -> None:
    from evals import main as run_main

    run_main(run, __doc__.splitlines()[0], quick_help="fewer generated clips and ambient windows")

if __name__ == "__main__":
    main()
