"""Secrets generated at first start (watermark keyring, audit signing key, session secret): written once."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def create_once(path: Path, data: bytes) -> bool:
    """Write `data` to `path` (0600) unless it exists. Returns True if this call created it.

    The data goes whole into a temporary file that is then hard-linked into place: processes starting at
    the same moment find no file or the complete one, never half of it, and the first one wins."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True
