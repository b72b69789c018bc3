"""CLI entry point. Each command group lives in its own module and registers itself on `cli` when first
needed (api.cli.base.COMMAND_MODULES)."""

from __future__ import annotations

from api.cli.base import cli

__all__ = ["cli", "main"]


def main() -> None:
    cli(obj={})
