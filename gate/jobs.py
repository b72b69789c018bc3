"""Generation jobs: create (validated, stored, queued), run (idempotent, leased), read, take down."""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select

from gate import audit
from gate.cameos import recheck_consent
from gate.components import Components
from gate.decision import Decision
from gate.evidence import delete_evidence, keep_evidence_frames
from gate.models import TERMINAL_STATES, Job, RightsDecision, utcnow
from gate.pipeline import JobContext, Pipeline, PipelineResult
from gate.requests import GenerationRequest

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3  # a job that keeps killing its worker is failed, never passed
STALE_QUEUED = timedelta(minutes=10)


class JobError(ValueError):
    """A request the caller can fix (4xx)."""


class NotFound(JobError):
    pass


Progress = Callable[[str, Decision | None], None]


def new_job_id() -> str:
    return secrets.token_hex(8)  # 64 bits: the watermark payload and the video id


def create_job(
    c: Components, user: str, req: GenerationRequest, job_id: str | None = None, extra: dict[str, Any] | None = None
) -> Job:
    """`extra` carries gate-internal fields (e.g. the media key of an uploaded remix source)."""
    try:
        req.check_limits(c.settings.max_seconds, c.settings.max_prompt_chars)
    except ValueError as exc:
        raise JobError(str(exc)) from exc
    if req.remix is not None:
        resolve_remix_source(c, user, req.remix)  # fail now, not in the worker
    job = Job(id=job_id or new_job_id(), user=user, status="queued", request=req.model_dump() | (extra or {}))
    with Session(c.engine, expire_on_commit=False) as s:
        s.add(job)
        s.commit()
    audit.append(c.engine, user, "job.created", job.id, {"request": job.request})
    return job


def resolve_remix_source(c: Components, user: str, video_id: str) -> str:
    """Only a published clip may be remixed: a draft held for review would otherwise reach its creator
    inside a new clip the reviewer never saw. Returns the media key."""
    with Session(c.engine) as s:
        src = s.get(Job, video_id)
    if src is None or src.video_key is None or not c.storage.exists(src.video_key):
        raise NotFound(f"no clip {video_id} to remix")
    if src.status != "published":
        raise NotFound(f"no clip {video_id} to remix")
    return src.video_key


def get_job(c: Components, job_id: str) -> Job | None:
    with Session(c.engine, expire_on_commit=False) as s:
        return s.get(Job, job_id)


def _lease(c: Components) -> timedelta:
    return timedelta(seconds=c.settings.job_lease_seconds)  # renewed every lease/4 while running


def _claim(c: Components, job_id: str) -> Job | None:
    """Atomically take the job: queued, or running with an expired lease (its worker died)."""
    now = utcnow()
    with Session(c.engine, expire_on_commit=False) as s:
        res = s.exec(
            update(Job)
            .where(col(Job.id) == job_id)
            .where(or_(col(Job.status) == "queued",
                       (col(Job.status) == "running") & (col(Job.lease_until) < now)))
            .values(status="running", lease_until=now + _lease(c), attempts=Job.attempts + 1, updated_at=now)
        )
        s.commit()
        if res.rowcount != 1:
            return None
        return s.get(Job, job_id)


def _heartbeat(c: Components, job_id: str, stop: threading.Event) -> None:
    while not stop.wait(_lease(c).total_seconds() / 4):
        try:
            with Session(c.engine) as s:
                s.exec(update(Job).where(col(Job.id) == job_id).where(col(Job.status) == "running")
                       .values(lease_until=utcnow() + _lease(c)))
                s.commit()
        except Exception:
            log.exception("lease renewal failed for %s", job_id)


