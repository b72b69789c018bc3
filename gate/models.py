"""The gate's own tables: users (API keys), generation jobs, the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


ROLES = ("creator", "operator", "rights_holder", "journalist")
class JobStatus(StrEnum):
    """A job's state. Stored as its string; only gate.job_status.transition changes it."""

    QUEUED = "queued"
    RUNNING = "running"
    PUBLISHED = "published"
    BLOCKED = "blocked"
    REVIEW = "review"
    FAILED = "failed"
    TAKEN_DOWN = "taken_down"


JOB_STATES = tuple(JobStatus)
TERMINAL_STATES = frozenset({JobStatus.PUBLISHED, JobStatus.BLOCKED, JobStatus.REVIEW, JobStatus.FAILED,
                             JobStatus.TAKEN_DOWN})


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)
    role: str = Field(max_length=32)
    key_prefix: str = Field(index=True, max_length=16)  # shown in listings, never the key itself
    key_hash: str = Field(unique=True, max_length=64)  # sha256 of the 256-bit random key
    created_at: datetime = Field(default_factory=utcnow)
    disabled: bool = False


class WebSession(SQLModel, table=True):
    """A console sign-in, ended on the server by sign-out or its absolute lifetime (a copied cookie dies too).

    The cookie carries the id; only its SHA-256 is stored.
    """

    __tablename__ = "web_sessions"
    id_hash: str = Field(primary_key=True, max_length=64)
    user: str = Field(index=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


class RateCount(SQLModel, table=True):
    """Fixed-window request counts shared by every API process when the broker is not Redis."""

    __tablename__ = "rate_counts"
    key: str = Field(primary_key=True, max_length=200)  # client and window number
    count: int = 0
    expires_at: datetime = Field(index=True)


class Job(SQLModel, table=True):
    """A generation request. Its id is also the video id (64 bits: the watermark payload)."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_lease", "status", "lease_until"),)
    id: str = Field(primary_key=True, max_length=16)
    user: str = Field(index=True, max_length=64)
    status: str = Field(default="queued", max_length=16)
    request: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    decisions: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    video_key: str | None = Field(default=None, max_length=256)  # media key of the published/draft clip
    attempts: int = 0
    lease_until: datetime | None = None  # a running job whose lease expired is re-queued
    error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    """Append-only, hash-chained: hash = sha256(seq|ts|actor|event|subject|payload|prev_hash)."""

    __tablename__ = "audit_log"
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    ts: str = Field(max_length=40)
    actor: str = Field(max_length=64)
    event: str = Field(index=True, max_length=64)
    subject: str = Field(default="", index=True, max_length=64)
    payload: str  # canonical JSON
    prev_hash: str = Field(max_length=64, unique=True)
    hash: str = Field(max_length=64, unique=True)


class LivenessChallenge(SQLModel, table=True):
    """A challenge issued before a selfie upload; single use, short-lived, bound to one user."""

    __tablename__ = "liveness_challenges"
    id: str = Field(primary_key=True, max_length=64)
    user: str = Field(index=True, max_length=64)
    steps: list[str] = Field(sa_column=Column(JSON, nullable=False))
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


class PolicyVersion(SQLModel, table=True):
    """Every policy an operator set, newest wins; kept in the database so all processes agree."""

    __tablename__ = "policy_versions"
    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(max_length=64)
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class RightsDecision(SQLModel, table=True):
    """One gate decision that named a registered work (prompt or pixels): what its rights holder sees.

    Written with the job's final status (replaced if the job re-runs); no foreign key to the work so the
    domain's registry stays its own, and rows of a deleted work are removed with it (gate.rights.delete).
    """

    __tablename__ = "rights_decisions"
    id: int | None = Field(default=None, primary_key=True)
    work_id: int = Field(index=True)
    job_id: str = Field(index=True, max_length=16)
    stage: str = Field(max_length=32)
    decision: str = Field(max_length=16)
    score: float | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)
