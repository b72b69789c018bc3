"""Statements of reasons addressed to the caller, appeals against them, and operators' decisions on appeals."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status

from api.auth import components, current_user, require_roles
from api.loop_schemas import (
    AppealDecisionIn,
    AppealDecisionOut,
    AppealIn,
    AppealOut,
    StatementOut,
    TransparencyOut,
)
from api.schemas import COMMON_ERRORS, error_responses
from gate import appeals, statements, transparency
from gate.components import Components
from gate.models import User

router = APIRouter(tags=["statements"], responses=error_responses(*COMMON_ERRORS, 401))
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/v1/statements", response_model=list[StatementOut], responses=error_responses(422))
def list_statements(video_id: str | None = Query(None, pattern=r"^[0-9a-f]{16}$"),
                    user: User = Depends(current_user), c: Components = Depends(components)) -> list[StatementOut]:
    """Newest first: the statements of reasons about your clips (operators: all), of one clip if given."""
    return [StatementOut(**d) for d in statements.for_user(c, user, video_id)]


@router.get("/v1/statements/{statement_id}", response_model=StatementOut, responses=error_responses(404, 422))
def get_statement(statement_id: Id, user: User = Depends(current_user),
                  c: Components = Depends(components)) -> StatementOut:
    found = statements.visible_statement(c, statement_id, user)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such statement")
    return StatementOut(**found)


@router.post("/v1/statements/{statement_id}/appeal", response_model=AppealOut, status_code=status.HTTP_201_CREATED,
             responses=error_responses(404, 409, 422))
def appeal(body: AppealIn, statement_id: Id, user: User = Depends(current_user),
           c: Components = Depends(components)) -> AppealOut:
    """Contest a refusal, restriction or takedown of your clip, once."""
    try:
        row = appeals.file_appeal(c, user, statement_id, body.text)
    except appeals.NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except appeals.AppealConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except appeals.AppealError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return AppealOut(**appeals.appeal_as_dict(row))


@router.get("/v1/appeals", response_model=list[AppealOut], responses=error_responses(403))
def open_appeals(user: User = Depends(require_roles("operator")), c: Components = Depends(components),
                 ) -> list[AppealOut]:
    """Appeals waiting for a decision, oldest first."""
    return [AppealOut(**a) for a in appeals.open_appeals(c)]


@router.post("/v1/appeals/{appeal_id}/decision", response_model=AppealDecisionOut,
             responses=error_responses(403, 404, 409, 422))
def decide_appeal(body: AppealDecisionIn, appeal_id: Id, user: User = Depends(require_roles("operator")),
                  c: Components = Depends(components)) -> AppealDecisionOut:
    """Uphold or reverse; only an operator who neither took the decision nor filed the appeal (else 403)."""
    try:
        out = appeals.decide_appeal(c, appeal_id, user.name, body.outcome, body.reason)
    except appeals.NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except appeals.SameDecider as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except appeals.AppealConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except appeals.AppealError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return AppealDecisionOut(**out)


@router.get("/v1/transparency", response_model=TransparencyOut, responses=error_responses(422))
def transparency_report(since: date, until: date, user: User = Depends(current_user),
                        c: Components = Depends(components)) -> TransparencyOut:
    """The transparency report for [since, until] (whole UTC days, both included)."""
    start = datetime.combine(since, time.min, UTC)
    end = datetime.combine(until, time.max, UTC)
    if end <= start:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "until must not be before since")
    return TransparencyOut(**transparency.report(c, start, end))
