"""CLI entry point. Each command group lives in its own module and registers itself on `cli`."""

from __future__ import annotations

from api.cli.base import cli

# Registration imports (each module adds its commands to `cli`).
from api.cli import (  # noqa: E402,F401  isort: skip
    banks,
    core,
    detect,
    faces,
    names,
    prompt,
    provenance,
    rights,
    watermark_keys,
)


def main() -> None:
    cli(obj={})
