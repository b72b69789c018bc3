"""Derived data kept in the cache dir (safety.prompt_frozen.default_cache_dir) so a cold process does not
rebuild it (word-frequency tables). An optimisation only: a missing, damaged or
read-only cache costs the rebuild, never a wrong answer (the file name carries everything it depends on)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_atomic(path: Path, data: bytes) -> None:
    """path's new content, all at once: a concurrent reader sees the whole file or the old one (raises OSError)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_cached(path: Path, data: bytes) -> None:
    """write_atomic for derived data: a read-only cache dir only costs the rebuild next time."""
    with contextlib.suppress(OSError):
        write_atomic(path, data)


def cache_path(name: str, cache_dir: Path | None = None) -> Path:
    from safety.prompt_frozen import default_cache_dir

    return (cache_dir or default_cache_dir()) / name


def json_cached(name: str, build: Callable[[], Any], cache_dir: Path | None = None) -> Any:
    """build()'s JSON-able result, read from cache_dir/name when present."""
    path = cache_path(name, cache_dir)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    out = build()
    write_cached(path, json.dumps(out).encode("utf-8"))
    return out
