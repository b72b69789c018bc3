"""Derived data kept in the cache dir so a cold process does not rebuild it (word-frequency tables, the compiled
name matchers). An optimisation only: a missing, damaged or read-only cache costs the rebuild, never a wrong
answer (the file name carries everything it depends on).

The cache dir is the one the prompt classifier was loaded with (`use_cache_dir`: the gate and the CLI pass
Settings.data_dir/cache), else safety.prompt_frozen.default_cache_dir (REELGATE_DATA_DIR/cache, else the
user's cache), so a process whose data dir comes from its settings rather than the environment reads and
writes the same files as the others.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import pickle
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

_configured: Path | None = None


def use_cache_dir(path: Path | None) -> None:
    """Where this process keeps derived tables from now on (None: back to the default)."""
    global _configured
    _configured = Path(path) if path is not None else None


def configured_cache_dir() -> Path | None:
    """The dir use_cache_dir set, if any (tests restore it: it is process-wide)."""
    return _configured


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
    if cache_dir is None and _configured is not None:
        cache_dir = _configured
    if cache_dir is None:
        from safety.prompt_frozen import default_cache_dir

        cache_dir = default_cache_dir()
    return cache_dir / name


# --- pickled objects ------------------------------------------------------------------------------------------
# Python's own serialisation of the built objects (dicts, lists, strings, a few named classes): reading one back
# costs a fraction of building it. A pickle can name any callable, so the reader below resolves no global but the
# classes the caller lists (a file planted in the cache dir cannot run code), and a CRC of the payload ahead of it
# turns a damaged file into a rebuild rather than an answer from garbage.
_MAGIC = b"reelgate-pickle-1\n"


class _Classes(pickle.Unpickler):
    def __init__(self, data: memoryview, allowed: frozenset[tuple[str, str]]) -> None:
        super().__init__(io.BytesIO(data))
        self._allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._allowed:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a cached table")
        return super().find_class(module, name)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Reading or building a few hundred thousand small objects with the cycle collector off: it would scan
    them over and over (measured: a third of the time) and there is no cycle among them to find."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def read_pickle(path: Path, allowed: Iterable[tuple[str, str]] = ()) -> Any:
    """The object stored by write_pickle (raises OSError or ValueError when missing, damaged or foreign)."""
    data = path.read_bytes()
    head = len(_MAGIC) + 4
    if not data.startswith(_MAGIC) or len(data) < head:
        raise ValueError(f"{path.name}: not a cached table")
    payload = memoryview(data)[head:]
    if zlib.crc32(payload) != int.from_bytes(data[len(_MAGIC):head], "big"):
        raise ValueError(f"{path.name}: damaged (checksum)")
    with _no_gc():
        try:
            return _Classes(payload, frozenset(allowed)).load()
        except Exception as exc:  # noqa: BLE001 - any unreadable payload is a damaged cache
            raise ValueError(f"{path.name}: unreadable ({type(exc).__name__}: {exc})") from exc


def write_pickle(path: Path, obj: Any) -> None:
    payload = pickle.dumps(obj, protocol=5)
    write_cached(path, _MAGIC + zlib.crc32(payload).to_bytes(4, "big") + payload)


def pickle_cached(name: str, build: Callable[[], Any], cache_dir: Path | None = None,
                  allowed: Iterable[tuple[str, str]] = (), stale: str | None = None,
                  valid: Callable[[Any], bool] | None = None) -> Any:
    """build()'s result, read from cache_dir/name when present and sound (and `valid`), else built and stored.
    `allowed`: the (module, class) pairs the stored object may hold. `stale`: a glob of this table's older
    versions (other keys), deleted when a new one is written."""
    path = cache_path(name, cache_dir)
    try:
        out = read_pickle(path, allowed)
        if valid is None or valid(out):
            return out
    except (OSError, ValueError):
        pass
    with _no_gc():
        out = build()
    write_pickle(path, out)
    if stale:
        for old in path.parent.glob(stale):
            if old != path:
                with contextlib.suppress(OSError):
                    old.unlink()  # an open reader keeps its copy; the next process builds what it needs
    return out
