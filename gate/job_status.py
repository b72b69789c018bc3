"""Every change of a job's status, in one place: a compare-and-set from the states it may come from.

A status is only ever written by `transition`, as `UPDATE jobs SET status = ... WHERE id = ... AND status IN
(...)`, and the caller checks the answer. So a takedown or a revocation that committed first is never
overwritten by a slower approve, publish or finish: theirs finds the row in a state it may not leave.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlmodel import Session, col

from gate.models import Job, JobStatus, utcnow

__all__ = ["ALLOWED", "JobStatus", "TransitionError", "transition"]

Q, RUN, PUB, REV, BLK, FAIL, DOWN = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.PUBLISHED, JobStatus.REVIEW,
                                     JobStatus.BLOCKED, JobStatus.FAILED, JobStatus.TAKEN_DOWN)
# to_state -> the states it may be reached from
ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    # inserted; or a published remix whose source was taken down, queued for the gate to check again
    # (gate.recheck: only its analysis stages run, on the clip as published)
    Q: frozenset({PUB}),
    # a worker claims a queued job, or a running one whose worker stopped renewing the lease
    RUN: frozenset({Q, RUN}),
    # the publish stage (running), an operator's approve (review), the finish that records it (published),
    # an appeal that reversed a takedown (gate.appeals: only a clip kept for that, never one whose consent went)
    PUB: frozenset({RUN, REV, PUB, DOWN}),
    REV: frozenset({RUN}),
    # a finished run (running), an operator's block (review), a publish that committed after its stage
    # had already timed out and the job was decided without it (published: taken back)
    BLK: frozenset({RUN, REV, PUB}),
    FAIL: frozenset({RUN, PUB}),
    # an operator or a cameo owner may take down anything not already taken down
    DOWN: frozenset(set(JobStatus) - {DOWN}),
}


class TransitionError(ValueError):
    """A transition the state machine does not allow: a bug in the caller, never a race."""


def transition(
    s: Session, job_id: str, from_states: Collection[str], to_state: str, *where: ColumnElement[bool],
    **values: Any,
) -> bool:
    """Set `to_state` (and `values`) if the job is in one of `from_states` and matches `where`.

    Returns whether it did. Runs in the caller's transaction (commit is the caller's). On SQLite the
    UPDATE takes the write lock; on PostgreSQL it locks the row: either way, until the caller commits,
    nobody else changes the job, so what the caller reads after a successful transition is current.
    """
    try:
        to, froms = JobStatus(to_state), {JobStatus(f) for f in from_states}
    except ValueError as exc:
        raise TransitionError(f"not a job state: {exc}") from exc
    if not froms or not froms <= ALLOWED[to]:
        raise TransitionError(f"a job may not go from {sorted(froms)} to {to_state!r}")
    res = s.exec(
        update(Job)
        .where(col(Job.id) == job_id, col(Job.status).in_([str(f) for f in sorted(froms)]), *where)
        .values(status=str(to), updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    loaded = s.identity_map.get(s.identity_key(Job, job_id))
    if loaded is not None:  # the caller's copy is stale now; the next read fetches the row again
        s.expire(loaded)
    return res.rowcount == 1
