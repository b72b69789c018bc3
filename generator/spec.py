"""What the generation core takes and gives: the spec, the clip, the backend protocol."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

RESOLUTIONS: dict[str, tuple[int, int]] = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
FPS_CHOICES = (24, 30)


@dataclass(frozen=True)
class CameoRef:
    """A consented likeness to insert: the handle and the owner's reference face image."""

    handle: str
    face_image: Path


@dataclass(frozen=True)
class GenerationSpec:
    prompt: str
    style: str | None = None
    seconds: float = 5.0
    resolution: str = "480p"
    fps: int = 24
    seed: int = 0
    cameos: tuple[CameoRef, ...] = ()
    source_clip: Path | None = None  # remix: the clip whose motion is kept

    @property
    def size(self) -> tuple[int, int]:
        return RESOLUTIONS[self.resolution]


@dataclass
class Clip:
    """Frames are produced lazily (a 20 s 1080p clip does not fit comfortably in memory)."""

    fps: int
    width: int
    height: int
    n_frames: int
    frames: Callable[[], Iterator[np.ndarray]]  # yields HxWx3 uint8 RGB, n_frames of them
    audio: np.ndarray  # float32, shape (channels, samples), in [-1, 1]
    sample_rate: int
    metadata: dict[str, Any] = field(default_factory=dict)  # backend, version, scene, speech_text, ...


@runtime_checkable
class GeneratorBackend(Protocol):
    name: str
    version: str

    def available(self) -> tuple[bool, str]:
        """(True, "") when it can run; (False, why) otherwise (e.g. weights missing)."""
        ...

    def generate(self, spec: GenerationSpec) -> Clip: ...
