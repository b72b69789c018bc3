"""Evaluate the artifact-based AI-video detector: `python -m evals.detector [--data DIR]`.

Protocols (clip-level scores = mean of window probabilities; a clip's windows are never split between
training and test; training uses both preprocessing variants, testing only the plain decode):
  * leave-one-generator-out (LOGO): for each generator G and each real group r (a clip, or the clips of one
    camera and place), train on (real minus r) + (AI minus G), score r and G's clips; G's clip score is the
    mean over the real folds (evals.train_detector.logo_scores: the shipped model's validation).
  * leave-one-clip-out (LOCO): every clip scored by a model trained without it and without the other clips
    of its camera/place group (the Debian ViSP sequences are one group; generators seen).
  * format probes: real clips re-exported as dithered GIFs and AI GIFs re-encoded as H.264 MP4, scored by
    the LOCO model that never saw that clip: if the score followed the file format, it would flip here.
  * trivial-confounder baseline: a classifier on file metadata only (size, fps, frame count, GIF or not).
  * out-of-scope probe: Big Buck Bunny (rendered animation: neither class).
  * latency of `predict` on a 10 s 720p H.264 clip.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from evals.train_detector import MAX_SECONDS, VARIANTS, Dataset, build_dataset, logo_scores, logo_summary, train
from safety.detector.decode import load_clip, quantise
from safety.detector.features import FEATURE_GROUPS, FEATURE_NAMES, MODEL_FEATURES, clip_features
from safety.detector.model import MIN_LOGO_AUC, PREDICT_MAX_WINDOWS, PREDICT_SECONDS, AIVideoDetector, fit_model

THRESHOLD = 0.5  # p > 0.5 -> AI, p < 0.5 -> real, p == 0.5 -> abstains (counted as an error)


def _detector(bundle: dict) -> AIVideoDetector:
    return AIVideoDetector(bundle, Path("<in-memory>"), "eval fold")


def _score(det: AIVideoDetector, ds: Dataset, cid: str) -> float:
    return det.predict_windows(ds.windows[cid]["plain"], ds.source_indices[cid], False).ai_probability


def _auc(y: list[int], s: list[float]) -> float:
    return float(roc_auc_score(y, s)) if len(set(y)) == 2 else float("nan")


def _acc(y: list[int], s: list[float]) -> float:
    """Share decided correctly; p == 0.5 exactly (the uninformative prior) is an abstention and counts as wrong."""
    return float(np.mean([(p > THRESHOLD) if t else (p < THRESHOLD) for t, p in zip(y, s, strict=True)]))


def _fmt(x: float) -> str:
    return "n/a" if x != x else f"{x:.2f}"


def _to_gif(src: Path, dst: Path, dither: str = "fs") -> None:
    """Re-export like a GIF maker: 256 px short side, 10 fps, adaptive palette, dithered: "fs" = PIL's
    256-colour Floyd-Steinberg; "bayer" = 32-colour 4x4 ordered dither (like the AnimateDiff demo GIFs)."""
    frames, durs = [], []
    with av.open(str(src)) as c:
        for f in c.decode(video=0):
            if f.time is not None and f.time > 3.0:
                break
            if len(durs) and f.time is not None and f.time < len(frames) * 0.1:
                continue
            img = f.to_image()
            s = 256 / min(img.size)
            frames.append(img.resize((round(img.size[0] * s), round(img.size[1] * s)), Image.Resampling.LANCZOS))
            durs.append(100)
    if dither == "bayer":
        frames = [Image.fromarray(quantise(np.asarray(fr.convert("RGB")), 32, dither="bayer")) for fr in frames]
    fs = Image.Dither.FLOYDSTEINBERG
    pal = [fr.convert("P", palette=Image.Palette.ADAPTIVE, colors=256, dither=fs) for fr in frames]
    pal[0].save(dst, save_all=True, append_images=pal[1:], duration=durs, loop=0)


def _to_mp4(src: Path, dst: Path, seconds: float | None = None, size: tuple[int, int] | None = None) -> None:
    with av.open(str(src)) as c, av.open(str(dst), "w") as out:
        vin = c.streams.video[0]
        rate = Fraction(vin.average_rate or 10).limit_denominator(1000)
        st = None
        for n, f in enumerate(c.decode(vin)):
            if seconds is not None and f.time is not None and f.time >= seconds:
                break
            if st is None:
                st = out.add_stream("libx264", rate=rate)
                st.width, st.height = size or (f.width // 2 * 2, f.height // 2 * 2)
                st.pix_fmt = "yuv420p"
                st.options = {"crf": "23", "preset": "veryfast"}
            img = f.reformat(width=st.width, height=st.height, format="yuv420p")
            img.pts, img.time_base = n, 1 / rate
            for pkt in st.encode(img):
                out.mux(pkt)
        if st is not None:
            for pkt in st.encode():
                out.mux(pkt)


def _loco_subset(ds: Dataset, ids: list[str], names: list[str]) -> dict[str, float]:
    """LOCO clip scores of a calibrated model restricted to `names` (all augmentation variants)."""
    out = {}
    for cid in ids:
        train_ids = [i for i in ids if ds.group(i) != ds.group(cid)]
        X, y, g, w = ds.matrix(train_ids, list(VARIANTS), names)
        model = fit_model(X, y, g, w)
        Xt, _, _, _ = ds.matrix([cid], ["plain"], names)
        out[cid] = float(model.predict_proba(Xt)[:, 1].mean())
    return out


def _plain_windows(path: Path):
    clip = load_clip(path, max_seconds=MAX_SECONDS)
    return clip_features(clip), clip.source_indices


def _metadata(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        n = sum(1 for _ in c.decode(s))
        fps = float(s.average_rate or 0)
        return [s.codec_context.width, s.codec_context.height, fps, n, float(path.suffix.lower() == ".gif")]


def run(data_dir: Path) -> str:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ds = build_dataset(data_dir)
    ids = [c.path.name for c in ds.clips]
    label = {c.path.name: c.label for c in ds.clips}
    source = {c.path.name: c.source for c in ds.clips}
    real = [i for i in ids if label[i] == 0]
    by_gen = {g: [i for i in ids if source[i] == g] for g in dict.fromkeys(source[i] for i in ids if label[i])}
    by_gen = {g: v for g, v in by_gen.items() if v}
    lines: list[str] = []
    n_real, n_ai = len(real), len(ids) - len(real)
    win_real = sum(len(ds.windows[i]["plain"]) for i in real)
    win_ai = sum(len(ds.windows[i]["plain"]) for i in ids if label[i] == 1)

    # --- leave-one-generator-out (and leave-one-real-clip-out inside) ---
    lines += [
        "### Detector: leave-one-generator-out (generator unseen in training; real clips held out one "
        "camera/place group at a time)",
        "",
        "| held-out generator | AI clips | real clips | ROC AUC | accuracy @0.5 (ties wrong) | AI recall |"
        " real specificity | mean p(AI) AI / real |",
        "|---|---|---|---|---|---|---|---|",
    ]
    logo_all_y: list[int] = []
    logo_all_s: list[float] = []
    logo_real_s: list[float] = []
    logo = logo_scores(ds)
    pooled_logo = logo_summary(ds, logo)["pooled_auc"]
    n_debian = sum(1 for c in ds.clips if c.origin == "debian")
    n_real_groups = len({c.group for c in ds.clips if c.label == 0})
    for g, gclips in by_gen.items():
        ai_s = [logo[g][c] for c in gclips]
        re_s = [logo[g][r] for r in real]
        y = [1] * len(ai_s) + [0] * len(re_s)
        s = ai_s + re_s
        logo_all_y += [1] * len(ai_s)
        logo_all_s += ai_s
        logo_real_s += re_s
        lines.append(
            f"| {g} | {len(ai_s)} | {len(re_s)} | {_fmt(_auc(y, s))} | {_fmt(_acc(y, s))} | "
            f"{_fmt(_acc([1] * len(ai_s), ai_s))} | {_fmt(_acc([0] * len(re_s), re_s))} | "
            f"{np.mean(ai_s):.2f} / {np.mean(re_s):.2f} |"
        )

    # --- leave-one-clip-out (all generators seen) ---
    loco: dict[str, float] = {}
    loco_models: dict[str, AIVideoDetector] = {}
    for cid in ids:
        det = _detector(train(ds, [i for i in ids if ds.group(i) != ds.group(cid)]))
        loco_models[cid] = det
        loco[cid] = _score(det, ds, cid)
    logo_real = [loco[r] for r in real]
    # pooled exactly as the shipped model's validation (train_detector.logo_summary): every generator's
    # clips vs the real clips held out in that generator's folds
    n_rs = len(logo_real_s)
    lines.append(
        f"| **all unseen generators pooled** | {len(logo_all_s)} | {n_real} (x{len(by_gen)} folds) | "
        f"{_fmt(_auc(logo_all_y + [0] * n_rs, logo_all_s + logo_real_s))} | "
        f"{_fmt(_acc(logo_all_y + [0] * n_rs, logo_all_s + logo_real_s))} | {_fmt(_acc(logo_all_y, logo_all_s))} | "
        f"{_fmt(_acc([0] * n_rs, logo_real_s))} | {np.mean(logo_all_s):.2f} / {np.mean(logo_real_s):.2f} |"
    )
    for origin in sorted({c.origin for c in ds.clips if c.label == 0}):
        rs = [c.path.name for c in ds.clips if c.label == 0 and c.origin == origin]
        vals = [logo[g][r] for g in by_gen for r in rs]
        lines.append(
            f"| held-out real clips from {origin} (LOGO folds) | - | {len(rs)} | - | - | - | "
            f"{_fmt(_acc([0] * len(vals), vals))} | - / {np.mean(vals):.2f} |"
        )
    lines += [
        "| *anchor: published detectors on unseen generators* | | | | 0.50-0.80 (AIGVDet ~chance, "
        "DeMamba one-to-many ~0.76-0.78) | | | |",
        "",
        "### Detector: leave-one-clip-out (generators seen; the clip and its camera/place group unseen)",
        "",
        "| subset | clips | ROC AUC vs real | accuracy @0.5 (ties wrong) | mean p(AI) |",
        "|---|---|---|---|---|",
    ]
    y_all = [label[i] for i in ids]
    s_all = [loco[i] for i in ids]
    lines.append(
        f"| all | {len(ids)} | {_fmt(_auc(y_all, s_all))} | {_fmt(_acc(y_all, s_all))} | {np.mean(s_all):.2f} |"
    )
    lines.append(f"| real (held-out real clips) | {n_real} | - | {_fmt(_acc([0] * n_real, logo_real))} | "
                 f"{np.mean(logo_real):.2f} |")
    for g, gclips in by_gen.items():
        s = [loco[c] for c in gclips]
        lines.append(
            f"| {g} | {len(gclips)} | {_fmt(_auc([1] * len(s) + [0] * n_real, s + logo_real))} | "
            f"{_fmt(_acc([1] * len(s), s))} | {np.mean(s):.2f} |"
        )
    # ablation: the same LOCO protocol without the GIF-export augmentation (format can leak into the model)
    plain_loco = {}
    for cid in ids:
        det = _detector(train(ds, [i for i in ids if ds.group(i) != ds.group(cid)], variants=["plain"]))
        plain_loco[cid] = _score(det, ds, cid)
    s_plain = [plain_loco[i] for i in ids]
    ad = [i for i in ids if source[i] == "animatediff"]
    lines.append(
        f"| *ablation: all, trained without the GIF-export augmentation* | {len(ids)} | {_fmt(_auc(y_all, s_plain))} | "
        f"{_fmt(_acc(y_all, s_plain))} | {np.mean(s_plain):.2f} (animatediff AUC "
        f"{_fmt(_auc([1] * len(ad) + [0] * n_real, [plain_loco[i] for i in ad] + [plain_loco[r] for r in real]))}) |"
    )
    for group, names in FEATURE_GROUPS.items():
        sub = _loco_subset(ds, ids, [n for n in names if n in MODEL_FEATURES])
        s_sub = [sub[i] for i in ids]
        lines.append(
            f"| *ablation: all, {group} features only* | {len(ids)} | {_fmt(_auc(y_all, s_sub))} | "
            f"{_fmt(_acc(y_all, s_sub))} | {np.mean(s_sub):.2f} |"
        )
    lines += ["", "Per-clip LOCO p(AI): " + ", ".join(f"{i} {loco[i]:.2f}" for i in ids), ""]

    # --- single features: which artifacts separate the classes on their own (clip means, plain decode) ---
    means = {
        i: np.nanmean(np.array([[f[n] for n in FEATURE_NAMES] for _, f in ds.windows[i]["plain"]], float), 0)
        for i in ids
    }
    lines += [
        "### Single features (clip means; AUC > 0.5: higher in AI clips, < 0.5: lower; all generators pooled)",
        "",
        "| group | feature | AUC AI vs real | median real | median AI |",
        "|---|---|---|---|---|",
    ]
    for group, names in FEATURE_GROUPS.items():
        for n in names:
            j = FEATURE_NAMES.index(n)
            col = np.array([means[i][j] for i in ids])
            fill = np.nan_to_num(col, nan=float(np.nanmedian(col)))
            lines.append(
                f"| {group} | {n} | {_fmt(_auc(y_all, list(fill)))} | "
                f"{np.nanmedian([means[i][j] for i in real]):.3g} | "
                f"{np.nanmedian([means[i][j] for i in ids if label[i] == 1]):.3g} |"
            )
    lines.append("")

    # --- confounder checks ---
    meta_X = np.array([_metadata(c.path) for c in ds.clips])
    meta_s = []
    for k in range(len(ids)):
        m = np.ones(len(ids), bool)
        m[k] = False
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(meta_X[m], np.array(y_all)[m])
        meta_s.append(float(clf.predict_proba(meta_X[k : k + 1])[0, 1]))
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        swaps = []
        bayer = []
        for c in ds.clips:
            cid = c.path.name
            if c.label == 0:
                dst = tmpd / (c.path.stem + ".gif")
                _to_gif(c.path, dst)
                bdst = tmpd / (c.path.stem + "_bayer.gif")
                _to_gif(c.path, bdst, dither="bayer")
                wins, src = _plain_windows(bdst)
                bayer.append((loco[cid], loco_models[cid].predict_windows(wins, src, False).ai_probability))
            else:
                dst = tmpd / (c.path.stem + ".mp4")
                _to_mp4(c.path, dst)
            wins, src = _plain_windows(dst)
            p_swapped = loco_models[cid].predict_windows(wins, src, False).ai_probability
            swaps.append((c.label, loco[cid], p_swapped))
        bunny = data_dir / "characters" / "big_buck_bunny" / "bigbuckbunny_5s.mp4"
        full = _detector(train(ds))
        bunny_p = full.predict(bunny).ai_probability if bunny.is_file() else float("nan")

        # --- latency: 10 s 720p H.264 ---
        lat_src = data_dir / "characters" / "big_buck_bunny" / "big_buck_bunny_0_30.webm"
        lat_line = "latency: source clip missing"
        if lat_src.is_file():
            clip720 = tmpd / "bbb_10s_720p.mp4"
            _to_mp4(lat_src, clip720, seconds=10.0, size=(1280, 720))
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                full.predict(clip720)
                times.append(time.perf_counter() - t0)
            lat_line = (
                f"`predict` on a 10 s 1280x720 H.264 clip (24 fps; reads the first {PREDICT_SECONDS:g} s, at most "
                f"{PREDICT_MAX_WINDOWS} windows): p50 {statistics.median(times):.2f} s, "
                f"max {max(times):.2f} s over 3 runs (1 thread, shared 2-core machine)"
            )

    real_sw = [(a, b) for lab, a, b in swaps if lab == 0]
    ai_sw = [(a, b) for lab, a, b in swaps if lab == 1]
    flips = sum(np.sign(a - THRESHOLD) != np.sign(b - THRESHOLD) for _, a, b in swaps)
    lines += [
        "### Confounder checks",
        "",
        "| check | result |",
        "|---|---|",
        f"| metadata-only baseline (width, height, fps, frames, is-GIF), LOCO | ROC AUC {_fmt(_auc(y_all, meta_s))}, "
        f"accuracy {_fmt(_acc(y_all, meta_s))}: the raw data is separable by format alone, hence the normalisation |",
        f"| real clips re-exported as dithered 256-colour GIFs (LOCO model) | mean p(AI) "
        f"{np.mean([a for a, _ in real_sw]):.2f} -> {np.mean([b for _, b in real_sw]):.2f} |",
        f"| real clips re-exported as 32-colour ordered-dither (Bayer) GIFs (LOCO model) | mean p(AI) "
        f"{np.mean([a for a, _ in bayer]):.2f} -> {np.mean([b for _, b in bayer]):.2f}, flagged as AI "
        f"{sum(a > THRESHOLD for a, _ in bayer)} -> {sum(b > THRESHOLD for _, b in bayer)} of {len(bayer)} |",
        f"| AI GIFs re-encoded as H.264 MP4 (LOCO model) | mean p(AI) {np.mean([a for a, _ in ai_sw]):.2f} -> "
        f"{np.mean([b for _, b in ai_sw]):.2f} |",
        f"| decisions flipped by the format swap | {flips} of {len(swaps)} clips |",
        f"| Big Buck Bunny (rendered animation; not in training, neither class) | p(AI) {_fmt(bunny_p)} |",
        f"| latency | {lat_line} |",
        "",
        f"Data: {n_real} real clips in {n_real_groups} camera/place groups ({win_real} windows; {n_debian} of the "
        f"clips from Debian packages, evals/detector_real_manifest.json) and {n_ai} AI clips ({win_ai} windows) "
        f"from {len(by_gen)} generator families. Every figure rests on a handful of clips (one clip moves a "
        "generator's accuracy by 10-50 points): a sanity check of the method, not an estimate of real-world "
        "accuracy. The AI clips are all README demo GIFs (2-3 s, palette-dithered); no real clip was a GIF, so the "
        "format is the dominant confounder (metadata-only row). What is done about it: every input is resampled "
        "to 8 fps with repeated frames dropped, scaled to 256 px short side and centre-cropped, reduced to grey, "
        "passed through a 64-level palette, re-encoded the same way (H.264 CRF 26, 256 px, 8 fps) and low-passed "
        "(1 px Gaussian); training adds, for every clip of both classes, 32-colour GIF exports with "
        "Floyd-Steinberg and with 4x4 ordered dither; windows spanning scene cuts are skipped; flow magnitude is "
        "reported but not used (content, not artifact); real clips of one camera and place (the five ViSP lab "
        "sequences) are held out together. "
        f"Shipped-model gate: pooled leave-one-generator-out AUC {pooled_logo:.2f} vs the required {MIN_LOGO_AUC}: "
        + (
            "below it, so the detector is reported as not informative and the verify verdict stays "
            "'inconclusive' whatever p it computes."
            if pooled_logo < MIN_LOGO_AUC
            else "at or above it, so the detector's p is reported (as an estimate, never as proof)."
        )
        + " Fold models whose Platt calibration finds no out-of-fold signal answer exactly 0.5 (counted as "
        "errors above); AUCs well below 0.5 are the known leave-one-out artefact of tiny samples without "
        "signal, not an inverted detector.",
    ]
    return "\n".join(lines)


def main() -> None:
    from evals import main as run_main

    run_main(run, "Evaluate the AI-video detector")


if __name__ == "__main__":
    main()
