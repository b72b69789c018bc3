"""safety.local_cache: derived data is built once, read back after, and rebuilt when the file is damaged."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from safety.local_cache import (
    cache_path,
    pickle_cached,
    read_pickle,
    use_cache_dir,
    write_pickle,
)


def test_unwritable_cache_still_answers(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert pickle_cached("t.pickle", lambda: {"a": (1, 2)}, blocker / "sub") == {"a": (1, 2)}  # no cache dir


def test_pickle_built_once_read_back_and_rebuilt_when_damaged(tmp_path: Path) -> None:
    calls: list[int] = []

    def build() -> dict[str, object]:
        calls.append(1)
        return {"words": {"cat": 4.5}, "tokens": ("a", "b"), "set": frozenset({"x"})}

    first = pickle_cached("t.pickle", build, tmp_path)
    assert pickle_cached("t.pickle", build, tmp_path) == first and len(calls) == 1
    path = tmp_path / "t.pickle"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: the checksum refuses it
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged"):
        read_pickle(path)
    assert pickle_cached("t.pickle", build, tmp_path) == first and len(calls) == 2
    path.write_bytes(path.read_bytes()[:40])  # cut short
    assert pickle_cached("t.pickle", build, tmp_path) == first and len(calls) == 3
    # The caller's own check: a table that reads back but is not what this code expects is rebuilt.
    assert pickle_cached("t.pickle", build, tmp_path, valid=lambda o: "missing" in o) == first
    assert len(calls) == 4


class _Planted:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.getenv, ("HOME",))  # harmless here; os.system would be just as easy to plant


def test_a_pickle_naming_other_code_is_refused_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "t.pickle"
    write_pickle(path, {"x": _Planted()})  # well formed, right checksum: only the class check stops it
    with pytest.raises(ValueError, match="not allowed"):
        read_pickle(path)
    assert pickle.loads(pickle.dumps(_Planted())) == os.getenv("HOME")  # what it would have run
    assert pickle_cached("t.pickle", lambda: {"x": 1}, tmp_path) == {"x": 1}


def test_stale_versions_are_deleted_when_a_new_one_is_written(tmp_path: Path) -> None:
    pickle_cached("names-t-aaa.pickle", lambda: 1, tmp_path, stale="names-t-*.pickle")
    pickle_cached("names-u-aaa.pickle", lambda: 1, tmp_path, stale="names-u-*.pickle")
    pickle_cached("names-t-bbb.pickle", lambda: 2, tmp_path, stale="names-t-*.pickle")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["names-t-bbb.pickle", "names-u-aaa.pickle"]


def test_the_configured_cache_dir_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A worker whose data dir comes from its settings (no REELGATE_DATA_DIR) and the CLI share one cache.
    monkeypatch.setenv("REELGATE_DATA_DIR", str(tmp_path / "env"))
    assert cache_path("t.pickle") == tmp_path / "env" / "cache" / "t.pickle"
    use_cache_dir(tmp_path / "settings" / "cache")
    try:
        assert cache_path("t.pickle") == tmp_path / "settings" / "cache" / "t.pickle"
        assert cache_path("t.pickle", tmp_path) == tmp_path / "t.pickle"  # an explicit dir still wins
    finally:
        use_cache_dir(None)
