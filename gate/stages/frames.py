"""Frame gate: check what was actually made (sampled frames, and the words spoken in it)."""

from __future__ import annotations

from dataclasses import asdict

from gate import banks
from gate.components import Components
from gate.decision import Decision, Signal, Verdict, worst
from gate.pipeline import JobState
from gate.stages.text import language_verdict


class FrameStage:
    name = "frames"
    title = "Frame check"
    description = ("checks the frames and any spoken words for nudity, violence and other harm, and the frames "
                   "(and any remix source) against the hash banks of known and taken-down clips")
    reads = frozenset({"frame_sample", "clip_metadata", "remix_source"})
    provides: frozenset[str] = frozenset()
    concurrent = True
    MAX_FRAMES = 64

    def __init__(self, c: Components) -> None:
        self.c = c

    def signals(self) -> list[Signal]:
        gate, why = self.c.frame_gate.get()
        # hashes need no weights: PDQ (pdqhash) in the banks' index
        bank = Signal("frames.hash_banks", "pdqhash PDQ/vPDQ, faiss multi-index hashing", True, True)
        if gate is None:
            return [Signal("frames.nudenet", "nudenet", False, False, why),
                    Signal("frames.clip", "open_clip", False, False, why), bank]
        return [*(Signal.from_report(n, i) for n, i in gate.signals().items()), bank]

    def run(self, ctx: JobState) -> Decision:
        gate = self.c.frame_gate.need()
        policy = self.c.policy
        frames = ctx.frames().thinned(self.MAX_FRAMES)
        report = gate.assess_frames(frames)
        verdict: Verdict = "pass"
        reasons: list[str] = []
        for category, score in report.categories.items():
            th = policy.frames.get(category)
            if th is None:
                continue
            v = th.verdict(score)
            if category == "minor_sexual" and not report.signals.get("frames.clip", {}).get("ran", False):
                # With no child signal this score is only an upper bound (any nudity counts): a person
                # decides, the clip is not published meanwhile.
                v = "review" if v == "block" else v
                if v != "pass":
                    reasons.append("no child-age signal is configured (CLIP weights), so any nudity is "
                                   "treated as possibly involving a minor and sent to review")
            if v != "pass":
                reasons.append(f"{category} score {score:.2f} in the generated frames")
            verdict = worst(verdict, v)
        if verdict != "pass":
            reasons.extend(report.notes)
        not_run = {n: i.get("why", "") for n, i in report.signals.items() if not i.get("ran", False)}
        if report.unscored:
            not_run["frames.unscored"] = "no signal scored: " + ", ".join(report.unscored)
        models = {n: i.get("model", "") for n, i in report.signals.items()}
        models["frames.hash_banks"] = "pdq+vpdq, distance <= 31"

        # Stay-down: the generated frames, and the clip being remixed, against the hash banks
        matches = banks.match_images(self.c, [f.image for f in frames])
        if ctx.remix_source is not None:
            matches += banks.match_images(self.c, [f.image for f in banks.sample(ctx.remix_source)],
                                          ctx.remix_source)
        bank_verdict, bank_reasons = banks.verdict(matches, "the generated clip")
        verdict = worst(verdict, bank_verdict)
        reasons.extend(bank_reasons)

        # Spoken words are content too: the dialogue goes through the prompt gate.
        speech = " ".join(ctx.clip_metadata.get("speech_text", []) or [])
        scores = {k: round(float(v), 4) for k, v in report.categories.items()}
        scores["frames_sampled"] = float(report.frames)
        scores["hash_bank_matches"] = float(len(matches))
        if speech.strip():
            clf, why = self.c.prompt_classifier.get()
            if clf is None:
                verdict = worst(verdict, "block")
                reasons.append(f"spoken dialogue could not be checked: {why}")
            else:
                res = clf.classify(speech)
                v, flagged = policy.prompt_verdict(res.categories)
                lang_verdict, lang_reasons = language_verdict(res, policy, "spoken dialogue")
                verdict = worst(verdict, v, lang_verdict)
                reasons.extend(f"spoken dialogue: {cat} p={res.categories[cat]:.2f}" for cat in flagged)
                reasons.extend(lang_reasons)
                scores.update({f"speech:{k}": round(v, 4) for k, v in res.categories.items()})
        return Decision(stage=self.name, decision=verdict, reasons=reasons, scores=scores, models=models,
                        not_run=not_run, evidence=[asdict(e) for e in report.evidence[:20]])
