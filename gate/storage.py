"""Media storage behind one small interface. LocalStorage is a directory (a shared mount in scale-out)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

_KEY = re.compile(r"^[a-z0-9_\-]+(/[A-Za-z0-9_\-.]+)+$")


class StorageError(ValueError):
    pass


class MediaStorage(Protocol):
    def put_file(self, key: str, src: Path) -> str: ...
    def put_bytes(self, key: str, data: bytes) -> str: ...
    def path(self, key: str) -> Path: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> bool: ...


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        # Keys are ours (e.g. "videos/abc.mp4"), but never let one escape the root.
        if not _KEY.match(key) or ".." in key:
            raise StorageError(f"invalid media key {key!r}")
        return self.root / key

    def _atomic_target(self, key: str) -> tuple[Path, Path]:
        dst = self.path(key)
        dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".incoming-", dir=dst.parent)
        os.close(fd)
        return dst, Path(tmp)

    def put_file(self, key: str, src: Path) -> str:
        dst, tmp = self._atomic_target(key)
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)  # readers see the old file or the whole new one, never half
        return key

    def put_bytes(self, key: str, data: bytes) -> str:
        dst, tmp = self._atomic_target(key)
        tmp.write_bytes(data)
        os.replace(tmp, dst)
        return key

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> bool:
        p = self.path(key)
        if p.is_file():
            p.unlink()
            return True
        return False
