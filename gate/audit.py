"""Append-only, hash-chained audit log. Each row's hash covers its content and the previous hash,
so changing, deleting or reordering any row breaks the chain from that row on. Cutting the newest rows
or recomputing the whole chain is found against the signed checkpoints (gate.audit_checkpoint), and the
database refuses UPDATE and DELETE on the table (trigger, migration 0005)."""

from __future__ import annotations

import hashlib
import json
import logging
import weakref
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import event as sa_event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from gate.models import AuditEntry, utcnow

if TYPE_CHECKING:
    from gate.audit_checkpoint import Checkpointer

log = logging.getLogger(__name__)
GENESIS = "0" * 64
_checkpointers: weakref.WeakKeyDictionary[Engine, Checkpointer] = weakref.WeakKeyDictionary()


def use_checkpoints(engine: Engine, checkpointer: Checkpointer) -> None:
    """Sign a checkpoint every `checkpointer.every` entries appended through this engine."""
    _checkpointers[engine] = checkpointer


def canonical(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def entry_hash(seq: int, ts: str, actor: str, event: str, subject: str, payload: str, prev: str) -> str:
    material = "\x1f".join([str(seq), ts, actor, event, subject, payload, prev])
    return hashlib.sha256(material.encode()).hexdigest()


def append(engine: Engine, actor: str, event: str, subject: str = "", payload: Any = None) -> AuditEntry:
    """Append in its own transaction. Concurrent writers race on the unique seq/prev_hash; the loser
    retries on the new head, so the chain never forks (works the same on SQLite and PostgreSQL)."""
    body = canonical(payload if payload is not None else {})
    for _ in range(50):
        with Session(engine, expire_on_commit=False) as s:
            head = s.exec(select(AuditEntry).order_by(col(AuditEntry.seq).desc()).limit(1)).first()
            seq = (head.seq + 1) if head else 1
            prev = head.hash if head else GENESIS
            ts = utcnow().isoformat()
            row = AuditEntry(
                seq=seq, ts=ts, actor=actor, event=event, subject=subject, payload=body, prev_hash=prev,
                hash=entry_hash(seq, ts, actor, event, subject, body, prev),
            )
            s.add(row)
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                continue
        cp = _checkpointers.get(engine)
        if cp is not None and seq % cp.every == 0:
            try:
                cp.write(seq, row.hash)
            except OSError:  # the entry stands; the next checkpoint (or `audit verify`) covers it
                log.exception("could not write the audit checkpoint at entry %d", seq)
        return row
    raise RuntimeError("audit log append kept losing the race; giving up")


# pg_advisory_xact_lock key: appends inside a caller's transaction take turns until that transaction ends
_APPEND_LOCK_ID = 0x72656C6761746531


def append_in(s: Session, actor: str, event: str, subject: str = "", payload: Any = None) -> AuditEntry:
    """Append inside the caller's transaction, so the entry commits (or rolls back) with the change it records.

    Appends serialise on the chain head for the rest of that transaction: on SQLite `s` must be a
    gate.db write session (BEGIN IMMEDIATE holds the write lock from the start), on PostgreSQL a
    transaction-scoped advisory lock is taken here. The checkpoint, if one is due, is signed after commit."""
    bind = s.get_bind()
    if bind.dialect.name == "postgresql":
        s.exec(text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=_APPEND_LOCK_ID))  # type: ignore[call-overload]
    head = s.exec(select(AuditEntry).order_by(col(AuditEntry.seq).desc()).limit(1)).first()
    seq = (head.seq + 1) if head else 1
    prev = head.hash if head else GENESIS
    ts = utcnow().isoformat()
    body = canonical(payload if payload is not None else {})
    row = AuditEntry(seq=seq, ts=ts, actor=actor, event=event, subject=subject, payload=body, prev_hash=prev,
                     hash=entry_hash(seq, ts, actor, event, subject, body, prev))
    s.add(row)
    s.flush()
    cp = _checkpointers.get(getattr(bind, "_proxied", bind))  # type: ignore[arg-type]  # write sessions bind an OptionEngine
    if cp is not None and seq % cp.every == 0:
        digest = row.hash

        def checkpoint(_session: Session) -> None:
            if not sa_inspect(row).persistent:  # rolled back, and the session committed something else later
                return
            try:
                cp.write(seq, digest)
            except OSError:
                log.exception("could not write the audit checkpoint at entry %d", seq)

        sa_event.listen(s, "after_commit", checkpoint, once=True)
    return row


