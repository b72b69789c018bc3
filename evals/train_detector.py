"""Train the artifact-based AI-video detector reproducibly: `python -m evals.train_detector [--data DIR]`.

Training material (labels by what the footage *is*):
  real (0)  videos_real/* not of held-out origin (evals.held_out: bikes, carphone; the imageio and moviepy clips
            realshort_office, hand_wave and the Chaplin film are held out and never read)
            the extra real camera footage of evals/detector_real_manifest.json (Debian packages: OpenCV's
            sample videos, Inria ViSP camera sequences), fetched by `python -m evals.detector_data` into a
            folder outside the repo (fetched automatically when missing; --no-extra leaves it out)
            c2pa/video/video1_no_manifest.mp4: handheld phone footage of a river (the SDK's signing target);
            its signed copies video1_signed.mp4 / legacy_signed.mp4 are the same footage and are NOT added
            twice; c_unsigned.mov is a synthetic colour gradient, not footage: excluded.
  AI (1)    ai_generated_video/<generator>/*  in four families (FAMILIES): AnimateDiff; Open-Sora 1.0 and 1.1;
            VideoCrafter with DynamiCrafter (DynamiCrafter is VideoCrafter's image-to-video model: one code base,
            held out together); LaVie
Never used: ai_generated_video/dvgd (copied from the DVGD data set, which is held out for evaluation: never
trained on, tuned to or scored here): it is in no family, and list_clips reads no file of held-out origin.
Excluded on purpose: characters/big_buck_bunny (computer-rendered animation: neither camera footage nor
the output of a generative model; either label would teach the wrong thing; the eval reports its score as
an out-of-scope probe), camera pans over still photos (not video), still images.

Each clip yields several 1 s windows (8 frames at 8 fps), in three variants: as decoded, and passed through
a 32-colour GIF export with Floyd-Steinberg or with 4x4 ordered dither first (both classes), so GIF
dithering and colour count carry no label.
Windows spanning a scene cut are skipped; flow magnitude is reported but not given to the model.
Sample weights give every clip the same total weight and both classes the same total weight.
Features are cached under ~/.cache/reelgate/detector keyed by file hash and feature-code hash.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from evals import default_data_dir
from evals.held_out import held_out_files, is_held_out
from safety.detector import decode, features
from safety.detector.decode import Clip, load_clip
from safety.detector.features import FEATURE_NAMES, MODEL_FEATURES, TEMPORAL_FEATURES, WINDOW, clip_features
from safety.detector.forensic import FORENSIC_NAMES, FORENSIC_TEMPORAL, window_forensics
from safety.detector.model import DEFAULT_MODEL, MODEL_VERSION, VERDICT_THRESHOLD, file_sha256, fit_model

REAL_EXTRA = ["c2pa/video/video1_no_manifest.mp4"]
# family -> generator folders; leave-one-family-out holds a whole family out at once
FAMILIES: dict[str, list[str]] = {
    "animatediff": ["animatediff"],
    "open_sora": ["open_sora_1.0", "open_sora_1.1"],
    "videocrafter": ["videocrafter", "dynamicrafter"],
    "lavie": ["lavie"],
}
GENERATORS = [g for gens in FAMILIES.values() for g in gens]
FAMILY_OF = {g: f for f, gens in FAMILIES.items() for g in gens}
# name -> GIF-export augmentation (dither, colours) applied before the common normalisation
VARIANTS: dict[str, tuple[str, int] | None] = {"plain": None, "gif_fs32": ("fs", 32), "gif_bayer32": ("bayer", 32)}
MAX_WINDOWS_PER_CLIP = 12
MAX_SECONDS = 10.0
# the shipped model's features: the artifact features (features.py) and the global statistics (forensic.py)
MODEL_NAMES: list[str] = MODEL_FEATURES + FORENSIC_NAMES


@dataclass
class ClipEntry:
    path: Path
    label: int  # 1 = AI-generated
    source: str  # "real" or the generator name
    sha256: str = ""
    origin: str = "shared"  # "shared" (../shared/data) or "debian" (evals/detector_real_manifest.json)
    group: str = ""  # clips of one camera and place (held out together); default: the clip itself

    def __post_init__(self) -> None:
        self.group = self.group or self.path.name


@dataclass
class Dataset:
    clips: list[ClipEntry]
    # per clip, per variant: list of (start frame, features)
    windows: dict[str, dict[str, list[tuple[int, dict[str, float]]]]] = field(default_factory=dict)
    source_indices: dict[str, list[int]] = field(default_factory=dict)

    def group(self, clip_id: str) -> str:
        return next(c.group for c in self.clips if c.path.name == clip_id)

    def matrix(self, clip_ids: list[str], variants: list[str], names: list[str] | None = None):
        """X, y, groups, weights over the given clips (weights: each clip 1, classes balanced)."""
        by_id = {c.path.name: c for c in self.clips}
        names = names or MODEL_NAMES
        rows, y, groups, w = [], [], [], []
        for cid in clip_ids:
            wins = [f for v in variants for _, f in self.windows[cid][v]]
            for f in wins:
                rows.append([f.get(n, np.nan) for n in names])
                y.append(by_id[cid].label)
                groups.append(by_id[cid].group)  # calibration folds never split a camera/place
                w.append(1.0 / len(wins))
        X = np.array(rows, dtype=np.float64)
        X[~np.isfinite(X)] = np.nan
        y_arr, w_arr = np.array(y), np.array(w)
        for label in (0, 1):
            m = y_arr == label
            if m.any():
                w_arr[m] *= len(w_arr) / (2.0 * w_arr[m].sum())
        return X, y_arr, np.array(groups), w_arr


def extra_real_clips(fetch_missing: bool = True) -> list[ClipEntry]:
    """The manifest's extra real clips (fetched from Debian packages when missing and allowed)."""
    from evals import detector_data

    if detector_data.missing() and fetch_missing:
        detector_data.fetch()
    d = detector_data.extra_dir()
    return [
        ClipEntry(d / c["name"], 0, "real", origin="debian", group=c.get("group", ""))
        for c in detector_data.manifest()["clips"]
        if (d / c["name"]).is_file()
    ]


