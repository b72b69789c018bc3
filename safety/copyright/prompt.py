"""Prompt side: registered names and aliases found in a prompt after normalisation.

Delegates to the shared normaliser and matcher (safety.text_normalize, safety.name_match) used by the
prompt gate, so the two never disagree on what counts as a disguised name.
"""

from __future__ import annotations

from typing import Any


def match_prompt(text: str, names: dict[str, list[str]]) -> list[Any]:
    """Hits (safety.name_match.NameHit) for every registered work name or alias found in `text`.
    `names` is registry.work_names(session)."""
    from safety.name_match import NameMatcher

    if not names:
        return []
    return NameMatcher(names).find(text)
