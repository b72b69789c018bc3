"""`reelgate report transparency --since DATE --until DATE`: the transparency report for a period."""

from __future__ import annotations

from datetime import UTC, datetime, time

import click

from api.cli.base import cli, emit, fail, json_option, settings


@cli.group()
def report() -> None:
    """Reports on what the service decided."""


@report.command("transparency")
@click.option("--since", "since", required=True, type=click.DateTime(["%Y-%m-%d"]), help="first day (UTC), YYYY-MM-DD")
@click.option("--until", "until", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="last day (UTC, included), YYYY-MM-DD")
@json_option
def transparency(since: datetime, until: datetime, as_json: bool) -> None:
    """Decisions per stage and ground, automated vs human, reports received and actioned, median time to
    action, appeals and reversals, takedowns by cause."""
    from gate import transparency as tr
    from gate.components import get_components
    from gate.db import DatabaseUnavailable

    start = datetime.combine(since.date(), time.min, UTC)
    end = datetime.combine(until.date(), time.max, UTC)
    if end <= start:
        fail("--until must not be before --since")
    try:
        out = tr.report(get_components(settings()), start, end)
    except DatabaseUnavailable as exc:
        fail(str(exc))
    emit(out, as_json, human=tr.as_markdown(out).rstrip("\n"))
