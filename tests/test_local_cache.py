"""safety.local_cache: derived data is built once, read back after, and rebuilt when the file is damaged."""

from __future__ import annotations

from pathlib import Path

from safety.local_cache import json_cached


def test_built_once_then_read(tmp_path: Path) -> None:
    calls: list[int] = []

    def build() -> dict[str, float]:
        calls.append(1)
        return {"cat": 4.5, "zorblax": 0.0}

    assert json_cached("t.json", build, tmp_path) == {"cat": 4.5, "zorblax": 0.0}
    assert json_cached("t.json", build, tmp_path) == {"cat": 4.5, "zorblax": 0.0}
    assert len(calls) == 1
    (tmp_path / "t.json").write_text("{not json", encoding="utf-8")  # damaged: rebuilt, never served
    assert json_cached("t.json", build, tmp_path) == {"cat": 4.5, "zorblax": 0.0}
    assert len(calls) == 2


def test_unwritable_cache_still_answers(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert json_cached("t.json", lambda: [1, 2], blocker / "sub") == [1, 2]  # cache dir cannot be made
