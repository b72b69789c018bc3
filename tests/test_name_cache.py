"""safety.name_cache: the compiled name matchers are read from the cache dir, find exactly what freshly compiled
ones find, are rebuilt when damaged, and follow the operator's `names add|remove`."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.names import add_name, apply_names, remove_name
from safety import name_cache
from safety import name_match as nm
from safety import text_normalize as tn
from safety.local_cache import cache_path, use_cache_dir
from safety.prompt_classifier import PromptClassifier
from safety.prompt_named import NamedFinder

PROMPTS = [
    "Katy Perry cooking pasta", "katy perry's cat", "Leonardo di Caprio on a boat", "Barak Obama giving a speech",
    "Obama and Trump playing chess", "a taylor swift concert", "TaylorSwift dancing", "J. Biden at a rally",
    "Pikachu eating an apple", "Elsa from Frozen singing", "a frozen lake at dawn", "Link in a Nintendo game",
    "a can of Coca-Cola on a table", "Nike shoes on a shelf", "an iPhone ad", "a red ball bouncing on a floor",
    "Spider-Man swinging over New York", "the rock lifting weights", "The Rock lifting weights",
]


def _finds(m: nm.NameMatcher) -> list[list[tuple[str, str, float, tuple[int, int]]]]:
    return [[(h.canonical, h.alias, h.score, h.span) for h in m.find(p)] for p in PROMPTS]


def test_cached_matchers_find_what_compiled_ones_find(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = name_cache.public_figures(cache_dir=tmp_path)
    named = name_cache.named_finder(cache_dir=tmp_path)
    assert sorted(p.name.split("-")[1] for p in tmp_path.glob("names-*.pickle")) == ["figures", "named"]

    def no_compiling(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled instead of read from the cache")

    monkeypatch.setattr(nm.NameMatcher, "__init__", no_compiling)
    read = name_cache.public_figures(cache_dir=tmp_path)
    read_named = name_cache.named_finder(cache_dir=tmp_path)
    monkeypatch.undo()
    fresh = nm.NameMatcher(nm.default_public_figures())
    assert _finds(read) == _finds(built) == _finds(fresh)
    assert read.canonicals == len(nm.default_public_figures()) and len(read) == len(fresh) > read.canonicals
    fresh_named = NamedFinder.build()
    for kind in ("characters", "brands"):
        assert _finds(getattr(read_named, kind)) == _finds(getattr(named, kind)) == _finds(getattr(fresh_named, kind))
    assert read_named.character_info == fresh_named.character_info
    assert read_named.brand_info == fresh_named.brand_info
    assert any(h for h in _finds(read)) and any(h for h in _finds(read_named.characters))


def test_a_damaged_cache_is_rebuilt(tmp_path: Path) -> None:
    name_cache.public_figures(cache_dir=tmp_path)
    (path,) = tmp_path.glob("names-figures-*.pickle")
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x01
    path.write_bytes(bytes(data))
    m = name_cache.public_figures(cache_dir=tmp_path)
    assert [h.canonical for h in m.find("Katy Perry cooking pasta")] == ["Katy Perry"]
    assert path.read_bytes() != bytes(data)  # written again, whole


def _people(data_dir: Path, text: str) -> list[str]:
    """What a new process finds in `text` after reading the operator's names file (as the CLI and gate do)."""
    clf = PromptClassifier(None, "no heads: names only", None, data_dir / "cache")
    apply_names(clf, data_dir)
    characters = clf._named_finder().characters
    return [h.canonical for h in clf._figures.find(text)] + [h.canonical for h in characters.find(text)]


def test_names_add_and_remove_invalidate_the_cache(tmp_path: Path) -> None:
    text = "Jane Localmayor and Katy Perry with Pikachu"
    assert sorted(_people(tmp_path, text)) == ["Katy Perry", "Pikachu"]
    before = {p.name for p in (tmp_path / "cache").glob("names-*.pickle")}
    add_name(tmp_path, "public_figure", "Jane Localmayor", ["Mayor Jane"])
    assert sorted(_people(tmp_path, text)) == ["Jane Localmayor", "Katy Perry", "Pikachu"]
    assert sorted(_people(tmp_path, "Mayor Jane opens a fair")) == ["Jane Localmayor"]
    remove_name(tmp_path, "public_figure", "Katy Perry")
    remove_name(tmp_path, "character", "Pikachu")
    assert _people(tmp_path, text) == ["Jane Localmayor"]
    after = {p.name for p in (tmp_path / "cache").glob("names-*.pickle")}
    assert len(after) == 2 and not before & after  # one file per table; the stale ones are gone
    remove_name(tmp_path, "public_figure", "Jane Localmayor")  # removing an added name drops the addition
    assert _people(tmp_path, text) == []


def test_health_and_model_count_the_same_people(tmp_path: Path) -> None:
    clf = PromptClassifier({"kind": "stub", "meta": {"version": 9, "trained_layers": 2}, "sha": "x"}, "heads",
                           None, tmp_path)
    people = len(nm.default_public_figures())
    ok, why = clf.available()
    assert ok and f"; {people} public figures (" in why and clf.model.endswith(f"+public-figures-{people}")


def test_the_classifier_keeps_derived_tables_in_its_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A worker without REELGATE_DATA_DIR loads the gate with Settings.data_dir/cache: the normaliser's word
    # frequencies and the language lists go there too, not to the environment's (or the user's) cache.
    monkeypatch.delenv("REELGATE_DATA_DIR", raising=False)
    try:
        clf = PromptClassifier.load(tmp_path / "no-models", cache_dir=tmp_path / "settings-cache")
        assert not clf.available()[0]
        assert cache_path("zipf.pickle") == tmp_path / "settings-cache" / "zipf.pickle"
    finally:
        use_cache_dir(None)


def test_a_plain_prompt_does_not_load_the_word_frequencies() -> None:
    tn._freq.cache_clear()
    tn._homoglyph_map.cache_clear()
    assert tn.normalize("Katy Perry cooking pasta in a kitchen").text == "Katy Perry cooking pasta in a kitchen"
    assert tn._freq.cache_info().currsize == 0 and tn._homoglyph_map.cache_info().currsize == 0


def test_the_gate_keeps_derived_tables_in_the_settings_data_dir(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # A worker whose data dir is in its settings but not in its environment shares the CLI's cache.
    from gate.components import Components
    from gate.settings import Settings

    monkeypatch.delenv("REELGATE_DATA_DIR", raising=False)
    c = Components(Settings(data_dir=tmp_path / "data"))
    try:
        assert cache_path("zipf.pickle") == tmp_path / "data" / "cache" / "zipf.pickle"
    finally:
        c.engine.dispose()
        use_cache_dir(None)
