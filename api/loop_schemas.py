"""Request and response schemas of the loop after publication: feed, reports, decisions, statements, appeals."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gate.grounds import GROUNDS
from gate.requests import VIDEO_ID_PATTERN, visible_pattern


def _visible(schema: dict[str, Any]) -> None:
    schema["pattern"] = visible_pattern()  # some visible text: what the gate requires, stated in the schema


Ground = Literal[GROUNDS]  # type: ignore[valid-type]  # the policy's categories, one list (gate.grounds)


class LineageStep(BaseModel):
    id: str
    creator: str
    status: str


class FeedItemOut(BaseModel):
    id: str
    creator: str
    prompt: str | None = None
    style: str | None = None
    seconds: float | None = None
    created_at: datetime
    remix_of: str | None = None
    lineage: list[LineageStep] = Field(description="the clips this one was remixed from, nearest first, down to "
                                                   "the original (the chain its C2PA ingredients record)")
    remixes: int
    restricted: bool
    shows_you: bool = Field(description="the clip (or a clip it was remixed from) shows one of your likenesses")
    video_url: str


class FeedOut(BaseModel):
    items: list[FeedItemOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page; null on the last")


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    video_id: str = Field(pattern=VIDEO_ID_PATTERN)
    category: Ground
    text: str = Field("", max_length=2000)


class ReportOut(BaseModel):
    id: int
    video_id: str
    reporter: str
    category: str
    text: str
    status: str
    created_at: datetime
    closed_at: datetime | None = None
    statement_id: int | None = None
    new: bool = True


class QueueItemOut(BaseModel):
    video_id: str
    creator: str
    status: str
    prompt: str | None = None
    severity: int
    reporters: int
    reach: int = Field(description="remixes made from the clip")
    categories: list[str]
    reports: list[ReportOut]
    gate_decisions: list[dict[str, Any]]
    lineage: list[LineageStep]
    statements: list[dict[str, Any]]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["keep", "restrict", "take_down"]
    ground: Ground
    facts: str = Field(min_length=1, max_length=2000, json_schema_extra=_visible,
                       description="what was found: the creator reads it")


class AppealSummary(BaseModel):
    id: int
    status: str
    outcome_reason: str | None = None
    decided_at: datetime | None = None


class StatementOut(BaseModel):
    id: int
    video_id: str
    creator: str
    decision: str
    meaning: str
    source: str
    ground: str
    facts: str
    automated: bool
    decided_by: str
    appealable: bool
    how_to_appeal: str
    caused_by: int | None = None
    created_at: datetime
    appeal: AppealSummary | None = None


class DecisionOut(StatementOut):
    cascade: dict[str, list[str]]
    reports_closed: int


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=2000, json_schema_extra=_visible,
                      description="why the decision is wrong")


class AppealOut(BaseModel):
    id: int
    statement_id: int
    video_id: str
    appellant: str
    text: str
    status: str
    decided_by: str | None = None
    outcome_reason: str | None = None
    created_at: datetime
    decided_at: datetime | None = None
    decision: StatementOut | None = None


class AppealDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["uphold", "reverse"]
    reason: str = Field(min_length=1, max_length=2000, json_schema_extra=_visible)


class AppealDecisionOut(BaseModel):
    appeal: AppealOut
    statement: StatementOut
    restored: list[str]


class TransparencyOut(BaseModel):
    since: str
    until: str
    jobs: int
    job_outcomes: dict[str, int]
    decisions_per_stage: dict[str, dict[str, int]]
    held_or_refused_per_stage_and_ground: dict[str, dict[str, int]]
    decisions_per_ground: dict[str, dict[str, int]]
    decisions_per_actor: dict[str, int]
    automated_vs_human: dict[str, int]
    reports: dict[str, Any]
    appeals: dict[str, Any]
    takedowns_by_cause: dict[str, int]
    takedowns: int
