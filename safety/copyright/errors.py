"""The one exception type a caller of the copyright package has to handle."""

from __future__ import annotations


class CopyrightError(ValueError):
    """Bad input from a user (unreadable image, bomb, bad name or policy); the message says what to fix."""
