"""Response schemas (requests are gate.requests.GenerationRequest, shared with the CLI)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# the verify report type lives beside the code that builds it (gate)
from gate.verify_report import VerifyReport as VerifyReport


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


class HealthPublic(BaseModel):
    """/health for anyone but an operator: up and complete, or not; no models, versions or failure reasons."""

    status: str  # "ok" or "degraded"


class Health(BaseModel):
    status: str
    database: str
    queue: str
    stages: list[dict[str, Any]]
    required_signals_unavailable: list[str] = []
    verify: list[dict[str, Any]] = []  # the verify path's detector: loaded, and whether it is informative
    warnings: list[str] = []  # configuration the operator should fix (e.g. watermark keys across processes)


# --- errors: every status a route can answer, each with the {"detail": str} body the handlers send ---

ERROR_DESCRIPTIONS = {
    400: "Malformed request (e.g. an invalid Content-Length)",
    401: "No API key, or an invalid or disabled one",
    403: "The key's role may not do this",
    404: "No such object, or not yours (others' objects are indistinguishable from missing ones)",
    409: "The object is not in a state that allows this",
    413: "Request body over the size limit",
    422: "Invalid parameters, body or uploaded file",
    429: "Rate limit reached; retry after the Retry-After header's seconds",
    503: "Database or job queue unavailable; nothing was stored, retry later",
}
# What any route can answer: the body limit runs before routing, the database behind every key check.
COMMON_ERRORS = (400, 413, 503)


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for these statuses, each with the error model."""
    return {code: {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[code]} for code in codes}


# --- cameos ---

class ChallengeOut(BaseModel):
    id: str
    steps: list[str]
    expires_at: datetime


class CameoOut(BaseModel):
    id: int
    handle: str
    kind: str
    permission: str
    status: str
    created_at: datetime
    revoked_at: datetime | None = None
    approved: list[str] | None = None


class EnrolledOut(BaseModel):
    id: int
    handle: str
    kind: str
    permission: str
    status: str
    steps_seen: list[str]


class PermissionsOut(BaseModel):
    cameo: CameoOut
    taken_down: list[str]


class ApprovedOut(BaseModel):
    approved: str


class UnapprovedOut(BaseModel):
    unapproved: str
    taken_down: list[str]


class RevokedOut(BaseModel):
    revoked: int
    taken_down: list[str]


class TakenDownOut(BaseModel):
    taken_down: list[str]


class AppearanceOut(BaseModel):
    video_id: str
    status: str
    created_at: datetime
    job_status: str | None = None


# --- rights holders ---

class WorkRegistered(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: int
    name: str
    aliases: list[str]
    policy: str
    references: int
    pending_names: list[str] = []  # common words: the prompt gate ignores them until an operator approves


class WorkOut(WorkRegistered):
    owner: str
    created_at: datetime


class NamesApproved(BaseModel):
    id: int
    name: str
    owner: str
    approved: list[str]  # the names the prompt gate uses from now on
    pending_names: list[str]


class WorkDeleted(BaseModel):
    deleted: int


class RightsDecisionOut(BaseModel):
    video_id: str
    stage: str
    decision: str
    works: list[str]
    scores: dict[str, float]
    at: datetime


# --- audit and verify ---

class AuditEntryOut(BaseModel):
    seq: int
    ts: str
    actor: str
    event: str
    subject: str
    payload: str  # canonical JSON, as hashed into the chain
    prev_hash: str
    hash: str


class ChainReportOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str = ""


