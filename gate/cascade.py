"""What a takedown does to the remixes made from the clip, down the chain. On a ground the pictures carry
(a likeness, sexual content, a revoked cameo: gate.grounds.CARRIED_BY_REMIXES) the remixes go too, each with
its own statement of reasons; on any other ground each published remix goes back through the gate
(gate.recheck), which decides on what it shows now."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session

from gate import lineage, recheck, statements
from gate.components import Components
from gate.db import session_scope
from gate.evidence import delete_evidence
from gate.grounds import CARRIED_BY_REMIXES
from gate.job_review import take_down_in
from gate.models import Job, JobStatus
from gate.moderation_models import RestrictedClip

Dispatch = Callable[[str], None]


@dataclass
class CascadeResult:
    taken_down: list[str] = field(default_factory=list)
    rechecked: list[str] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)  # media keys to delete once the transaction commits

    def as_dict(self) -> dict[str, list[str]]:
        return {"taken_down": self.taken_down, "rechecked": self.rechecked}


def cascade_in(c: Components, s: Session, source: Job, ground: str, actor: str, statement_id: int | None,
               held: list[str] | None = None) -> CascadeResult:
    """In the caller's write transaction (the takedown of `source` and its statement): the remixes' takedowns
    or re-check requests, their statements and audit entries. The caller dispatches `rechecked` after commit.
    `held`: the copies kept for appeal are listed there (the caller deletes them if the transaction fails)."""
    out = CascadeResult()
    carried = ground in CARRIED_BY_REMIXES
    # a copy is held for appeal, except of a clip whose person withdrew consent (not the platform's to reverse)
    hold = None if ground == "cameo_revoked" else held if held is not None else []
    for remix in lineage.descendants(s, source.id):
        if remix.status in (JobStatus.TAKEN_DOWN, JobStatus.BLOCKED, JobStatus.FAILED):
            continue  # nothing of it is shown or kept: a refused remix has no clip to take down
        if carried:
            parent = lineage.parent_id(remix)
            job, stored = take_down_in(c, s, remix.id, "gate", f"a remix of {source.id}, taken down on the ground "
                                       f"{ground}", hold=hold)
            if stored:
                out.stored.append(stored)
            restricted = s.get(RestrictedClip, remix.id)
            if restricted is not None:
                s.delete(restricted)
            statements.add_in(
                s, job, "take_down", "cascade", ground,
                f"This clip is a remix of {parent}, made from clip {source.id}, which was taken down on the ground "
                f"'{ground}'. A remix keeps its source's pictures, so it was taken down with it.",
                automated=True, actor="gate", caused_by=statement_id,
                appealable=ground != "cameo_revoked")  # consent withdrawn is not the platform's to reverse
            out.taken_down.append(remix.id)
        elif remix.status == JobStatus.PUBLISHED and recheck.request_in(
                s, remix, {"source": source.id, "ground": ground, "statement": statement_id}):
            statements.add_in(
                s, remix, "recheck", "cascade", ground,
                f"Clip {source.id}, which this clip was remixed from (directly or through other remixes), was "
                f"taken down on the ground '{ground}'. The gate checks this clip again; it is hidden meanwhile.",
                automated=True, actor="gate", caused_by=statement_id)
            out.rechecked.append(remix.id)
    return out


def after_commit(c: Components, result: CascadeResult, dispatch: Dispatch | None) -> None:
    """The media of the remixes taken down goes; the re-checks are queued (without a dispatcher the workers'
    sweeper picks up queued jobs on its own)."""
    for key in result.stored:
        c.storage.delete(key)
    for vid in result.taken_down:
        delete_evidence(c, vid)
    if dispatch is not None:
        for vid in result.rechecked:
            dispatch(vid)


def cascade(c: Components, source_id: str, ground: str, actor: str, statement_id: int | None = None,
            dispatch: Dispatch | None = None) -> CascadeResult:
    """The cascade on its own transaction: for takedowns made elsewhere (a cameo's owner revoking consent)."""
    with session_scope(c.engine, write=True) as s:
        source = s.get(Job, source_id)
        if source is None:
            return CascadeResult()
        result = cascade_in(c, s, source, ground, actor, statement_id)
    after_commit(c, result, dispatch)
    return result
