"""Per-user job quota: jobs per hour and jobs in flight (queued or running), for the API and the console.

Checked after the job row is committed and counted with everyone else's committed rows, then undone if
over: two requests racing past the limit are both refused rather than both accepted, on SQLite and on
PostgreSQL alike (a count before the insert would let every concurrent request through).
"""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from gate.components import Components
from gate.models import Job, JobStatus, utcnow

HOUR = timedelta(hours=1)
IN_FLIGHT = (JobStatus.QUEUED, JobStatus.RUNNING)
BUSY_RETRY_SECONDS = 30  # a job usually leaves the queue within this on the default stack


class QuotaExceeded(ValueError):
    """The caller asked for more than their share: answer 429 with Retry-After."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


def enforce(c: Components, user: str, job_id: str) -> None:
    """Raise QuotaExceeded (and delete the just-committed job `job_id`) when `user` is over a limit."""
    per_hour, in_flight = c.settings.jobs_per_hour, c.settings.concurrent_jobs
    if per_hour <= 0 and in_flight <= 0:
        return
    now = utcnow()
    with Session(c.engine) as s:
        mine = col(Job.user) == user
        recent = s.exec(select(func.count(), func.min(Job.created_at))
                        .where(mine, col(Job.created_at) >= now - HOUR)).one()
        busy = s.exec(select(func.count()).select_from(Job).where(mine, col(Job.status).in_(IN_FLIGHT))).one()
        error: QuotaExceeded | None = None
        if per_hour > 0 and recent[0] > per_hour:
            oldest = recent[1]
            wait = math.ceil(((oldest + HOUR) - now).total_seconds()) if oldest is not None else 60
            error = QuotaExceeded(f"quota of {per_hour} jobs per hour reached; retry in {max(1, wait)} s", wait)
        elif in_flight > 0 and busy > in_flight:
            error = QuotaExceeded(f"{in_flight} of your jobs are already queued or running (the limit); "
                                  f"retry when one finishes", BUSY_RETRY_SECONDS)
        if error is not None:
            s.exec(delete(Job).where(col(Job.id) == job_id))
            s.commit()
            raise error
