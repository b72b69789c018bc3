"""`reelgate banks list|import|export|check|policy`: hash banks from the command line (an operator's tool:
whoever runs it has the installation's database)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from api.cli.base import cli, emit, fail, json_option, settings

POLICIES = click.Choice(["block", "review", "log"])
FORMATS = click.Choice(["te", "csv"])


def _components():
    from gate.audit_checkpoint import AuditKeyError
    from gate.components import get_components
    from gate.db import DatabaseUnavailable

    try:
        return get_components(settings())
    except (DatabaseUnavailable, AuditKeyError) as exc:
        fail(str(exc))


@cli.group()
def banks() -> None:
    """Hash banks of known media (PDQ, vPDQ, SHA-256/MD5), each with a policy; takedowns feed 'removed'."""


@banks.command("list")
@json_option
def list_cmd(as_json: bool) -> None:
    """Every bank with its policy and how many signals of each type it holds."""
    from gate.banks import list_banks

    rows = list_banks(_components())
    human = "\n".join(f"{b['name']:<24} {b['policy']:<7} {b['entries']:>8}  "
                      + ", ".join(f"{k} {v}" for k, v in sorted(b["by_signal"].items())) for b in rows)
    emit({"banks": rows}, as_json, human=human or "no banks")


@banks.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--bank", required=True, help="the bank to add to (made if missing)")
@click.option("--policy", type=POLICIES, default=None, help="the bank's policy (a new bank: block)")
@click.option("--format", "fmt", type=FORMATS, default=None,
              help="te: '<signal_type> <signal>' lines (threatexchange/HMA file exchange); csv: threatexchange "
                   "dataset --csv. Default: detected from the first line")
@json_option
def import_cmd(file: Path, bank: str, policy: str | None, fmt: str | None, as_json: bool) -> None:
    """Add every signal of FILE to a bank; a bad line refuses the whole file (nothing is imported)."""
    from gate.banks import BankError, import_file

    try:
        out = import_file(_components(), bank, file, "cli", fmt, policy)
    except BankError as exc:
        fail(str(exc))
    emit(out, as_json, human=f"bank {out['bank']}: {out['added']} added, {out['already']} already there")


@banks.command("export")
@click.option("--bank", required=True)
@click.option("--format", "fmt", type=FORMATS, default="te", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write here (default: stdout)")
def export_cmd(bank: str, fmt: str, output: Path | None) -> None:
    """Print (or write) a bank in a format HMA and the threatexchange CLI read."""
    from gate.banks import BankError, BankNotFound, export_text

    try:
        text = export_text(_components(), bank, fmt)
    except (BankError, BankNotFound) as exc:
        fail(str(exc))
    if output is None:
        sys.stdout.write(text)
        return
    tmp = output.with_name(output.name + ".part")
    tmp.write_text(text)
    tmp.replace(output)


@banks.command("check")
@click.argument("file", type=click.Path(path_type=Path))
@json_option
def check_cmd(file: Path, as_json: bool) -> None:
    """Check a picture or clip against every bank: {"matches": [{"bank", "signal", "distance", "policy", ...}]}."""
    from gate.banks import BankError, check_file
    from gate.uploads import UploadError, check_media

    c = _components()
    try:
        check_media(file, c.settings.max_upload_bytes)
        out = check_file(c, file)
    except (UploadError, BankError) as exc:
        fail(str(exc))
    human = "\n".join(f"{m['bank']} ({m['policy']}): {m['signal']} distance {m['distance']}"
                      + (f", clip {m['content_id']}" if m["content_id"] else "") for m in out["matches"])
    emit(out, as_json, human=human or f"no match ({out['usable_frames']} usable frames checked)")


@banks.command("policy")
@click.argument("bank")
@click.argument("policy", type=POLICIES)
@json_option
def policy_cmd(bank: str, policy: str, as_json: bool) -> None:
    """Set what a match in BANK does: block, review or log."""
    from gate.banks import BankError, BankNotFound, set_policy

    try:
        out = set_policy(_components(), bank, policy, "cli")
    except (BankError, BankNotFound) as exc:
        fail(str(exc))
    emit(out, as_json, human=f"bank {out['name']}: policy {out['policy']}")
