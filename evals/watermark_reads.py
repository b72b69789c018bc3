"""The video detector's payload reads compared (issue 21): one read under full whitening vs several powers.

python -m evals.watermark_reads [--data DIR] [--powers 1,0.8] [--jsonl PATH]

Clips: bikes (first 4 s) and five 4-s procedural clips (480p seeds 0-2, 720p seeds 3-4), marked with the eval
key, then every attack of evals.watermark.ATTACKS; every non-overlapping 2-s window is searched once, its decoy
rank scored once (exact), and read under 1 and each power. Both detectors' verdicts come from the same reads:
the single read with the shipped bound (x2, the orientations) and the best of the reads with the union bound
over them too (x2 x the number of reads), as VideoMark.detect_residual gives with READ_POWERS set to them.
A window counts as found only with the right payload (a wrong one is counted apart). ~1.5 s of CPU a window
(312 windows) plus the transcodes: ~1 h of one core at load 8.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import av
import numpy as np

from evals.watermark import ATTACKS, PAYLOAD, WINDOW_S, _residual_series, _window_sums
from evals.watermark_audio import EVAL_KEY
from provenance import wm_code
from provenance.media import transcode
from provenance.watermark import embed_clip
from provenance.watermark_video import MIRROR, VideoMark

CLIPS = (("g480a", "a red ball bouncing on a wooden floor", 0, "480p"),
         ("g480b", "a blue cube sliding on ice at night", 1, "480p"),
         ("g480c", "a paper plane over a green meadow", 2, "480p"),
         ("g720a", "rain falling on a city street", 3, "720p"),
         ("g720b", "a yellow kite in a windy sky", 4, "720p"))


def _sources(data_dir: Path, work: Path) -> dict[str, Path]:
    from generator import GenerationSpec, get_backend
    from generator.encode import write_mp4

    srcs = {}
    bikes = data_dir / "videos_real" / "bikes_scene_cuts.mp4"
    if bikes.exists():
        srcs["bikes"] = work / "bikes.mp4"
        transcode(bikes, srcs["bikes"], crf=18, drop=lambda t: t >= 4.0)
    backend = get_backend("procedural")
    for name, prompt, seed, res in CLIPS:
        srcs[name] = work / f"{name}.mp4"
        write_mp4(backend.generate(GenerationSpec(prompt=prompt, seed=seed, resolution=res, seconds=4.0)),
                  srcs[name])
    return srcs


def _verdict(softs: list[np.ndarray], log_p_sync: float, n_hyp: int) -> tuple[bool, bool, float]:
    """(right payload found, wrong payload found, log10 p) of the best of these reads."""
    outs = [wm_code.decide(s, log_p_sync + math.log(n_hyp), {}) for s in softs]
    best = min(outs, key=lambda o: (not o["found"], o["log10_p"]))
    ok = bool(best["found"] and best["payload"] == PAYLOAD.hex())
    return ok, bool(best["found"]) and not ok, float(best["log10_p"])


def run(data_dir: Path, powers: tuple[float, ...], jsonl: Path | None = None) -> str:
    vm = VideoMark(EVAL_KEY.layout_key)
    code = wm_code.encode_payload(PAYLOAD)
    n_orient = 2 if MIRROR else 1
    rows: list[dict] = []
    out = open(jsonl, "w") if jsonl else None  # noqa: SIM115 (closed below)
    try:
        with tempfile.TemporaryDirectory(prefix="reelgate-wm-reads-") as tmp:
            work = Path(tmp)
            for name, src in _sources(data_dir, work).items():
                marked = work / f"m_{name}.mp4"
                embed_clip(src, marked, PAYLOAD, key=EVAL_KEY)
                with av.open(str(marked)) as box:
                    cc = box.streams.video[0].codec_context
                    w, h = cc.width, cc.height
                for att, fn in ATTACKS.items():
                    path = marked if att.startswith("none") else work / "attacked.mp4"
                    if path != marked:
                        fn(marked, path, w, h)
                    times, res = _residual_series(vm, path)
                    for start, acc in _window_sums(times, res, WINDOW_S):
                        loc, read = vm.search(acc)
                        fold = vm._fold(vm._rescale(read, loc["scale"]))
                        softs = [vm.layout.soft_bits(vm._cells(np.real(np.fft.ifft2(vm._whitened_fft(fold, pw))),
                                                               loc["shift"])) for pw in (1.0, *powers)]
                        log_p_sync, _ = vm.sync_p_value(loc.pop("spectra"))
                        one = _verdict(softs[:1], log_p_sync, n_orient)
                        many = _verdict(softs[1:], log_p_sync, n_orient * len(powers))
                        row = {"clip": name, "attack": att, "start": start, "single": one, "reads": many,
                               "raw": [float(np.mean((s > 0) == (code == 1))) for s in softs]}
                        rows.append(row)
                        if out:
                            print(json.dumps(row), file=out, flush=True)
                    print(f"[wm reads] {name} / {att}: {len(rows)} windows", file=sys.stderr, flush=True)
    finally:
        if out:
            out.close()
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        k = per[r["attack"]]
        k[0] += 1
        k[1] += r["single"][0]
        k[2] += r["reads"][0]
    lines = [f"# Payload reads: power 1 alone (x{n_orient}) vs powers {powers} (x{n_orient * len(powers)})", "",
             "| attack | windows | found, one read | found, the reads |", "|---|---|---|---|"]
    lines += [f"| {a} | {k[0]} | {k[1]} | {k[2]} |" for a, k in per.items()]
    gained = [f"{r['clip']} / {r['attack']} @ {r['start']:g} s" for r in rows if r["reads"][0] and not r["single"][0]]
    lost = [f"{r['clip']} / {r['attack']} @ {r['start']:g} s" for r in rows if r["single"][0] and not r["reads"][0]]
    both = [(r["single"][2], r["reads"][2]) for r in rows if r["single"][0] and r["reads"][0]]
    lines += ["", f"Total {len(rows)} windows: one read {sum(r['single'][0] for r in rows)} found, the reads "
              f"{sum(r['reads'][0] for r in rows)}; wrong payloads {sum(r['single'][1] for r in rows)} / "
              f"{sum(r['reads'][1] for r in rows)}.", f"Gained: {gained or 'none'}", f"Lost: {lost or 'none'}"]
    if both:
        a, b = np.array(both).T
        lines.append(f"Found by both: median log10 p {np.median(a):.2f} / {np.median(b):.2f}, worst {a.max():.2f} / "
                     f"{b.max():.2f}.")
    return "\n".join(lines)


def main() -> None:
    import argparse

    from evals import default_data_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data_dir(), help="the shared data folder")
    ap.add_argument("--powers", default="1,0.8", help="the reads compared with power 1 alone")
    ap.add_argument("--jsonl", type=Path, help="also write one line per window here")
    args = ap.parse_args()
    try:
        powers = tuple(float(x) for x in args.powers.split(","))
    except ValueError:
        ap.error(f"--powers must be numbers separated by commas, got {args.powers!r}")
    print(run(args.data, powers, args.jsonl))


if __name__ == "__main__":
    main()
