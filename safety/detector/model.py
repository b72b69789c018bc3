"""Calibrated scikit-learn model over the artifact features, and the `AIVideoDetector` facade.

Model: median imputation -> standardisation -> L2 logistic regression (scikit-learn), calibrated with
Platt scaling on out-of-fold decision values from clip-grouped, class-balanced folds, so the shipped
estimator is one linear model whose per-feature contributions can be read as evidence. A second model
over the spatial features only serves still images (temporal features do not apply to them).
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from safety.detector.decode import DetectorError, load_clip
from safety.detector.features import (
    CONTEXT_FEATURES,
    FEATURE_GROUPS,
    FEATURE_NAMES,
    MODEL_SPATIAL_FEATURES,
    WINDOW,
    clip_features,
)
from safety.detector.forensic import FORENSIC_GROUPS, FORENSIC_NAMES, window_forensics

# every measured feature, by group (artifact features of features.py, global statistics of forensic.py)
ALL_GROUPS: dict[str, list[str]] = {**FEATURE_GROUPS, **FORENSIC_GROUPS}
ALL_NAMES: list[str] = FEATURE_NAMES + FORENSIC_NAMES
MODELLABLE: frozenset[str] = frozenset(n for n in ALL_NAMES if n not in CONTEXT_FEATURES)

MODEL_VERSION = "detector-v3"
MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = MODELS_DIR / f"{MODEL_VERSION}.joblib"
# Bounds on what `predict` reads (verify latency budget: a 10 s 720p clip in < 3 s p50, all checks included):
# the first PREDICT_SECONDS of the input at 8 fps, and at most PREDICT_MAX_WINDOWS evenly spread 1 s windows.
PREDICT_SECONDS = 5.0
PREDICT_MAX_WINDOWS = 5
MIN_OOF_AUC = 0.6  # below this out-of-fold AUC a result is flagged not informative
# The model is informative only when training measured (stored in the bundle's "validation"), with whole
# generator families held out: every family's clip ROC AUC >= MIN_FAMILY_AUC, and real clips of held-out
# camera/place groups below VERDICT_THRESHOLD at least MIN_SPECIFICITY of the time. Older bundles that
# only carry a pooled AUC are never informative.
MIN_FAMILY_AUC = 0.85
MIN_SPECIFICITY = 0.95
VERDICT_THRESHOLD = 0.65  # p above this leans AI (gate.verify.INCONCLUSIVE_BAND's upper edge)
REGULARISATION_C = 0.1  # strong L2: ~20 features, a few dozen clips


@dataclass
class DetectorResult:
    ai_probability: float
    artifacts: dict[str, dict[str, Any]]
    evidence_frames: list[int]
    model_version: str
    notes: list[str] = field(default_factory=list)
    # False when the model's own out-of-fold validation found no (or only weak) signal: ai_probability must
    # then be reported as "inconclusive", never as evidence either way
    informative: bool = True
    # the features that moved this clip's score most (calibrated logit; > 0 towards AI), with their values
    top_features: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "top_features": self.top_features,
            "ai_probability": self.ai_probability,
            "informative": self.informative,
            "artifacts": self.artifacts,
            "evidence_frames": self.evidence_frames,
            "model_version": self.model_version,
            "notes": self.notes,
        }


def _base_pipeline() -> Pipeline:
    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=REGULARISATION_C, max_iter=2000),
    )


def _balanced(w: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rescale weights so both classes carry the same total weight (per fit, not once globally)."""
    w = w.astype(np.float64).copy()
    for label in (0, 1):
        m = y == label
        if m.any() and w[m].sum() > 0:
            w[m] *= len(w) / (2.0 * w[m].sum())
    return w


class CalibratedLinear:
    """A fitted linear pipeline plus a Platt sigmoid fitted on its out-of-fold decision values.

    Hand-rolled rather than CalibratedClassifierCV because the class balance must be restored inside every
    calibration fold: with 6 real clips of up to 36 windows each, a fold that holds out two real clips
    leaves a training set skewed to AI, its intercept shifts, and the pooled out-of-fold scores then
    anti-correlate with the label, which a Platt fit turns into an inverted ranking. The Platt slope is
    clipped at 0: a model whose out-of-fold ranking is worse than chance answers the prior (0.5).
    """

    def __init__(self, pipe: Pipeline, slope: float, offset: float, oof_auc: float) -> None:
        self.pipe = pipe
        self.slope = slope
        self.offset = offset
        self.oof_auc = oof_auc

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        d = self.pipe.decision_function(X)
        p = 1.0 / (1.0 + np.exp(-np.clip(self.slope * d + self.offset, -50, 50)))
        return np.column_stack([1.0 - p, p])


