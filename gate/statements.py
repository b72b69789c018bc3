"""Statements of reasons: every gate refusal and every decision on a published clip is explained to its creator
(what was decided, the facts, the policy ground, automated or not, how to appeal), stored, and audited in the
transaction that records the decision."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from gate import audit
from gate.components import Components
from gate.grounds import ground_of_decision
from gate.models import Job, User
from gate.moderation_models import Appeal, Statement

# what each decision means for the clip, as the creator reads it
MEANING = {
    "refuse": "The gate did not publish your clip.",
    "keep": "Your clip stays up: the reports about it were reviewed and not upheld.",
    "restrict": "Your clip stays up for you, but it no longer appears in other people's feeds and cannot be "
                "remixed by them.",
    "take_down": "Your clip was taken down: nobody can watch, download or remix it.",
    "restore": "Your clip is published again.",
    "recheck": "Your clip is being checked by the gate again; it is hidden until the check passes.",
    "uphold": "Your appeal was reviewed; the decision stands.",
    "reverse_refusal": "Your appeal was upheld: the gate's refusal is reversed.",
}
APPEALABLE = frozenset({"refuse", "restrict", "take_down"})
HOW_TO_APPEAL = ("You may appeal this decision once: in the console (Decisions, 'Appeal this decision') or "
                 "with POST /v1/statements/{id}/appeal and a short explanation. An operator who did not take the "
                 "decision reviews it and you get a new statement with the outcome.")


def add_in(s: Session, job: Job, decision: str, source: str, ground: str, facts: str, automated: bool, actor: str,
           caused_by: int | None = None, appealable: bool = True) -> Statement:
    """Store a statement in the caller's (write) transaction, with its audit entry. `appealable`: False where the
    decision is not the platform's to reverse (the person shown withdrew consent)."""
    st = Statement(video_id=job.id, creator=job.user, decision=decision, source=source, ground=ground,
                   facts=facts[:4000], automated=automated, actor=actor,
                   appealable=appealable and decision in APPEALABLE, caused_by=caused_by)
    s.add(st)
    s.flush()
    audit.append_in(s, actor, "statement.issued", job.id,
                    {"statement": st.id, "decision": decision, "source": source, "ground": ground,
                     "automated": automated, "caused_by": caused_by})
    return st


def refusal_in(s: Session, job: Job, decisions: list[dict[str, Any]], reasons: list[str]) -> Statement:
    """The statement for a gate refusal: the stage that blocked, its reasons, the ground it rests on."""
    blocked = next((d for d in reversed(decisions) if d.get("decision") == "block"), None)
    stage = str(blocked.get("name")) if blocked else "gate"
    facts = f"The {stage} stage refused the clip. " + "; ".join(reasons or ["no reason recorded"])
    return add_in(s, job, "refuse", "gate", ground_of_decision(blocked) if blocked else "gate_error", facts,
                  automated=True, actor="gate")


def as_dict(st: Statement, appeal: Appeal | None = None) -> dict[str, Any]:
    return {"id": st.id, "video_id": st.video_id, "creator": st.creator, "decision": st.decision,
            "meaning": MEANING.get(st.decision, st.decision), "source": st.source, "ground": st.ground,
            "facts": st.facts, "automated": st.automated,
            "decided_by": "the gate (automated)" if st.automated else "an operator",
            "appealable": st.appealable and appeal is None,
            "how_to_appeal": HOW_TO_APPEAL.replace("{id}", str(st.id)) if st.appealable else
            "This decision cannot be appealed.",
            "caused_by": st.caused_by, "created_at": st.created_at,
            "appeal": None if appeal is None else {"id": appeal.id, "status": appeal.status,
                                                   "outcome_reason": appeal.outcome_reason,
                                                   "decided_at": appeal.decided_at}}


def _with_appeals(s: Session, rows: list[Statement]) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    appeals = {a.statement_id: a for a in s.exec(select(Appeal).where(col(Appeal.statement_id).in_(ids))).all()} \
        if ids else {}
    return [as_dict(r, appeals.get(r.id or 0)) for r in rows]


def for_user(c: Components, user: User, video_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Newest first: the statements addressed to `user` (every one for an operator), of one clip if given."""
    q = select(Statement).order_by(col(Statement.id).desc()).limit(max(1, min(limit, 500)))
    if user.role != "operator":
        q = q.where(Statement.creator == user.name)
    if video_id:
        q = q.where(Statement.video_id == video_id)
    with Session(c.engine) as s:
        return _with_appeals(s, list(s.exec(q).all()))


def visible_statement(c: Components, statement_id: int, user: User) -> dict[str, Any] | None:
    """The statement if addressed to `user` (or `user` is an operator); None like a missing one."""
    with Session(c.engine) as s:
        st = s.get(Statement, statement_id)
        if st is None or (user.role != "operator" and st.creator != user.name):
            return None
        return _with_appeals(s, [st])[0]
