"""Operators' decisions on jobs: approve or block a clip held for review, take one down. Each status change
is a compare-and-set (gate.job_status) whose audit entry commits in the same transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlmodel import Session, col, select

from gate import audit, banks, statements
from gate.banks import BankSignal
from gate.cameos import recheck_consent
from gate.components import Components
from gate.db import session_scope
from gate.evidence import delete_evidence
from gate.grounds import ground_of_decision
from gate.job_status import ALLOWED, transition
from gate.job_store import JobError, NotFound
from gate.models import Job, JobStatus

log = logging.getLogger(__name__)


def take_down(c: Components, job_id: str, actor: str, reason: str,
              dispatch: Callable[[str], None] | None = None) -> Job:
    """An operator's takedown of a job in any state, with no policy ground named (gate.moderation.decide takes
    one): the creator's statement of reasons, a copy held for appeal, and the remixes re-checked by the gate
    (`dispatch` queues them; without it the workers' sweeper finds them)."""
    from gate.cascade import after_commit, cascade_in  # the cascade takes remixes down through take_down_in

    signals = removed_signals(c, job_id)  # decoding the clip is no work for inside the write transaction
    with held_copies(c) as held, session_scope(c.engine, write=True) as s:
        job, stored = take_down_in(c, s, job_id, actor, reason, hold=held, signals=signals)
        st = statements.add_in(s, job, "take_down", "operator", "other", reason, automated=False, actor=actor)
        result = cascade_in(c, s, job, "other", actor, st.id, held)
    if stored:
        c.storage.delete(stored)
    delete_evidence(c, job_id)  # kept frames of a taken-down clip go with it
    after_commit(c, result, dispatch)
    return job


@contextmanager
def held_copies(c: Components) -> Iterator[list[str]]:
    """The list a takedown's transaction appends its appeal copies to (take_down_in's `hold`). Enter it before
    the transaction: if that fails, no record vouches for the copies, so they are deleted."""
    held: list[str] = []
    try:
        yield held
    except Exception:
        for key in held:
            c.storage.delete(key)
        raise


def held_key(job_id: str) -> str:
    """Where a clip taken down by a decision that may be appealed waits (never served) until the appeal."""
    return f"held/{job_id}.mp4"


def removed_signals(c: Components, job_id: str) -> list[BankSignal] | None:
    """The hashes of a clip about to be taken down, for the bank `removed` (stay-down). None without a stored
    clip, or when it cannot be read: the takedown stands without them (logged)."""
    with Session(c.engine) as s:
        key = s.exec(select(Job.video_key).where(col(Job.id) == job_id)).first()
    if not key or not c.storage.exists(key):
        return None
    try:
        return banks.clip_signals(c.storage.path(key))
    except Exception:
        log.exception("could not hash clip %s for the removed bank", job_id)
        return None


def take_down_in(c: Components, s: Session, job_id: str, actor: str, reason: str, hold: list[str] | None = None,
                 signals: list[BankSignal] | None = None) -> tuple[Job, str | None]:
    """The takedown in the caller's write transaction: (the job, the media key to delete once it commits).
    `hold`: keep a copy under held_key, so a reversed appeal can publish the clip again, and append its key to the
    list (the caller deletes it if the transaction fails). `signals`: the clip's
    hashes from removed_signals, made before the transaction; hashed here if not given. Every takedown adds
    them to the bank `removed` (gate.banks), so the clip stays down."""
    # From any state: a running job's publish and finish then find it taken down and leave it so.
    if not transition(s, job_id, ALLOWED[JobStatus.TAKEN_DOWN], JobStatus.TAKEN_DOWN):
        job = s.get(Job, job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        raise JobError(f"clip {job_id} is already taken down")
    job = s.get(Job, job_id)  # read after the compare-and-set: the video_key is the current one
    if job is None:
        raise NotFound(f"no job {job_id}")
    stored = job.video_key
    if hold is not None and stored and c.storage.exists(stored):
        hold.append(c.storage.put_file(held_key(job_id), c.storage.path(stored)))
    job.reasons = [*job.reasons, f"taken down by {actor}: {reason}"]
    s.add(job)
    audit.append_in(s, actor, "job.taken_down", job_id, {"reason": reason})
    if signals is None and stored:
        signals = removed_signals(c, job_id)
    if signals:
        banks.add_to_removed_bank(s, job_id, signals, actor, reason[:200])
    return job, stored


def review(c: Components, job_id: str, actor: str, action: str, reason: str) -> Job:
    """An operator's decision on a clip held for review: approve (publish, consent re-checked) or block."""
    if action not in ("approve", "block"):
        raise JobError("action must be approve or block")
    published = f"videos/{job_id}.mp4"
    copied = False
    try:
        with session_scope(c.engine, write=True) as s:
            job, draft, copied = _decide(c, s, job_id, actor, action, reason)
            audit.append_in(s, actor, f"job.review_{action}", job_id, {"reason": reason})
            if action == "block":  # a refusal by a person is explained to the creator like the gate's own
                held = next((d for d in job.decisions if d.get("decision") == "review"), {})
                statements.add_in(s, job, "refuse", "operator", ground_of_decision(held) if held else "other",
                                  f"An operator reviewed the clip the gate held and refused it: {reason}",
                                  automated=False, actor=actor)
    except Exception:
        if copied:  # no record vouches for the copy
            c.storage.delete(published)
        raise
    c.storage.delete(draft)
    return job


def _decide(c: Components, s: Session, job_id: str, actor: str, action: str, reason: str) -> tuple[Job, str, bool]:
    """The review's changes in the caller's write transaction: (job, draft key, whether the clip was copied to
    its published key)."""
    from consent.models import Appearance

    # The compare-and-set first: it takes the write lock (SQLite) and the job row (PostgreSQL), so a
    # revocation or takedown either committed before (and is seen below) or waits for this commit.
    draft = s.exec(select(Job.video_key).where(col(Job.id) == job_id)).first()
    to_state = JobStatus.PUBLISHED if action == "approve" else JobStatus.BLOCKED
    moved = bool(draft) and transition(s, job_id, {JobStatus.REVIEW}, to_state,
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
    return job, draft, action == "approve"
