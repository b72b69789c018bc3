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

from gate import audit, metrics
from gate.cameos import recheck_consent
from gate.components import Components
from gate.db import write_session
from gate.decision import Decision
from gate.evidence import delete_evidence, keep_evidence_frames
from gate.job_status import ALLOWED, transition
from gate.models import TERMINAL_STATES, Job, RightsDecision, utcnow
from gate.pipeline import JobState, Pipeline, PipelineResult
from gate.quota import enforce as quota_enforce
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
    c: Components, user: str, req: GenerationRequest, job_id: str | None = None, extra: dict[str, Any] | None = None,
    quota: bool = False,
) -> Job:
    """`extra` carries gate-internal fields (e.g. the media key of an uploaded remix source). `quota`: the
    front doors (API, console) hold the user to gate.quota's limits (QuotaExceeded); the CLI and evals not."""
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
    if quota:
        quota_enforce(c, user, job.id)
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
        claimed = transition(s, job_id, {"queued", "running"}, "running",
                             or_(col(Job.status) == "queued", col(Job.lease_until) < now),
                             lease_until=now + _lease(c), attempts=Job.attempts + 1)
        s.commit()
        return s.get(Job, job_id) if claimed else None


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

    def on_decision(ctx: JobState, d: Decision) -> None:
        metrics.stage_decided(d.stage, d.decision, d.seconds)
        audit.append(c.engine, "gate", "stage.decision", ctx.job_id, d.as_dict())
        with Session(c.engine) as s:  # live progress for GET /v1/generations/{id}
            job = s.get(Job, ctx.job_id)
            if job is not None:  # the stage's "running" row (several run at once) becomes its decision
                job.decisions = [d.as_dict() if r.get("name") == d.stage and r.get("decision") == "running" else r
                                 for r in job.decisions]
                s.add(job)
                s.commit()
        if progress:
            progress(d.stage, d)

    def on_start(ctx: JobState, name: str) -> None:
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
        return _finish(c, job_id, "failed", [], [f"gave up after {MAX_ATTEMPTS} attempts (worker lost each time)"],
                       attempt=job.attempts)

    workdir = c.workdir / job_id
    shutil.rmtree(workdir, ignore_errors=True)  # a re-run starts clean
    workdir.mkdir(parents=True)
    # only this attempt may publish or finish the job
    ctx = JobState(job_id=job_id, user=job.user, request=job.request, workdir=workdir, attempt=job.attempts,
                   frame_progress=frame_progress)
    stop = threading.Event()
    threading.Thread(target=_heartbeat, args=(c, job_id, stop), daemon=True).start()
    try:
        with Session(c.engine) as s:  # the running view starts empty for this attempt
            s.exec(update(Job).where(col(Job.id) == job_id).values(decisions=[]))
            s.commit()
        if job.request.get("remix"):
            key = resolve_remix_source(c, job.user, job.request["remix"])
            ctx.remix_source = c.storage.path(key)
        elif job.request.get("remix_key"):
            ctx.remix_source = c.storage.path(job.request["remix_key"])
        result = build_pipeline(c, progress).run(ctx)
    except Exception as exc:  # outside any stage (e.g. the remix source vanished): fail closed
        log.exception("job %s failed", job_id)
        result = PipelineResult("blocked", [Decision("gate", "block", [f"job failed closed: {exc}"])])
    finally:
        stop.set()
    decisions = [d.as_dict() for d in result.decisions]
    if result.status != "published" and ctx.draft is not None:
        try:
            keep_evidence_frames(c, job_id, ctx.draft, decisions)
        except Exception:  # showing the evidence is a courtesy; the decision stands without it
            log.exception("could not keep the evidence frames of %s", job_id)
    status = _finish(c, job_id, result.status, decisions, result.reasons, attempt=job.attempts)
    shutil.rmtree(workdir, ignore_errors=True)
    return status


# the state a run leaves the job in -> the state its run may have left it in until now
_FINISH_FROM = {"published": {"published"}, "review": {"running"}, "blocked": {"running"},
                "failed": {"running"}}


