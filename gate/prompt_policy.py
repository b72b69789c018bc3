"""The policy's decision on classified text, importable without the pipeline (gate.stages loads every stage and
its dependencies, ~1 s of CPU): `reelgate classify-prompt` and the prompt and frame stages share it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gate.decision import worst
from gate.policy import REAL_PERSON_HARMS, Policy, Verdict

if TYPE_CHECKING:
    from safety.prompt_classifier import PromptResult


def language_verdict(res: PromptResult, policy: Policy, what: str = "prompt") -> tuple[Verdict, list[str]]:
    """Policy's verdict for text whose language the learned heads do not read (pass when they do)."""
    lang = res.signals.get("language", {})
    if lang.get("read", True):
        return "pass", []
    return policy.unread_language, [f"{what} language not read by the classifier: {lang.get('why', '')}"]


def prompt_decision(res: PromptResult, policy: Policy,
                    works_by_name: dict[str, list[tuple[int, str]]] | None = None,
                    ) -> tuple[Verdict, list[str], list[str], list[dict[str, object]]]:
    """The policy's decision on a classified prompt: (verdict, flagged categories, reasons, registered works
    named). One function for the generation stage and `reelgate classify-prompt`, so both decide alike."""
    from safety.name_match import fold

    works_by_name = works_by_name or {}
    char_hits = [h for h in res.names if h.get("kind") == "character"]
    allowed = [h for h in char_hits
               if any(p == "allow" for _, p in works_by_name.get(fold(str(h.get("canonical", ""))), []))]
    scores = dict(res.categories)
    if char_hits and len(allowed) == len(char_hits):
        scores["character"] = 0.0  # every character named is one its registered owner allowed
    verdict, flagged = policy.prompt_verdict(scores)
    reasons = [f"{cat} p={res.categories[cat]:.2f}" for cat in flagged]
    lang_verdict, lang_reasons = language_verdict(res, policy)
    verdict = worst(verdict, lang_verdict)
    reasons += lang_reasons
    if res.signals.get("truncated"):
        verdict = worst(verdict, policy.truncated_prompt)
        t = res.signals["truncated"]
        reasons.append(f"prompt of {t['chars']} characters: only the first {t['scored']} were scored")
    if "public_figure" in flagged:
        harms = [c for c in REAL_PERSON_HARMS if res.categories.get(c, 0.0) >= policy.real_person_harm_bar]
        if harms:
            verdict = "block"
            who = ", ".join(sorted({n["canonical"] for n in res.names if n.get("kind") == "public_figure"}))
            reasons.append(f"a real person ({who or 'named'}) in {', '.join(harms)} content")
    # A registered character follows its owner's policy (review or block); one on the shipped opt-out list
    # gets policy.character_action, a franchise named alone policy.franchise_action.
    named: list[dict[str, object]] = []
    bar = policy.prompt["character"].review
    for hit in res.names:
        if hit.get("kind") != "character":
            continue
        works = works_by_name.get(fold(str(hit.get("canonical", ""))), [])
        for work_id, p in works:
            if p == "allow":
                reasons.append(f"character {hit['canonical']!r} allowed by its registered owner")
                continue
            verdict = worst(verdict, "block" if p == "block" else "review")
            reasons.append(f"registered character {hit['canonical']!r} named ({p} by its owner)")
            named.append({"work_id": work_id, "work": hit["canonical"], "policy": p,
                          "score": round(float(hit.get("score", 1.0)), 4)})
        if not works and hit.get("source") == "default" and float(hit.get("score", 0.0)) >= bar:
            # A character as the subject gets character_action; a franchise, or a character on a costume, a cake
            # or a toy, franchise_action.
            subject = hit.get("work") == "character" and hit.get("subject", True)
            action = policy.character_action if subject else policy.franchise_action
            verdict = worst(verdict, action)
            reasons.append(f"{hit.get('work', 'character')} {hit['canonical']!r} ({hit.get('franchise')}, "
                           f"{hit.get('holder') or 'rights holder unknown'}): {action} by default")
    return verdict, flagged, reasons, named
