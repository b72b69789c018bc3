"""Artifact-based AI-generated-video detector: readable features + a calibrated scikit-learn model."""

from __future__ import annotations

from safety.detector.decode import Clip, DetectorError, load_clip
from safety.detector.features import FEATURE_GROUPS, FEATURE_NAMES, clip_features, window_features
from safety.detector.model import AIVideoDetector, DetectorResult

__all__ = [
    "FEATURE_GROUPS",
    "FEATURE_NAMES",
    "AIVideoDetector",
    "Clip",
    "DetectorError",
    "DetectorResult",
    "clip_features",
    "load_clip",
    "window_features",
]
