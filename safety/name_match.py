"""Find real people and registered characters named in a prompt, despite case, accents and misspellings.

Each alias is compared with every window of the same number of words in the text (and with the window
written without spaces, so "TaylorSwift" matches) using rapidfuzz's normalised Indel similarity,
vectorised with `process.cdist`. Short aliases must match exactly; longer ones tolerate about one edit in
seven characters. A one-word alias that is also an ordinary English word ("Trump", "Bush") counts only
when written with a capital letter.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

from safety.text_normalize import _words

_WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*", re.UNICODE)


@dataclass(frozen=True)
class NameHit:
    canonical: str
    alias: str
    score: float  # 1.0 exact, lower for a misspelling
    span: tuple[int, int] = (0, 0)  # character offsets in the searched text
    matched: str = ""


def fold(text: str) -> str:
    """Lowercase, strip accents, keep letters/digits and single spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    no_marks = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_WORD.findall(no_marks.lower().replace("’", "'")))


def _min_score(alias_folded: str) -> float:
    n = len(alias_folded.replace(" ", ""))
    if n < 5:
        return 1.0
    if n < 10:
        return 0.88  # one edit in a 5-9 letter name
    return 0.86


class NameMatcher:
    def __init__(self, entries: dict[str, list[str]]) -> None:
        self._by_len: dict[int, tuple[list[str], list[str], list[str], np.ndarray]] = {}
        rows: dict[int, list[tuple[str, str, str]]] = {}
        common = _words()
        self._needs_capital: set[str] = set()
        for canonical, aliases in entries.items():
            for alias in {canonical, *aliases}:
                folded = fold(alias)
                if not folded:
                    continue
                k = len(folded.split())
                if k == 1 and folded in common:
                    self._needs_capital.add(folded)
                rows.setdefault(k, []).append((folded, alias, canonical))
        for k, items in rows.items():
            folded = [f for f, _, _ in items]
            self._by_len[k] = (
                folded,
                [a for _, a, _ in items],
                [c for _, _, c in items],
                np.array([_min_score(f) for f in folded], dtype=np.float32),
            )
        self.size = sum(len(v) for v in rows.values())

    def __len__(self) -> int:
        return self.size

    def find(self, text: str) -> list[NameHit]:
        """Best hit per canonical name, highest score first."""
        tokens = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text)]
        folded_tokens = [fold(t) for t, _, _ in tokens]
        best: dict[str, NameHit] = {}
        for k, (aliases_f, aliases, canon, mins) in self._by_len.items():
            if len(tokens) < k:
                continue
            windows: list[str] = []
            spans: list[tuple[int, int]] = []
            for i in range(len(tokens) - k + 1):
                windows.append(" ".join(folded_tokens[i:i + k]))
                spans.append((tokens[i][1], tokens[i + k - 1][2]))
            if k >= 2:
                # "TaylorSwift" or "taylor_swift": one token standing for a k-word alias.
                for i in range(len(tokens)):
                    windows.append(folded_tokens[i])
                    spans.append((tokens[i][1], tokens[i][2]))
            queries = windows
            choices = aliases_f
            if k >= 2:
                # Compare without spaces so joined and split spellings meet.
                queries = [w.replace(" ", "") for w in windows]
                choices = [a.replace(" ", "") for a in aliases_f]
            scores = process.cdist(queries, choices, scorer=fuzz.ratio, dtype=np.float32, workers=1) / 100.0
            hits = np.argwhere(scores >= mins[None, :])
            for wi, ai in hits:
                score = float(scores[wi, ai])
                start, end = spans[wi]
                surface = text[start:end]
                if k == 1 and aliases_f[ai] in self._needs_capital and not surface[:1].isupper():
                    continue
                if k >= 2 and wi >= len(tokens) - k + 1 and score < 1.0:
                    continue  # joined spellings must be exact (too many accidental near-matches)
                hit = NameHit(canon[ai], aliases[ai], round(score, 3), (start, end), surface)
                prev = best.get(canon[ai])
                if prev is None or hit.score > prev.score:
                    best[canon[ai]] = hit
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
    """The shipped list (safety/data/public_figures.csv), derived from CC0/MIT sources: see its header."""
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
