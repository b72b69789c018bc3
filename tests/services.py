"""Real PostgreSQL and Redis for the scale-out tests (CI runs them; elsewhere they skip, saying why)."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_ADMIN_URL = os.environ.get("REELGATE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("REELGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_services(*names: str) -> None:
    """Fail under CI, skip elsewhere, unless every named server (default: PostgreSQL and Redis) listens."""
    wanted = names or ("PostgreSQL", "Redis")
    missing = [name for name, port in (("PostgreSQL", 5432), ("Redis", 6379))
               if name in wanted and not _listening("127.0.0.1", port)]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{' and '.join(missing)} not running at 127.0.0.1 in CI: the scale-out tests must run")
        pytest.skip(f"{' and '.join(missing)} not running at 127.0.0.1 (start them to run the scale-out tests)")


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new, empty database for one test; dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"reelgate_t_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
