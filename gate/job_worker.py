"""Running generation jobs: claim (a lease a worker renews while it runs), the pipeline with its live progress,
and the finish that records the outcome; idempotent, so a message delivered twice or a job re-queued after
its worker died is safe."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from gate import audit, metrics, recheck, statements
from gate.components import Components
from gate.db import DatabaseUnavailable, session_scope
from gate.decision import Decision
from gate.evidence import drop_if_withdrawn, keep_evidence_frames
from gate.job_status import transition
from gate.job_store import resolve_remix_source
from gate.models import TERMINAL_STATES, Job, JobStatus, RightsDecision, utcnow
from gate.pipeline import JobState, Pipeline, PipelineResult, Stage
from gate.requests import JobRequest

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3  # a job that keeps killing its worker is failed, never passed
STALE_QUEUED = timedelta(minutes=10)

Progress = Callable[[str, Decision | None], None]


def _lease(c: Components) -> timedelta:
    return timedelta(seconds=c.settings.job_lease_seconds)  # renewed every lease/4 while running


def _claim(c: Components, job_id: str) -> Job | None:
    """Atomically take the job: queued, or running with an expired lease (its worker died)."""
    now = utcnow()
    with session_scope(c.engine) as s:
        claimed = transition(s, job_id, {JobStatus.QUEUED, JobStatus.RUNNING}, JobStatus.RUNNING,
                             or_(col(Job.status) == JobStatus.QUEUED, col(Job.lease_until) < now),
                             lease_until=now + _lease(c), attempts=Job.attempts + 1)
    if not claimed:
        return None
    with Session(c.engine, expire_on_commit=False) as s:
        return s.get(Job, job_id)


def _heartbeat(c: Components, job_id: str, stop: threading.Event) -> None:
    while not stop.wait(_lease(c).total_seconds() / 4):
        try:
            with Session(c.engine) as s:
                s.exec(update(Job).where(col(Job.id) == job_id).where(col(Job.status) == JobStatus.RUNNING)
                       .values(lease_until=utcnow() + _lease(c)))
                s.commit()
        except Exception:
            log.exception("lease renewal failed for %s", job_id)


def prewarm(c: Components) -> None:
    """Load the analysis and signing stages' models (run in a thread while the clip is generated: in a cold
    process, the CLI, their loading overlaps that work instead of following it). A stage that needs one
    still loading waits on its Lazy's lock; a failed load is remembered and reported as before."""
    for lazy in (c.frame_gate, c.face_backend, c.face_index, c.copyright_index, c.signer):
        try:
            lazy.get()
        except Exception:  # Lazy.get records failures itself; never let this thread take anything down
            log.exception("preloading %s failed", lazy.name)
    try:  # the hash banks' index (a large bank takes seconds to load: not in the first job's frame stage)
        from gate.banks import warm_index

        warm_index(c)
    except Exception:
        log.exception("preloading the hash bank index failed")


def _opencv_one_thread() -> None:
    """OpenCV's own thread pool off in a process that runs jobs. The gate already keeps the cores busy (x264's
    and the decoder's threads, the stages running at once); OpenCV splitting each small call (the watermark's
    ~10 per frame) over a second thread only added hand-over and waiting: the 10-s 720p embed took 2.78 instead
    of 3.04 CPU s, the same wall time (issue 19, evals/gate_bench.py). Process-wide, as OpenCV's setting is."""
    import cv2

    if cv2.getNumThreads() != 1:
        cv2.setNumThreads(1)


def build_pipeline(c: Components, progress: Progress | None = None, stages: list[Stage] | None = None) -> Pipeline:
    from gate.stages import build_stages

    def on_decision(ctx: JobState, d: Decision) -> None:
        metrics.stage_decided(d.stage, d.decision, d.seconds)
        # the decision's audit entry and the live view (GET /v1/generations/{id}) commit together
        with session_scope(c.engine, write=True) as s:
            audit.append_in(s, "gate", "stage.decision", ctx.job_id, d.as_dict())
            job = s.get(Job, ctx.job_id)
            if job is not None:  # the stage's "running" row (several run at once) becomes its decision
                job.decisions = [d.as_dict() if r.get("name") == d.stage and r.get("decision") == "running" else r
                                 for r in job.decisions]
                s.add(job)
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

    return Pipeline(stages if stages is not None else build_stages(c), c.policy, c.settings.stage_timeout_seconds,
                    on_decision, on_start, hung=c.hung_stages)


