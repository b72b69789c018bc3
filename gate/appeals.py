"""Internal complaint handling: the creator contests a refusal, a restriction or a takedown once; an operator
who neither took the decision nor filed the appeal decides it; a reversal restores the clip (and the remixes
its takedown took with it). Each step has its statement and its audit entry, in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from gate import audit, banks, statements
from gate.components import Components
from gate.db import session_scope
from gate.job_review import held_key
from gate.job_status import transition
from gate.job_store import NotFound
from gate.models import Job, JobStatus, User, utcnow
from gate.moderation_models import Appeal, RestrictedClip, Statement
from gate.requests import visible_text

OUTCOMES = ("uphold", "reverse")
__all__ = ["AppealConflict", "AppealError", "NotFound", "SameDecider", "decide_appeal", "file_appeal"]


class AppealError(ValueError):
    """An appeal or a decision the person must correct (422)."""


class AppealConflict(ValueError):
    """Appealed already, decided already, or nothing left to restore (409)."""


class SameDecider(PermissionError):
    """The operator took the decision appealed, or filed the appeal: another one must decide (403)."""


def appeal_as_dict(a: Appeal) -> dict[str, Any]:
    return {"id": a.id, "statement_id": a.statement_id, "video_id": a.video_id, "appellant": a.appellant,
            "text": a.text, "status": a.status, "decided_by": a.decided_by, "outcome_reason": a.outcome_reason,
            "created_at": a.created_at, "decided_at": a.decided_at}


def _text(text: str, what: str) -> str:
    text = " ".join(visible_text(text or "").split())
    if not 1 <= len(text) <= 2000:
        raise AppealError(f"{what}: write 1 to 2,000 characters of visible text")
    return text


def file_appeal(c: Components, user: User, statement_id: int, text: str) -> Appeal:
    """NotFound: no statement addressed to `user`; AppealConflict: not appealable, or appealed already."""
    text = _text(text, "text")
    try:
        with session_scope(c.engine, write=True) as s:
            st = s.get(Statement, statement_id)
            if st is None or st.creator != user.name:
                raise NotFound(f"no statement {statement_id} addressed to you")
            if not st.appealable:
                raise AppealConflict(f"a '{st.decision}' decision cannot be appealed")
            if s.exec(select(Appeal).where(Appeal.statement_id == statement_id)).first() is not None:
                raise AppealConflict("this decision was appealed already; each decision may be appealed once")
            appeal = Appeal(statement_id=statement_id, video_id=st.video_id, appellant=user.name, text=text)
            s.add(appeal)
            s.flush()
            audit.append_in(s, user.name, "appeal.filed", st.video_id, {"appeal": appeal.id, "statement": st.id})
    except IntegrityError as exc:  # a concurrent twin won
        raise AppealConflict("this decision was appealed already; each decision may be appealed once") from exc
    return appeal


def _restore_in(c: Components, s: Session, video_id: str, copies: list[tuple[str, str]]) -> bool:
    """A taken-down clip published again from the copy held for appeal; False if there is none or consent went."""
    from consent.models import Appearance

    if not c.storage.exists(held_key(video_id)):
        return False
    withdrawn = s.exec(select(Appearance).where(Appearance.video_id == video_id,
                                                Appearance.status == "removed")).first()
    if withdrawn is not None:  # the person it shows took it down or revoked consent: that stands
        return False
    published = f"videos/{video_id}.mp4"
    if not transition(s, video_id, {JobStatus.TAKEN_DOWN}, JobStatus.PUBLISHED, video_key=published):
        return False
    copies.append((held_key(video_id), published))
    banks.lift_from_removed_bank(s, video_id, "appeal")  # the bank stops it no more
    return True


def decide_appeal(c: Components, appeal_id: int, actor: str, outcome: str, reason: str) -> dict[str, Any]:
    """Uphold or reverse. Returns the appeal and the new statement. NotFound, SameDecider, AppealConflict."""
    if outcome not in OUTCOMES:
        raise AppealError(f"outcome: must be one of {', '.join(OUTCOMES)}")
    reason = _text(reason, "reason")
    copies: list[tuple[str, str]] = []
    restored: list[str] = []
    with session_scope(c.engine, write=True) as s:
        appeal = s.get(Appeal, appeal_id)
        if appeal is None:
            raise NotFound(f"no appeal {appeal_id}")
        st = s.get(Statement, appeal.statement_id)
        job = s.get(Job, appeal.video_id)
        if st is None or job is None:
            raise NotFound(f"appeal {appeal_id} names a decision that no longer exists")
        if actor in (st.actor, appeal.appellant):
            raise SameDecider("an operator who did not take the decision (nor file the appeal) must decide it")
        if appeal.status != "open":
            raise AppealConflict(f"appeal {appeal_id} was decided already ({appeal.status})")
        decision = "uphold"
        facts = f"Your appeal against decision {st.id} ({st.decision}, ground '{st.ground}') was reviewed: "
        if outcome == "reverse":
            decision = "restore"
            if st.decision == "take_down":
                if not _restore_in(c, s, job.id, copies):
                    raise AppealConflict("the clip cannot be published again: no copy was kept for appeal, or the "
                                         "person it shows withdrew consent")
                restored.append(job.id)
                restored += _restore_cascade_in(c, s, st.id or 0, copies)
            elif st.decision == "restrict":
                row = s.get(RestrictedClip, job.id)
                if row is not None:
                    s.delete(row)
            else:
                decision = "reverse_refusal"
            facts += {"restore": "the decision is reversed and the clip is published again.",
                      "reverse_refusal": "the refusal is reversed. The refused clip was not kept, so it cannot be "
                      "published as it was; you may send the same request again."}[decision]
        else:
            facts += "the decision stands."
        appeal.status = "reversed" if outcome == "reverse" else "upheld"
        appeal.decided_by, appeal.outcome_reason, appeal.decided_at = actor, reason, utcnow()
        s.add(appeal)
        new = statements.add_in(s, job, decision, "appeal", st.ground, f"{facts} Reason: {reason}",
                                automated=False, actor=actor, caused_by=st.id)
        audit.append_in(s, actor, "appeal.decided", job.id,
                        {"appeal": appeal.id, "outcome": appeal.status, "statement": st.id, "restored": restored})
        out = {"appeal": appeal_as_dict(appeal), "statement": statements.as_dict(new), "restored": restored}
    for held, published in copies:  # after the commit: the copies become the published clips
        c.storage.put_file(published, c.storage.path(held))
        c.storage.delete(held)
    return out


def _restore_cascade_in(c: Components, s: Session, statement_id: int, copies: list[tuple[str, str]]) -> list[str]:
    """The remixes the reversed takedown took down with it (and nothing else took down) come back too."""
    out = []
    for st in s.exec(select(Statement).where(Statement.caused_by == statement_id,
                                             Statement.decision == "take_down")).all():
        if _restore_in(c, s, st.video_id, copies):
            out.append(st.video_id)
    return out


def open_appeals(c: Components, limit: int = 100) -> list[dict[str, Any]]:
    """Appeals waiting for an operator, oldest first, with the decision appealed."""
    with Session(c.engine) as s:
        rows = s.exec(select(Appeal).where(Appeal.status == "open").order_by(col(Appeal.id)).limit(limit)).all()
        out = []
        for a in rows:
            st = s.get(Statement, a.statement_id)
            out.append(appeal_as_dict(a) | {"decision": statements.as_dict(st) if st else None})
        return out


def visible_appeal(c: Components, appeal_id: int, user: User) -> dict[str, Any] | None:
    with Session(c.engine) as s:
        a = s.get(Appeal, appeal_id)
    if a is None or (user.role != "operator" and a.appellant != user.name):
        return None
    return appeal_as_dict(a)
