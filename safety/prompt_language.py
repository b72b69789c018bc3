"""Does the prompt gate read this prompt's language? The learned heads are English (MiniLM and English
training data): a prompt in Japanese or Spanish gets scores, but they mean nothing ("una mujer desnuda en la
playa" scores sexual 0.09; the English sentence is flagged), so a prompt in another language would pass by
being unreadable. This module says when that is the case; policy decides what happens (default: review).

Two tests, both on wordfreq's word lists (shipped in the package, already used by the normaliser):
- script: most letters are not Latin (Japanese, Cyrillic, Arabic ...): not read;
- Latin-script language: the mean Zipf frequency of the prompt's words in another language's common-word
  list beats English by LANGUAGE_MARGIN. Measured on all 30,473 rows of the (English) training data, names
  masked as the classifier does: 29 called foreign, 21 of them real Dutch, Spanish or Italian tweets in
  Davidson; the other 8 are slang ("hoe don't tweet me"), HTML residue ("&lt;&lt;") and place names ("Mont
  Saint Michel, Normandy"). At a margin of 2.0 loanwords joined them ("a femme fatale in a cafe", 2.3).
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass

# Latin-script languages wordfreq ships a 'small' list for; other scripts are caught by the script test.
LATIN_LANGUAGES = ("es", "fr", "de", "it", "pt", "nl", "pl", "ca", "cs", "sv", "fi", "nb", "da", "tr", "id",
                   "ms", "ro", "hu", "vi", "sk", "sl", "lv", "lt", "fil")
TOP_WORDS = 5000  # per language: the common words are what tell languages apart
LANGUAGE_MARGIN = 2.5  # mean Zipf points by which another language must beat English
MIN_WORDS = 3  # fewer words (names, "ramen sushi") say too little about a language
MIN_LATIN_SHARE = 0.5
_WORD = re.compile(r"[^\W\d_]{2,}")


@dataclass(frozen=True)
class LanguageCheck:
    read: bool  # the learned heads read this prompt's language
    language: str  # "en", a wordfreq language code, or a script name ("CJK", "CYRILLIC" ...)
    why: str


def listed_zipf(freq: float) -> float:
    """wordfreq.zipf_frequency of a word from its own list entry: the frequency to 3 significant digits, then
    Zipf to 2 decimals, as wordfreq rounds. zipf_frequency re-tokenises the word first (2.9 s for the 125,000
    words here; a listed word is its own single token): equal on all 125,000 of wordfreq 3.1.1 (checked once;
    tests/test_prompt_language_cache.py checks a sample), in ~0.3 s."""
    if freq <= 0.0:
        return 0.0
    freq = round(freq, math.floor(-math.log(freq, 10)) + 3)  # math.log(x, 10), not log10: wordfreq's own
    return round(math.log(freq, 10) + 9, 2)


@functools.lru_cache(maxsize=1)
def _lists() -> dict[str, dict[str, float]]:
    """The top words of each language with their Zipf frequency. Building them from wordfreq costs ~1.5 s of
    CPU, so the result is kept in the cache dir (safety.local_cache), keyed by the wordfreq version and the
    settings; a later process reads it in ~0.04 s (as JSON it took 0.15-0.2 s: 125,000 floats to parse)."""
    from importlib.metadata import version

    from safety.local_cache import pickle_cached

    langs = ("en", *LATIN_LANGUAGES)

    def build() -> dict[str, dict[str, float]]:
        import wordfreq

        out = {}
        for lang in langs:
            freqs = wordfreq.get_frequency_dict(lang, wordlist="small")
            out[lang] = {w: listed_zipf(freqs[w]) for w in wordfreq.top_n_list(lang, TOP_WORDS, wordlist="small")}
        # Keep only the top lists, not wordfreq's full cached lists (~80 MB for all languages).
        for fn in (wordfreq.get_frequency_list, wordfreq.get_frequency_dict, wordfreq.top_n_list):
            fn.cache_clear()
        return out

    return pickle_cached(
        f"wordfreq-{version('wordfreq')}-top{TOP_WORDS}-{len(langs)}.pickle", build,
        valid=lambda cached: isinstance(cached, dict) and set(cached) == set(langs))


def warm() -> None:
    """Load the word lists now (~1.5 s), not on the first request."""
    _lists()


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return name.split(" ")[0] if name else "UNKNOWN"


def check_language(text: str) -> LanguageCheck:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return LanguageCheck(True, "en", "no letters")
    latin = sum(1 for c in letters if _script(c) == "LATIN")
    if latin / len(letters) < MIN_LATIN_SHARE:
        scripts: dict[str, int] = {}
        for c in letters:
            s = _script(c)
            scripts[s] = scripts.get(s, 0) + 1
        main = max(scripts, key=lambda s: scripts[s])
        return LanguageCheck(False, main, f"mostly {main} script ({latin}/{len(letters)} Latin letters); "
                                          "the learned heads read English")
    words = [w.lower() for w in _WORD.findall(text)][:300]
    if len(words) < MIN_WORDS:
        return LanguageCheck(True, "en", f"{len(words)} word(s): too few to tell the language")
    lists = _lists()
    mean = {lang: sum(lst.get(w, 0.0) for w in words) / len(words) for lang, lst in lists.items()}
    other = max(LATIN_LANGUAGES, key=lambda lang: mean[lang])
    if mean[other] >= mean["en"] + LANGUAGE_MARGIN:
        return LanguageCheck(False, other, f"reads as '{other}' (mean word frequency {mean[other]:.1f} vs English "
                                           f"{mean['en']:.1f}); the learned heads read English")
    return LanguageCheck(True, "en", f"English (mean word frequency {mean['en']:.1f}, next '{other}' "
                                     f"{mean[other]:.1f})")
