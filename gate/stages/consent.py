"""Consent check before generation: every requested or @mentioned cameo must be usable by the requester."""

from __future__ import annotations

from sqlmodel import Session

from gate.components import Components
from gate.decision import Decision, Signal
from gate.pipeline import GrantedCameo, JobState


class ConsentStage:
    name = "consent"
    title = "Cameo consent"
    description = "checks that the owners of the cameos named have given their consent"
    reads = frozenset({"request", "user", "mentions"})
    provides = frozenset({"cameos"})
    concurrent = False

    def __init__(self, c: Components) -> None:
        self.c = c

    def signals(self) -> list[Signal]:
        return []  # a registry lookup: no model involved

    def run(self, ctx: JobState) -> Decision:
        from consent import registry

        handles = list(dict.fromkeys([*ctx.request.cameos, *ctx.mentions]))
        reasons: list[str] = []
        granted: list[GrantedCameo] = []
        with Session(self.c.engine) as s:
            for h in handles:
                ok, why = registry.can_use(s, h, ctx.user)
                if not ok:
                    reasons.append(f"cameo @{h}: {why}")
                    continue
                cameo = registry.get_by_handle(s, h)
                assert cameo.id is not None  # a stored row
                granted.append(GrantedCameo(h, cameo.id, cameo.reference_image))
        ctx.cameos = granted
        if reasons:
            return Decision(stage=self.name, decision="block", reasons=reasons)
        return Decision(stage=self.name, decision="pass",
                        reasons=[f"consent on record for @{g.handle}" for g in granted])