def run_job(
    c: Components,
    job_id: str,
    progress: Progress | None = None,
    frame_progress: Callable[[int, int], None] | None = None,
) -> str:
    """Run one job to a terminal state. Safe to call any number of times for the same id."""
    _opencv_one_thread()
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
        return _finish(c, job_id, JobStatus.FAILED, [],
                       [f"gave up after {MAX_ATTEMPTS} attempts (worker lost each time)"], attempt=job.attempts)
    try:  # what the stages read, under the front door's rules: a stored request that breaks them runs nothing
        request = JobRequest.stored(job.request)
    except ValueError as exc:
        return _finish(c, job_id, JobStatus.FAILED, [], [f"the stored request is not valid: {exc}"],
                       attempt=job.attempts)

    workdir = c.workdir / job_id
    shutil.rmtree(workdir, ignore_errors=True)  # a re-run starts clean
    workdir.mkdir(parents=True)
    # only this attempt may publish or finish the job
    ctx = JobState(job_id=job_id, user=job.user, request=request, workdir=workdir, attempt=job.attempts,
                   frame_progress=frame_progress)
    stop = threading.Event()
    threading.Thread(target=_heartbeat, args=(c, job_id, stop), daemon=True).start()
    rechecking = recheck.is_recheck(job)
    kept = recheck.kept_decisions(job.decisions) if rechecking else []
    try:
        with Session(c.engine) as s:  # the running view starts empty for this attempt
            s.exec(update(Job).where(col(Job.id) == job_id).values(decisions=kept))
            s.commit()
        if rechecking:  # a published clip checked again: the analysis stages on the clip as published
            recheck.prepare(c, ctx, job)
            result = build_pipeline(c, progress, recheck.stages(c)).run(ctx)
        else:
            if request.remix:
                ctx.remix_source = c.storage.path(resolve_remix_source(c, job.user, request.remix))
            elif request.remix_key:
                ctx.remix_source = c.storage.path(request.remix_key)
            result = build_pipeline(c, progress).run(ctx)
    except Exception as exc:  # outside any stage (e.g. the remix source vanished): fail closed
        log.exception("job %s failed", job_id)
        result = PipelineResult(JobStatus.BLOCKED, [Decision("gate", "block", [f"job failed closed: {exc}"])])
    finally:
        stop.set()
    decisions = [*kept, *(d.as_dict() for d in result.decisions)]
    if result.status != JobStatus.PUBLISHED and ctx.draft is not None:
        try:
            keep_evidence_frames(c, job_id, ctx.draft, decisions)
        except Exception:  # showing the evidence is a courtesy; the decision stands without it
            log.exception("could not keep the evidence frames of %s", job_id)
    for tries_left in (2, 1, 0):
        # A dropped database connection must not leave the run unrecorded: after a publish commits, nothing
        # else would ever write its job.finished (the faults eval found one on PostgreSQL).
        try:
            status = _finish(c, job_id, result.status, decisions, result.reasons, attempt=job.attempts)
            break
        except (DatabaseUnavailable, OperationalError):
            if not tries_left:
                raise
            log.warning("recording the end of job %s failed (database connection lost); trying again", job_id)
            time.sleep(1.0)
    if result.status != JobStatus.PUBLISHED and ctx.draft is not None:
        drop_if_withdrawn(c, job_id, status, decisions)
    if rechecking:
        recheck.drop_published_copy(c, job_id)
    shutil.rmtree(workdir, ignore_errors=True)
    return status


# the state a run leaves the job in -> the state its run may have left it in until now
_FINISH_FROM = {JobStatus.PUBLISHED: {JobStatus.PUBLISHED}, JobStatus.REVIEW: {JobStatus.RUNNING},
                JobStatus.BLOCKED: {JobStatus.RUNNING}, JobStatus.FAILED: {JobStatus.RUNNING}}


def _finish(
    c: Components, job_id: str, status: JobStatus, decisions: list[dict[str, Any]], reasons: list[str],
    attempt: int | None = None,
) -> str:
    """Record the run's outcome; returns the job's status afterwards. A takedown that landed while the
    job ran stands (the run's decisions are still recorded)."""
    from consent.models import Appearance

    guard = [col(Job.attempts) == attempt] if attempt is not None else []
    taken_back: str | None = None  # media key of a clip published after its time ran out
    # an early return below changed nothing: its commit is empty
    with session_scope(c.engine, write=True) as s:
        done = transition(s, job_id, _FINISH_FROM[status], status, *guard, lease_until=None)
        if not done and status != JobStatus.PUBLISHED:
            # The publish stage overran its time limit, the job was decided without it, and the
            # abandoned thread committed anyway: the clip is not public, it never passed in time.
            published = s.get(Job, job_id)
            done = transition(s, job_id, {JobStatus.PUBLISHED}, status, *guard, lease_until=None)
            if done and published is not None:
                taken_back = published.video_key
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
        if done:
            audit.append_in(s, "gate", "job.finished", job_id, {"status": status, "reasons": reasons})
            if status == JobStatus.BLOCKED:  # a refusal is explained to its creator, in the same commit
                statements.refusal_in(s, job, decisions, reasons)
        else:
            audit.append_in(s, "gate", "job.finish_superseded", job_id,
                            {"decided": status, "status": final, "reasons": reasons})
    if taken_back:
        c.storage.delete(taken_back)
        log.warning("job %s: publish committed after its stage timed out; taken back", job_id)
    metrics.job_finished(final)  # what this run left the job in: a takedown that landed during it counts
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


def stale_jobs(c: Components, queued_for: timedelta = STALE_QUEUED) -> list[str]:
    """Jobs to queue again: running with an expired lease (their worker died), or queued for `queued_for`."""
    now = utcnow()
    with Session(c.engine) as s:
        rows = s.exec(
            select(Job.id).where(or_(
                (col(Job.status) == JobStatus.RUNNING) & (col(Job.lease_until) < now),
                (col(Job.status) == JobStatus.QUEUED) & (col(Job.updated_at) < now - queued_for),
            )).limit(500)
        ).all()
    return list(rows)
