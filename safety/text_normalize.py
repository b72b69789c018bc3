"""Undo the usual text obfuscations before any classifier or name matcher sees a prompt.

Order matters: NFKC first (folds full-width, math-bold and circled letters), then invisible characters,
then confusable homoglyphs (Cyrillic/Greek look-alikes, Unicode TR39 data from `confusable_homoglyphs`),
then token-level tricks (leetspeak, s p a c e d letters, reeeepeated letters). The token-level decoders are
guided by English word frequencies (the `wordfreq` package, data shipped offline): a leet token becomes the
most frequent word it can spell ("7h47" -> "that"), or, when it spells no word but its glyphs clearly stand
for letters ("rutk0wsk1"), the plain substitution; spaced letters are re-split into the most probable words
(unigram Viterbi); repeated letters collapse to the most frequent word. Tokens that are words as written
("mp4", "b2b"), numbers with units ("8pm", "4k", "60fps"), versions ("gpt4") and numbers stay as they are.
`notes` says what was changed so a decision can explain what it saw.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path


class PromptError(ValueError):
    """A prompt that cannot be classified: empty after normalisation, too long, not text."""


@dataclass
class Normalized:
    text: str
    notes: list[str] = field(default_factory=list)


# Words the BERT vocabulary lacks but obfuscators target; only used to accept a decoding.
_EXTRA_WORDS = (
    "boobs", "nsfw", "hentai", "loli", "lolicon", "shota", "nigger", "nigga", "faggot", "slut", "vagina",
    "behead", "beheading", "meth", "deepfake", "nudes", "porno", "pedo", "paedo", "tranny", "kys", "cunt",
    "dildo", "blowjob", "cum", "tits", "bitch", "whore", "retard", "kike", "spic", "chink", "gore",
)

_LEET = {
    "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
    "@": "a", "$": "s", "!": "i", "|": "l", "+": "t", "€": "e", "£": "l",
}
# Alternatives where one glyph stands for two letters ("1" is i or l, "!" is i or l).
_LEET_ALT = {"1": "l", "!": "l", "|": "i"}
# A masking asterisk stands for a vowel ("f*ck").
_MASK_VOWELS = ("a", "e", "i", "o", "u")

_BIDI_AND_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f]"
)
_TOKEN = re.compile(r"[^\s]+")
# Single letters separated by one space or . - _ * : three or more in a row ("s e x", "k.i.l.l").
_SPACED = re.compile(r"(?<![\w@'’])((?:[A-Za-z][ .\-_*·:/]){2,}[A-Za-z])(?![\w])")
# A number with a unit or ordinal ("8pm", "4k", "60fps", "3rd") is not leetspeak.
_NUMBER_UNIT = re.compile(r"^(\d+)(?:[.,]\d+)?(?:am|pm|k|m|km|cm|mm|kg|g|mb|gb|tb|fps|p|s|x|d|st|nd|rd|th|hz|khz|mhz|"
                          r"ghz|mph|kph|ft|in|yo|yr|yrs|min|mins|h|hr|hrs|ms|v|w|kw|mp|l|ml|lb|lbs|oz|px|bit)$", re.I)
_DIGIT_RUN3 = re.compile(r"\d{3,}")
_RUN3 = re.compile(r"(.)\1{2,}")


@functools.lru_cache(maxsize=1)
def _words() -> frozenset[str]:
    text = resources.files("safety").joinpath("data/wordlist.txt").read_text(encoding="utf-8")
    words = {w for w in text.split() if w.isalpha()}
    return frozenset(words | set(_EXTRA_WORDS))


@functools.lru_cache(maxsize=1)
def _homoglyph_map() -> dict[str, str]:
    """Non-ASCII character -> the ASCII letter it is confusable with (Unicode TR39 confusables)."""
    import confusable_homoglyphs

    path = Path(confusable_homoglyphs.__file__).with_name("confusables.json")
    data: dict[str, list[dict[str, str]]] = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for char, glyphs in data.items():
        if len(char) != 1 or char.isascii():
            continue
        letters = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalpha()]
        if letters:
            # Prefer the letter of the same case ("а" -> "a", "А" -> "A").
            same = [c for c in letters if c.islower() == char.islower()]
            out[char] = (same or letters)[0]
    return out


def _is_word(token: str) -> bool:
    return token.lower() in _words()


MIN_ZIPF = 1.0  # wordfreq's floor: every listed word is at least this frequent
_FUNCTION_2 = 5.5  # two-letter pieces of a spaced run must be this common ("of", "in", "to"; not "ng")


@functools.lru_cache(maxsize=1)
def _freq() -> dict[str, float]:
    """Lowercase alphabetic word -> Zipf frequency (log10 per billion words) from wordfreq's 'large'
    English list (~290k words, shipped offline in the package), plus the obfuscation targets above. Building it
    costs ~2 s of CPU (importing wordfreq, reading its list): kept in the cache dir (safety.local_cache), where
    it reads back in ~0.1 s. Only tokens that look obfuscated need it (leet glyphs, spaced letters, runs of a
    repeated letter): a plain prompt never loads it."""
    import hashlib
    from importlib.metadata import version

    from safety.local_cache import pickle_cached

    def build() -> dict[str, float]:
        import wordfreq

        out = {w: math.log10(f) + 9.0 for w, f in wordfreq.get_frequency_dict("en", wordlist="large").items()
               if w.isalnum()}  # with digits too: "mp4" and "b2b" are words as written
        for w in _EXTRA_WORDS:
            out.setdefault(w, 3.0)
        return out

    extra = hashlib.sha1("\n".join(sorted(_EXTRA_WORDS)).encode()).hexdigest()[:8]
    return pickle_cached(f"zipf-en-large-{version('wordfreq')}-{extra}.pickle", build)


def zipf(word: str) -> float:
    """Zipf frequency of a word (0.0 when unknown)."""
    return _freq().get(word.lower(), 0.0)


def _leet_options(core: str) -> tuple[list[int], list[list[str]]] | None:
    positions = [i for i, c in enumerate(core) if c in _LEET or c == "*"]
    if not positions or len(positions) > 12 or core.count("*") > 2:
        return None
    options = [
        list(_MASK_VOWELS) if core[i] == "*"
        else [_LEET[core[i]]] + ([_LEET_ALT[core[i]]] if core[i] in _LEET_ALT else [])
        for i in positions
    ]
    return positions, options


def _decode_leet(token: str) -> str | None:
    """Most frequent English word the token can spell with leet glyphs read as letters; if none is a
    word but a glyph sits between letters ("r4nd0m"), the plain substitution. Tokens that are words as
    written ("mp4", "b2b") stay."""
    core = token.strip(".,;:?\"'()[]{}<>").rstrip("!")
    if len(core) < 3 or core.startswith("@") or core.isalpha() or core.isdigit():
        return None
    unit = _NUMBER_UNIT.match(core)
    if not any(c.isalpha() for c in core) or (unit and len(unit.group(1)) <= 2):
        return None
    if not any(c in _LEET or c == "*" for c in core):
        return None
    opts = _leet_options(core)
    if opts is None:
        return None
    positions, options = opts
    as_written = zipf(core) if core.isascii() else 0.0
    best, best_z = None, 0.0
    if math.prod(len(o) for o in options) <= 256:
        for combo in itertools.product(*options):
            chars = list(core)
            for i, rep in zip(positions, combo, strict=True):
                chars[i] = rep
            cand = "".join(chars)
            if not cand.isalpha():
                continue
            # Prefer the usual reading of each glyph and the word as written over a collapsed one.
            z = zipf(cand) - 0.5 * sum(r != o[0] for r, o in zip(combo, options, strict=True))
            collapsed = _collapse_repeats(cand)
            if collapsed and zipf(collapsed) - 0.5 > z:
                cand, z = collapsed, zipf(collapsed) - 0.5
            if z > best_z:
                best, best_z = cand, z
    # A decoding must be clearly more of a word than the token as written ("7up", "mp4" stay).
    if best is not None and best_z >= max(MIN_ZIPF, as_written + 1.0):
        return token.replace(core, best)
    if as_written > 0:
        return None
    # Not a word either way (a name, a misspelling): substitute plainly when the glyphs are clearly standing
    # for letters. A trailing digit run is a version ("gpt4", "sdxl1"), a long digit run a number ("rtx3090").
    letters = sum(c.isalpha() for c in core)
    body = core.rstrip("0123456789")
    plain = "".join(_LEET.get(c, c) for c in core)
    if ("*" in core or not plain.isalpha() or letters < 2 or not any(c in _LEET for c in body)
            or (_DIGIT_RUN3.search(core) and letters < 4)):
        return None
    return token.replace(core, plain)


def _collapse_repeats(token: str) -> str | None:
    """'seeeexxx' -> 'sex', 'kiiilll' -> 'kill': each run of 3+ read as 1 or 2 letters, the most frequent word."""
    if not _RUN3.search(token):
        return None
    runs = [(m.start(), m.end(), m.group(1)) for m in re.finditer(r"(.)\1+", token)]
    if not runs or len(runs) > 8:
        return None
    best, best_z = None, 0.0
    # A double letter as written is usually the word's own ("nigger", "kill"); only runs of 3+ are stretched.
    choices = [(1, 2) if end - start >= 3 else (end - start,) for start, end, _ in runs]
    for lengths in itertools.product(*choices):
        out, last = [], 0
        for (start, end, ch), n in zip(runs, lengths, strict=True):
            out.append(token[last:start])
            out.append(ch * n)
            last = end
        out.append(token[last:])
        cand = "".join(out)
        z = zipf(cand)
        if z > best_z:
            best, best_z = cand, z
    return best


_UNKNOWN_BASE = -10.0  # log10 probability of an unknown piece, minus _UNKNOWN_PER_LETTER per letter
_UNKNOWN_PER_LETTER = 2.0
_PIECE_COST = 0.5  # each extra word costs: "meme" is read as one word, not "me me"


def _segment(letters: str) -> list[str] | None:
    """Most probable split of a letter run into words (unigram Viterbi on wordfreq frequencies), else None.

    Pieces: known words of >= 3 letters, common two-letter words, 'a' / 'i', and (rarely) one unknown
    piece of >= 4 letters (a name such as "rutkowski"), penalised by its length."""
    low = letters.lower()
    n = len(low)
    if n < 3 or n > 200:
        return None
    best: list[tuple[float, list[str], int] | None] = [None] * (n + 1)
    best[0] = (0.0, [], 0)
    for end in range(1, n + 1):
        for start in range(max(0, end - 24), end):
            prev = best[start]
            if prev is None:
                continue
            piece = low[start:end]
            z = zipf(piece)
            size = end - start
            unknown = 0
            if size == 1:
                ok = piece in ("a", "i")
            elif size == 2:
                ok = z >= _FUNCTION_2
            else:
                ok = z >= MIN_ZIPF
            if ok:
                logp = z - 9.0 - _PIECE_COST
            elif 4 <= size <= 16 and prev[2] < 2:
                logp, unknown = _UNKNOWN_BASE - _UNKNOWN_PER_LETTER * size - _PIECE_COST, 1
            else:
                continue
            cand = (prev[0] + logp, [*prev[1], piece], prev[2] + unknown)
            cur = best[end]
            if cur is None or cand[0] > cur[0]:
                best[end] = cand
    final = best[n]
    if final is None:
        return None
    words = final[1]
    if all(len(w) == 1 for w in words) or (final[2] and n < 5):
        return None
    # Keep the writer's case for each piece.
    out, pos = [], 0
    for w in words:
        out.append(letters[pos:pos + len(w)])
        pos += len(w)
    return out


def _script_is_latin(text: str) -> bool:
    """Mostly Latin letters: only then are other-script letters treated as disguise, not language."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    latin = sum(1 for c in letters if c.isascii())
    return latin / len(letters) >= 0.5


