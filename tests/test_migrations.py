"""Alembic migrations build exactly the schema the models declare, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from gate import db
from tests.services import fresh_pg_database, require_services


def schema_diff(url: str) -> list:
    db.import_all_models()
    engine = db.make_engine(url)
    try:
        db.migrate(engine)
        db.migrate(engine)  # idempotent: a second run (another process starting) changes nothing
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        engine.dispose()


def test_sqlite_schema_matches_models(tmp_path) -> None:
    assert schema_diff(f"sqlite:///{tmp_path / 'm.db'}") == []


def test_postgresql_schema_matches_models() -> None:
    require_services()
    with fresh_pg_database() as url:
        assert schema_diff(url) == []
