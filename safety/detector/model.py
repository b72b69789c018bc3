"""Calibrated scikit-learn model over the artifact features, and the `AIVideoDetector` facade.

Model: median imputation -> standardisation -> L2 logistic regression, calibrated with Platt scaling on
out-of-fold (grouped by clip) decision values (CalibratedClassifierCV, ensemble=False), so the shipped
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
from sklearn.calibration import CalibratedClassifierCV
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from safety.detector.decode import DetectorError, load_clip
from safety.detector.features import FEATURE_GROUPS, FEATURE_NAMES, SPATIAL_FEATURES, WINDOW, clip_features

MODEL_VERSION = "detector-v1"
MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = MODELS_DIR / f"{MODEL_VERSION}.joblib"
PREDICT_MAX_WINDOWS = 8  # evenly spread 1 s windows analysed per input: bounds latency on 10 s clips
REGULARISATION_C = 0.1  # strong L2: ~20 features, a few dozen clips


@dataclass
class DetectorResult:
    ai_probability: float
    artifacts: dict[str, dict[str, Any]]
    evidence_frames: list[int]
    model_version: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ai_probability": self.ai_probability,
            "artifacts": self.artifacts,
            "evidence_frames": self.evidence_frames,
            "model_version": self.model_version,
            "notes": self.notes,
        }


def _base_pipeline() -> Pipeline:
    # sample weights reach the classifier through metadata routing (enabled around fit below)
    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler().set_fit_request(sample_weight=False),
        LogisticRegression(C=REGULARISATION_C, max_iter=2000).set_fit_request(sample_weight=True),
    )


def fit_model(
    X: np.ndarray, y: np.ndarray, groups: Sequence[str], sample_weight: np.ndarray | None = None
) -> CalibratedClassifierCV:
    """Fit the calibrated model; calibration folds never split a clip (group) across train and test."""
    groups = np.asarray(groups)
    n_splits = int(min(5, len(set(groups[y == 0])), len(set(groups[y == 1]))))
    if n_splits < 2:
        raise ValueError("need at least two clips of each class to fit a calibrated model")
    splits = list(GroupKFold(n_splits=n_splits).split(X, y, groups))
    with sklearn.config_context(enable_metadata_routing=True), warnings.catch_warnings():
        model = CalibratedClassifierCV(_base_pipeline(), method="sigmoid", cv=splits, ensemble=False)
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(X, y, sample_weight=sample_weight)
    return model


def _linear_parts(model: CalibratedClassifierCV) -> tuple[Pipeline, np.ndarray]:
    pipe: Pipeline = model.calibrated_classifiers_[0].estimator
    return pipe, pipe[-1].coef_.ravel()


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
        if not isinstance(bundle, dict) or bundle.get("feature_names") != FEATURE_NAMES:
            return cls(None, path, f"model file {path.name} was trained on a different feature set; retrain")
        why = f"{bundle.get('version', '?')} loaded from {path.name}"
        if bundle.get("sklearn_version") != sklearn.__version__:
            why += f" (trained with scikit-learn {bundle.get('sklearn_version')}, running {sklearn.__version__})"
        return cls(bundle, path, why)

    def available(self) -> tuple[bool, str]:
        return self._bundle is not None, self._why

    @property
    def model_version(self) -> str:
        return str(self._bundle["version"]) if self._bundle else "unavailable"

    def predict(self, path: Path, max_seconds: float = 10.0) -> DetectorResult:
        """Raises DetectorError on unreadable input, RuntimeError if the model is unavailable."""
        if self._bundle is None:
            raise RuntimeError(f"detector unavailable: {self._why}")
        clip = load_clip(Path(path), max_seconds=max_seconds)
        windows = clip_features(clip, max_windows=PREDICT_MAX_WINDOWS)
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
        names = SPATIAL_FEATURES if is_image else FEATURE_NAMES
        model: CalibratedClassifierCV = self._bundle["image_model" if is_image else "video_model"]
        X = np.array([[w[1][n] for n in names] for w in windows], dtype=np.float64)
        X[~np.isfinite(X)] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            probs = model.predict_proba(X)[:, 1]
        if is_image:
            notes.append("single image: temporal features (motion, disappearance, persistence) not applicable")
        if len(windows) < 2 and not is_image:
            notes.append(f"short input: fewer than {WINDOW} distinct frames at 8 fps; estimate is weak")

        pipe, coef = _linear_parts(model)
        Z = pipe[:-1].transform(X)  # imputed + standardised
        mean_x = np.nanmean(np.where(np.isnan(X), np.nan, X), axis=0) if len(X) else X
        contrib = Z.mean(axis=0) * coef
        artifacts: dict[str, dict[str, Any]] = {}
        for group, feats in FEATURE_GROUPS.items():
            idx = [names.index(f) for f in feats if f in names]
            values = {
                f: (None if f not in names or not np.isfinite(mean_x[names.index(f)]) else round(float(mean_x[names.index(f)]), 5))
                for f in feats
            }
            if not idx:
                artifacts[group] = {"score": None, "features": values, "contribution": None, "applicable": False}
                continue
            c = float(contrib[idx].sum())
            artifacts[group] = {
                # 0.5 = neutral; above = this group's features point to AI generation
                "score": round(_sigmoid(c), 4),
                "contribution": round(c, 4),
                "features": values,
                "applicable": True,
            }
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
        )


__all__ = ["AIVideoDetector", "DetectorError", "DetectorResult", "fit_model", "MODEL_VERSION", "DEFAULT_MODEL"]
