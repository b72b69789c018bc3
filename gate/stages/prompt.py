"""Prompt gate: refuse what must never be made before any compute is spent on it."""

from __future__ import annotations

from sqlmodel import Session

from gate.components import Components
from gate.decision import Decision, Signal
from gate.pipeline import JobState
from gate.prompt_policy import prompt_decision


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
        clf = self.c.prompt_classifier.need()
        policy = self.c.policy
        text = ctx.request.prompt
        if ctx.request.style:
            text = f"{text}\nstyle: {ctx.request.style}"
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
