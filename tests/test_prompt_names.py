"""Name matching: case, accents, homoglyphs, misspellings; no match on ordinary words."""

from __future__ import annotations

from safety.name_match import NameMatcher, default_public_figures, fold
from safety.text_normalize import normalize

CHARS = {"Mickey Mouse": ["Mickey"], "Pikachu": [], "Bugs Bunny": []}


def test_fold() -> None:
    assert fold("Beyoncé  KNOWLES!") == "beyonce knowles"


def test_characters_exact_case_and_misspelling() -> None:
    m = NameMatcher(CHARS)
    assert [h.canonical for h in m.find("mickey mouse at the beach")] == ["Mickey Mouse"]
    hit = m.find("a drawing of Pikachuu")[0]
    assert hit.canonical == "Pikachu" and 0.85 < hit.score < 1.0
    assert m.find("Bugs Buny eating a carrot")[0].canonical == "Bugs Bunny"
    assert m.find("BugsBunny eating a carrot")[0].canonical == "Bugs Bunny"
    assert m.find("a mouse and a rabbit in a field") == []


def test_public_figures_shipped_list() -> None:
    m = NameMatcher(default_public_figures())
    assert len(m) > 700
    assert m.find("Taylor Swfit singing")[0].canonical == "Taylor Swift"
    assert any("Trump" in h.canonical for h in m.find("a photo of donald trump in a prison cell"))
    assert any("Obama" in h.canonical for h in m.find("Obamma at the beach"))
    # Homoglyph-disguised name, after normalisation.
    assert any("Obama" in h.canonical for h in m.find(normalize("B\u0430r\u0430ck Ob\u0430m\u0430 waving").text))


def test_common_word_alias_needs_a_capital() -> None:
    m = NameMatcher(default_public_figures())
    assert m.find("a trump card on the table") == []
    assert m.find("a bush in the garden") == []
    assert any("Trump" in h.canonical for h in m.find("Trump giving a speech"))


def test_accented_names() -> None:
    m = NameMatcher({"Beyoncé": ["Beyonce Knowles"]})
    assert m.find("Beyonce on stage")[0].canonical == "Beyoncé"
    assert m.find("Beyoncé Knowles on stage")[0].canonical == "Beyoncé"


def test_mask_names_replaces_every_matched_person_and_keeps_the_rest() -> None:
    from safety.prompt_classifier import mask_names

    m = NameMatcher(default_public_figures())
    text = "Joe Biden and Kamala Harris shaking hands, then Biden waves"
    assert mask_names(text, m) == "a person and a person shaking hands, then a person waves"
    assert mask_names("a corgi on a beach", m) == "a corgi on a beach"
