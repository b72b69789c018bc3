"""Copyright gate: registered works whose owners opted out, found in the pixels."""

from __future__ import annotations

from sqlmodel import Session

from gate.components import Components
from gate.decision import Decision, Signal, Verdict, worst
from gate.pipeline import JobState


class CopyrightStage:
    name = "copyright"
    title = "Copyright check"
    description = "compares the clip with works registered by rights holders"
    reads = frozenset({"frame_sample"})
    provides: frozenset[str] = frozenset()
    concurrent = True

    def __init__(self, c: Components) -> None:
        self.c = c

    def signals(self) -> list[Signal]:
        index, why = self.c.copyright_index.get()
        if index is None:
            return [Signal("copyright.pdq", "pdq", False, False, why)]
        return [Signal.from_report(f"copyright.{n}", i, default_model=n) for n, i in index.signals_status().items()]

    def run(self, ctx: JobState) -> Decision:
        from gate.rights import fresh_copyright_index
        from safety.copyright.models import Work
        from safety.copyright.video import MAX_SAMPLED_FRAMES

        index, _ = fresh_copyright_index(self.c)
        # the frames taken every 0.5 s, as the index's own video sampler picks them (no shot/last extras)
        frames = ctx.frames().at_interval(MAX_SAMPLED_FRAMES)
        matches = index.check_frames((f.index, f.time, f.image) for f in frames)
        verdict: Verdict = "pass"
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