@dataclass
class ChainReport:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str = ""
    head: str = GENESIS
    heads: dict[int, str] = field(default_factory=dict)  # hash at the entries asked for
    checkpoints: int = 0  # signed checkpoints checked
    last_checkpoint: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "first_bad_seq": self.first_bad_seq,
                "problem": self.problem, "head": self.head, "checkpoints": self.checkpoints,
                "last_checkpoint": self.last_checkpoint}


def verify_chain(engine: Engine, batch: int = 5000, heads_at: Collection[int] = ()) -> ChainReport:
    """Walk the chain from the start. `heads_at`: entries whose hash the report keeps (checkpoints)."""
    want = set(heads_at)
    heads: dict[int, str] = {}
    prev = GENESIS
    expected_seq = 1
    count = 0
    with Session(engine) as s:
        last = 0
        while True:
            rows = s.exec(
                select(AuditEntry).where(AuditEntry.seq > last).order_by(col(AuditEntry.seq)).limit(batch)
            ).all()
            if not rows:
                break
            for r in rows:
                if r.seq != expected_seq:
                    return ChainReport(False, count, expected_seq, f"entry {expected_seq} is missing")
                if r.prev_hash != prev:
                    return ChainReport(False, count, r.seq, "prev_hash does not match the previous entry")
                if entry_hash(r.seq, r.ts, r.actor, r.event, r.subject, r.payload, r.prev_hash) != r.hash:
                    return ChainReport(False, count, r.seq, "content does not match its hash (altered)")
                prev, expected_seq, last = r.hash, expected_seq + 1, r.seq
                count += 1
                if r.seq in want:
                    heads[r.seq] = r.hash
    return ChainReport(True, count, head=prev, heads=heads)


def verify_signed(engine: Engine, checkpointer: Checkpointer, write: bool = True) -> ChainReport:
    """The chain, then the signed checkpoints: a chain shorter than one (its newest rows deleted) or with
    another hash at one (recomputed) fails. An intact chain gets a new checkpoint at its head."""
    # Checkpoints first, the chain after: the chain only grows, so it holds every checkpointed entry.
    checkpoints, problems = checkpointer.read()
    report = verify_chain(engine, heads_at={cp.seq for cp in checkpoints})
    report.checkpoints = len(checkpoints)
    last = max(checkpoints, key=lambda cp: cp.seq, default=None)
    if last is not None:
        report.last_checkpoint = {"seq": last.seq, "head": last.head, "time": last.time, "key_id": last.key_id}
    if not report.ok:
        return report
    if problems:
        report.ok, report.problem = False, problems[0]
        return report
    if last is not None and report.entries < last.seq:
        report.ok, report.first_bad_seq = False, report.entries + 1
        report.problem = (f"entries {report.entries + 1}..{last.seq} were deleted: the chain has {report.entries} "
                          f"entries, the checkpoint signed at {last.time} has {last.seq}")
        return report
    for cp in sorted(checkpoints, key=lambda cp: cp.seq):
        if report.heads.get(cp.seq) != cp.head:
            report.ok, report.first_bad_seq = False, cp.seq
            report.problem = (f"the chain was rewritten: entry {cp.seq} does not have the hash signed at "
                              f"{cp.time} ({cp.head[:16]}...)")
            return report
    if write and report.entries:
        cp = checkpointer.write(report.entries, report.head)
        report.checkpoints += 1
        report.last_checkpoint = {"seq": cp.seq, "head": cp.head, "time": cp.time, "key_id": cp.key_id}
    return report


def recent(engine: Engine, limit: int = 100, subject: str | None = None) -> list[AuditEntry]:
    with Session(engine) as s:
        q = select(AuditEntry).order_by(col(AuditEntry.seq).desc()).limit(limit)
        if subject:
            q = q.where(AuditEntry.subject == subject)
        return list(s.exec(q).all())


def search(engine: Engine, contains: str = "", before: int | None = None, limit: int = 100) -> list[AuditEntry]:
    """Newest first: entries whose subject, actor or event contains `contains` (literal, any case), older than
    entry `before` if given."""
    q = select(AuditEntry).order_by(col(AuditEntry.seq).desc()).limit(limit)
    if contains:
        # the query is literal text: its % and _ are not wildcards
        like = "%" + contains.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(or_(*(col(column).ilike(like, escape="\\")
                          for column in (AuditEntry.subject, AuditEntry.actor, AuditEntry.event))))
    if before is not None:
        q = q.where(AuditEntry.seq < before)
    with Session(engine) as s:
        return list(s.exec(q).all())
