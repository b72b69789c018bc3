"""Consent registry tables. User names are plain strings; media are referenced by path / video id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

CAMEO_KINDS = ("cameo", "protected")
PERMISSIONS = ("only_me", "approved", "everyone")
CAMEO_STATUSES = ("active", "revoked")
APPEARANCE_STATUSES = ("draft", "published", "removed")


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Row(Protocol):
    id: int | None


def stored_id(row: _Row) -> int:
    """The primary key of a row that is in the database (a new row has none until it is flushed)."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id: it was never flushed to the database")
    return row.id


class Cameo(SQLModel, table=True):
    __tablename__ = "cameo"

    id: int | None = Field(default=None, primary_key=True)
    handle: str = Field(index=True, unique=True, max_length=64)
    owner: str = Field(index=True, max_length=128)
    kind: str = Field(default="cameo", max_length=16)  # "cameo" | "protected" (never to be generated)
    permission: str = Field(default="only_me", max_length=16)  # "only_me" | "approved" | "everyone"
    status: str = Field(default="active", index=True, max_length=16)  # "active" | "revoked"
    reference_image: str = Field(default="", max_length=1024)  # path of the reference face crop
    backend: str = Field(default="dlib", max_length=64)  # face backend the embeddings come from
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class CameoEmbedding(SQLModel, table=True):
    __tablename__ = "cameo_embedding"

    id: int | None = Field(default=None, primary_key=True)
    cameo_id: int = Field(foreign_key="cameo.id", index=True)
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # float32, little-endian
    dim: int
    pose: str = Field(default="", max_length=32)  # e.g. "frontal", "turn_left"


class CameoApproval(SQLModel, table=True):
    __tablename__ = "cameo_approval"
    __table_args__ = (UniqueConstraint("cameo_id", "user"),)

    id: int | None = Field(default=None, primary_key=True)
    cameo_id: int = Field(foreign_key="cameo.id", index=True)
    user: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow)


class Appearance(SQLModel, table=True):
    __tablename__ = "cameo_appearance"
    __table_args__ = (UniqueConstraint("cameo_id", "video_id"),)

    id: int | None = Field(default=None, primary_key=True)
    cameo_id: int = Field(foreign_key="cameo.id", index=True)
    video_id: str = Field(index=True, max_length=128)
    creator: str | None = Field(default=None, max_length=128)  # who requested the clip
    status: str = Field(default="draft", max_length=16)  # "draft" | "published" | "removed"
    created_at: datetime = Field(default_factory=utcnow)
    removed_at: datetime | None = None
