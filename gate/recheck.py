"""The gate checks a published clip again: a remix whose source was taken down on a ground its pictures need
not carry (copyright, violence, ...) goes back to the queue, hidden meanwhile, and a worker runs the gate's
analysis stages (frames, likeness, copyright) and the publish stage on the clip as it was published (already
marked and signed). Pass: published again; review: held for an operator; block: refused, with a statement."""

from __future__ import annotations

import shutil
from typing import Any

from sqlmodel import Session

from gate.components import Components
from gate.job_status import transition
from gate.models import Job, JobStatus
from gate.pipeline import JobState, Stage

RECHECK_STAGES = ("frames", "likeness", "copyright", "publish")


def request_in(s: Session, job: Job, cause: dict[str, Any]) -> bool:
    """Queue a published clip for a re-check in the caller's write transaction (the caller dispatches it after
    commit). False if it is no longer published."""
    return transition(s, job.id, {JobStatus.PUBLISHED}, JobStatus.QUEUED, request={**job.request, "recheck": cause},
                      attempts=0, lease_until=None)


def is_recheck(job: Job) -> bool:
    return isinstance(job.request.get("recheck"), dict)


def stages(c: Components) -> list[Stage]:
    from gate.stages.copyright import CopyrightStage
    from gate.stages.frames import FrameStage
    from gate.stages.likeness import LikenessStage
    from gate.stages.publish import PublishStage

    return [FrameStage(c), LikenessStage(c), CopyrightStage(c), PublishStage(c)]


def prepare(c: Components, ctx: JobState, job: Job) -> None:
    """The published file becomes the run's draft and its signed output alike (it is marked and signed)."""
    if not job.video_key or not c.storage.exists(job.video_key):
        raise RuntimeError("the published clip to check again is no longer stored")
    copy = ctx.workdir / "published.mp4"
    shutil.copyfile(c.storage.path(job.video_key), copy)
    ctx.draft = ctx.signed = copy
    ctx.clip_metadata = {}


def kept_decisions(decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first run's decisions the re-check does not replace (prompt, consent, generation, signing)."""
    return [d for d in decisions if d.get("name") not in RECHECK_STAGES and d.get("decision") != "running"]


def drop_published_copy(c: Components, job_id: str) -> None:
    """After a re-check that did not publish: the file at the published key is no longer public; a draft held
    for review has its own copy, a refusal keeps its evidence frames."""
    with Session(c.engine) as s:
        job = s.get(Job, job_id)
    published = f"videos/{job_id}.mp4"
    if job is not None and job.status != JobStatus.PUBLISHED:
        c.storage.delete(published)
