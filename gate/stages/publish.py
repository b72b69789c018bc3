"""Publish: consent is checked again, in the same transaction that makes the clip public, so a
revocation that lands while the job ran still wins (the cameo rows are locked; see consent revoke)."""

from __future__ import annotations

from sqlmodel import Session, col

from gate.cameos import recheck_consent
from gate.components import Components
from gate.db import write_session
from gate.decision import Decision, Signal
from gate.job_status import JobStatus, transition
from gate.models import Job
from gate.pipeline import JobState


class PublishStage:
    name = "publish"
    title = "Publish"
    description = "checks consent again and publishes the clip"
    reads = frozenset({"signed", "verdicts", "cameos", "appearances", "attempt", "job_id", "user"})
    provides: frozenset[str] = frozenset()
    concurrent = False

    def __init__(self, c: Components) -> None:
        self.c = c

    def signals(self) -> list[Signal]:
        return []

    def run(self, ctx: JobState) -> Decision:
        held = "review" in ctx.verdicts
        key = f"{'drafts' if held else 'videos'}/{ctx.job_id}.mp4"
        cameo_ids = sorted({g.cameo_id for g in ctx.cameos} | set(ctx.appearances))
        with write_session(self.c.engine) as s:
            # The write lock (SQLite) and the job row (PostgreSQL) first, then the cameos. Only a job
            # still running this attempt may publish: a takedown, or a finish that decided the job
            # without this stage (it overran its time limit), committed first and stands.
            guard = [col(Job.attempts) == ctx.attempt] if ctx.attempt is not None else []
            to_state = JobStatus.RUNNING if held else JobStatus.PUBLISHED
            if not transition(s, ctx.job_id, {JobStatus.RUNNING}, to_state, *guard,
                              video_key=key):
                s.rollback()
                return Decision(stage=self.name, decision="block",
                                reasons=["the job was taken down or decided while it ran; not published"])
            cameos, refused = recheck_consent(s, cameo_ids, ctx.user)
            refused = [f"{r} (re-checked at publish)" for r in refused]
            if refused:
                s.rollback()
                return Decision(stage=self.name, decision="block", reasons=refused)
            self.c.storage.put_file(key, ctx.need("signed"))
            try:
                self._commit(s, ctx, key, held, cameos)
            except Exception:
                self.c.storage.delete(key)  # never leave a file behind that no record vouches for
                raise
        if held:
            return Decision(stage=self.name, decision="review", reasons=["held for review as a draft"])
        return Decision(stage=self.name, decision="pass", reasons=["published"])

    @staticmethod
    def _commit(s: Session, ctx: JobState, key: str, held: bool, cameos: list) -> None:
        from consent import registry

        # Status and appearances land in one commit, with the cameo rows locked until then: a
        # revocation after it finds the clip; one before it was seen by the re-check above.
        for cameo in cameos:
            registry.record_appearance(s, cameo.id, ctx.job_id, "draft" if held else "published",
                                       creator=ctx.user, commit=False)
        s.commit()
