"""Small explicit signals beside the learned heads: @handle mentions and references to minors.

The child signal exists because labelled sexual/minors prompts are scarce (20 in the shared data): the
gate combines it with the learned sexual probability (a conjunction), so any sexual content that also
refers to a minor is scored as sexual/minors, and the decision names the words that triggered it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# @handle as used for cameo consent: letters, digits, _ . - ; not an e-mail address.
_MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,38}[A-Za-z0-9_])?)")

# Unambiguous references to a minor.
_CHILD_STRONG = re.compile(
    r"\b(child|children|childs?|kid|kids|kiddie|minor|minors|underage|under-age|under ?aged?|preteens?|pre-teens?|"
    r"tween|tweens|toddlers?|infants?|bab(?:y|ies)|newborns?|little (?:girl|boy)s?|young (?:girl|boy)s?|"
    r"schoolgirls?|schoolboys?|school ?kids?|lolis?|lolicon|shota|shotacon|pedo\w*|paedo\w*|"
    r"jailbait|(?:elementary|middle|primary|grade) school\w*|kindergarten\w*|"
    r"(?:boy|girl)s? (?:aged|of) (?:[1-9]|1[0-7])\b)\b",
    re.I,
)
# Suggests youth without settling it ("teen" is also an adult-content marketing word).
_CHILD_TEEN = re.compile(r"\b(teen|teens|teenage|teenager|teenagers|adolescents?|youngsters?|juveniles?|"
                         r"school uniform|schoolchild|youth|barely legal|daughters?|sons?|nieces?|nephews?|"
                         r"stepdaughter|stepson)\b", re.I)
# Everyday words for adults too ("a girl at the bar"): a faint signal only.
_CHILD_FAINT = re.compile(r"\b(boy|boys|girl|girls|young|little)\b", re.I)
_AGE = re.compile(r"\b(\d{1,2})[\s-]*(?:years?|yrs?|yo|y/o)(?:[\s-]*old)?\b", re.I)


@dataclass
class ChildSignal:
    score: float  # 1.0 explicit minor, 0.6 teen wording, 0.25 girl/boy/young, 0.0 none
    terms: list[str]


def mentions(text: str) -> list[str]:
    """@handles in order of first appearance, without the @, lowercased."""
    seen: list[str] = []
    for m in _MENTION.finditer(text):
        h = m.group(1).lower().rstrip(".")
        if h not in seen:
            seen.append(h)
    return seen


def child_signal(text: str) -> ChildSignal:
    strong = [m.group(0) for m in _CHILD_STRONG.finditer(text)]
    ages = [m.group(0) for m in _AGE.finditer(text) if int(m.group(1)) < 18]
    if strong or ages:
        return ChildSignal(1.0, (strong + ages)[:5])
    teen = [m.group(0) for m in _CHILD_TEEN.finditer(text)]
    if teen:
        return ChildSignal(0.6, teen[:5])
    faint = [m.group(0) for m in _CHILD_FAINT.finditer(text)]
    if faint:
        return ChildSignal(0.25, faint[:5])
    return ChildSignal(0.0, [])