def list_clips(data_dir: Path, extra: list[ClipEntry] | None = None) -> list[ClipEntry]:
    # held-out origins (imageio/test_images, Zulko/moviepy clips in videos_real) are never trained on
    clips = [ClipEntry(p, 0, "real") for p in sorted((data_dir / "videos_real").iterdir())
             if p.is_file() and not is_held_out(p, data_dir)]  # fmt: skip
    clips += [ClipEntry(data_dir / rel, 0, "real") for rel in REAL_EXTRA if (data_dir / rel).is_file()]
    clips += extra or []
    for gen in GENERATORS:
        gdir = data_dir / "ai_generated_video" / gen
        if gdir.is_dir():
            files = [p for p in sorted(gdir.iterdir()) if p.is_file() and not is_held_out(p, data_dir)]
            clips += [ClipEntry(p, 1, gen) for p in files]
    for c in clips:
        c.sha256 = file_sha256(c.path)
    return clips


def feature_code_hash() -> str:
    h = hashlib.sha256()
    for mod in (decode, features):
        h.update(Path(mod.__file__).read_bytes())
    return h.hexdigest()[:16]


def _cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    d = base / "reelgate" / "detector" / feature_code_hash()
    d.mkdir(parents=True, exist_ok=True)
    return d


def _subsample(wins: list, k: int) -> list:
    if len(wins) <= k:
        return wins
    idx = np.linspace(0, len(wins) - 1, k).round().astype(int)
    return [wins[i] for i in idx]


def _frames_cache(sha: str, variant: str) -> Path:
    """Normalised grey frames of one clip and variant (keyed by decode.py only: features can change freely)."""
    h = hashlib.sha256(Path(decode.__file__).read_bytes()).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    d = base / "reelgate" / "detector_frames" / h
    d.mkdir(parents=True, exist_ok=True)
    return d / f"{sha[:24]}_{variant}.npz"


def clip_frames(path: Path, sha: str, variant: str) -> tuple[np.ndarray, list[int]]:
    """(n, H, W) uint8 normalised grey frames and their source indices, cached."""
    cache = _frames_cache(sha, variant)
    if cache.is_file():
        with np.load(cache) as z:
            return z["frames"], [int(i) for i in z["indices"]]
    clip = load_clip(path, max_seconds=MAX_SECONDS, gif_export=VARIANTS[variant])
    grey = np.ascontiguousarray(clip.frames[..., 0])
    np.savez_compressed(cache, frames=grey, indices=np.array(clip.source_indices))
    return grey, clip.source_indices


def clip_windows(path: Path, sha: str, variant: str) -> tuple[list[tuple[int, dict[str, float]]], list[int]]:
    cache = _cache_dir() / f"{sha[:24]}_{variant}.json"
    if cache.is_file():
        data = json.loads(cache.read_text())
        return [(s, f) for s, f in data["windows"]], data["source_indices"]
    grey, indices = clip_frames(path, sha, variant)
    clip = Clip(np.repeat(grey[..., None], 3, axis=3), indices, grey.shape[2], grey.shape[1], None, len(grey) == 1)
    wins = clip_features(clip)
    cache.write_text(json.dumps({"windows": wins, "source_indices": indices}))
    return wins, indices


