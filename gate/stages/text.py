"""The policy on classified text that more than one stage reads (the prompt, and the words spoken in a clip):
gate.prompt_policy, importable without the stages."""

from __future__ import annotations

from gate.prompt_policy import language_verdict

__all__ = ["language_verdict"]
