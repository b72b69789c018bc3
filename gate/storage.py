"""Media storage behind one small interface. LocalStorage is a directory (a shared mount in scale-out)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

_KEY = re.compile(r"^[a-z0-9_\-]+(/[A-Za-z0-9_\-.]+)+$")
_PREFIX = re.compile(r"^[a-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$")


class StorageError(ValueError):
    pass


class MediaStorage(Protocol):
    def put_file(self, key: str, src: Path) -> str: ...
    def put_bytes(self, key: str, data: bytes) -> str: ...
    def path(self, key: str) -> Path: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> bool: ...
    def keys(self, prefix: str) -> list[str]: ...
    def delete_prefix(self, prefix: str) -> int: ...


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

    def _folder(self, prefix: str) -> Path:
        if not _PREFIX.match(prefix) or ".." in prefix:
            raise StorageError(f"invalid media prefix {prefix!r}")
        return self.root / prefix

    def keys(self, prefix: str) -> list[str]:
        """Every stored key under a folder such as "verify" or "evidence/<job id>" (in-flight temp files not)."""
        folder = self._folder(prefix)
        if not folder.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in folder.rglob("*")
                      if p.is_file() and not p.name.startswith(".incoming-"))

    def delete_prefix(self, prefix: str) -> int:
        """Delete a folder of keys (e.g. all evidence frames of one job). Returns how many files went."""
        folder = self._folder(prefix)
        if not folder.is_dir():
            return 0
        count = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder, ignore_errors=True)
        return count
