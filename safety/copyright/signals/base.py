"""The interface every copyright matching signal implements (one class per signal, HMA-style).

A signal turns an image into a descriptor (a hash, a set of keypoints, an embedding) and owns the kind
of index that searches those descriptors. Scores are mapped to 0..1 by each signal's own calibration so
that the index can fuse them; 0.5 is the signal's own "this is a match" point.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class SignalHit:
    reference_id: int
    score: float  # calibrated 0..1; >= 0.5 means this signal alone calls it a match
    evidence: dict[str, Any] = field(default_factory=dict)


class SignalIndex(ABC):
    """A search structure over reference descriptors of one signal."""

    @abstractmethod
    def add(self, reference_id: int, descriptor: Any) -> None: ...

    @abstractmethod
    def search(self, descriptor: Any) -> list[SignalHit]: ...

    @abstractmethod
    def __len__(self) -> int: ...

    def remove(self, reference_id: int) -> bool:
        """Delete a reference's descriptors; False when this index cannot (the caller filters instead)."""
        return False

    def save(self, path: Path) -> None:
        """Write the index to files beside `path` (suffixes are the index's own)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    @classmethod
    def load(cls, path: Path) -> SignalIndex:
        raise NotImplementedError(f"{cls.__name__} cannot be loaded")


class Signal(ABC):
    name: ClassVar[str]
    version: str  # a class constant, except where an instance names its model (CLIP)
    index_type: ClassVar[str]

    @abstractmethod
    def available(self) -> tuple[bool, str]:
        """(can run, why not / what it runs with)."""

    @abstractmethod
    def describe_reference(self, img: np.ndarray) -> Any:
        """Descriptor of a registered reference image (may include augmentations)."""

    @abstractmethod
    def describe_query(self, img: np.ndarray) -> Any:
        """Descriptor of an image or frame being checked."""

    @abstractmethod
    def new_index(self) -> SignalIndex: ...

    def load_index(self, path: Path) -> SignalIndex:
        return type(self.new_index()).load(path)

    def status(self) -> dict[str, Any]:
        ok, why = self.available()
        return {"ran": ok, "why": why, "model": f"{self.name}/{self.version}", "real_weights": ok}


def logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))
