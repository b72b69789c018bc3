"""The language check's word lists are built once (~1.5 s of CPU from wordfreq) and then read from the cache
dir, so a cold `reelgate classify-prompt` does not pay for them again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safety import prompt_language as pl


def test_word_lists_are_cached_in_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REELGATE_DATA_DIR", str(tmp_path))
    pl._lists.cache_clear()
    try:
        built = pl._lists()
        files = list((tmp_path / "cache").glob("wordfreq-*.json"))
        assert len(files) == 1 and set(json.loads(files[0].read_text())) == set(built)
        # A later process reads the file instead of rebuilding: mark it and see the mark come back.
        marked = {**built, "en": {**built["en"], "zzzmarker": 9.9}}
        files[0].write_text(json.dumps(marked))
        pl._lists.cache_clear()
        assert pl._lists()["en"]["zzzmarker"] == 9.9
        # A damaged file is rebuilt, never trusted.
        files[0].write_text("{not json")
        pl._lists.cache_clear()
        assert "zzzmarker" not in pl._lists()["en"]
    finally:
        pl._lists.cache_clear()
