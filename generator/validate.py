"""Checks a GenerationSpec before any work: every refusal is a SpecError with a one-line reason."""

from __future__ import annotations

import unicodedata

from generator.errors import SpecError
from generator.spec import FPS_CHOICES, RESOLUTIONS, GenerationSpec

MIN_SECONDS = 1.0
# 60 s is the top tier; per-user tier limits (5-20 s for most) are the gate's policy, not the core's.
MAX_SECONDS = 60.0
MAX_PROMPT_CHARS = 2000
MAX_CAMEOS = 4
STYLES = ("cinematic", "photorealistic", "anime", "cartoon", "watercolor", "noir", "pixel", "sketch")


def clean_prompt(prompt: str) -> str:
    """Drop format characters (zero-width joiners, BOM, bidi controls) that hide words from parsers."""
    return "".join(ch for ch in prompt if unicodedata.category(ch) != "Cf").strip()


def validate_spec(spec: GenerationSpec) -> None:
    if not isinstance(spec.prompt, str) or not clean_prompt(spec.prompt):
        raise SpecError("prompt is empty")
    if len(spec.prompt) > MAX_PROMPT_CHARS:
        raise SpecError(f"prompt is {len(spec.prompt)} characters; at most {MAX_PROMPT_CHARS}")
    if spec.style is not None and spec.style.strip().lower() not in STYLES:
        raise SpecError(f"unknown style {spec.style!r}; choose one of {', '.join(STYLES)}")
    seconds = spec.seconds
    if not isinstance(seconds, int | float) or seconds != seconds or not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise SpecError(f"seconds must be between {MIN_SECONDS:g} and {MAX_SECONDS:g}, got {seconds!r}")
    if spec.resolution not in RESOLUTIONS:
        raise SpecError(f"unknown resolution {spec.resolution!r}; choose one of {', '.join(RESOLUTIONS)}")
    if spec.fps not in FPS_CHOICES:
        raise SpecError(f"fps must be one of {FPS_CHOICES}, got {spec.fps!r}")
    if not isinstance(spec.seed, int) or not 0 <= spec.seed < 2**32:
        raise SpecError(f"seed must be an integer in [0, 2**32), got {spec.seed!r}")
    if len(spec.cameos) > MAX_CAMEOS:
        raise SpecError(f"at most {MAX_CAMEOS} cameos per clip, got {len(spec.cameos)}")
    for cameo in spec.cameos:
        if not cameo.face_image.is_file():
            raise SpecError(f"cameo {cameo.handle!r}: face image {cameo.face_image} does not exist")
    if spec.source_clip is not None and not spec.source_clip.is_file():
        raise SpecError(f"remix source {spec.source_clip} does not exist")
