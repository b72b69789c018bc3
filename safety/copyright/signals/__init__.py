"""Copyright matching signals: each a class behind `Signal` (see base.py)."""

from safety.copyright.signals.base import Signal, SignalHit, SignalIndex
from safety.copyright.signals.clip import ClipSignal
from safety.copyright.signals.keypoints import KeypointSignal
from safety.copyright.signals.pdq import PdqSignal

__all__ = ["ClipSignal", "KeypointSignal", "PdqSignal", "Signal", "SignalHit", "SignalIndex"]