def _fold_homoglyphs(text: str, notes: list[str]) -> str:
    if text.isascii():
        return text  # nothing to fold, and the confusables table (~0.1 s to read) stays unread
    table = _homoglyph_map()
    latin_text = _script_is_latin(text)
    changed = 0
    out_tokens: list[str] = []
    for token in re.split(r"(\s+)", text):
        has_ascii_letter = any(c.isascii() and c.isalpha() for c in token)
        # Fold a token when the whole prompt is Latin or the token mixes scripts ("pаypal"): a Russian
        # or Greek sentence is a language, not a disguise, and stays as it is.
        if latin_text or has_ascii_letter:
            new = "".join(table.get(c, c) if not c.isascii() else c for c in token)
            changed += sum(1 for a, b in zip(token, new, strict=True) if a != b)
            token = new
        out_tokens.append(token)
    if changed:
        notes.append(f"homoglyphs: {changed} look-alike character(s) mapped to Latin")
    return "".join(out_tokens)


def _token_tricks(text: str, notes: list[str]) -> str:
    def join_spaced(m: re.Match[str]) -> str:
        letters = re.sub(r"[ .\-_*·:/]", "", m.group(1))
        # Re-split the letters into dictionary words ("s e x y w o m a n" -> "sexy woman"); when they do
        # not segment cleanly (a list "a b c", initials) the text stays as it was.
        words = _segment(letters)
        if words is None:
            return m.group(0)
        spaced.append(" ".join(words))
        return " ".join(words)

    spaced: list[str] = []
    text = _SPACED.sub(join_spaced, text)
    if spaced:
        notes.append(f"spacing: joined spaced-out letters {spaced[:5]}")

    leet: list[str] = []
    repeats: list[str] = []
    out: list[str] = []
    for part in re.split(r"(\s+)", text):
        if part and not part.isspace():
            dec = _decode_leet(part)
            if dec is not None and dec != part:
                leet.append(f"{part}->{dec}")
                part = dec
            else:
                core = part.strip(".,;:!?\"'()[]{}<>")
                # Only a run of 3+ can collapse (_collapse_repeats); "zzz" and "www" are words as written.
                if core.isalpha() and _RUN3.search(core.lower()) and zipf(core) < 2.0:
                    col = _collapse_repeats(core.lower())
                    if col and col != core.lower():
                        repeats.append(f"{core}->{col}")
                        part = part.replace(core, col)
        out.append(part)
    if leet:
        notes.append(f"leetspeak: {leet[:5]}")
    if repeats:
        notes.append(f"repeated letters: {repeats[:5]}")
    return "".join(out)


