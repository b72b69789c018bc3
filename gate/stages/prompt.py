"""Prompt gate: refuse what must never be made before any compute is spent on it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session

from gate.components import Components
from gate.decision import Decision, Signal, worst
from gate.pipeline import JobState
from gate.policy import REAL_PERSON_HARMS, Policy, Verdict
from gate.stages.text import language_verdict

if TYPE_CHECKING:
    from safety.prompt_classifier import PromptResult


def registered_characters(c: Components) -> tuple[dict[str, list[str]], dict[str, list[tuple[int, str]]]]:
    """Names (with aliases) of registered works whose owner did not allow them, and per folded name the works
    (id, policy) that carry it, allowed ones included: two holders may register the same name, and each sees
    its own decision; an owner's "allow" lifts the shipped list's default action for that name."""
    from safety.copyright.registry import active_names, list_all_works
    from safety.name_match import fold

    names: dict[str, list[str]] = {}
    works: dict[str, list[tuple[int, str]]] = {}
    with Session(c.engine) as s:
        for w in list_all_works(s):
            active = active_names(w)  # common words ("ball") wait for an operator's approval
            if w.id is None or not active:
                continue
            works.setdefault(fold(active[0]), []).append((w.id, w.policy))
            if w.policy != "allow":
                aliases = names.setdefault(active[0], [])
                aliases.extend(a for a in active[1:] if a not in aliases)
    return names, works


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


class PromptStage:
    name = "prompt"
    title = "Prompt check"
    description = "checks the words asked for, for harmful requests"
    reads = frozenset({"request"})
    provides = frozenset({"mentions"})
    concurrent = False

    def __init__(self, c: Components) -> None:
        self.c = c

    def signals(self) -> list[Signal]:
        clf, why = self.c.prompt_classifier.get()
        if clf is None:
            return [Signal("prompt.classifier", "MiniLM + heads", False, False, why)]
        ok, why = clf.available()
        return [Signal("prompt.classifier", clf.model, ok, ok, why)]

    def run(self, ctx: JobState) -> Decision:
        clf, _ = self.c.prompt_classifier.get()
        policy = self.c.policy
        text = ctx.request["prompt"]
        if ctx.request.get("style"):
            text = f"{text}\nstyle: {ctx.request['style']}"
        characters, works_by_name = registered_characters(self.c)
        res = clf.classify(text, characters=characters)
        verdict, flagged, reasons, named = prompt_decision(res, policy, works_by_name)
        if res.notes and verdict != "pass":
            reasons.append("after normalisation: " + "; ".join(res.notes))
        ctx.mentions = list(res.mentions)
        return Decision(
            stage=self.name, decision=verdict, reasons=reasons,
            scores={k: round(v, 4) for k, v in res.categories.items()},
            models={"prompt.classifier": res.model},
            evidence=[{"normalized": res.normalized, "notes": res.notes, "names": res.names, "works": named}],
        )
