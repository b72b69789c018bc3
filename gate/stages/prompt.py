"""Prompt gate: refuse what must never be made before any compute is spent on it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session

from gate.components import Components
from gate.decision import Decision, Signal, worst
from gate.pipeline import JobContext
from gate.policy import REAL_PERSON_HARMS, Policy, Verdict

if TYPE_CHECKING:
    from safety.prompt_classifier import PromptResult


def registered_characters(c: Components) -> tuple[dict[str, list[str]], dict[str, list[tuple[int, str]]]]:
    """Names (with aliases) of registered works whose owner did not allow them, and per name the works
    (id, policy) that carry it: two holders may register the same name, and each sees its own decision."""
    from safety.copyright.registry import list_all_works

    names: dict[str, list[str]] = {}
    works: dict[str, list[tuple[int, str]]] = {}
    with Session(c.engine) as s:
        for w in list_all_works(s):
            if w.policy != "allow" and w.id is not None:
                aliases = names.setdefault(w.name, [])
                aliases.extend(a for a in w.aliases or [] if a not in aliases)
                works.setdefault(w.name, []).append((w.id, w.policy))
    return names, works


def language_verdict(res: PromptResult, policy: Policy, what: str = "prompt") -> tuple[Verdict, list[str]]:
    """Policy's verdict for text whose language the learned heads do not read (pass when they do)."""
    lang = res.signals.get("language", {})
    if lang.get("read", True):
        return "pass", []
    return policy.unread_language, [f"{what} language not read by the classifier: {lang.get('why', '')}"]


class PromptStage:
    name = "prompt"

    def __init__(self, c: Components) -> None:
        self.c = c

    def signals(self) -> list[Signal]:
        clf, why = self.c.prompt_classifier.get()
        if clf is None:
            return [Signal("prompt.classifier", "MiniLM + heads", False, False, why)]
        ok, why = clf.available()
        return [Signal("prompt.classifier", clf.model, ok, ok, why)]

    def run(self, ctx: JobContext) -> Decision:
        clf, _ = self.c.prompt_classifier.get()
        policy = self.c.policy
        text = ctx.request["prompt"]
        if ctx.request.get("style"):
            text = f"{text}\nstyle: {ctx.request['style']}"
        characters, works_by_name = registered_characters(self.c)
        res = clf.classify(text, characters=characters)
        verdict, flagged = policy.prompt_verdict(res.categories)
        reasons = [f"{cat} p={res.categories[cat]:.2f}" for cat in flagged]
        lang_verdict, lang_reasons = language_verdict(res, policy)
        verdict = worst(verdict, lang_verdict)
        reasons += lang_reasons
        if "public_figure" in flagged:
            harms = [c for c in REAL_PERSON_HARMS if res.categories.get(c, 0.0) >= policy.real_person_harm_bar]
            if harms:
                verdict = "block"
                who = ", ".join(sorted({n["canonical"] for n in res.names if n.get("kind") == "public_figure"}))
                reasons.append(f"a real person ({who or 'named'}) in {', '.join(harms)} content")
        # A registered character follows its owner's policy (review or block), not a global threshold.
        named: list[dict[str, object]] = []
        for hit in res.names:
            if hit.get("kind") != "character":
                continue
            for work_id, p in works_by_name.get(hit.get("canonical", ""), []):
                verdict = worst(verdict, "block" if p == "block" else "review")
                reasons.append(f"registered character {hit['canonical']!r} named ({p} by its owner)")
                named.append({"work_id": work_id, "work": hit["canonical"], "policy": p,
                              "score": round(float(hit.get("score", 1.0)), 4)})
        if res.notes and verdict != "pass":
            reasons.append("after normalisation: " + "; ".join(res.notes))
        ctx.facts["mentions"] = list(res.mentions)
        ctx.facts["prompt_normalized"] = res.normalized
        return Decision(
            stage=self.name, decision=verdict, reasons=reasons,
            scores={k: round(v, 4) for k, v in res.categories.items()},
            models={"prompt.classifier": res.model},
            evidence=[{"normalized": res.normalized, "notes": res.notes, "names": res.names, "works": named}],
        )
