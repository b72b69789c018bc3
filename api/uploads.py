"""Posted files to temporary paths, with the size limit enforced while copying."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import HTTPException, UploadFile, status


def save_upload(upload: UploadFile, limit: int) -> Path:
    """Copy a posted file to a temporary path (the caller deletes it); 413 past `limit` bytes."""
    suffix = Path(upload.filename or "upload.mp4").suffix.lower()[:8] or ".mp4"
    fd, name = tempfile.mkstemp(suffix=suffix)
    path = Path(name)
    with open(fd, "wb") as out:
        copied = 0
        while chunk := upload.file.read(1 << 20):
            copied += len(chunk)
            if copied > limit:
                path.unlink(missing_ok=True)
                raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"upload over the {limit // 2**20} MiB limit")
            out.write(chunk)
    return path
