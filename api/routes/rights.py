"""Rights holders: register works, list and delete their own, see the decisions made for them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, UploadFile, status
from fastapi import Path as PathParam

from api.auth import components, require_roles
from api.schemas import (
    COMMON_ERRORS,
    NamesApproved,
    RightsDecisionOut,
    WorkDeleted,
    WorkOut,
    WorkRegistered,
    error_responses,
)
from api.uploads import save_upload
from gate import rights
from gate.components import Components
from gate.models import User
from gate.rights import CopyrightError
from gate.uploads import UploadError

# Every route needs a rights holder's (or, to read and delete, an operator's) key.
router = APIRouter(prefix="/v1/rights", tags=["rights"], responses=error_responses(*COMMON_ERRORS, 401, 403))
holder = require_roles("rights_holder", "operator")


def _owner_filter(user: User) -> str | None:
    return None if user.role == "operator" else user.name


@router.post("/works", status_code=status.HTTP_201_CREATED, response_model=WorkRegistered,
             responses=error_responses(422))
def register_work(
    name: str = Form(..., max_length=10_000),
    aliases: list[str] = Form(default_factory=list),
    policy: Literal["block", "review", "allow"] = Form("block"),
    images: list[UploadFile] = File(..., description="reference images"),
    user: User = Depends(require_roles("rights_holder")),
    c: Components = Depends(components),
) -> dict:
    if len(images) > 50:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "at most 50 reference images per request")
    paths: list[Path] = []
    try:
        paths = [save_upload(f, c.settings.max_upload_bytes) for f in images]
        return rights.register(c, user.name, name, aliases, policy, paths)
    except (UploadError, CopyrightError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    finally:
        for p in paths:
            p.unlink(missing_ok=True)


@router.get("/works", response_model=list[WorkOut])
def list_works(user: User = Depends(holder), c: Components = Depends(components)) -> list[dict]:
    return rights.works(c, _owner_filter(user))


@router.post("/works/{work_id}/approve-names", response_model=NamesApproved, responses=error_responses(404, 422))
def approve_names(
    work_id: Annotated[int, PathParam(ge=1, le=2**63 - 1)], user: User = Depends(require_roles("operator")),
    c: Components = Depends(components),
) -> dict:
    """Operators: let the prompt gate use a work's names that are common words (pending since registration)."""
    try:
        return rights.approve_names(c, work_id, user.name)
    except CopyrightError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


@router.delete("/works/{work_id}", response_model=WorkDeleted, responses=error_responses(404, 422))
def delete_work(
    work_id: Annotated[int, PathParam(ge=1, le=2**63 - 1)], user: User = Depends(holder),
    c: Components = Depends(components),
) -> dict:
    try:
        rights.delete(c, _owner_filter(user), work_id, user.name)
    except CopyrightError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return {"deleted": work_id}


@router.get("/decisions", response_model=list[RightsDecisionOut], responses=error_responses(422))
def decisions(limit: int = 200, user: User = Depends(holder), c: Components = Depends(components)) -> list[dict]:
    """Gate decisions that named one of this holder's works (prompt or pixels), newest first."""
    return rights.decisions(c, _owner_filter(user), max(1, min(limit, 1000)))
