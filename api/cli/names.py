"""`reelgate names list|add|remove`: the operator's changes to the shipped name lists."""

from __future__ import annotations

import click

from api.cli.base import cli, emit, fail, json_option, settings
from gate.names import KINDS, NamesError, add_name, load_names, remove_name

KIND = click.Choice(KINDS)


def _audit(event: str, kind: str, name: str, payload: dict[str, object]) -> None:
    """Name-list changes decide what the gate blocks, so each one goes into the audit log like a policy change."""
    from gate import audit
    from gate.audit_checkpoint import AuditKeyError
    from gate.components import get_components
    from gate.db import DatabaseUnavailable

    try:
        audit.append(get_components(settings()).engine, "cli", event, f"{kind}:{name}", payload)
    except (DatabaseUnavailable, AuditKeyError) as exc:
        fail(f"the change is saved but could not be audited: {exc}")


@cli.group("names")
def names() -> None:
    """Public figures, characters and brands the prompt gate recognises (shipped lists plus your changes)."""


def _shipped(kind: str) -> dict[str, list[str]]:
    if kind == "public_figure":
        from safety.name_match import default_public_figures

        return default_public_figures()
    from safety.prompt_named import default_brands, default_characters

    return (default_characters() if kind == "character" else default_brands()).entries


@names.command("list")
@click.option("--kind", type=KIND, default=None, help="only this kind")
@click.option("--search", default=None, help="shipped names containing this text (case-insensitive)")
@json_option
def list_names(kind: str | None, search: str | None, as_json: bool) -> None:
    """Your additions and removals, how many names each kind ships with, and shipped names matching --search."""
    try:
        data = load_names(settings().resolved_data_dir)
    except NamesError as exc:
        fail(str(exc))
    out: dict[str, object] = {"added": data["add"], "removed": data["remove"], "shipped": {}}
    lines = []
    for k in [kind] if kind else list(KINDS):
        shipped = _shipped(k)
        out["shipped"][k] = len(shipped)  # type: ignore[index]
        lines.append(f"{k}: {len(shipped)} shipped, {len(data['add'].get(k, {}))} added, "
                     f"{len(data['remove'].get(k, []))} removed")
        for n, aliases in data["add"].get(k, {}).items():
            lines.append(f"  + {n}" + (f" ({', '.join(aliases)})" if aliases else ""))
        lines += [f"  - {n}" for n in data["remove"].get(k, [])]
        if search:
            needle = search.casefold()
            found = sorted(c for c, aliases in shipped.items()
                           if needle in c.casefold() or any(needle in a.casefold() for a in aliases))
            out.setdefault("matches", {})[k] = found[:200]  # type: ignore[index]
            lines += [f"  = {c}" for c in found[:50]]
    emit(out, as_json, "\n".join(lines))


@names.command("add")
@click.argument("kind", type=KIND)
@click.argument("name")
@click.option("--alias", "aliases", multiple=True, help="another way of writing the name (repeatable)")
@json_option
def add(kind: str, name: str, aliases: tuple[str, ...], as_json: bool) -> None:
    """Recognise NAME (a person, character or brand) in prompts; takes effect when the gate next loads."""
    try:
        data = add_name(settings().resolved_data_dir, kind, name, list(aliases))
    except NamesError as exc:
        fail(str(exc))
    _audit("names.add", kind, name, {"aliases": list(aliases)})
    emit({"kind": kind, "added": name, "aliases": list(aliases), "names": data}, as_json,
         f"added {kind} {name!r}; restart the API and workers to apply it")


@names.command("remove")
@click.argument("kind", type=KIND)
@click.argument("name")
@json_option
def remove(kind: str, name: str, as_json: bool) -> None:
    """Stop recognising NAME (one you added, or one on the shipped list: give its canonical name)."""
    from safety.name_match import fold

    shipped = {fold(c) for c in _shipped(kind)}
    try:
        added = load_names(settings().resolved_data_dir)["add"].get(kind, {})
    except NamesError as exc:
        fail(str(exc))
    if fold(name) not in shipped and fold(name) not in {fold(n) for n in added}:
        fail(f"no {kind} named {name!r} (see `reelgate names list --kind {kind} --search ...`)")
    try:
        data = remove_name(settings().resolved_data_dir, kind, name)
    except NamesError as exc:
        fail(str(exc))
    _audit("names.remove", kind, name, {})
    emit({"kind": kind, "removed": name, "names": data}, as_json,
         f"removed {kind} {name!r}; restart the API and workers to apply it")
