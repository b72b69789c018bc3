"""The audit log is a hash chain: any edit, deletion or reordering is detected."""

from __future__ import annotations

import threading

from sqlalchemy import text

from gate import audit


def _drop_guards(conn) -> None:
    """The table refuses UPDATE and DELETE (migration 0005); someone with DDL rights drops the triggers."""
    conn.execute(text("DROP TRIGGER audit_log_no_update"))
    conn.execute(text("DROP TRIGGER audit_log_no_delete"))


def test_chain_intact_after_appends(components) -> None:
    for i in range(5):
        audit.append(components.engine, "tester", "thing.happened", f"s{i}", {"i": i})
    report = audit.verify_chain(components.engine)
    assert report.ok and report.entries == 5


def test_tampered_payload_is_detected(components) -> None:
    for i in range(4):
        audit.append(components.engine, "tester", "e", "s", {"i": i})
    with components.engine.begin() as conn:
        _drop_guards(conn)
        conn.execute(text("UPDATE audit_log SET payload = :p WHERE seq = 3"), {"p": '{"i":99}'})
    report = audit.verify_chain(components.engine)
    assert not report.ok and report.first_bad_seq == 3 and "altered" in report.problem


def test_deleted_row_is_detected(components) -> None:
    for i in range(4):
        audit.append(components.engine, "tester", "e", "s", {"i": i})
    with components.engine.begin() as conn:
        _drop_guards(conn)
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    report = audit.verify_chain(components.engine)
    assert not report.ok and report.first_bad_seq == 2


def test_rehashed_forgery_breaks_the_link(components) -> None:
    """Recomputing the tampered row's own hash is not enough: the next row's prev_hash exposes it."""
    for i in range(3):
        audit.append(components.engine, "tester", "e", "s", {"i": i})
    with components.engine.begin() as conn:
        _drop_guards(conn)
        row = conn.execute(text("SELECT seq, ts, actor, event, subject, prev_hash FROM audit_log WHERE seq=2")).one()
        forged = audit.entry_hash(row.seq, row.ts, row.actor, row.event, row.subject, '{"i":7}', row.prev_hash)
        conn.execute(text("UPDATE audit_log SET payload=:p, hash=:h WHERE seq=2"), {"p": '{"i":7}', "h": forged})
    report = audit.verify_chain(components.engine)
    assert not report.ok and report.first_bad_seq == 3


def test_concurrent_appends_never_fork(components) -> None:
    def writer(n: int) -> None:
        for i in range(10):
            audit.append(components.engine, f"w{n}", "e", "s", {"i": i})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = audit.verify_chain(components.engine)
    assert report.ok and report.entries == 40
