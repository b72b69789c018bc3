"""The policy on classified text that more than one stage reads (the prompt, and the words spoken in a clip)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gate.policy import Policy, Verdict

if TYPE_CHECKING:
    from safety.prompt_classifier import PromptResult


def language_verdict(res: PromptResult, policy: Policy, what: str = "prompt") -> tuple[Verdict, list[str]]:
    """Policy's verdict for text whose language the learned heads do not read (pass when they do)."""
    lang = res.signals.get("language", {})
    if lang.get("read", True):
        return "pass", []
    return policy.unread_language, [f"{what} language not read by the classifier: {lang.get('why', '')}"]
