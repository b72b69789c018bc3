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


# --- issue 18: about 10,000 people, aliases, surnames, initials; the operator's changes ---------------------

def test_shipped_list_covers_people_worldwide() -> None:
    m = NameMatcher(default_public_figures())
    assert len(default_public_figures()) > 10_000
    for text, who in [("Katy Perry cooking pasta", "Katy Perry"), ("Idris Elba as a chef", "Idris Elba"),
                      ("Tim Cook praying in a church", "Tim Cook"), ("Obama's dog on a lawn", "Barack Obama"),
                      ("J. Biden waving from a train", "Joe Biden"), ("JFK in a convertible", "John F. Kennedy"),
                      ("a photo of Leonardo di Caprio", "Leonardo DiCaprio"),
                      ("Zelenskyy at a desk", "Volodymyr Zelensky"),
                      ("Klobuchar at a podium", "Amy Klobuchar"), ("Joe Bidden falls down", "Joe Biden")]:
        assert who in [h.canonical for h in m.find(text)], (text, m.find(text))


def test_given_names_and_words_alone_never_match() -> None:
    m = NameMatcher(default_public_figures())
    for text in ("a cat named Taylor", "Tim and Katy at the park", "a bento box with rice", "the rock walls of a cave",
                 "ice cube trays in a freezer", "a green bench in a long park", "a car in a steeple"):
        assert m.find(text) == [], (text, m.find(text))
    assert [h.canonical for h in m.find("The Rock lifting weights")] == ["Dwayne Johnson"]


def test_possessive_initials_and_accents_fold() -> None:
    assert fold("Obama's") == "obama" and fold("J.K. Rowling") == "j k rowling" and fold("Spider-Man") == "spider man"
    assert fold("O'Brien") == "obrien"


def test_matcher_is_fast_on_the_full_list() -> None:
    import time

    m = NameMatcher(default_public_figures())
    text = ("a crowded market street at dusk with vendors selling fruit, lanterns overhead, children running "
            "between stalls and a musician playing a violin near the fountain while tourists take photos") * 2
    m.find(text)
    t0 = time.perf_counter()
    for _ in range(20):
        m.find(text)
    assert (time.perf_counter() - t0) / 20 < 0.05  # measured ~2 ms on the 2-core box


def test_operator_adds_and_removes_names(tmp_path) -> None:
    from gate.names import NamesError, add_name, load_names, remove_name

    add_name(tmp_path, "public_figure", "Jane Q. Localmayor", ["Mayor Localmayor"])
    remove_name(tmp_path, "character", "Pikachu")
    data = load_names(tmp_path)
    assert data["add"]["public_figure"] == {"Jane Q. Localmayor": ["Mayor Localmayor"]}
    assert data["remove"]["character"] == ["Pikachu"]
    add_name(tmp_path, "character", "pikachu", [])  # adding back un-removes
    assert load_names(tmp_path)["remove"]["character"] == []
    import pytest

    with pytest.raises(NamesError):
        add_name(tmp_path, "planet", "Mars", [])
    with pytest.raises(NamesError):
        add_name(tmp_path, "brand", "!!!", [])
