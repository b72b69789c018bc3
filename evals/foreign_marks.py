"""Other generators' default invisible marks (provenance.foreign_marks): false positives and detection.

python -m evals.foreign_marks [--data DIR] [--quick]

False positives: every image, and up to 8 sampled frames of every clip, in DATA/videos_real, no_faces, faces,
c2pa (images, public_testfiles, video) and each ai_generated_video family (other generators: a match there
would be a real mark, so each one is listed). Per source: files, frames tested, files with a match.
Detection: each unmarked still (no_faces, faces, first frames of the real clips) marked with imwatermark's
own encoder and each scheme's public message, in the channel order its reference code uses, then read back
as is, after JPEG q90, and after a 0.75 resize (which moves the block grid: the limit of the method).
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
from PIL import Image

from evals.held_out import usable
from provenance import foreign_marks as fm

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
MEDIA_EXT = IMAGE_EXT | {".mp4", ".mov", ".webm", ".mkv", ".gif", ".avi", ".m4v"}
FP_SOURCES = ("videos_real", "no_faces", "faces", "c2pa/images", "c2pa/public_testfiles", "c2pa/video")
# the order each reference pipeline hands pixels to the encoder in (generative-models: RGB as-is)
ORDER = {"stability_sgm_48bit": "rgb", "sd_v1": "bgr", "sd_v1_inpainting": "bgr", "sd_v2": "bgr"}


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_EXT)


def _jpeg(rgb: np.ndarray, q: int = 90) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=q)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _resize(rgb: np.ndarray, s: float = 0.75) -> np.ndarray:
    h, w = rgb.shape[:2]
    return np.asarray(Image.fromarray(rgb).resize((int(w * s), int(h * s)), Image.Resampling.BICUBIC))


def _stills(data: Path, quick: bool) -> list[tuple[str, np.ndarray]]:
    out = []
    for p in usable(_files(data / "no_faces") + _files(data / "faces"), data):
        if p.suffix.lower() in IMAGE_EXT:
            with Image.open(p) as im:
                rgb = np.asarray(im.convert("RGB"))
            if rgb.shape[0] * rgb.shape[1] >= fm.MIN_PIXELS:
                out.append((p.name, rgb))
    for p in usable(_files(data / "videos_real"), data):
        for _t, rgb in fm._frames_of(p, 1):
            if rgb.shape[0] * rgb.shape[1] >= fm.MIN_PIXELS:
                out.append((p.name, rgb))
    return out[:6] if quick else out


def run(data: Path, quick: bool = False) -> str:
    lines = ["## False positives (no file here was made by these pipelines, except possibly ai_generated_video)",
             "", f"alpha = {fm.ALPHA:g} per file (Bonferroni over frames x {len(fm.SCHEMES)} schemes x "
             f"{len(fm.ORDERS)} channel orders)", "",
             "| source | files | frames tested | too small | files with a match | seconds/file |",
             "|---|---|---|---|---|---|"]
    gen = data / "ai_generated_video"
    sources = [(s, data / s) for s in FP_SOURCES]
    if gen.is_dir():
        sources += [(f"ai_generated_video/{d.name}", d) for d in sorted(gen.iterdir()) if d.is_dir()]
    notes: list[str] = []
    total_files = total_match = 0
    for name, root in sources:
        files = usable(_files(root), data) if root.is_dir() else []  # held-out origins never read
        if quick:
            files = files[:3]
        frames = small = matched = 0
        t0 = time.perf_counter()
        for p in files:
            try:
                r = fm.detect_file(p)
            except Exception as exc:  # an unreadable sample is listed, not fatal
                notes.append(f"- {name}/{p.name}: unreadable ({type(exc).__name__}: {exc})")
                continue
            frames += r["frames"]
            small += r["skipped_small"]
            if r["found"]:
                matched += 1
                m = r["matches"][0]
                notes.append(f"- {name}/{p.name}: {', '.join(r['found'])} ({m['where']}, {m['channel_order']}, "
                             f"{m['bit_errors']}/{m['bits']} bit errors, p={m['p_corrected']})")
        total_files += len(files)
        total_match += matched
        per = (time.perf_counter() - t0) / max(1, len(files))
        lines.append(f"| {name} | {len(files)} | {frames} | {small} | {matched} | {per:.3f} |")
    lines += ["", f"total: {total_match} of {total_files} files matched"]
    lines += notes or ["(no file matched any scheme)"]

    stills = _stills(data, quick)
    lines += ["", f"## Detection on {len(stills)} stills marked here with each public message (imwatermark encoder)",
              "", "| scheme | bits | order | as marked | JPEG q90 | resize 0.75 | median bit errors as marked |",
              "|---|---|---|---|---|---|---|"]
    for s in fm.SCHEMES:
        order = ORDER[s.key]
        hits = {"as marked": 0, "jpeg": 0, "resize": 0}
        errs = []
        for _name, rgb in stills:
            marked = fm.mark(rgb, s, order)
            for k, img in (("as marked", marked), ("jpeg", _jpeg(marked)), ("resize", _resize(marked))):
                r = fm.detect_frames([(None, img)])
                hits[k] += s.label in r["found"]
                if k == "as marked":
                    errs.append(int(np.sum(fm.decode(fm.block_votes(img, order), len(s.bits)) != s.bits)))
        n = max(1, len(stills))
        lines.append(f"| {s.key} | {len(s.bits)} | {order} | {hits['as marked']}/{len(stills)} "
                     f"({hits['as marked'] / n:.0%}) | {hits['jpeg']}/{len(stills)} | {hits['resize']}/{len(stills)} "
                     f"| {int(np.median(errs)) if errs else '-'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    from evals import main

    main(run, __doc__, quick_help="3 files per source, 6 stills")
