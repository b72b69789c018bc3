"""Response schemas (requests are gate.requests.GenerationRequest, shared with the CLI)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class StageDecision(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    decision: str
    reasons: list[str] = Field(default_factory=list)
    seconds: float | None = None


class GenerationOut(BaseModel):
    id: str
    status: str
    user: str
    request: dict[str, Any]
    reasons: list[str]
    stages: list[StageDecision]
    video_url: str | None = None
    created_at: datetime
    updated_at: datetime


class GenerationCreated(BaseModel):
    id: str
    status: str
    url: str


class TakedownIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=3, max_length=500)


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["approve", "block"]
    reason: str = Field(min_length=3, max_length=500)


class ErrorOut(BaseModel):
    detail: str


class Health(BaseModel):
    status: str
    database: str
    queue: str
    stages: list[dict[str, Any]]
    required_signals_unavailable: list[str] = []
    verify: list[dict[str, Any]] = []  # the verify path's detector: loaded, and whether it is informative
