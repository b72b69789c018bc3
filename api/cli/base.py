"""The `reelgate` command group and the output helpers every command uses."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from gate.settings import Settings, load_settings

# Modules that register commands on `cli`. They load on demand: all of them pull in the pipeline, the database
# and the media stacks (~1 s of CPU before any work), which `reelgate classify-prompt` needs none of.
COMMAND_MODULES = ("banks", "core", "detect", "faces", "names", "prompt", "provenance", "report", "rights",
                   "watermark_keys")
# Commands whose one module is known: only it loads.
MODULE_OF = {"classify-prompt": "prompt"}


class _LazyCommands(click.Group):
    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            _register(MODULE_OF.get(cmd_name))
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        _register(None)
        return super().list_commands(ctx)


def _register(module: str | None) -> None:
    import importlib

    for name in (module,) if module else COMMAND_MODULES:
        importlib.import_module(f"api.cli.{name}")


@click.group(cls=_LazyCommands, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """reelgate: trust-and-safety and provenance gate for generative video."""
    ctx.ensure_object(dict)


def settings() -> Settings:
    ctx = click.get_current_context()
    obj = ctx.find_root().ensure_object(dict)
    if "settings" not in obj:
        obj["settings"] = load_settings()
    return obj["settings"]


def emit(obj: Any, as_json: bool, human: str | None = None) -> None:
    """Machine-readable JSON on stdout with --json; a short human summary otherwise."""
    if as_json:
        click.echo(json.dumps(obj, default=str))
    else:
        click.echo(human if human is not None else json.dumps(obj, indent=2, default=str))


def fail(message: str, code: int = 2) -> NoReturn:
    """A user error: one line on stderr, non-zero exit, nothing changed."""
    click.echo(f"reelgate: error: {message}", err=True)
    sys.exit(code)


json_option = click.option("--json", "as_json", is_flag=True, help="machine-readable JSON on stdout")
