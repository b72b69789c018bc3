"""Normalisation undoes the usual obfuscations and leaves ordinary text alone."""

from __future__ import annotations

import pytest

from safety.text_normalize import PromptError, normalize


@pytest.mark.parametrize(
    ("raw", "expected", "note"),
    [
        ("p\u200bo\u200cr\u200dn\u2060 video", "porn video", "invisible"),
        ("\u202enaked\u202c woman", "naked woman", "invisible"),
        ("n\u0430k\u0435d woman", "naked woman", "homoglyphs"),  # Cyrillic a and e
        ("\u03bfrgy scene", "orgy scene", "homoglyphs"),  # Greek omicron
        ("n4k3d woman", "naked woman", "leetspeak"),
        ("$ex tape", "sex tape", "leetspeak"),
        ("f*ck you", "fuck you", "leetspeak"),
        ("a s e x y woman", "a sexy woman", "spacing"),
        ("k.i.l.l the mayor", "kill the mayor", "spacing"),
        ("seeeexxxy dance", "sexy dance", "repeated"),
        ("kiiiiilllll him", "kill him", "repeated"),
        ("\uff4e\uff55\uff44\uff45 photo", "nude photo", "NFKC"),  # full-width
        ("\U0001d427\U0001d42e\U0001d41d\U0001d41e", "nude", "NFKC"),  # mathematical bold
        # Frequency-guided: the most common word wins, names are substituted plainly, runs are segmented.
        ("7h47 guy", "that guy", "leetspeak"),
        ("gr3g rutk0wsk1 style", "greg rutkowski style", "leetspeak"),
        ("a m a n s t a b b i n g a woman", "a man stabbing a woman", "spacing"),
        ("m e m e w o j a k", "meme wojak", "spacing"),
        ("bloooood everywhere", "blood everywhere", "repeated"),
    ],
)
def test_obfuscations_are_undone_and_noted(raw: str, expected: str, note: str) -> None:
    out = normalize(raw)
    assert out.text == expected
    assert any(note.lower() in n.lower() for n in out.notes), out.notes


@pytest.mark.parametrize(
    "text",
    ["an mp4 video in 4k of 1887 Paris", "a cat on a mat", "Путин на коне", "U2 concert at 8pm",
     "email @alice_b about the 3d render", "gpt4 and covid19 on an rtx3090 in 1080p", "zzz wow!! so cool!",
     "a 4x4 car at 50km/h, 60fps", "an x-ray of a T-shirt", "A/B testing"],
)
def test_ordinary_text_is_unchanged(text: str) -> None:
    out = normalize(text)
    assert out.text == text
    assert out.notes == []


def test_russian_sentence_is_language_not_disguise() -> None:
    # Cyrillic letters are folded only inside Latin text or mixed-script words.
    assert normalize("мама мыла раму").text == "мама мыла раму"
    assert normalize("a p\u0430yp\u0430l login").text == "a paypal login"


@pytest.mark.parametrize("text", ["", "   ", "\u200b\u200b\u200b", "\x00\x01\x02", "\u202e\u202c"])
def test_empty_after_normalisation_raises(text: str) -> None:
    with pytest.raises(PromptError):
        normalize(text)


def test_non_text_raises() -> None:
    with pytest.raises(PromptError):
        normalize(b"bytes")  # type: ignore[arg-type]


def test_binary_junk_does_not_crash() -> None:
    junk = bytes(range(256)).decode("latin-1") * 50
    out = normalize(junk)
    assert "\x00" not in out.text


def test_long_input_is_linear_enough() -> None:
    import time

    text = "a quiet street at night " * 4000  # ~100 kB
    t0 = time.perf_counter()
    normalize(text)
    assert time.perf_counter() - t0 < 5.0
