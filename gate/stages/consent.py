"""Consent check before generation: every requested or @mentioned cameo must be usable by the requester."""

from __future__ import annotations

from sqlmodel import Session

from gate.components import Components
from gate.decision import Decision, Signal
from gate.pipeline import JobContext


class ConsentStage:
    name = "consent"

    def __init__(self, c: Components) -> None:
        self.c = c

    def signals(self) -> list[Signal]:
        return []  # a registry lookup: no model involved

    def run(self, ctx: JobContext) -> Decision:
        from consent import registry

        handles = list(dict.fromkeys([*ctx.request.get("cameos", []), *ctx.facts.get("mentions", [])]))
        reasons: list[str] = []
        granted: list[dict] = []
        with Session(self.c.engine) as s:
            for h in handles:
                ok, why = registry.can_use(s, h, ctx.user)
                if not ok:
                    reasons.append(f"cameo @{h}: {why}")
                    continue
                cameo = registry.get_by_handle(s, h)
                granted.append({"handle": h, "cameo_id": cameo.id, "reference_image": cameo.reference_image})
        ctx.facts["cameos"] = granted
        if reasons:
            return Decision(stage=self.name, decision="block", reasons=reasons)
        return Decision(stage=self.name, decision="pass",
                        reasons=[f"consent on record for @{g['handle']}" for g in granted])
