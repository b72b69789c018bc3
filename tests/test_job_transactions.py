"""A job's change and the audit entry that records it commit together: no takedown, review or finish without
its entry, no entry for a change that did not happen; the chain stays intact and checkpoints land."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select

from gate import audit, jobs
from gate.models import AuditEntry, Job, JobStatus


def _job(c, status: JobStatus, job_id: str = "00000000000000cc", **kw) -> str:
    with Session(c.engine) as s:
        s.add(Job(id=job_id, user="bob", status=status, request={"prompt": "x"}, **kw))
        s.commit()
    return job_id


def _events(c, subject: str) -> list[str]:
    with Session(c.engine) as s:
        return list(s.exec(select(AuditEntry.event).where(col(AuditEntry.subject) == subject)
                           .order_by(col(AuditEntry.seq))).all())


def _status(c, job_id: str) -> str:
    with Session(c.engine) as s:
        return s.get(Job, job_id).status


def _failing_audit(monkeypatch: pytest.MonkeyPatch) -> None:
    real = audit.append_in

    def append_then_fail(s, *a, **kw):
        real(s, *a, **kw)
        raise OSError("disk full while recording")

    monkeypatch.setattr(audit, "append_in", append_then_fail)


def test_takedown_and_its_entry_are_one_transaction(components, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = _job(components, JobStatus.PUBLISHED)
    _failing_audit(monkeypatch)
    with pytest.raises(OSError):
        jobs.take_down(components, job_id, "op", "complaint")
    assert _status(components, job_id) == "published" and _events(components, job_id) == []
    monkeypatch.undo()
    jobs.take_down(components, job_id, "op", "complaint")
    assert _status(components, job_id) == JobStatus.TAKEN_DOWN
    assert _events(components, job_id) == ["job.taken_down", "statement.issued"]  # the creator's statement


def test_review_and_finish_record_in_the_same_commit(components, monkeypatch: pytest.MonkeyPatch) -> None:
    draft = components.storage.put_bytes("drafts/00000000000000dd.mp4", b"\x00" * 16)
    job_id = _job(components, JobStatus.REVIEW, "00000000000000dd", video_key=draft)
    _failing_audit(monkeypatch)
    with pytest.raises(OSError):
        jobs.review(components, job_id, "op", "block", "not ok")
    assert _status(components, job_id) == "review" and _events(components, job_id) == []
    running = _job(components, JobStatus.RUNNING, "00000000000000ee", attempts=1)
    with pytest.raises(OSError):
        jobs._finish(components, running, JobStatus.BLOCKED, [], ["frames: nudity"], attempt=1)
    assert _status(components, running) == "running" and _events(components, running) == []
    monkeypatch.undo()
    jobs.review(components, job_id, "op", "block", "not ok")
    assert _status(components, job_id) == "blocked"
    assert _events(components, job_id) == ["job.review_block", "statement.issued"]  # the refusal explained
    assert jobs._finish(components, running, JobStatus.BLOCKED, [], ["frames: nudity"], attempt=1) == "blocked"
    assert _events(components, running) == ["job.finished", "statement.issued"]  # the refusal's statement
    assert audit.verify_chain(components.engine).ok


def test_entries_appended_in_transactions_keep_the_chain_and_its_checkpoints(components) -> None:
    from gate.db import session_scope

    cp = audit._checkpointers.get(components.engine)
    assert cp is not None
    n = cp.every + 2
    for i in range(n):  # alternate both ways of appending
        if i % 2:
            audit.append(components.engine, "t", "test.plain", str(i))
        else:
            with session_scope(components.engine, write=True) as s:
                audit.append_in(s, "t", "test.in_tx", str(i))
    with session_scope(components.engine, write=True) as s:  # rolled back: leaves no entry, no checkpoint
        audit.append_in(s, "t", "test.rolled_back", "x")
        s.rollback()
    report = audit.verify_chain(components.engine)
    assert report.ok and report.entries >= n
    assert "test.rolled_back" not in _events(components, "x")
    signed = audit.verify_signed(components.engine, cp, write=False)
    assert signed.ok and signed.checkpoints >= 1, signed.problem
