"""Who sees which job, and the listings built on that rule: one place for the API, the console and the CLI."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from gate.components import Components
from gate.models import Job, JobStatus, User


def visible_job(c: Components, job_id: str, user: User) -> Job | None:
    """The job if `user` may see it: its creator and operators. Someone else's job is None, exactly like a
    missing one, so ids cannot be probed."""
    with Session(c.engine, expire_on_commit=False) as s:
        job = s.get(Job, job_id)
    if job is None or (user.role != "operator" and job.user != user.name):
        return None
    return job


def video_allowed(job: Job, user: User) -> bool:
    """A clip reaches its creator only once published; a draft held for review (or any other unpublished
    state) is seen by operators alone, so a prompt the gate could not read never gets its video out."""
    return bool(job.video_key) and (job.status == JobStatus.PUBLISHED or user.role == "operator")


def downloadable_job(c: Components, job_id: str, user: User) -> Job | None:
    """The job whose stored video `user` may fetch: a published clip by anyone signed in (it is public),
    anything else only as video_allowed says. None otherwise, or when the file is gone."""
    with Session(c.engine, expire_on_commit=False) as s:
        job = s.get(Job, job_id)
    if job is None or job.status != JobStatus.PUBLISHED:
        job = visible_job(c, job_id, user) if job is not None else None
    if job is None or not video_allowed(job, user) or not c.storage.exists(str(job.video_key)):
        return None
    return job


def list_jobs(c: Components, user: User, limit: int) -> list[Job]:
    """Newest first: every job for an operator, one's own for anyone else."""
    q = select(Job).order_by(col(Job.created_at).desc()).limit(limit)
    if user.role != "operator":
        q = q.where(Job.user == user.name)
    with Session(c.engine, expire_on_commit=False) as s:
        return list(s.exec(q).all())


def review_queue(c: Components, limit: int = 50) -> list[Job]:
    """Jobs waiting for an operator, longest waiting first."""
    with Session(c.engine, expire_on_commit=False) as s:
        return list(s.exec(select(Job).where(Job.status == JobStatus.REVIEW).order_by(col(Job.updated_at))
                           .limit(limit)).all())


def jobs_since(c: Components, since: datetime, limit: int = 20_000) -> list[Job]:
    """Jobs created since `since`, newest first (the operators' dashboard)."""
    with Session(c.engine, expire_on_commit=False) as s:
        return list(s.exec(select(Job).where(Job.created_at >= since)
                           .order_by(col(Job.created_at).desc()).limit(limit)).all())


def job_statuses(c: Components, job_ids: list[str]) -> dict[str, str]:
    """Each existing job's status by id."""
    if not job_ids:
        return {}
    with Session(c.engine) as s:
        return {j.id: j.status for j in s.exec(select(Job).where(col(Job.id).in_(job_ids))).all()}
