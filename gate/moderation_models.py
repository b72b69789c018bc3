"""Tables of the loop after publication: viewers' reports, statements of reasons, appeals, restricted clips.

Kept apart from gate.models (jobs, users, audit) because they describe what happens to a clip once it is out.
No foreign key to jobs: a statement or a report outlives anything done to its clip."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from gate.models import utcnow


class Report(SQLModel, table=True):
    """A signed-in viewer's notice about a published clip: one per clip and reporter (a repeat adds nothing)."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("video_id", "reporter"),)
    id: int | None = Field(default=None, primary_key=True)
    video_id: str = Field(index=True, max_length=16)
    reporter: str = Field(index=True, max_length=64)
    category: str = Field(max_length=32)
    text: str = Field(default="", max_length=2000)
    status: str = Field(default="open", index=True, max_length=16)  # open | actioned | dismissed
    statement_id: int | None = None  # the decision that closed it
    created_at: datetime = Field(default_factory=utcnow, index=True)
    closed_at: datetime | None = None


class Statement(SQLModel, table=True):
    """A statement of reasons (EU DSA art. 17): what was decided about a clip, the facts, the policy ground,
    whether it was automated, and how to appeal. Written for every gate refusal and every operator decision."""

    __tablename__ = "statements"
    id: int | None = Field(default=None, primary_key=True)
    video_id: str = Field(index=True, max_length=16)
    creator: str = Field(index=True, max_length=64)  # to whom it is addressed
    decision: str = Field(max_length=16)  # refuse | keep | restrict | take_down | restore | recheck
    source: str = Field(max_length=16)  # gate | operator | cascade | cameo | appeal
    ground: str = Field(index=True, max_length=32)  # the policy category it rests on
    facts: str = Field(max_length=4000)
    automated: bool = False
    actor: str = Field(max_length=64)
    appealable: bool = True
    caused_by: int | None = None  # the statement whose decision this one follows from (a cascade, an appeal)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class Appeal(SQLModel, table=True):
    """The creator's one complaint against a statement; decided by an operator who did not make the decision."""

    __tablename__ = "appeals"
    id: int | None = Field(default=None, primary_key=True)
    statement_id: int = Field(unique=True)  # once per decision
    video_id: str = Field(index=True, max_length=16)
    appellant: str = Field(index=True, max_length=64)
    text: str = Field(max_length=2000)
    status: str = Field(default="open", index=True, max_length=16)  # open | upheld | reversed
    decided_by: str | None = Field(default=None, max_length=64)
    outcome_reason: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    decided_at: datetime | None = None


class RestrictedClip(SQLModel, table=True):
    """A published clip an operator restricted: it stays up for its creator, operators and the people it
    shows, but leaves everyone else's feed and cannot be reported or remixed by them."""

    __tablename__ = "restricted_clips"
    video_id: str = Field(primary_key=True, max_length=16)
    statement_id: int
    created_at: datetime = Field(default_factory=utcnow)
