"""The data dir and the database are private to the service's user (issue 17, hole 10): 0700 directories
and 0600 SQLite files when reelgate creates them, whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlmodel import Session

from gate.users import create_user


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_fresh_install_is_private(settings) -> None:
    from gate.components import Components

    old = os.umask(0o022)  # the usual default: files 0644, directories 0755
    try:
        c = Components(settings)
        create_user(c.engine, "alice", "creator")  # a write: the WAL and shared-memory files exist now
        with Session(c.engine) as s:
            s.connection()
        queue_db = Path(settings.queue_url.removeprefix("sqla+sqlite:///"))
        data = settings.resolved_data_dir
        assert mode(data) == 0o700
        assert mode(settings.media_root) == 0o700 and mode(settings.keys_dir) == 0o700
        assert mode(data / "reelgate.db") == 0o600 and mode(queue_db) == 0o600
        for extra in ("reelgate.db-wal", "reelgate.db-shm"):
            if (data / extra).exists():
                assert mode(data / extra) == 0o600, extra
        assert not [p for p in data.rglob("*") if mode(p) & 0o077 and p.suffix == ".db"]
        c.engine.dispose()
    finally:
        os.umask(old)