def build_dataset(data_dir: Path, verbose: bool = False, extra: bool = True) -> Dataset:
    ds = Dataset(list_clips(data_dir, extra_real_clips() if extra else None))
    if not any(c.label == 0 for c in ds.clips) or not any(c.label == 1 for c in ds.clips):
        raise SystemExit(f"no training data under {data_dir} (need videos_real/ and ai_generated_video/)")
    for c in ds.clips:
        cid = c.path.name
        ds.windows[cid] = {}
        for v in VARIANTS:
            wins, src = clip_windows(c.path, c.sha256, v)
            wins = _subsample(wins, MAX_WINDOWS_PER_CLIP)
            grey, _ = clip_frames(c.path, c.sha256, v)
            for s0, f in wins:  # the global statistics of the same window's frames (cheap: not cached)
                f.update(window_forensics(grey[s0 : s0 + WINDOW]))
            ds.windows[cid][v] = wins
            if v == "plain":
                ds.source_indices[cid] = src
        if verbose:
            print(f"  {c.source:14s} {cid:34s} windows={len(ds.windows[cid]['plain'])}")
    return ds


def spatial_subset(names: list[str]) -> list[str]:
    """The features of `names` that a single image has (no temporal ones)."""
    return [n for n in names if n not in TEMPORAL_FEATURES and n not in FORENSIC_TEMPORAL]


def train(
    ds: Dataset, clip_ids: list[str] | None = None, variants: list[str] | None = None,
    names: list[str] | None = None, kinds: tuple[str, ...] = ("video_model", "image_model"),
) -> dict:
    """A model bundle trained on `clip_ids` (default: all), `variants` (default: all augmentations) and the
    feature `names` (default: MODEL_NAMES); `kinds` limits which models are fitted (evaluation folds)."""
    import sklearn

    ids = clip_ids if clip_ids is not None else [c.path.name for c in ds.clips]
    names = names or MODEL_NAMES
    spatial = spatial_subset(names)
    X, y, g, w = ds.matrix(ids, variants or list(VARIANTS), names)
    video = fit_model(X, y, g, w) if "video_model" in kinds else None
    image = fit_model(X[:, [names.index(n) for n in spatial]], y, g, w) if "image_model" in kinds else None
    return {
        "version": MODEL_VERSION,
        "feature_names": names,
        "spatial_feature_names": spatial,
        "video_model": video,
        "image_model": image,
        "sklearn_version": sklearn.__version__,
    }


def clip_score(bundle: dict, ds: Dataset, cid: str, kind: str = "video_model") -> float:
    """p(AI) of one clip as the detector reports it: mean over its plain-decode windows. kind="image_model"
    scores the same windows with the spatial-only model that serves still images."""
    names = bundle["feature_names"] if kind == "video_model" else bundle["spatial_feature_names"]
    X, _, _, _ = ds.matrix([cid], ["plain"], names)
    return float(bundle[kind].predict_proba(X)[:, 1].mean())


def family_of(source: str) -> str:
    return FAMILY_OF.get(source, source)


def logo_scores(
    ds: Dataset, variants: list[str] | None = None, kind: str = "video_model", names: list[str] | None = None,
    fit=None,
) -> dict[str, dict[str, dict[str, float]]]:
    """Leave-one-generator-family-out: for each family F and each real group r (one clip, or the clips of one
    camera and place), a model trained on (real minus r) + (AI minus F) scores r's clips and every clip of F.
    Returns {"ai": {F: {clip: score}}, "real": {F: {clip: score}}}: an AI clip's score is the mean over the
    real folds, a real clip's is its own fold's. No clip, camera/place or family is ever on both sides.
    `fit(train_ids) -> scorer(clip_id) -> p` replaces the model (the format-only baseline uses it)."""
    ids = [c.path.name for c in ds.clips]
    source = {c.path.name: c.source for c in ds.clips}
    group = {c.path.name: c.group for c in ds.clips}
    real_groups = sorted({group[i] for i in ids if source[i] == "real"})
    out: dict[str, dict[str, dict[str, float]]] = {"ai": {}, "real": {}}
    for fam in FAMILIES:
        fclips = [i for i in ids if source[i] != "real" and family_of(source[i]) == fam]
        if not fclips:
            continue
        acc: dict[str, list[float]] = {c: [] for c in fclips}
        real: dict[str, float] = {}
        for r in real_groups:
            train_ids = [i for i in ids if group[i] != r and (source[i] == "real" or family_of(source[i]) != fam)]
            if fit is not None:
                scorer = fit(train_ids)
            else:
                bundle = train(ds, train_ids, variants, names, kinds=(kind,))
                scorer = lambda i, b=bundle: clip_score(b, ds, i, kind)  # noqa: E731
            for i in ids:
                if group[i] == r:
                    real[i] = scorer(i)
            for c in fclips:
                acc[c].append(scorer(c))
        out["ai"][fam] = {c: float(np.mean(v)) for c, v in acc.items()}
        out["real"][fam] = real
    return out


