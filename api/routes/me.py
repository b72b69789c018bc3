"""The caller's own account: rotate one's API key (the new key is shown once)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel

from api.auth import components, current_user
from gate.components import Components
from gate.models import User
from gate.users import rotate_key

router = APIRouter(prefix="/v1/me", tags=["account"])


class NewKeyOut(BaseModel):
    name: str
    role: str
    api_key: str  # shown once; only its SHA-256 is stored
    key_prefix: str


class _Error(BaseModel):
    detail: str


ERRORS: dict[int | str, dict] = {
    400: {"model": _Error, "description": "Malformed request"},
    401: {"model": _Error, "description": "No API key, or an invalid or disabled one"},
    413: {"model": _Error, "description": "Request body over the size limit"},
    503: {"model": _Error, "description": "Database unavailable; nothing was changed"},
}


@router.post("/key", response_model=NewKeyOut, status_code=status.HTTP_201_CREATED, responses=ERRORS)
def rotate_own_key(user: User = Depends(current_user), c: Components = Depends(components)) -> NewKeyOut:
    """Replace the calling key with a new one: the old key stops working at once (a leaked key is retired
    by its owner without an operator)."""
    updated, key = rotate_key(c.engine, user.name, actor=user.name)
    return NewKeyOut(name=updated.name, role=updated.role, api_key=key, key_prefix=updated.key_prefix)
