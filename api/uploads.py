"""Posted files to temporary paths, with the size limit enforced while copying.

One synchronous core (`copy_upload`) for the API routes and the web pages: the API turns its error into a
413, the pages into a message on the form.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import BinaryIO

from fastapi import HTTPException, UploadFile, status


class UploadTooLarge(ValueError):
    pass


def copy_upload(src: BinaryIO, filename: str | None, limit: int, default_suffix: str = ".mp4") -> Path:
    """Copy a posted file to a temporary path (the caller deletes it), refusing more than `limit` bytes."""
    suffix = Path(filename or "").suffix.lower()[:8]
    if not suffix[1:].isalnum():  # also catches "" and "."; the suffix only tells decoders the format
        suffix = default_suffix
    fd, name = tempfile.mkstemp(suffix=suffix)
    path = Path(name)
    copied = 0
    try:
        with open(fd, "wb") as out:
            while chunk := src.read(1 << 20):
                copied += len(chunk)
                if copied > limit:
                    raise UploadTooLarge(f"{filename or 'upload'}: over the {limit // 2**20} MiB upload limit")
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def save_upload(upload: UploadFile, limit: int) -> Path:
    """`copy_upload` for an API route: 413 past `limit` bytes."""
    try:
        return copy_upload(upload.file, upload.filename, limit)
    except UploadTooLarge as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc
