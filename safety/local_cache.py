"""Derived data kept in the cache dir (safety.prompt_frozen.default_cache_dir) so a cold process does not
rebuild it (word-frequency tables). An optimisation only: a missing, damaged or
read-only cache costs the rebuild, never a wrong answer (the file name carries everything it depends on)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the whole file or none
    except OSError:
        pass  # a read-only cache dir only costs the rebuild next time


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
    _write(path, json.dumps(out).encode("utf-8"))
    return out
