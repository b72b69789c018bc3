"""Generation jobs, the records: create (validated, stored; the queue is the caller's), read, undo an unqueued one.

The worker side (leasing, running, finishing) is gate.job_worker; operators' review and takedown are
gate.job_review; gate.jobs gathers all three for callers."""

from __future__ import annotations

import secrets
from typing import Any

from sqlmodel import Session

from gate import audit
from gate.components import Components
from gate.db import session_scope
from gate.models import Job, JobStatus
from gate.moderation_models import RestrictedClip
from gate.quota import enforce as quota_enforce
from gate.requests import GenerationRequest, JobRequest


class JobError(ValueError):
    """A request the caller can fix (4xx)."""


class NotFound(JobError):
    pass


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
    request = req.model_dump() | (extra or {})
    try:
        JobRequest.stored(request)  # the gate's own fields too: what the worker will read back
    except ValueError as exc:
        raise JobError(str(exc)) from exc
    job = Job(id=job_id or new_job_id(), user=user, status=JobStatus.QUEUED, request=request)
    with session_scope(c.engine, write=True) as s:
        s.add(job)
        if not quota:  # the record and its audit entry commit together
            audit.append_in(s, user, "job.created", job.id, {"request": job.request})
    if quota:
        # the quota counts committed rows (racing requests see each other), so the entry follows its verdict
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
    if src.status != JobStatus.PUBLISHED:
        raise NotFound(f"no clip {video_id} to remix")
    if src.user != user:  # an operator's restriction keeps a clip from others' remixes (gate.moderation)
        with Session(c.engine) as s:
            if s.get(RestrictedClip, video_id) is not None:
                raise NotFound(f"no clip {video_id} to remix")
    return src.video_key


def get_job(c: Components, job_id: str) -> Job | None:
    with Session(c.engine, expire_on_commit=False) as s:
        return s.get(Job, job_id)


def delete_unqueued(c: Components, job_id: str) -> None:
    """Undo create_job when the queue refused the job, so no job exists that nobody will run."""
    with session_scope(c.engine, write=True) as s:
        job = s.get(Job, job_id)
        if job is not None and job.status == JobStatus.QUEUED:
            s.delete(job)
        audit.append_in(s, "gate", "job.not_queued", job_id, {"reason": "queue unavailable"})
