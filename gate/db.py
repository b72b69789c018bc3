"""Database: SQLModel engine (SQLite file by default, PostgreSQL by URL), sessions, Alembic migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, create_engine

MIGRATIONS = Path(__file__).with_name("migrations")
_IMMEDIATE = "reelgate_begin_immediate"  # execution option: this connection's transactions lock at BEGIN
_MIGRATION_LOCK_ID = 726_150_001  # PostgreSQL advisory lock: one migrator at a time


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached: callers answer 503 / exit non-zero, nothing half-written."""


def import_all_models() -> None:
    """Every table the migrations manage, so that SQLModel.metadata is complete."""
    import consent.models  # noqa: F401
    import gate.models  # noqa: F401
    import gate.moderation_models  # noqa: F401
    import safety.copyright.models  # noqa: F401
    import safety.hashbank.models  # noqa: F401


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # WAL: readers never block the writer
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn) -> None:
            # pysqlite only sends BEGIN before the first write, so a read-check-write (approve: is the
            # cameo still active?) could read what a concurrent revocation was about to change. A write
            # session takes the write lock before its first read instead; other sessions keep the lazy
            # BEGIN, so long read-only sessions (a stage matching faces) never hold up every writer.
            if conn.get_execution_options().get(_IMMEDIATE):
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to head. Safe to call from several processes at once."""
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_ID})
            cfg = alembic_config(str(engine.url))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise DatabaseUnavailable(f"database unavailable at {engine.url!r}: {exc.orig}") from exc


def write_session(engine: Engine) -> Session:
    """A session for a read-check-write: nobody else writes from its first statement to its commit.

    SQLite: BEGIN IMMEDIATE (the whole database is locked for writing). PostgreSQL: nothing extra; the
    callers lock what they read (job status compare-and-set, SELECT ... FOR UPDATE on cameos)."""
    return Session(engine.execution_options(**{_IMMEDIATE: True}), expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine, write: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error. `write`: a write session (see
    write_session), for a read-check-write or an audit entry appended in the same transaction."""
    try:
        session = write_session(engine) if write else Session(engine, expire_on_commit=False)
    except OperationalError as exc:  # pragma: no cover - connection made lazily
        raise DatabaseUnavailable(str(exc)) from exc
    try:
        yield session
        session.commit()
    except OperationalError as exc:
        session.rollback()
        raise DatabaseUnavailable(f"database unavailable: {exc.orig}") from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