def fit_model(
    X: np.ndarray, y: np.ndarray, groups: Sequence[str], sample_weight: np.ndarray | None = None
) -> CalibratedLinear:
    """Fit the calibrated model; calibration folds never split a clip (group) across train and test."""
    clip_of = np.asarray(groups)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    n_splits = int(min(5, len(set(clip_of[y == 0])), len(set(clip_of[y == 1]))))
    if n_splits < 2:
        raise ValueError("need at least two clips of each class to fit a calibrated model")
    oof = np.zeros(len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for tr, te in StratifiedGroupKFold(n_splits=n_splits).split(X, y, clip_of):
            pipe = _base_pipeline().fit(X[tr], y[tr], logisticregression__sample_weight=_balanced(w[tr], y[tr]))
            oof[te] = pipe.decision_function(X[te])
        wb = _balanced(w, y)
        platt = LogisticRegression(C=1e4).fit(oof[:, None], y, sample_weight=wb)
        slope, offset = float(platt.coef_[0, 0]), float(platt.intercept_[0])
        if slope <= 0:
            slope, offset = 0.0, 0.0
        final = _base_pipeline().fit(X, y, logisticregression__sample_weight=wb)
    return CalibratedLinear(final, slope, offset, float(roc_auc_score(y, oof, sample_weight=wb)))


def _linear_parts(model: CalibratedLinear) -> tuple[Pipeline, np.ndarray]:
    return model.pipe, model.pipe[-1].coef_.ravel()


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def validated(v: dict[str, Any] | None) -> tuple[bool, str]:
    """Whether a bundle's stored validation meets the bar (None: an in-memory evaluation fold, not judged)."""
    if v is None:
        return True, "evaluation fold (validation not judged)"
    fam, spec = v.get("min_family_auc"), v.get("real_specificity")
    if fam is None or spec is None:
        return False, ("not validated on unseen generators: only a pooled leave-one-generator-out AUC "
                       f"({v.get('pooled_auc')}), not per held-out family with real-source specificity")
    worst = v.get("min_family", "?")
    what = (f"leave-one-family-out clip AUC min {fam:.2f} ({worst}; needs {MIN_FAMILY_AUC}), specificity on "
            f"held-out real sources {spec:.2f} at p>{VERDICT_THRESHOLD} (needs {MIN_SPECIFICITY})")
    if fam >= MIN_FAMILY_AUC and spec >= MIN_SPECIFICITY:
        return True, what
    return False, f"not validated on unseen generators: {what}; verdicts stay inconclusive"


class AIVideoDetector:
    """Estimate whether a video/GIF/image is AI-generated, with per-artifact-group evidence."""

    def __init__(self, bundle: dict[str, Any] | None, model_path: Path, why: str) -> None:
        self._bundle = bundle
        self.model_path = model_path
        self._why = why

    @classmethod
    def load(cls, model_path: Path | None = None) -> AIVideoDetector:
        path = Path(model_path) if model_path else DEFAULT_MODEL
        if not path.is_file():
            return cls(None, path, f"model file {path} not found; train it with `python -m evals.train_detector`")
        meta_path = path.with_suffix(".json")
        try:
            if meta_path.is_file():
                meta = json.loads(meta_path.read_text())
                if meta.get("sha256") and meta["sha256"] != file_sha256(path):
                    return cls(None, path, f"model file {path.name} does not match the sha256 in {meta_path.name}")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # sklearn version pickling warnings are reported below instead
                bundle = joblib.load(path)
        except Exception as exc:  # a corrupt or incompatible pickle must not take the service down
            return cls(None, path, f"model file {path.name} could not be loaded: {exc}")
        names = bundle.get("feature_names") if isinstance(bundle, dict) else None
        if not isinstance(names, list) or not names or not set(names) <= MODELLABLE:
            return cls(None, path, f"model file {path.name} was trained on a different feature set; retrain")
        why = f"{bundle.get('version', '?')} loaded from {path.name}"
        if bundle.get("sklearn_version") != sklearn.__version__:
            why += f" (trained with scikit-learn {bundle.get('sklearn_version')}, running {sklearn.__version__})"
        return cls(bundle, path, why)

    def available(self) -> tuple[bool, str]:
        return self._bundle is not None, self._why

    def validation(self) -> tuple[bool, str]:
        """(informative, why) for clips, from what training measured: a model that has not shown it
        recognises generator families it never saw, without flagging real sources it never saw, answers
        'inconclusive' whatever p it computes."""
        if self._bundle is None:
            return False, self._why
        model: CalibratedLinear = self._bundle["video_model"]
        if model.slope == 0.0 or model.oof_auc < MIN_OOF_AUC:
            return False, f"no validated signal: out-of-fold window AUC {model.oof_auc:.2f} (needs {MIN_OOF_AUC})"
        return validated(self._bundle.get("validation"))

    @property
    def model_version(self) -> str:
        return str(self._bundle["version"]) if self._bundle else "unavailable"

    def predict(self, path: Path, max_seconds: float = PREDICT_SECONDS) -> DetectorResult:
        """Raises DetectorError on unreadable input, RuntimeError if the model is unavailable."""
        if self._bundle is None:
            raise RuntimeError(f"detector unavailable: {self._why}")
        clip = load_clip(Path(path), max_seconds=max_seconds)
        windows = clip_features(clip, max_windows=PREDICT_MAX_WINDOWS)
        if set(self._bundle["feature_names"]) & set(FORENSIC_NAMES):
            grey = clip.frames[..., 0]
            for s0, f in windows:
                f.update(window_forensics(grey[s0 : s0 + WINDOW]))
        return self.predict_windows(windows, clip.source_indices, clip.is_image or len(clip.frames) < 2, clip.notes)

    def predict_windows(
        self,
        windows: list[tuple[int, dict[str, float]]],
        source_indices: list[int],
        is_image: bool,
        notes: Sequence[str] = (),
    ) -> DetectorResult:
        """Score precomputed windows (used by predict and by the evaluation)."""
        if self._bundle is None:
            raise RuntimeError(f"detector unavailable: {self._why}")
        notes = list(notes)
        names: list[str] = (self._bundle.get("spatial_feature_names", MODEL_SPATIAL_FEATURES) if is_image
                            else self._bundle["feature_names"])
        model: CalibratedLinear = self._bundle["image_model" if is_image else "video_model"]
        X_all = np.array([[w[1].get(n, math.nan) for n in ALL_NAMES] for w in windows], dtype=np.float64)
        X_all[~np.isfinite(X_all)] = np.nan
        X = X_all[:, [ALL_NAMES.index(n) for n in names]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            probs = model.predict_proba(X)[:, 1]
        if is_image:
            notes.append("single image: temporal features (motion, disappearance, persistence) not applicable")
        if model.slope == 0.0:
            notes.append(
                "no validated signal: on the training clips this model ranked held-out clips no better than chance "
                f"(out-of-fold AUC {model.oof_auc:.2f}), so its probability is the uninformative prior 0.5; the "
                "artifact group scores are therefore neutral (0.5); the feature values still describe the clip"
            )
        elif model.oof_auc < MIN_OOF_AUC:
            notes.append(
                f"weak signal: out-of-fold window AUC {model.oof_auc:.2f} < {MIN_OOF_AUC} on the training clips; "
                "treat the probability as inconclusive"
            )
        else:
            notes.append(f"validation: out-of-fold window AUC {model.oof_auc:.2f} on the training clips (small data)")
        logo_ok, logo_why = validated(self._bundle.get("image_validation" if is_image else "validation"))
        if not logo_ok and model.slope > 0.0:
            notes.append(f"{logo_why}: the probability is inconclusive, whatever its value")
        else:
            notes.append(logo_why)
        if len(windows) < 2 and not is_image:
            notes.append(f"short input: fewer than {WINDOW} distinct frames at 8 fps; estimate is weak")

        pipe, coef = _linear_parts(model)
        Z = pipe[:-1].transform(X)  # imputed + standardised
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: not applicable
            mean_x = np.nanmean(X_all, axis=0)
        # in the calibrated logit scale, so group scores and the probability speak the same language
        contrib = Z.mean(axis=0) * coef * model.slope
        artifacts: dict[str, dict[str, Any]] = {}
        values_all: dict[str, float | None] = {}
        for group, feats in ALL_GROUPS.items():
            idx = [names.index(f) for f in feats if f in names]
            values: dict[str, float | None] = {}
            for f in feats:
                v = float(mean_x[ALL_NAMES.index(f)])
                values[f] = round(v, 5) if math.isfinite(v) else None  # None = not applicable / not measurable
                values_all[f] = values[f]
            if not idx:
                artifacts[group] = {"score": None, "features": values, "contribution": None, "applicable": False}
                continue
            c = float(contrib[idx].sum())
            artifacts[group] = {
                # 0.5 = neutral (training average); above = this group's features point to AI generation
                "score": round(_sigmoid(c), 4),
                "contribution": round(c, 4),
                "features": values,
                "applicable": True,
            }
        group_of = {f: g for g, fs in ALL_GROUPS.items() for f in fs}
        top = [
            {"feature": names[j], "group": group_of[names[j]], "contribution": round(float(contrib[j]), 4),
             "value": values_all[names[j]]}
            for j in np.argsort(-np.abs(contrib))[:4] if abs(contrib[j]) > 1e-4
        ]
        order = np.argsort(-probs)[:3]
        evidence = sorted(
            {source_indices[min(len(source_indices) - 1, windows[i][0] + WINDOW // 2)] for i in order}
        )
        return DetectorResult(
            ai_probability=round(float(np.mean(probs)), 4),
            artifacts=artifacts,
            evidence_frames=evidence,
            model_version=self.model_version,
            notes=notes,
            informative=model.slope > 0.0 and model.oof_auc >= MIN_OOF_AUC and logo_ok,
            top_features=top,
        )


__all__ = ["AIVideoDetector", "DetectorError", "DetectorResult", "fit_model", "MODEL_VERSION", "DEFAULT_MODEL"]
