"""Prompt side: registered names and aliases found in a prompt after normalisation.

Delegates to the shared normaliser and matcher (safety.text_normalize, safety.name_match) used by the
prompt gate, so the two never disagree on what counts as a disguised name.
"""

from __future__ import annotations

from typing import Any


def match_prompt(text: str, names: dict[str, list[str]]) -> list[Any]:
    """Best safety.name_match.NameHit per registered work found in `text`, highest score first.

    `names` is registry.work_names(session). The text is searched as written and after
    safety.text_normalize.normalize (homoglyphs, zero-width characters, leetspeak ...): a name hidden by
    normalisation tricks is found in the normalised text; spans refer to whichever text gave the hit.
    """
    from safety.name_match import NameMatcher
    from safety.text_normalize import normalize

    if not names or not text:
        return []
    matcher = NameMatcher(names)
    best: dict[str, Any] = {}
    for candidate in (text, normalize(text).text):
        for hit in matcher.find(candidate):
            if hit.canonical not in best or hit.score > best[hit.canonical].score:
                best[hit.canonical] = hit
    return sorted(best.values(), key=lambda h: -h.score)
