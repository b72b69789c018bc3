"""The generation core: prompt -> scene -> frames + audio -> MP4, with backends behind one protocol."""

from __future__ import annotations

from typing import Any

from generator.errors import (
    BackendUnavailableError,
    CameoError,
    ClipDecodeError,
    GeneratorError,
    SpecError,
)
from generator.spec import FPS_CHOICES, RESOLUTIONS, CameoRef, Clip, GenerationSpec, GeneratorBackend
from generator.validate import MAX_SECONDS, MIN_SECONDS, STYLES, validate_spec

BACKENDS = ("procedural", "diffusion")


def get_backend(name: str = "procedural", **config: Any) -> GeneratorBackend:
    """A backend by name. "diffusion" needs the `diffusion` extra and `model_dir=`; check `available()`."""
    if name == "procedural":
        from generator.procedural import ProceduralBackend

        return ProceduralBackend(**config)
    if name == "diffusion":
        from generator.diffusion_backend import DiffusionBackend

        return DiffusionBackend(**config)
    raise GeneratorError(f"unknown generator backend {name!r}; choose one of {', '.join(BACKENDS)}")


__all__ = [
    "BACKENDS", "FPS_CHOICES", "MAX_SECONDS", "MIN_SECONDS", "RESOLUTIONS", "STYLES",
    "BackendUnavailableError", "CameoError", "CameoRef", "Clip", "ClipDecodeError", "GenerationSpec",
    "GeneratorBackend", "GeneratorError", "SpecError", "get_backend", "validate_spec",
]