def normalize(text: str) -> Normalized:
    """Canonical text for classification plus notes describing each change made."""
    if not isinstance(text, str):
        raise PromptError(f"prompt must be text, got {type(text).__name__}")
    notes: list[str] = []

    nfkc = unicodedata.normalize("NFKC", text)
    if nfkc != text:
        notes.append("unicode: NFKC compatibility forms folded")
    text = nfkc

    stripped = _BIDI_AND_INVISIBLE.sub("", text)
    # Other format characters (category Cf) are invisible too.
    stripped = "".join(c for c in stripped if unicodedata.category(c) != "Cf")
    if stripped != text:
        notes.append(f"invisible: removed {len(text) - len(stripped)} zero-width/bidi/format character(s)")
    text = stripped

    # Control characters and binary junk become spaces; a NUL is never part of a prompt.
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") and c not in "\n\t" else c
                      for c in text)
    if cleaned != text:
        notes.append("control: replaced control/unassigned characters with spaces")
    text = cleaned

    # Stacked combining marks ("Zalgo" text) hide letters from tokenisers; single accents stay.
    decomposed = unicodedata.normalize("NFD", text)
    dezalgo = re.sub(r"(?<=\S)[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]{2,}", "",
                     decomposed)
    if dezalgo != decomposed:
        notes.append("combining: removed stacked combining marks")
        text = unicodedata.normalize("NFC", dezalgo)

    text = _fold_homoglyphs(text, notes)
    text = _token_tricks(text, notes)
    text = re.sub(r"[ \t]+", " ", text).strip()
    if not text or not any(c.isalnum() for c in text):
        raise PromptError("prompt is empty after normalisation")
    return Normalized(text=text, notes=notes)
