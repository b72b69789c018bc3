"""An operator's decision on a published clip (keep, restrict, take down): the change, its statement of reasons,
the reports it closes and the cascade to the remixes commit together with their audit entries; the media
changes and the re-check queueing follow the commit."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from gate import audit, statements
from gate.banks import BankSignal
from gate.cascade import CascadeResult, Dispatch, after_commit, cascade_in
from gate.components import Components
from gate.db import session_scope
from gate.evidence import delete_evidence
from gate.grounds import GROUNDS
from gate.job_review import held_copies, removed_signals, take_down_in
from gate.job_store import JobError, NotFound
from gate.models import Job, JobStatus, utcnow
from gate.moderation_models import Report, RestrictedClip
from gate.requests import visible_text

ACTIONS = ("keep", "restrict", "take_down")
__all__ = ["ACTIONS", "JobError", "ModerationError", "NotFound", "decide"]


class ModerationError(ValueError):
    """A decision the operator must correct (422)."""


def _check(action: str, ground: str, facts: str) -> str:
    if action not in ACTIONS:
        raise ModerationError(f"action: must be one of {', '.join(ACTIONS)}")
    if ground not in GROUNDS:
        raise ModerationError(f"ground: must be one of the policy's categories ({', '.join(GROUNDS)})")
    facts = " ".join(visible_text(facts).split())
    if not 1 <= len(facts) <= 2000:
        raise ModerationError("facts: say what was found, in 1 to 2,000 characters (the creator reads it)")
    return facts


def close_reports_in(s: Session, video_id: str, status: str, statement_id: int | None) -> int:
    rows = s.exec(select(Report).where(Report.video_id == video_id, Report.status == "open")).all()
    for r in rows:
        r.status, r.statement_id, r.closed_at = status, statement_id, utcnow()
        s.add(r)
    return len(rows)


def decide(c: Components, video_id: str, actor: str, action: str, ground: str, facts: str,
           dispatch: Dispatch | None = None) -> dict[str, Any]:
    """Returns the statement (as gate.statements.as_dict) with the cascade's clips. NotFound: no such clip;
    JobError: it is not published (taken down already, refused, in review)."""
    facts = _check(action, ground, facts)
    signals = removed_signals(c, video_id) if action == "take_down" else None  # decoded outside the transaction
    with held_copies(c) as held, session_scope(c.engine, write=True) as s:
        out, stored, result, closed = _decide_in(c, s, video_id, actor, action, ground, facts, signals, held)
    if stored:
        c.storage.delete(stored)
        delete_evidence(c, video_id)
    after_commit(c, result, dispatch)
    return out | {"cascade": result.as_dict(), "reports_closed": closed}


def _decide_in(c: Components, s: Session, video_id: str, actor: str, action: str, ground: str, facts: str,
               signals: list[BankSignal] | None, held: list[str],
               ) -> tuple[dict[str, Any], str | None, CascadeResult, int]:
    stored: str | None = None
    result = CascadeResult()
    job = s.get(Job, video_id)
    if job is None:
        raise NotFound(f"no clip {video_id}")
    if job.status != JobStatus.PUBLISHED:
        raise JobError(f"clip {video_id} is {job.status}; only a published clip can be decided on")
    restricted = s.get(RestrictedClip, video_id)
    if action == "take_down":
        job, stored = take_down_in(c, s, video_id, actor, f"{ground}: {facts}", hold=held, signals=signals)
        if restricted is not None:
            s.delete(restricted)
    st = statements.add_in(s, job, action, "operator", ground, facts, automated=False, actor=actor)
    if action == "restrict" and restricted is None:
        s.add(RestrictedClip(video_id=video_id, statement_id=st.id or 0))
    closed = close_reports_in(s, video_id, "dismissed" if action == "keep" else "actioned", st.id)
    if action == "take_down":
        result = cascade_in(c, s, job, ground, actor, st.id, held)
    audit.append_in(s, actor, f"clip.{action}", video_id,
                    {"ground": ground, "statement": st.id, "reports_closed": closed, **result.as_dict()})
    return statements.as_dict(st), stored, result, closed

