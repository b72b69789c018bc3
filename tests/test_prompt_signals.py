"""Issue 18: characters and franchises, brands (`trademark`), real events staged as news, and how policy decides."""

from __future__ import annotations

import functools

import pytest

from gate.policy import PROMPT_CATEGORIES, Policy
from gate.stages.prompt import prompt_decision
from safety.prompt_classifier import CATEGORIES, PromptResult
from safety.prompt_named import (
    NamedFinder,
    default_characters,
    incidental_mention,
    staged_news,
    trademark_score,
)


@functools.lru_cache(maxsize=1)
def finder() -> NamedFinder:
    return NamedFinder.build()


def chars(text: str) -> list[tuple[str, str]]:
    return [(h.canonical, w.kind) for h, w in finder().find(text)["character"]]


def trademark(text: str) -> float:
    hits = [h for h, _ in finder().find(text)["brand"]]
    return trademark_score(text, hits, finder().brand_info)[0]


def test_default_list_is_large_and_names_holders() -> None:
    named = default_characters()
    kinds = [w.kind for w in named.info.values()]
    assert len(named.entries) >= 2000 and kinds.count("franchise") >= 60
    assert named.info["SpongeBob"].holder.startswith("Paramount")
    assert named.info["Pikachu"].franchise == "Pokemon"


@pytest.mark.parametrize("text,who", [
    ("SpongeBob dancing in a kitchen", "SpongeBob"), ("Mickey Mouse smoking a cigarette", "Mickey Mouse"),
    ("Pikachu at the beach", "Pikachu"), ("Eric Cartman from South Park eating", "Eric Cartman"),
    ("Link from Zelda with a sword", "Link"), ("Elsa from Frozen singing", "Elsa"),
    ("Darth Vader's helmet on a shelf", "Darth Vader"), ("spiderman swinging between buildings", "Spider-Man"),
    ("Goku powering up", "Goku"), ("Black Widow in a fight", "Black Widow"),
])
def test_characters_are_found(text: str, who: str) -> None:
    assert (who, "character") in chars(text), chars(text)


@pytest.mark.parametrize("text", [
    "a link in a chain", "a frozen lake at dawn", "black widow spider on a web", "a white rabbit near a fence",
    "Mario and Anna walking to school", "light and shadow on the forest floor", "The Oriental Pearl tower at night",
    "a map with a pin on San Francisco", "Tokyo streets in the rain", "a beaker of glycerol on a bench",
])
def test_ordinary_words_and_places_are_not_characters(text: str) -> None:
    assert chars(text) == [], chars(text)


def test_franchise_named_alone() -> None:
    assert ("The Simpsons", "franchise") in chars("the Simpsons family on a couch")
    assert ("South Park", "franchise") in chars("a town in the style of South Park")


@pytest.mark.parametrize("text,score", [
    ("Nike logo on a wall", 0.9), ("a can of Coca-Cola on a table", 0.9), ("an iPhone ad", 0.9),
    ("Apple logo glowing", 0.9), ("running shoes on a track", 0.0), ("an apple on a table", 0.0),
    ("a man in a Nike cap jogging", 0.9), ("a Honda motorcycle parked on a street", 0.3),
])
def test_trademark_score(text: str, score: float) -> None:
    assert trademark(text) == score, finder().find(text)["brand"]


def test_staged_news() -> None:
    assert staged_news("the World Trade Center smoking, labelled 9/11", False).score >= 0.5
    assert staged_news("news footage of the White House on fire", False).score >= 0.5
    assert staged_news("news footage of Joe Biden collapsing", True).score >= 0.5
    assert staged_news("CCTV of a bomb exploding in Times Square", False).score >= 0.5
    for benign in ("a peaceful view of the Eiffel Tower at sunset", "a documentary about whales",
                   "a campfire burning on a beach", "the 9/11 memorial fountains with flowers"):
        assert staged_news(benign, False).score < 0.5, benign
    # With a real person, anything at or above the real-person bar (0.3) blocks: only an incident staged as
    # news gets there; the person in ordinary footage, or a titled poster, is reviewed for the person alone.
    assert staged_news("leaked video of Trump in handcuffs", True).score >= 0.5
    assert staged_news("a deepfake of Tom Hanks endorsing a crypto scam", True).score >= 0.5
    assert staged_news("fake news video of a UFO landing in New York", False).score >= 0.5
    assert staged_news("a man wearing a fake mustache", False).score == 0.0
    for text in ("news footage of Joe Biden giving a speech", "a poster of Obama titled Hope",
                 "Obama at the 9/11 memorial"):
        assert staged_news(text, True).score < Policy().real_person_harm_bar, text


