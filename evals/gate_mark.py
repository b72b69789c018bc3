"""Where the gate's watermark is made, A/B on generated clips: "old" = the draft written by write_mp4, then
embed_clip on it (a decode of the draft, the mark, an encode: the gate up to session 11); "new" = the same
key and payload marked by ClipMarker inside the draft's own encode (the gate since session 12). The mark's
algorithm is the same; its host differs (the generator's frames, not their CRF 18 decode).

    .venv/bin/python -m evals.gate_mark [--quick]

Per clip: the mark's own PSNR, the published luma's PSNR against the generator's frames (Y planes), the
flicker the mark adds (first 2 s, as evals.watermark measures it: mean / worst 1% of frame pairs, after an
8-px blur), and per attack (evals.watermark's, on the published file): 2-s windows (stride 1 s) with the
right payload, mean raw bit accuracy, median log10 p; the sound's whole-clip log10 p on the published file.

Session 12 (`python -m evals.gate_mark`, load ~11-17), two 5-s clips of the bench's prompt (480p seed 12,
720p seed 14), old / new:
mark PSNR 40.33 / 40.33 and 40.23 / 40.23 dB; published luma vs the generator's frames 38.61 / 39.08 and
38.67 / 39.13 dB (one compression less); files 3-4% larger; flicker area mean 0.0005 / 0.0006 and
0.0004 / 0.0005, worst 1% 0.0009 / 0.0010 and 0.0006 / 0.0007; windows found old / new: none 8/8 /
8/8, CRF 35 8/8 / 8/8, 360p + CRF 32 7/8 / 8/8, 240p + CRF 32 0/8 / 4/8, mirror + 360p + CRF 30 8/8 / 8/8,
screen recording 8/8 / 8/8 (median log10 p within 0.2 or better, except 360p 480p -8.42 -> -9.43 and 240p
-2.11 -> -6.92); raw bit accuracy higher or equal except the 720p screen recording (0.994 -> 0.989, all
windows found either way); the sound not found on these 5-s clips either way.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import av
import numpy as np

PROMPT = "a dropped basketball bounces three times in an empty gym, loud echoing thuds"
CLIPS = [("480p", 12), ("720p", 14)]
ATTACKS = ["none (CRF 18 marked file)", "H.264 CRF 35", "360p + CRF 32", "240p + CRF 32", "mirror + 360p + CRF 30",
           "screen recording: 0.8x, gamma, perspective, 30 fps, CRF 28"]


def _lumas(path: Path) -> list[np.ndarray]:
    """Y planes (the mark is added to them), not the full-range gray a "gray" decode gives."""
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="yuv420p")[: f.height] for f in c.decode(video=0)]


def run(data_dir: Path | None = None, quick: bool = False) -> str:
    from evals.watermark import ATTACKS as ALL_ATTACKS
    from evals.watermark import PAYLOAD, _residual_series, _window_report, _window_sums
    from evals.watermark_audio import EVAL_KEY
    from generator import GenerationSpec, get_backend
    from generator.encode import write_mp4
    from provenance import wm_code
    from provenance.media import PUBLISHED_AAC_CODER
    from provenance.watermark import ClipMarker, detect_clip, embed_clip
    from provenance.watermark_video import VideoMark, flicker_stats, psnr

    vm, code = VideoMark(EVAL_KEY.layout_key), wm_code.encode_payload(PAYLOAD)
    tile = vm.tile_for(PAYLOAD)
    attacks = ATTACKS[:3] if quick else ATTACKS
    totals: dict[str, dict[str, list[int]]] = {"old": {}, "new": {}}
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for ci, (res, seed) in enumerate(CLIPS[:1] if quick else CLIPS):
            clip = get_backend().generate(GenerationSpec(prompt=PROMPT, seconds=5, resolution=res, seed=seed))
            frames = list(clip.frames())
            clip.frames = lambda frames=frames: iter(frames)  # type: ignore[misc]
            orig = [av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p").to_ndarray()[: f.shape[0]]
                    for f in frames]
            draft, files = work / f"draft{ci}.mp4", {"old": work / f"old{ci}.mp4", "new": work / f"new{ci}.mp4"}
            write_mp4(clip, draft)
            old = embed_clip(draft, files["old"], PAYLOAD, key=EVAL_KEY)
            marker = ClipMarker(PAYLOAD, EVAL_KEY)
            write_mp4(clip, files["new"], yuv_fn=marker.mark_yuv, audio_fn=marker.mark_audio, audio_bitrate=None,
                      aac_coder=PUBLISHED_AAC_CODER)
            new = marker.report(files["new"], clip.n_frames, clip.width, clip.height, 1.0)
            hosts = {"old": _lumas(draft)[:48], "new": orig[:48]}
            flick = {k: flicker_stats(h, [vm.embed_luma(y, tile) for y in h]) for k, h in hosts.items()}
            # the published luma against the generator's frames, over the whole clip
            pub = {k: psnr(np.stack(_lumas(p)), np.stack(orig)) for k, p in files.items()}
            sound = {k: (detect_clip(p, keys=EVAL_KEY).get("audio") or {}).get("log10_p") for k, p in files.items()}
            lines += [f"## {res}, 5 s, seed {seed}", "",
                      f"mark PSNR old / new {old['psnr_db']} / {new['psnr_db']} dB; published luma vs the generator's "
                      f"frames {pub['old']:.2f} / {pub['new']:.2f} dB; "
                      f"files {files['old'].stat().st_size} / {files['new'].stat().st_size} bytes; flicker area "
                      f"mean {flick['old']['area_mean']:.4f} / {flick['new']['area_mean']:.4f}, worst 1% "
                      f"{flick['old']['area_p99']:.4f} / {flick['new']['area_p99']:.4f}; sound log10 p "
                      f"{sound['old']} / {sound['new']}", "",
                      "| attack | old: found, raw bit acc, median log10 p | new |", "|---|---|---|"]
            for a in attacks:
                cells = []
                for k, src in files.items():
                    att = src if a.startswith("none") else work / f"att_{k}.mp4"
                    if att != src:
                        ALL_ATTACKS[a](src, att, clip.width, clip.height)
                    times, resid = _residual_series(vm, att)
                    rows = [_window_report(vm, acc, code) for _, acc in _window_sums(times, resid, 1.0)]
                    ok = sum(r["ok"] for r in rows)
                    t = totals[k].setdefault(a, [0, 0])
                    t[0], t[1] = t[0] + ok, t[1] + len(rows)
                    cells.append(f"{ok}/{len(rows)}, {np.mean([r['bit_acc'] for r in rows]):.3f}, "
                                 f"{np.median([r['log10_p'] for r in rows]):.2f}")
                lines.append(f"| {a} | {cells[0]} | {cells[1]} |")
            lines.append("")
    lines += ["## Windows found, all clips", "", "| attack | old | new |", "|---|---|---|"]
    lines += [f"| {a} | {totals['old'][a][0]}/{totals['old'][a][1]} | {totals['new'][a][0]}/{totals['new'][a][1]} |"
              for a in attacks]
    return "\n".join(lines)


if __name__ == "__main__":
    from evals import main

    main(run, __doc__, quick_help="the 480p clip and the first three attacks only")
