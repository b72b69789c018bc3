"""Database tables of the rights holders' registry (SQLModel; the gate owns engines and migrations)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, LargeBinary
from sqlmodel import Field, SQLModel


class WorkPolicy(StrEnum):
    block = "block"
    review = "review"
    allow = "allow"


class ReferenceKind(StrEnum):
    image = "image"
    video_frame = "video_frame"


def _now() -> datetime:
    return datetime.now(UTC)


class Work(SQLModel, table=True):
    __tablename__ = "copyright_works"

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(index=True, max_length=200)  # the rights holder's account id
    name: str = Field(max_length=200)
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    policy: str = Field(default=WorkPolicy.block.value, max_length=16)
    # names (the name or aliases) that are common words: not used by the prompt gate until an operator
    # approves them, so one holder cannot block every prompt that says "ball"
    pending_names: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=_now)


class WorkReference(SQLModel, table=True):
    __tablename__ = "copyright_references"

    id: int | None = Field(default=None, primary_key=True)
    work_id: int = Field(foreign_key="copyright_works.id", index=True)
    media: str = Field(max_length=1000)  # storage key/path returned by the caller's store_image
    kind: str = Field(default=ReferenceKind.image.value, max_length=16)
    pdq: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))  # 256-bit PDQ as registered
    created_at: datetime = Field(default_factory=_now)


def row_id(row: Work | WorkReference) -> int:
    """The primary key of a stored work or reference (a new row has none until it is flushed)."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} was never flushed to the database: it has no id")
    return row.id