def build_pipeline(c: Components, progress: Progress | None = None) -> Pipeline:
    from gate.stages import build_stages

    def on_decision(ctx: JobContext, d: Decision) -> None:
        audit.append(c.engine, "gate", "stage.decision", ctx.job_id, d.as_dict())
        with Session(c.engine) as s:  # live progress for GET /v1/generations/{id}
            job = s.get(Job, ctx.job_id)
            if job is not None:
                job.decisions = [*job.decisions[:-1], d.as_dict()]
                s.add(job)
                s.commit()
        if progress:
            progress(d.stage, d)

    def on_start(ctx: JobContext, name: str) -> None:
        with Session(c.engine) as s:
            job = s.get(Job, ctx.job_id)
            if job is not None:
                job.error = None
                job.decisions = [*job.decisions, {"name": name, "decision": "running"}]
                s.add(job)
                s.commit()
        if progress:
            progress(name, None)

    return Pipeline(build_stages(c), c.policy, c.settings.stage_timeout_seconds, on_decision, on_start,
                    hung=c.hung_stages)


def run_job(
    c: Components,
    job_id: str,
    progress: Progress | None = None,
    frame_progress: Callable[[int, int], None] | None = None,
) -> str:
    """Run one job to a terminal state. Safe to call any number of times for the same id."""
    with Session(c.engine) as s:
        existing = s.get(Job, job_id)
    if existing is None:
        log.warning("job %s does not exist; dropping the message", job_id)
        return "missing"
    if existing.status in TERMINAL_STATES:
        return existing.status
    job = _claim(c, job_id)
    if job is None:
        return "busy"  # another worker holds a live lease
    if job.attempts > MAX_ATTEMPTS:
        _finish(c, job_id, "failed", [], [f"gave up after {MAX_ATTEMPTS} attempts (worker lost each time)"])
        return "failed"

    workdir = c.workdir / job_id
    shutil.rmtree(workdir, ignore_errors=True)  # a re-run starts clean
    workdir.mkdir(parents=True)
    ctx = JobContext(job_id=job_id, user=job.user, request=job.request, workdir=workdir)
    if frame_progress is not None:
        ctx.facts["progress"] = frame_progress
    stop = threading.Event()
    threading.Thread(target=_heartbeat, args=(c, job_id, stop), daemon=True).start()
    try:
        with Session(c.engine) as s:  # the running view starts empty for this attempt
            s.exec(update(Job).where(col(Job.id) == job_id).values(decisions=[]))
            s.commit()
        if job.request.get("remix"):
            key = resolve_remix_source(c, job.user, job.request["remix"])
            ctx.files["remix_source"] = c.storage.path(key)
        elif job.request.get("remix_key"):
            ctx.files["remix_source"] = c.storage.path(job.request["remix_key"])
        result = build_pipeline(c, progress).run(ctx)
    except Exception as exc:  # outside any stage (e.g. the remix source vanished): fail closed
        log.exception("job %s failed", job_id)
        result = PipelineResult("blocked", [Decision("gate", "block", [f"job failed closed: {exc}"])])
    finally:
        stop.set()
    decisions = [d.as_dict() for d in result.decisions]
    if result.status != "published" and "draft" in ctx.files:
        try:
            keep_evidence_frames(c, job_id, ctx.files["draft"], decisions)
        except Exception:  # showing the evidence is a courtesy; the decision stands without it
            log.exception("could not keep the evidence frames of %s", job_id)
    _finish(c, job_id, result.status, decisions, result.reasons)
    shutil.rmtree(workdir, ignore_errors=True)
    return result.status


def _finish(
    c: Components, job_id: str, status: str, decisions: list[dict[str, Any]], reasons: list[str]
) -> None:
    with Session(c.engine) as s:
        job = s.get(Job, job_id)
        if job is None:
            return
        # The publish stage may have already made it public in its own locked transaction.
        job.status = status
        job.decisions = decisions
        job.reasons = reasons
        job.lease_until = None
        job.updated_at = utcnow()
        s.add(job)
        # what each rights holder sees: replaced as a whole if the job runs again
        s.exec(delete(RightsDecision).where(col(RightsDecision.job_id) == job_id))
        s.add_all(rights_decisions(job_id, decisions))
        s.commit()
    audit.append(c.engine, "gate", "job.finished", job_id, {"status": status, "reasons": reasons})


