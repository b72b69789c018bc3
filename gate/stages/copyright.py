"""Copyright gate: registered works whose owners opted out, found in the pixels."""

from __future__ import annotations

from sqlmodel import Session

from gate.components import Components
from gate.decision import Decision, Signal, worst
from gate.pipeline import JobContext


class CopyrightStage:
    name = "copyright"

    def __init__(self, c: Components) -> None:
        self.c = c

    def signals(self) -> list[Signal]:
        index, why = self.c.copyright_index.get()
        if index is None:
            return [Signal("copyright.pdq", "pdq", False, False, why)]
        return [Signal.from_report(f"copyright.{n}", i, default_model=n) for n, i in index.signals_status().items()]

    def run(self, ctx: JobContext) -> Decision:
        from gate.rights import fresh_copyright_index
        from safety.copyright.models import Work

        index, _ = fresh_copyright_index(self.c)
        matches = index.check_video(ctx.files["draft"])
        verdict = "pass"
        reasons: list[str] = []
        evidence = []
        with Session(self.c.engine) as s:
            for m in matches:
                work = s.get(Work, m.work_id)
                policy = work.policy if work else self.c.policy.copyright_action_default
                if policy == "allow":
                    continue
                verdict = worst(verdict, "block" if policy == "block" else "review")
                reasons.append(f"resembles registered work {m.work!r} (score {m.score:.2f}, frame {m.frame})")
                evidence.append({"work_id": m.work_id, "work": m.work, "score": m.score, "frame": m.frame,
                                 "signals": m.signals})
        return Decision(stage=self.name, decision=verdict, reasons=reasons, evidence=evidence,
                        scores={m.work: round(float(m.score), 4) for m in matches})