def logo_summary(scores: dict[str, dict[str, dict[str, float]]], threshold: float = VERDICT_THRESHOLD) -> dict:
    """ROC AUC per held-out family (its clips vs the held-out real clips of its folds), the minimum, pooled,
    and the specificity on held-out real sources at the verdict threshold (share of real fold scores <= it)."""
    from sklearn.metrics import roc_auc_score

    per, ys, ss, real_all = {}, [], [], []
    for fam, ai in scores["ai"].items():
        real = list(scores["real"][fam].values())
        y = [1] * len(ai) + [0] * len(real)
        s = list(ai.values()) + real
        per[fam] = round(float(roc_auc_score(y, s)), 4)
        ys += y
        ss += s
        real_all += real
    worst = min(per, key=lambda k: per[k])
    return {
        "protocol": "leave-one-generator-family-out x leave-one-real-group-out",
        "per_family_auc": per,
        "min_family_auc": per[worst],
        "min_family": worst,
        "pooled_auc": round(float(roc_auc_score(ys, ss)), 4),
        "real_specificity": round(float(np.mean(np.array(real_all) <= threshold)), 4),
        "threshold": threshold,
    }


def main() -> None:
    import joblib

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data_dir())
    ap.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--no-extra", action="store_true", help="leave out the Debian real clips (manifest)")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(f"extracting features from {args.data} (cache: {_cache_dir()})")
    ds = build_dataset(args.data, verbose=True, extra=not args.no_extra)
    bundle = train(ds)
    # The shipped model is only called informative if it ranks clips of generator families it never saw above
    # real clips of cameras/places it never saw, in every family, and leaves those real clips under the verdict
    # threshold (model.validated); clip-grouped out-of-fold AUC alone rewards recognising a generator's look.
    bundle["validation"] = logo_summary(logo_scores(ds))
    bundle["image_validation"] = logo_summary(logo_scores(ds, kind="image_model"))
    print(f"leave-one-family-out, video model: {bundle['validation']}")
    print(f"leave-one-family-out, image (spatial-only) model: {bundle['image_validation']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(bundle, args.out, compress=3)
    _, y, _, _ = ds.matrix([c.path.name for c in ds.clips], list(VARIANTS))
    meta = {
        "version": MODEL_VERSION,
        "sha256": file_sha256(args.out),
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m evals.train_detector",
        "sklearn_version": bundle["sklearn_version"],
        "feature_code_hash": feature_code_hash(),
        "feature_names": bundle["feature_names"],
        "spatial_feature_names": bundle["spatial_feature_names"],
        "context_features_not_in_model": sorted(set(FEATURE_NAMES) - set(MODEL_FEATURES)),
        "families": FAMILIES,
        "held_out_never_used": [rel for rel in held_out_files(args.data)
                                if rel.startswith(("ai_generated_video/", "videos_real/"))],
        "preprocessing": {
            "frame_size": decode.FRAME_SIZE,
            "fps": decode.TARGET_FPS,
            "palette_colours": decode.PALETTE_COLOURS,
            "blur_sigma": decode.BLUR_SIGMA,
            "window": features.WINDOW,
            "stride": features.STRIDE,
            "train_variants": {k: v for k, v in VARIANTS.items()},
            "max_windows_per_clip": MAX_WINDOWS_PER_CLIP,
        },
        "training_windows": {"real": int((y == 0).sum()), "ai": int((y == 1).sum())},
        "validation_leave_one_family_out": {"video": bundle["validation"], "image": bundle["image_validation"]},
        "calibration": {
            k: {"platt_slope": m.slope, "platt_offset": m.offset, "oof_window_auc": round(m.oof_auc, 4)}
            for k, m in (("video", bundle["video_model"]), ("image", bundle["image_model"]))
        },
        "training_clips": [
            {
                "path": str(c.path.relative_to(args.data)) if c.origin == "shared" else f"debian:{c.path.name}",
                "label": c.label, "source": c.source, "sha256": c.sha256,
            }
            for c in ds.clips
        ],
    }
    args.out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size} bytes) and {args.out.with_suffix('.json').name}")
    print(f"clips: {sum(c.label == 0 for c in ds.clips)} real, {sum(c.label == 1 for c in ds.clips)} AI")


if __name__ == "__main__":
    main()
