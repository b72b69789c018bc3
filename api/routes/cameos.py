"""Cameos: liveness challenge, enrollment, permissions, approvals, appearances, revocation."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, select

from api.auth import components, current_user
from api.uploads import save_upload
from gate import cameos
from gate.components import Components
from gate.models import Job, User

router = APIRouter(prefix="/v1/cameos", tags=["cameos"])


class PermissionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    permission: Literal["only_me", "approved", "everyone"]
    approved: list[str] | None = Field(default=None, max_length=500)


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=2, max_length=32)


def _consent_errors(exc: Exception) -> HTTPException:
    from consent.registry import Conflict, Forbidden, NotFound

    code = {NotFound: 404, Forbidden: 404, Conflict: 409}.get(type(exc), 422)
    # Forbidden answers 404: another person's cameo is not to be probed or managed.
    return HTTPException(code, "no such cameo" if isinstance(exc, Forbidden) else str(exc))


def _cameo_out(cameo, approved: list[str] | None = None) -> dict:
    return {"id": cameo.id, "handle": cameo.handle, "kind": cameo.kind, "permission": cameo.permission,
            "status": cameo.status, "created_at": cameo.created_at, "revoked_at": cameo.revoked_at,
            "approved": approved}


@router.post("/challenge")
def challenge(user: User = Depends(current_user), c: Components = Depends(components)) -> dict:
    """Get the head movements to perform in the selfie video (valid 5 minutes, single use)."""
    ch = cameos.issue_challenge(c, user.name)
    return {"id": ch.id, "steps": ch.steps, "expires_at": ch.expires_at}


@router.post("", status_code=status.HTTP_201_CREATED)
def enroll(
    handle: str = Form(..., min_length=3, max_length=32),
    challenge_id: str = Form(..., max_length=64),
    kind: Literal["cameo", "protected"] = Form("cameo"),
    video: UploadFile = File(..., description="selfie video performing the challenge"),
    user: User = Depends(current_user),
    c: Components = Depends(components),
) -> dict:
    from consent.registry import ConsentError

    path = save_upload(video, c.settings.max_upload_bytes)
    try:
        return cameos.enroll(c, user.name, handle, challenge_id, path, kind=kind)
    except ConsentError as exc:
        raise _consent_errors(exc) from exc
    except ValueError as exc:  # UploadError, CameoError, liveness VideoError/ChallengeError: the file or challenge
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    finally:
        path.unlink(missing_ok=True)


@router.get("")
def my_cameos(user: User = Depends(current_user), c: Components = Depends(components)) -> list[dict]:
    from consent.models import Cameo

    with Session(c.engine) as s:
        return [_cameo_out(x) for x in s.exec(select(Cameo).where(Cameo.owner == user.name)).all()]


@router.put("/{cameo_id}/permissions")
def set_permissions(
    cameo_id: int, body: PermissionIn, user: User = Depends(current_user), c: Components = Depends(components)
) -> dict:
    from consent import registry

    try:
        cameo, removed = cameos.set_permission(c, user.name, cameo_id, body.permission, body.approved)
    except registry.ConsentError as exc:
        raise _consent_errors(exc) from exc
    return {"cameo": _cameo_out(cameo, body.approved), "taken_down": removed}


@router.post("/{cameo_id}/approvals")
def approve(
    cameo_id: int, body: ApprovalIn, user: User = Depends(current_user), c: Components = Depends(components)
) -> dict:
    from consent import registry

    try:
        cameos.approve(c, user.name, cameo_id, body.user)
    except registry.ConsentError as exc:
        raise _consent_errors(exc) from exc
    return {"approved": body.user}


@router.delete("/{cameo_id}/approvals/{other}")
def unapprove(
    cameo_id: int, other: str, user: User = Depends(current_user), c: Components = Depends(components)
) -> dict:
    from consent import registry

    try:
        removed = cameos.unapprove(c, user.name, cameo_id, other)
    except registry.ConsentError as exc:
        raise _consent_errors(exc) from exc
    return {"unapproved": other, "taken_down": removed}


@router.post("/{cameo_id}/revoke")
def revoke(cameo_id: int, user: User = Depends(current_user), c: Components = Depends(components)) -> dict:
    """Blocks new uses at once and takes down every clip with this likeness in the same request."""
    from consent import registry

    try:
        removed = cameos.revoke(c, user.name, cameo_id)
    except registry.ConsentError as exc:
        raise _consent_errors(exc) from exc
    return {"revoked": cameo_id, "taken_down": removed}


@router.get("/{cameo_id}/appearances")
def appearances(cameo_id: int, user: User = Depends(current_user), c: Components = Depends(components)) -> list:
    from consent import registry

    try:
        with Session(c.engine) as s:
            rows = registry.appearances(s, cameo_id, user.name)
            jobs = {j.id: j for j in s.exec(select(Job).where(Job.id.in_([a.video_id for a in rows]))).all()}
    except registry.ConsentError as exc:
        raise _consent_errors(exc) from exc
    return [{"video_id": a.video_id, "status": a.status, "created_at": a.created_at,
             "job_status": jobs[a.video_id].status if a.video_id in jobs else None} for a in rows]


@router.delete("/{cameo_id}/appearances/{video_id}")
def delete_appearance(
    cameo_id: int, video_id: str, user: User = Depends(current_user), c: Components = Depends(components)
) -> dict:
    """The owner deletes a clip (draft or published) that contains their likeness."""
    from consent import registry

    try:
        removed = cameos.delete_appearance(c, user.name, cameo_id, video_id)
    except registry.ConsentError as exc:
        raise _consent_errors(exc) from exc
    return {"taken_down": removed}