def rights_decisions(job_id: str, decisions: list[dict[str, Any]]) -> list[RightsDecision]:
    """One row per (stage, work) that a stage's evidence names by id (prompt names, pixel matches)."""
    rows: dict[tuple[str, int], RightsDecision] = {}
    for d in decisions:
        stage = str(d.get("name", ""))[:32]
        hits = [h for e in d.get("evidence") or [] if isinstance(e, dict) for h in [e, *(e.get("works") or [])]]
        for hit in hits:
            work_id, score = hit.get("work_id"), hit.get("score")
            if isinstance(work_id, int) and (stage, work_id) not in rows:
                rows[(stage, work_id)] = RightsDecision(
                    work_id=work_id, job_id=job_id, stage=stage, decision=str(d.get("decision", ""))[:16],
                    score=float(score) if isinstance(score, int | float) else None)
    return list(rows.values())


def stale_jobs(c: Components) -> list[str]:
    now = utcnow()
    with Session(c.engine) as s:
        rows = s.exec(
            select(Job.id).where(or_(
                (col(Job.status) == "running") & (col(Job.lease_until) < now),
                (col(Job.status) == "queued") & (col(Job.updated_at) < now - STALE_QUEUED),
            )).limit(500)
        ).all()
    return list(rows)


def take_down(c: Components, job_id: str, actor: str, reason: str) -> Job:
    with Session(c.engine, expire_on_commit=False) as s:
        job = s.get(Job, job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        if job.video_key:
            c.storage.delete(job.video_key)
        job.status = "taken_down"
        job.reasons = [*job.reasons, f"taken down by {actor}: {reason}"]
        job.updated_at = utcnow()
        s.add(job)
        s.commit()
    delete_evidence(c, job_id)  # kept frames of a taken-down clip go with it
    audit.append(c.engine, actor, "job.taken_down", job_id, {"reason": reason})
    return job


def delete_unqueued(c: Components, job_id: str) -> None:
    """Undo create_job when the queue refused the job, so no job exists that nobody will run."""
    with Session(c.engine) as s:
        job = s.get(Job, job_id)
        if job is not None and job.status == "queued":
            s.delete(job)
            s.commit()
    audit.append(c.engine, "gate", "job.not_queued", job_id, {"reason": "queue unavailable"})


def review(c: Components, job_id: str, actor: str, action: str, reason: str) -> Job:
    """An operator's decision on a clip held for review: approve (publish, consent re-checked) or block."""
    from consent.models import Appearance

    if action not in ("approve", "block"):
        raise JobError("action must be approve or block")
    with Session(c.engine, expire_on_commit=False) as s:
        job = s.get(Job, job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        if job.status != "review" or not job.video_key:
            raise JobError(f"job {job_id} is {job.status}, not waiting for review")
        if action == "block":
            c.storage.delete(job.video_key)
            job.status, job.video_key = "blocked", None
            job.reasons = [*job.reasons, f"blocked in review by {actor}: {reason}"]
        else:
            apps = s.exec(select(Appearance).where(Appearance.video_id == job_id)).all()
            _, refused = recheck_consent(s, [a.cameo_id for a in apps], job.user)
            if refused:
                raise JobError("cannot publish: " + "; ".join(refused))
            key = f"videos/{job_id}.mp4"
            c.storage.put_file(key, c.storage.path(job.video_key))
            c.storage.delete(job.video_key)
            job.status, job.video_key = "published", key
            job.reasons = [*job.reasons, f"approved in review by {actor}: {reason}"]
            for a in apps:
                a.status = "published"
                s.add(a)
        job.updated_at = utcnow()
        s.add(job)
        s.commit()
    audit.append(c.engine, actor, f"job.review_{action}", job_id, {"reason": reason})
    return job
