"""The audit log cannot be cut or rewritten unseen: signed checkpoints outside the database, and a
database that refuses UPDATE and DELETE on the table."""

from __future__ import annotations

import base64
import json
import logging
import stat

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gate import audit
from gate.audit_checkpoint import CHECKPOINT_FILE, AuditKeyError, Checkpointer


def _append(c, n: int) -> None:
    for i in range(n):
        audit.append(c.engine, "tester", "thing.happened", f"s{i}", {"i": i})


def _drop_guards(conn) -> None:
    """Whoever can write the database can drop the append-only triggers first: what the checkpoints are for."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("DROP TRIGGER audit_log_no_update_delete ON audit_log"))
    else:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("DROP TRIGGER audit_log_no_delete"))


def _cli(*args: str):
    from api.cli import cli
    from gate.components import reset_components

    reset_components()
    try:
        return CliRunner().invoke(cli, list(args), obj={})
    finally:
        reset_components()


@pytest.fixture
def every5(settings, monkeypatch: pytest.MonkeyPatch):
    settings.audit_checkpoint_every = 5
    monkeypatch.setenv("REELGATE_AUDIT_CHECKPOINT_EVERY", "5")  # the CLI builds its own settings
    from gate.components import Components

    c = Components(settings)
    yield c
    c.engine.dispose()


def test_checkpoints_are_signed_written_and_logged(every5, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="gate.audit_checkpoint"):
        _append(every5, 12)
    lines = (every5.settings.resolved_data_dir / CHECKPOINT_FILE).read_text().splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [5, 10]
    assert sum("audit checkpoint seq=" in r.getMessage() for r in caplog.records) == 2
    report = audit.verify_signed(every5.engine, every5.audit_checkpoints)
    assert report.ok and report.entries == 12 and report.checkpoints == 3  # verify adds one at the head
    assert report.last_checkpoint["seq"] == 12
    key = every5.settings.keys_dir / "audit_ed25519.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((every5.settings.resolved_data_dir / CHECKPOINT_FILE).stat().st_mode) == 0o600


def test_deleted_tail_is_detected(every5) -> None:
    _append(every5, 12)
    assert audit.verify_signed(every5.engine, every5.audit_checkpoints).ok  # signs the head: 12 entries
    with every5.engine.begin() as conn:
        _drop_guards(conn)
        conn.execute(text("DELETE FROM audit_log WHERE seq > 9"))
    assert audit.verify_chain(every5.engine).ok  # the chain alone cannot see a cut tail
    report = audit.verify_signed(every5.engine, every5.audit_checkpoints)
    assert not report.ok and report.first_bad_seq == 10
    assert "entries 10..12 were deleted" in report.problem and "has 9 entries" in report.problem
    r = _cli("audit", "verify")
    assert r.exit_code == 1 and "BROKEN at entry 10" in r.output and "deleted" in r.output
    # new entries after the cut do not hide it: entry 10 no longer has its signed hash
    _append(every5, 4)
    report = audit.verify_signed(every5.engine, every5.audit_checkpoints)
    assert not report.ok and report.first_bad_seq == 10 and "rewritten" in report.problem


def test_recomputed_chain_is_detected(every5) -> None:
    _append(every5, 7)
    with every5.engine.begin() as conn:  # the whole chain recomputed with one payload changed
        _drop_guards(conn)
        rows = conn.execute(text("SELECT seq, ts, actor, event, subject, payload FROM audit_log ORDER BY seq")).all()
        conn.execute(text("DELETE FROM audit_log"))
        prev = audit.GENESIS
        for r in rows:
            payload = '{"i":"forged"}' if r.seq == 3 else r.payload
            h = audit.entry_hash(r.seq, r.ts, r.actor, r.event, r.subject, payload, prev)
            conn.execute(text("INSERT INTO audit_log (seq, ts, actor, event, subject, payload, prev_hash, hash) "
                              "VALUES (:seq, :ts, :a, :e, :s, :p, :prev, :h)"),
                         {"seq": r.seq, "ts": r.ts, "a": r.actor, "e": r.event, "s": r.subject, "p": payload,
                          "prev": prev, "h": h})
            prev = h
    assert audit.verify_chain(every5.engine).ok  # every hash and link holds
    report = audit.verify_signed(every5.engine, every5.audit_checkpoints)
    assert not report.ok and report.first_bad_seq == 5 and "rewritten" in report.problem
    r = _cli("audit", "verify", "--json")
    assert r.exit_code == 1 and json.loads(r.output)["first_bad_seq"] == 5


def test_edited_or_foreign_checkpoints_fail(every5) -> None:
    _append(every5, 5)
    path = every5.settings.resolved_data_dir / CHECKPOINT_FILE
    line = json.loads(path.read_text())
    line["head"] = "0" * 64  # an edited checkpoint no longer matches its signature
    path.write_text(json.dumps(line) + "\n")
    report = audit.verify_signed(every5.engine, every5.audit_checkpoints)
    assert not report.ok and "invalid signature" in report.problem
    # a checkpoint signed by a key this installation never held is not trusted either
    other = Checkpointer(Ed25519PrivateKey.generate(), every5.settings.resolved_data_dir / "elsewhere", path)
    path.write_text("")
    other.write(5, "f" * 64)
    report = audit.verify_signed(every5.engine, every5.audit_checkpoints)
    assert not report.ok and "never held" in report.problem


def test_configured_key_and_bad_key(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    settings.audit_signing_key = SecretStr(base64.b64encode(seed).decode())
    cp = Checkpointer.from_settings(settings)
    assert cp.key.public_key().public_bytes_raw() == key.public_key().public_bytes_raw()
    assert not (settings.keys_dir / "audit_ed25519.pem").exists()  # nothing generated when one is configured
    settings.audit_signing_key = SecretStr("not a key")
    with pytest.raises(AuditKeyError):
        Checkpointer.from_settings(settings)
    monkeypatch.setenv("REELGATE_AUDIT_SIGNING_KEY", "bm90IGEga2V5")
    r = _cli("audit", "verify")
    assert r.exit_code == 2 and r.output.strip().count("\n") == 0 and "REELGATE_AUDIT_SIGNING_KEY" in r.output


def test_update_and_delete_refused_on_sqlite(components) -> None:
    _append(components, 3)
    for sql in ("UPDATE audit_log SET payload = '{}' WHERE seq = 2", "DELETE FROM audit_log WHERE seq = 3"):
        with pytest.raises(DBAPIError, match="append-only"), components.engine.begin() as conn:
            conn.execute(text(sql))
    assert audit.verify_chain(components.engine).entries == 3


def test_update_delete_truncate_refused_on_postgresql(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.services import fresh_pg_database, require_services

    require_services("PostgreSQL")
    from gate.components import Components
    from gate.settings import Settings

    with fresh_pg_database() as url:
        c = Components(Settings(data_dir=tmp_path / "data", database_url=url))
        try:
            _append(c, 3)
            for sql in ("UPDATE audit_log SET payload = '{}' WHERE seq = 2", "DELETE FROM audit_log WHERE seq = 3",
                        "TRUNCATE audit_log"):
                with pytest.raises(DBAPIError, match="append-only"), c.engine.begin() as conn:
                    conn.execute(text(sql))
            assert audit.verify_signed(c.engine, c.audit_checkpoints).entries == 3
        finally:
            c.engine.dispose()


def test_processes_starting_together_share_one_generated_key(tmp_path) -> None:
    import threading

    from gate.audit_checkpoint import _generated_key, key_id

    ids: list[str] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        ids.append(key_id(_generated_key(tmp_path).public_key()))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 8 and len(set(ids)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["audit_ed25519.pem"]  # no temporary file left
