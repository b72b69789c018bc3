"""Append-only, hash-chained audit log. Each row's hash covers its content and the previous hash,
so changing, deleting or reordering any row breaks the chain from that row on."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from gate.models import AuditEntry, utcnow

GENESIS = "0" * 64


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
                return row
            except IntegrityError:
                s.rollback()
    raise RuntimeError("audit log append kept losing the race; giving up")


@dataclass
class ChainReport:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "first_bad_seq": self.first_bad_seq,
                "problem": self.problem}


def verify_chain(engine: Engine, batch: int = 5000) -> ChainReport:
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
    return ChainReport(True, count)


def recent(engine: Engine, limit: int = 100, subject: str | None = None) -> list[AuditEntry]:
    with Session(engine) as s:
        q = select(AuditEntry).order_by(col(AuditEntry.seq).desc()).limit(limit)
        if subject:
            q = q.where(AuditEntry.subject == subject)
        return list(s.exec(q).all())