def _finish(
    c: Components, job_id: str, status: str, decisions: list[dict[str, Any]], reasons: list[str],
    attempt: int | None = None,
) -> str:
    """Record the run's outcome; returns the job's status afterwards. A takedown that landed while the
    job ran stands (the run's decisions are still recorded)."""
    from consent.models import Appearance

    guard = [col(Job.attempts) == attempt] if attempt is not None else []
    taken_back = None
    with write_session(c.engine) as s:
        done = transition(s, job_id, _FINISH_FROM[status], status, *guard, lease_until=None)
        if not done and status != "published":
            # The publish stage overran its time limit, the job was decided without it, and the
            # abandoned thread committed anyway: the clip is not public, it never passed in time.
            taken_back = s.get(Job, job_id)
            done = transition(s, job_id, {"published"}, status, *guard, lease_until=None)
            if done and taken_back is not None:
                taken_back = taken_back.video_key
                s.exec(update(Appearance).where(col(Appearance.video_id) == job_id,
                                                col(Appearance.status) != "removed")
                       .values(status="removed", removed_at=utcnow()))
            else:
                taken_back = None
        job = s.get(Job, job_id)
        if job is None:
            return "missing"
        if not done and attempt is not None and job.attempts != attempt:
            log.warning("job %s was claimed again after this worker's lease ran out; its run decides", job_id)
            return job.status
        job.decisions = decisions
        # a takedown's reason is kept after the run's own
        job.reasons = reasons if done else [*reasons, *job.reasons]
        s.add(job)
        if done:  # what each rights holder sees: replaced as a whole if the job runs again
            s.exec(delete(RightsDecision).where(col(RightsDecision.job_id) == job_id))
            s.add_all(rights_decisions(job_id, decisions))
        final = job.status
        s.commit()
    if taken_back:
        c.storage.delete(taken_back)
        log.warning("job %s: publish committed after its stage timed out; taken back", job_id)
    metrics.job_finished(final)  # what this run left the job in: a takedown that landed during it counts
    if done:
        audit.append(c.engine, "gate", "job.finished", job_id, {"status": status, "reasons": reasons})
    else:
        audit.append(c.engine, "gate", "job.finish_superseded", job_id,
                     {"decided": status, "status": final, "reasons": reasons})
    return final


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
    with write_session(c.engine) as s:
        # From any state: a running job's publish and finish then find it taken down and leave it so.
        transition(s, job_id, ALLOWED["taken_down"], "taken_down")
        job = s.get(Job, job_id)  # read after the compare-and-set: the video_key is the current one
        if job is None:
            raise NotFound(f"no job {job_id}")
        if job.video_key:
            c.storage.delete(job.video_key)
        job.reasons = [*job.reasons, f"taken down by {actor}: {reason}"]
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
    with write_session(c.engine) as s:
        # The compare-and-set first: it takes the write lock (SQLite) and the job row (PostgreSQL), so a
        # revocation or takedown either committed before (and is seen below) or waits for this commit.
        draft = s.exec(select(Job.video_key).where(col(Job.id) == job_id)).first()
        to_state = "published" if action == "approve" else "blocked"
        moved = bool(draft) and transition(s, job_id, {"review"}, to_state,
                                           video_key=f"videos/{job_id}.mp4" if action == "approve" else None)
        job = s.get(Job, job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        if not moved or draft is None:
            raise JobError(f"job {job_id} is {job.status}, not waiting for review")
        if action == "block":
            job.reasons = [*job.reasons, f"blocked in review by {actor}: {reason}"]
        else:
            # Locks in the publish stage's order (job, cameos, appearances), so neither waits on the other
            # and a revocation (cameo, then its appearances) cannot deadlock with this.
            cameo_ids = s.exec(select(Appearance.cameo_id).where(Appearance.video_id == job_id)).all()
            _, refused = recheck_consent(s, list(cameo_ids), job.user)
            if refused:
                raise JobError("cannot publish: " + "; ".join(refused))
            apps = s.exec(select(Appearance).where(Appearance.video_id == job_id).with_for_update()).all()
            if any(a.status == "removed" for a in apps):
                raise JobError("cannot publish: a person it shows has deleted it")
            c.storage.put_file(f"videos/{job_id}.mp4", c.storage.path(draft))
            job.reasons = [*job.reasons, f"approved in review by {actor}: {reason}"]
            for a in apps:
                a.status = "published"
                s.add(a)
        s.add(job)
        try:
            s.commit()
        except Exception:
            if action == "approve":  # no record vouches for the copy
                c.storage.delete(f"videos/{job_id}.mp4")
            raise
    c.storage.delete(draft)
    audit.append(c.engine, actor, f"job.review_{action}", job_id, {"reason": reason})
    return job
