"""The compiled name matchers (safety.name_match.NameMatcher: ~26,000 public-figure names and aliases, the
characters and brands of safety.prompt_named) kept in the cache dir (safety.local_cache), so a cold process
reads them instead of compiling them: the compiling was over half of a cold `reelgate classify-prompt`.

A cached matcher's file name is a hash of everything it is built from: the shipped lists and word lists
(safety/data), the code that builds and reads it (this module, name_match, prompt_named, text_normalize, the
Python version), and the operator's additions and removals (DATA_DIR/names.json), so `reelgate names add|remove`
and a new release each make a new file (older ones of the same table are deleted when it is written). A file
that is missing, damaged or does not read back is rebuilt; a read-only cache dir only costs the compiling.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safety.local_cache import pickle_cached

if TYPE_CHECKING:
    from safety.name_match import NameMatcher
    from safety.prompt_named import NamedFinder

_CODE = ("name_cache.py", "name_match.py", "prompt_named.py", "text_normalize.py")
_DATA = ("public_figures.csv", "characters.txt", "brands.txt", "wordlist.txt", "words_en.tsv")
# The only classes a cached matcher may name (safety.local_cache.read_pickle resolves nothing else).
ALLOWED = frozenset({("safety.name_match", "NameMatcher"), ("safety.name_match", "_Alias"),
                     ("safety.prompt_named", "NamedFinder"), ("safety.prompt_named", "Work")})


@functools.lru_cache(maxsize=1)
def inputs_digest() -> str:
    """sha256 of the shipped lists and of the code that compiles them (~2 MB read, a few ms)."""
    h = hashlib.sha256(f"python {sys.version_info[:2]} pickle 5".encode())
    pkg = resources.files("safety")
    for name in _CODE:
        h.update(name.encode() + b"\0" + pkg.joinpath(name).read_bytes())
    for name in _DATA:
        h.update(name.encode() + b"\0" + pkg.joinpath("data").joinpath(name).read_bytes())
    return h.hexdigest()


def _key(table: str, overrides: Any) -> str:
    spec = json.dumps([table, overrides], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(f"{inputs_digest()}\0{spec}".encode()).hexdigest()[:20]


def _cached(table: str, overrides: Any, build: Any, cache_dir: Path | None) -> Any:
    return pickle_cached(f"names-{table}-{_key(table, overrides)}.pickle", build, cache_dir, ALLOWED,
                         stale=f"names-{table}-*.pickle")


def public_figures(remove: set[str] | None = None, add: dict[str, list[str]] | None = None,
                   cache_dir: Path | None = None, base: dict[str, list[str]] | None = None) -> NameMatcher:
    """The matcher of the shipped public figures (or of `base`, a caller's own list, compiled and not cached)
    less `remove` (folded canonical names) plus `add`."""
    remove, add = remove or set(), add or {}

    def build() -> NameMatcher:
        from safety.name_match import NameMatcher, default_public_figures, fold

        listed = default_public_figures() if base is None else base
        figures = {c: a for c, a in listed.items() if fold(c) not in remove}
        figures.update(add)
        return NameMatcher(figures)

    if base is not None:
        return build()
    return _cached("figures", {"remove": sorted(remove), "add": add}, build, cache_dir)


def named_finder(remove: dict[str, set[str]] | None = None, add: dict[str, dict[str, list[str]]] | None = None,
                 cache_dir: Path | None = None) -> NamedFinder:
    """safety.prompt_named.NamedFinder.build(remove, add), from the cache when it was built before."""
    kinds = ("character", "brand")
    remove = {k: set(v) for k, v in (remove or {}).items() if k in kinds and v}
    add = {k: v for k, v in (add or {}).items() if k in kinds and v}

    def build() -> NamedFinder:
        from safety.prompt_named import NamedFinder

        return NamedFinder.build(remove, add)

    spec = {"remove": {k: sorted(v) for k, v in remove.items()}, "add": add}
    return _cached("named", spec, build, cache_dir)
