"""Cameos: liveness challenge, enrollment, permissions, approvals, appearances, revocation."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Path, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field

from api.auth import components, current_user
from api.schemas import (
    COMMON_ERRORS,
    AppearanceOut,
    ApprovedOut,
    CameoOut,
    ChallengeOut,
    EnrolledOut,
    PermissionsOut,
    RevokedOut,
    TakenDownOut,
    UnapprovedOut,
    error_responses,
)
from api.uploads import save_upload
from gate import cameos
from gate.cameos import Cameo, Conflict, ConsentError, Forbidden, NotFound
from gate.components import Components
from gate.models import User

# Every cameo route needs a key; another person's cameo answers 404 like a missing one.
router = APIRouter(prefix="/v1/cameos", tags=["cameos"], responses=error_responses(*COMMON_ERRORS, 401))
# A cameo id as stored: a positive 64-bit integer (a larger one would overflow the database driver).
CameoId = Annotated[int, Path(ge=1, le=2**63 - 1)]
OWNED = error_responses(404, 422)


class PermissionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    permission: Literal["only_me", "approved", "everyone"]
    approved: list[str] | None = Field(default=None, max_length=500)


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=2, max_length=32)


def _consent_errors(exc: Exception) -> HTTPException:
    codes: dict[type[Exception], int] = {NotFound: 404, Forbidden: 404, Conflict: 409}
    code = codes.get(type(exc), 422)
    # Forbidden answers 404: another person's cameo is not to be probed or managed.
    return HTTPException(code, "no such cameo" if isinstance(exc, Forbidden) else str(exc))


def _cameo_out(cameo: Cameo, approved: list[str] | None = None) -> CameoOut:
    return CameoOut(id=cameo.id, handle=cameo.handle, kind=cameo.kind, permission=cameo.permission,
                    status=cameo.status, created_at=cameo.created_at, revoked_at=cameo.revoked_at,
                    approved=approved)


@router.post("/challenge", response_model=ChallengeOut)
def challenge(user: User = Depends(current_user), c: Components = Depends(components)) -> ChallengeOut:
    """Get the head movements to perform in the selfie video (valid 5 minutes, single use)."""
    ch = cameos.issue_challenge(c, user.name)
    return ChallengeOut(id=ch.id, steps=ch.steps, expires_at=ch.expires_at)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EnrolledOut,
             responses=error_responses(404, 409, 422))
def enroll(
    handle: str = Form(..., min_length=3, max_length=32),
    challenge_id: str = Form(..., max_length=64),
    kind: Literal["cameo", "protected"] = Form("cameo"),
    video: UploadFile = File(..., description="selfie video performing the challenge"),
    user: User = Depends(current_user),
    c: Components = Depends(components),
) -> EnrolledOut:
    path = save_upload(video, c.settings.max_upload_bytes)
    try:
        return EnrolledOut.model_validate(cameos.enroll(c, user.name, handle, challenge_id, path, kind=kind))
    except ConsentError as exc:
        raise _consent_errors(exc) from exc
    except ValueError as exc:  # UploadError, CameoError, liveness VideoError/ChallengeError: the file or challenge
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    finally:
        path.unlink(missing_ok=True)


@router.get("", response_model=list[CameoOut])
def my_cameos(user: User = Depends(current_user), c: Components = Depends(components)) -> list[CameoOut]:
    return [_cameo_out(x) for x in cameos.cameos_of(c, user.name)]


@router.put("/{cameo_id}/permissions", response_model=PermissionsOut, responses=OWNED)
def set_permissions(
    cameo_id: CameoId, body: PermissionIn, user: User = Depends(current_user), c: Components = Depends(components)
) -> PermissionsOut:
    try:
        cameo, removed = cameos.set_permission(c, user.name, cameo_id, body.permission, body.approved)
    except ConsentError as exc:
        raise _consent_errors(exc) from exc
    return PermissionsOut(cameo=_cameo_out(cameo, body.approved), taken_down=removed)


@router.post("/{cameo_id}/approvals", response_model=ApprovedOut, responses=error_responses(404, 409, 422))
def approve(
    cameo_id: CameoId, body: ApprovalIn, user: User = Depends(current_user), c: Components = Depends(components)
) -> ApprovedOut:
    try:
        cameos.approve(c, user.name, cameo_id, body.user)
    except ConsentError as exc:
        raise _consent_errors(exc) from exc
    return ApprovedOut(approved=body.user)


@router.delete("/{cameo_id}/approvals/{other}", response_model=UnapprovedOut, responses=OWNED)
def unapprove(
    cameo_id: CameoId, other: Annotated[str, Path(max_length=64)], user: User = Depends(current_user),
    c: Components = Depends(components),
) -> UnapprovedOut:
    try:
        removed = cameos.unapprove(c, user.name, cameo_id, other)
    except ConsentError as exc:
        raise _consent_errors(exc) from exc
    return UnapprovedOut(unapproved=other, taken_down=removed)


@router.post("/{cameo_id}/revoke", response_model=RevokedOut, responses=OWNED)
def revoke(cameo_id: CameoId, user: User = Depends(current_user), c: Components = Depends(components)) -> RevokedOut:
    """Blocks new uses at once and takes down every clip with this likeness in the same request."""
    try:
        removed = cameos.revoke(c, user.name, cameo_id)
    except ConsentError as exc:
        raise _consent_errors(exc) from exc
    return RevokedOut(revoked=cameo_id, taken_down=removed)


@router.get("/{cameo_id}/appearances", response_model=list[AppearanceOut], responses=OWNED)
def appearances(
    cameo_id: CameoId, user: User = Depends(current_user), c: Components = Depends(components)
) -> list[AppearanceOut]:
    try:
        rows = cameos.appearances(c, user.name, cameo_id)
    except ConsentError as exc:
        raise _consent_errors(exc) from exc
    return [AppearanceOut(**row) for row in rows]


@router.delete("/{cameo_id}/appearances/{video_id}", response_model=TakenDownOut, responses=OWNED)
def delete_appearance(
    cameo_id: CameoId, video_id: Annotated[str, Path(max_length=64)], user: User = Depends(current_user),
    c: Components = Depends(components),
) -> TakenDownOut:
    """The owner deletes a clip (draft or published) that contains their likeness."""
    try:
        removed = cameos.delete_appearance(c, user.name, cameo_id, video_id)
    except ConsentError as exc:
        raise _consent_errors(exc) from exc
    return TakenDownOut(taken_down=removed)


