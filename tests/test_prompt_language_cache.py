"""The language check's word lists are built once (~1.5 s of CPU from wordfreq) and then read from the cache
dir, so a cold `reelgate classify-prompt` does not pay for them again."""

from __future__ import annotations

from pathlib import Path

from safety import prompt_language as pl
from safety.local_cache import read_pickle, use_cache_dir, write_pickle


def test_word_lists_are_cached_in_the_data_dir(tmp_path: Path) -> None:
    use_cache_dir(tmp_path / "cache")  # as PromptClassifier.load(cache_dir=DATA_DIR/cache) does
    pl._lists.cache_clear()
    try:
        built = pl._lists()
        files = list((tmp_path / "cache").glob("wordfreq-*.pickle"))
        assert len(files) == 1 and read_pickle(files[0]) == built
        # A later process reads the file instead of rebuilding: mark it and see the mark come back.
        write_pickle(files[0], {**built, "en": {**built["en"], "zzzmarker": 9.9}})
        pl._lists.cache_clear()
        assert pl._lists()["en"]["zzzmarker"] == 9.9
        # A damaged file is rebuilt, never trusted; so is one that lacks a language.
        files[0].write_bytes(files[0].read_bytes()[:-100])
        pl._lists.cache_clear()
        assert "zzzmarker" not in pl._lists()["en"]
        write_pickle(files[0], {"en": {"zzzmarker": 9.9}})
        pl._lists.cache_clear()
        assert set(pl._lists()) == set(built)
    finally:
        pl._lists.cache_clear()
        use_cache_dir(None)


def test_lists_built_from_wordfreq_entries_equal_zipf_frequency() -> None:
    import wordfreq

    for lang in ("en", "es", "de", "fil"):
        freqs = wordfreq.get_frequency_dict(lang, wordlist="small")
        words = wordfreq.top_n_list(lang, pl.TOP_WORDS, wordlist="small")[::7]
        assert len(words) > 500
        for w in words:
            assert pl.listed_zipf(freqs[w]) == wordfreq.zipf_frequency(w, lang, wordlist="small"), (lang, w)
