"""Find real people, characters and brands named in a prompt, despite case, accents and misspellings.

Text and aliases are folded alike (lowercase, accents stripped, "J.K." -> "j k", "Spider-Man" -> "spider man",
possessive "'s" dropped, "O'Brien" -> "obrien"). Candidates come from indexes, never from comparing every
alias with the text, so ten thousand people with their aliases cost a few milliseconds per prompt:
- exact: every window of k tokens is looked up in a dict of aliases with k tokens;
- joined: one token standing for a several-word alias ("TaylorSwift"), exact only;
- misspelled: each text token of 4+ letters looks up the alias tokens within one edit (a deletion-neighbourhood
  index, as in SymSpell), and each alias holding such a token at position j is compared with the text window
  that would align it (rapidfuzz normalised Indel similarity). Short aliases must match exactly; longer ones
  tolerate about one edit in seven characters.
A person's one-word alias ("Obama", "Trump", a surname) counts only written with a capital letter; a given name
alone ("Taylor") never counts; a several-word alias made only of English words or starting with "the"
("The Rock", "Ice Cube") needs capitals. With `strict=True` (characters, brands) a one-word
alias that is an English word, a given name or `guarded` ("Link", "Frozen", "Tokyo") counts only next to a
context phrase of its own (its franchise), and other word-like ones ("Batman", "Apple") need a capital.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from rapidfuzz import fuzz

from safety.text_normalize import _words

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_POSSESSIVE = re.compile(r"['’]s$")
FUZZY_MIN_TOKEN = 4  # a text token shorter than this is only ever matched exactly


@dataclass(frozen=True)
class NameHit:
    canonical: str
    alias: str
    score: float  # 1.0 exact, lower for a misspelling
    span: tuple[int, int] = (0, 0)  # character offsets in the searched text
    matched: str = ""


def _strip_marks(text: str) -> str:
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _fold_token(token: str) -> str:
    t = _strip_marks(token).lower().replace("’", "'")
    if "'" in t:
        t = _POSSESSIVE.sub("", t).replace("'", "")
    return t


def tokens(text: str) -> list[tuple[str, int, int]]:
    """(folded token, start, end) for every word; dots and hyphens separate words ("J.K." -> j, k)."""
    out = []
    for m in _TOKEN.finditer(text):
        t = _fold_token(m.group(0))
        if t:
            out.append((t, m.start(), m.end()))
    return out


def fold(text: str) -> str:
    """Lowercase, strip accents and possessives, keep letters/digits and single spaces."""
    return " ".join(t for t in map(_fold_token, _TOKEN.findall(_strip_marks(text))) if t)


def _min_score(joined: str) -> float:
    n = len(joined)
    if n < 5:
        return 1.0
    if n < 10:
        return 0.88  # one edit in a 5-9 letter name
    return 0.86


def _deletes(token: str) -> set[str]:
    return {token[:i] + token[i + 1:] for i in range(len(token))}


def _given_names(canonicals: Iterable[str]) -> frozenset[str]:
    """Folded first names shared by three or more of these people: never a name on their own."""
    counts: Counter[str] = Counter()
    for canonical in canonicals:
        toks = fold(canonical).split()
        if len(toks) >= 2:
            counts[toks[0]] += 1
    return frozenset(t for t, n in counts.items() if n >= 3 and t not in _FUNCTION_WORDS)


@functools.lru_cache(maxsize=1)
def given_names() -> frozenset[str]:
    """Given names of the shipped public figures (for matchers of other kinds: a character called "Bob")."""
    return _given_names(default_public_figures())


def is_common_word(folded: str) -> bool:
    """An ordinary word: in the English word list, or frequent in text (wordfreq Zipf >= 3.5)."""
    return folded in _words() or _zipf(folded) >= 3.5


def is_english_word(folded: str) -> bool:
    """An English word rather than a name: far more frequent in English than in six other languages
    ("frozen", "storm", "ditto"), where names are used alike everywhere ("pokemon", "google", "batman")."""
    entry = _lexicon().get(folded)
    return entry is not None and entry[1]


_FUNCTION_WORDS = frozenset({"the", "of", "and", "a", "an", "in", "on", "de", "la", "le", "no", "x", "from"})


def _is_word(folded: str) -> bool:
    """Any real word, however rare (Zipf >= 2.5: a few per hundred million words), plurals included."""
    lex, words = _lexicon(), _words()
    forms = [folded]
    if folded.endswith("s"):
        forms += [folded[:-1], folded[:-2]] if folded.endswith("es") else [folded[:-1]]
    return any(f in words or f in lex for f in forms)


def _zipf(folded: str) -> float:
    entry = _lexicon().get(folded)
    return entry[0] if entry else 0.0


@functools.lru_cache(maxsize=1)
def _lexicon() -> dict[str, tuple[float, bool]]:
    """word -> (English Zipf frequency, English-specific), from safety/data/words_en.tsv (built from wordfreq by
    evals/build_names.py; loading wordfreq's own lists at run time would cost seconds). Parsed once into the
    cache dir, keyed by the file's hash (~0.1 s to parse, ~0.02 s to read back): most prompts need it."""
    import hashlib

    from safety.local_cache import pickle_cached

    raw = resources.files("safety").joinpath("data/words_en.tsv").read_bytes()

    def build() -> dict[str, tuple[float, bool]]:
        out: dict[str, tuple[float, bool]] = {}
        for line in raw.decode("utf-8").splitlines():
            if line and not line.startswith("#"):
                word, zipf, specific = line.split("\t")
                out[word] = (float(zipf), specific == "1")
        return out

    name = f"lexicon-en-{hashlib.sha256(raw).hexdigest()[:16]}.pickle"
    return pickle_cached(name, build, stale="lexicon-en-*.pickle")


class _Alias(NamedTuple):
    toks: tuple[str, ...]
    joined: str
    alias: str
    canonical: str
    min_score: float
    rule: str  # "" | "capital" (one ordinary word) | "context" | "title" (ordinary words: capitals)


class NameMatcher:
    def __init__(self, entries: dict[str, list[str]], *, strict: bool = False,
                 context: Mapping[str, Iterable[str]] | None = None, guarded: Iterable[str] = (),
                 capital_single: bool = True) -> None:
        """`guarded`: folded one-word aliases that count only beside their context (a character called
        "Tokyo" or "Dante" is first a city or a poet). `capital_single=False`: a one-word alias that is no
        ordinary word counts however written (a registered "Zorblax" is "zorblax" in most prompts)."""
        common = _words()
        guarded = self._guarded = set(guarded)
        self._strict = strict
        self._raw_context = context or {}
        # (strong, weak) context phrases, folded lazily: most canonicals never need them
        self._context: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._aliases: list[_Alias] = []
        self._exact: dict[str, list[int]] = defaultdict(list)
        self._joined: dict[str, list[int]] = defaultdict(list)
        self._post: dict[str, list[tuple[int, int]]] = defaultdict(list)
        folded: dict[str, dict[str, str]] = {}  # canonical -> folded form -> first alias written so
        for c, aliases in entries.items():
            forms = folded[c] = {}
            for a in (c, *aliases):
                forms.setdefault(fold(a), a)
            forms.pop("", None)
        if strict:
            given = self._given = given_names()
        else:
            firsts = Counter(next(iter(f)).split(" ", 1)[0] for f in folded.values() if f and " " in next(iter(f)))
            given = self._given = frozenset(t for t, n in firsts.items() if n >= 3 and t not in _FUNCTION_WORDS)
        for canonical, forms in folded.items():
            for form, alias in forms.items():
                toks = tuple(form.split(" "))
                rule = ""
                if len(toks) == 1:
                    word = toks[0]
                    if not strict and word in given:
                        continue  # "Taylor", "Tim": a given name alone never names one person
                    if strict and (word in given or word in guarded or is_english_word(word)):
                        rule = "context"  # "Link", "Frozen", a character called "Bob": only beside its franchise
                    elif (not strict and capital_single) or word in common or is_common_word(word):
                        rule = "capital"  # a person's single name is a proper noun: "Bento", not "bento box"
                elif strict and all(is_english_word(t) or t in _FUNCTION_WORDS for t in toks):
                    rule = "title"  # "Black Widow", "Snow White": capitals, or the spider and the mountains
                elif toks[0] not in given and (toks[0] == "the" or all(is_english_word(t) for t in toks)):
                    rule = "title"  # people: "The Rock", "Ice Cube" (but "will smith", "mickey mouse" as written)
                joined = "".join(toks)
                # "J. Biden": an initial and a surname is a match only as written ("a car" is not "A. Carr").
                exact_only = len(toks) == 2 and len(toks[0]) == 1
                if exact_only and toks[0] in ("a", "i"):
                    continue
                idx = len(self._aliases)
                self._aliases.append(_Alias(toks, joined, alias, canonical,
                                            2.0 if exact_only else _min_score(joined), rule))
                self._exact[form].append(idx)
                if len(toks) > 1 and min(map(len, toks)) > 1:  # "models" is not "Model S"
                    self._joined[joined].append(idx)
                if len(joined) >= 5 and not exact_only:
                    # A misspelling is found from one anchor word within one edit: the distinctive words
                    # ("jordan", not "michael" or "the") keep the candidate lists short.
                    anchors = [(p, t) for p, t in enumerate(toks) if len(t) >= FUZZY_MIN_TOKEN
                               and t not in _FUNCTION_WORDS and (len(toks) == 1 or t not in given)]
                    for pos, t in anchors or [(p, t) for p, t in enumerate(toks) if len(t) >= FUZZY_MIN_TOKEN]:
                        self._post[t].append((idx, pos))
        self.canonicals = len(folded)  # names listed (people, characters, brands); len() counts every alias
        self._lengths = sorted({len(a.toks) for a in self._aliases})
        self._exact, self._joined, self._post = dict(self._exact), dict(self._joined), dict(self._post)
        self._near: dict[str, list[str]] = {}
        for t in self._post:
            if len(t) >= FUZZY_MIN_TOKEN:
                self._near.setdefault(t, []).append(t)
                for d in _deletes(t):
                    self._near.setdefault(d, []).append(t)
        self.size = len(self._aliases)

    def __len__(self) -> int:
        return self.size

    def _near_tokens(self, t: str) -> set[str]:
        out = {t} if t in self._post else set()
        if len(t) >= FUZZY_MIN_TOKEN:
            for variant in (t, *_deletes(t)):
                out.update(self._near.get(variant, ()))
        return out

    def _context_of(self, canonical: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(phrases that count as written, phrases of ordinary words that count only capitalised)."""
        ctx = self._context.get(canonical)
        if ctx is None:
            strong: list[str] = []
            weak: list[str] = []
            for f in dict.fromkeys(fold(p) for p in self._raw_context.get(canonical, ())):
                if f:
                    words = [w for w in f.split() if w not in _FUNCTION_WORDS]
                    is_weak = all(is_english_word(w) or w in self._guarded or w in self._given for w in words)
                    (weak if is_weak else strong).append(f" {f} ")
            ctx = self._context[canonical] = (tuple(strong), tuple(weak))
        return ctx

    def _allowed(self, a: _Alias, surface: str, padded: tuple[str, str]) -> bool:
        if not a.rule:
            return True
        strong, weak = self._context_of(a.canonical)
        if any(p in padded[0] for p in strong) or any(p in padded[1] for p in weak):
            return True
        if a.rule == "capital":
            return any(c.isupper() for c in surface)  # "Batman", "iPhone", "eBay": a capital anywhere
        if a.rule == "title":
            words = [w for w in re.split(r"[\s\-]+", surface) if w]
            return all(w[:1].isupper() for w in words if len(w) > 3 or w is words[0])
        return False

    def find(self, text: str) -> list[NameHit]:
        """Best hit per canonical name, highest score first."""
        toks = tokens(text)
        n = len(toks)
        folded = [t for t, _, _ in toks]
        # Context phrases made of ordinary words ("Frozen") count only capitalised: "a frozen lake" is none.
        capitalised = [t if text[s:s + 1].isupper() or t in _FUNCTION_WORDS else "_" for t, s, _ in toks]
        padded = (f" {' '.join(folded)} ", f" {' '.join(capitalised)} ")
        found: dict[tuple[int, int, int], float] = {}  # (alias, first token, last token) -> score
        for k in self._lengths:
            for i in range(n - k + 1):
                for a in self._exact.get(" ".join(folded[i:i + k]), ()):
                    found[(a, i, i + k - 1)] = 1.0
        for i, t in enumerate(folded):
            for a in self._joined.get(t, ()):
                found.setdefault((a, i, i), 1.0)
        checked: set[tuple[int, int]] = set()
        for i, t in enumerate(folded):
            for v in self._near_tokens(t):
                for a, pos in self._post[v]:
                    start = i - pos
                    al = self._aliases[a]
                    k = len(al.toks)
                    if start < 0 or start + k > n or (a, start) in checked:
                        continue
                    checked.add((a, start))
                    if (a, start, start + k - 1) in found:
                        continue
                    # The aligned window, and one word longer or shorter ("Leonardo di Caprio").
                    for width in (k, k + 1, k - 1):
                        end = start + width
                        if width < 1 or end > n or (a, start, end - 1) in found:
                            continue
                        window = "".join(folded[start:end])
                        score = fuzz.ratio(window, al.joined) / 100.0
                        # A misspelling is no word of its own: "stage" is not "Stange", "a green" not "Al Green".
                        if width != k and (score < 1.0 or k == 1):
                            continue  # other widths only as exact joined spellings of several words
                        if score < 1.0 and k == 1 and (len(window) < 5 or window[0] != al.joined[0]):
                            continue  # a misspelled single word keeps its initial
                        if score >= al.min_score and (score == 1.0 or not any(
                                _is_word(w) for w in folded[start:end] if w not in al.toks)):
                            found[(a, start, end - 1)] = score
        best: dict[str, NameHit] = {}
        for (a, i, j), score in found.items():
            al = self._aliases[a]
            start, end = toks[i][1], toks[j][2]
            surface = text[start:end]
            if not self._allowed(al, surface, padded):
                continue
            hit = NameHit(al.canonical, al.alias, round(score, 3), (start, end), surface)
            prev = best.get(al.canonical)
            if prev is None or (hit.score, end - start) > (prev.score, prev.span[1] - prev.span[0]):
                best[al.canonical] = hit
        return sorted(best.values(), key=lambda h: (-h.score, h.span))


def load_name_file(path: Path) -> dict[str, list[str]]:
    """CSV with columns canonical,alias (one row per alias; the canonical name is always an alias)."""
    out: dict[str, list[str]] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(line for line in f if not line.startswith("#")):
            canonical = (row.get("canonical") or "").strip()
            alias = (row.get("alias") or "").strip()
            if canonical:
                out.setdefault(canonical, [])
                if alias and alias != canonical:
                    out[canonical].append(alias)
    return out


@functools.lru_cache(maxsize=1)
def default_public_figures() -> dict[str, list[str]]:
    """The shipped list (safety/data/public_figures.csv; sources and licences in safety/data/README.md)."""
    with resources.as_file(resources.files("safety").joinpath("data/public_figures.csv")) as p:
        return load_name_file(p)


def merge(*maps: Iterable[tuple[str, list[str]]] | dict[str, list[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in maps:
        items = m.items() if isinstance(m, dict) else m
        for canonical, aliases in items:
            out.setdefault(canonical, [])
            out[canonical].extend(a for a in aliases if a not in out[canonical])
    return out
