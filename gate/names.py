"""The operator's changes to the shipped name lists (public figures, characters and franchises, brands).

Kept in data_dir/names.json: {"add": {kind: {name: [aliases]}}, "remove": {kind: [name, ...]}}, kind one of
KINDS. Adding a name that was removed un-removes it, and the other way round. Every process (API workers,
CLI) reads the file when it loads the prompt classifier; a running API picks changes up at restart.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

KINDS = ("public_figure", "character", "brand")
MAX_NAME = 120


class NamesError(ValueError):
    """A bad name or kind, or an unreadable names file."""


def names_path(data_dir: Path) -> Path:
    return data_dir / "names.json"


def load_names(data_dir: Path) -> dict[str, Any]:
    path = names_path(data_dir)
    if not path.exists():
        return {"add": {}, "remove": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise NamesError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise NamesError(f"{path}: expected a JSON object")
    add = {k: dict(v) for k, v in (data.get("add") or {}).items() if k in KINDS and isinstance(v, dict)}
    remove = {k: list(v) for k, v in (data.get("remove") or {}).items() if k in KINDS and isinstance(v, list)}
    return {"add": add, "remove": remove}


def _save(data_dir: Path, data: dict[str, Any]) -> None:
    path = names_path(data_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _check(kind: str, name: str) -> str:
    if kind not in KINDS:
        raise NamesError(f"kind must be one of {', '.join(KINDS)}")
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise NamesError(f"a name is 1-{MAX_NAME} characters")
    from safety.name_match import fold

    if not fold(name):
        raise NamesError(f"{name!r} has no letters or digits")
    return name


def add_name(data_dir: Path, kind: str, name: str, aliases: list[str]) -> dict[str, Any]:
    name = _check(kind, name)
    aliases = [_check(kind, a) for a in aliases]
    data = load_names(data_dir)
    data["add"].setdefault(kind, {})[name] = aliases
    data["remove"][kind] = [n for n in data["remove"].get(kind, []) if n.casefold() != name.casefold()]
    _save(data_dir, data)
    return data


def remove_name(data_dir: Path, kind: str, name: str) -> dict[str, Any]:
    name = _check(kind, name)
    data = load_names(data_dir)
    added = data["add"].get(kind, {})
    was_added = [n for n in added if n.casefold() == name.casefold()]
    for n in was_added:
        del added[n]
    if not was_added and name.casefold() not in {n.casefold() for n in data["remove"].get(kind, [])}:
        data["remove"].setdefault(kind, []).append(name)
    _save(data_dir, data)
    return data


def apply_names(clf: Any, data_dir: Path) -> None:
    """Give a PromptClassifier the operator's additions and removals (nothing to do without a names file)."""
    if names_path(data_dir).exists():
        data = load_names(data_dir)
        clf.configure_names(data["add"], data["remove"])
