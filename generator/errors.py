"""Exception types of the generation core. All are ValueErrors so callers can treat them as bad input."""

from __future__ import annotations


class GeneratorError(ValueError):
    """Anything the generation core refuses or cannot do, with a message fit for a user."""


class SpecError(GeneratorError):
    """A GenerationSpec that is out of bounds (raised before any work starts)."""


class ClipDecodeError(GeneratorError):
    """A video file that is empty, truncated, garbage or too large to use as a remix source."""


class CameoError(GeneratorError):
    """A cameo reference image that cannot be used (unreadable, no face in it)."""


class BackendUnavailableError(GeneratorError):
    """A backend that cannot run here (missing optional package or weights)."""
