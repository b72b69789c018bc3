"""The one exception type the provenance package raises for bad input or configuration."""

from __future__ import annotations


class ProvenanceError(ValueError):
    """Bad media, certificate or manifest input; the message says what is wrong."""


class UnsupportedFormat(ProvenanceError):
    """A file format that cannot carry Content Credentials (e.g. Matroska/WebM): absent, not invalid."""