def _result(**scores: float) -> PromptResult:
    cats = {c: 0.0 for c in CATEGORIES} | scores
    return PromptResult(categories=cats, normalized="", notes=[], mentions=[], names=[], model="test",
                        signals={"language": {"read": True}})


def test_policy_has_the_new_categories_and_actions() -> None:
    assert "trademark" in PROMPT_CATEGORIES and "trademark" in CATEGORIES
    p = Policy()
    assert p.prompt["trademark"].review == 0.5 and p.prompt["trademark"].block is None
    assert (p.character_action, p.franchise_action) == ("block", "review")
    # A policy saved before `trademark` existed gets its default bars, not the generic 0.5/0.85.
    old = Policy.model_validate({"prompt": {"sexual": {"review": 0.4, "block": 0.9}}})
    assert old.prompt["trademark"].block is None


def test_decisions() -> None:
    p = Policy()
    assert prompt_decision(_result(trademark=0.9), p)[0] == "review"
    assert prompt_decision(_result(deception=0.7), p)[0] == "review"
    staged_person = _result(deception=0.7, public_figure=1.0)
    staged_person.names = [{"kind": "public_figure", "canonical": "Joe Biden", "score": 1.0}]
    assert prompt_decision(staged_person, p)[0] == "block"
    char = _result(character=1.0)
    char.names = [{"kind": "character", "canonical": "Pikachu", "score": 1.0, "source": "default",
                   "work": "character", "franchise": "Pokemon", "holder": "Nintendo"}]
    assert prompt_decision(char, p)[0] == "block"
    # On a costume, a cake or a toy the character is not the subject: the franchise action (review).
    on_a_cake = _result(character=1.0)
    on_a_cake.names = [{**char.names[0], "subject": False}]
    assert prompt_decision(on_a_cake, p)[0] == "review"
    # The rights holder registered it with "allow": their choice replaces the default.
    assert prompt_decision(char, p, {"pikachu": [(7, "allow")]})[0] == "pass"
    assert prompt_decision(char, p.model_copy(update={"character_action": "review"}))[0] == "review"
    franchise = _result(character=1.0)
    franchise.names = [{"kind": "character", "canonical": "Pokemon", "score": 1.0, "source": "default",
                        "work": "franchise", "franchise": "Pokemon", "holder": "Nintendo"}]
    assert prompt_decision(franchise, p)[0] == "review"
    long = _result()
    long.signals["truncated"] = {"chars": 150_000, "scored": 100_000}
    assert prompt_decision(long, p)[0] == "review"


def test_operator_removal_and_addition() -> None:
    f = NamedFinder.build(remove={"character": {"pikachu"}}, add={"character": {"Captain Local": ["Cap Local"]}})
    assert [h.canonical for h, _ in f.find("Pikachu at the beach")["character"]] == []
    assert [h.canonical for h, _ in f.find("Cap Local saving the day")["character"]] == ["Captain Local"]


def test_generation_prompt_limit_is_one_constant() -> None:
    from pydantic import ValidationError

    from gate.requests import GenerationRequest
    from gate.settings import Settings
    from generator.validate import MAX_PROMPT_CHARS

    assert Settings().max_prompt_chars == MAX_PROMPT_CHARS == 2000
    GenerationRequest(prompt="x" * MAX_PROMPT_CHARS)
    with pytest.raises(ValidationError, match="at most 2000"):
        GenerationRequest(prompt="x" * (MAX_PROMPT_CHARS + 1))
    with pytest.raises(ValidationError):
        Settings(max_prompt_chars=4000)  # an installation may lower it, never raise it past the generator's


def test_incidental_mentions() -> None:
    for text, name in (("a kid in a Spider-Man costume at a party", "Spider-Man"),
                       ("a birthday cake with Pikachu on top", "Pikachu"), ("a Stormtrooper figurine", "Stormtrooper")):
        i = text.index(name)
        assert incidental_mention(text, (i, i + len(name))), text
    text = "Pikachu robbing a bank"
    assert not incidental_mention(text, (0, 7))
