"""Cameo owners' pages: enroll with the liveness challenge (upload, or the webcam as an enhancement),
choose who may use the likeness, approve people, see every appearance, delete a clip, revoke."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

from api.limits import accepts_upload
from api.web.media import MediaError, is_upload, save_upload
from api.web.render import redirect, render
from api.web.session import checked_form, flash, require
from gate import cameos
from gate.cameos import ConsentError, normalize_handle
from gate.models import User
from gate.uploads import UploadError
from gate.users import NAME as USER_NAME

router = APIRouter(include_in_schema=False)
PERMISSION_WORDS = {"only_me": "Only me", "approved": "People I approve", "everyone": "Everyone"}


def _owned(request: Request, cameo_id: int, user: User) -> Any:
    """The user's own cameo; another person's answers exactly like a missing one."""
    cameo = cameos.owned_cameo(request.app.state.components, user.name, cameo_id)
    if cameo is None:
        raise HTTPException(404, "no such cameo")
    return cameo


def _not_done(request: Request, message: str, back: str, code: int = 422) -> HTMLResponse:
    return render(request, "error.html", {"heading": "Not done", "message": message, "back": back}, code)


@router.get("/cameos", response_class=HTMLResponse)
def cameo_list(request: Request):
    user = require(request)
    rows = cameos.cameos_of(request.app.state.components, user.name)
    return render(request, "cameos.html", {"cameos": rows, "words": PERMISSION_WORDS})


def _enroll_page(request: Request, user: User, values: dict[str, str], errors: dict[str, str], code: int = 200):
    ch = cameos.issue_challenge(request.app.state.components, user.name)  # single use: a fresh one each time
    return render(request, "cameo_enroll.html", {"challenge": ch, "values": values, "errors": errors}, code)


@router.post("/cameos/challenge", response_class=HTMLResponse)
async def challenge(request: Request):
    user = require(request)
    await checked_form(request)
    return _enroll_page(request, user, {"kind": "cameo"}, {})


@router.post("/cameos/enroll", response_class=HTMLResponse)
@accepts_upload
async def enroll(request: Request):
    user = require(request)
    form = await checked_form(request)
    c = request.app.state.components
    values = {k: str(form.get(k) or "").strip() for k in ("handle", "challenge_id", "kind")}
    video = form.get("video")
    upload = video if is_upload(video) else None
    errors: dict[str, str] = {}
    try:
        values["handle"] = normalize_handle(values["handle"])
    except ConsentError:
        errors["handle"] = ("Handle: 3-32 characters of lowercase letters, digits, '_' or '.', starting with a "
                            "letter or digit.")
    if values["kind"] not in ("cameo", "protected"):
        errors["kind"] = "Choose a cameo (others may use it) or a protected likeness (never generate me)."
    if not values["challenge_id"] or len(values["challenge_id"]) > 64:
        errors["challenge_id"] = "The challenge is missing; start the enrollment again."
    if upload is None:
        errors["video"] = "Selfie video: record or upload a short video performing the head movements."
    if errors or upload is None:
        return _enroll_page(request, user, values, errors, 422)
    path = None
    try:
        path = await save_upload(upload, c.settings.max_upload_bytes, ".mp4")
        # liveness + face embedding is seconds of CPU: off the event loop so other pages keep answering
        cm = await asyncio.to_thread(cameos.enroll, c, user.name, values["handle"], values["challenge_id"], path,
                                     kind=values["kind"])
    except (UploadError, MediaError) as exc:
        errors["video"] = f"Selfie video: {exc}"
    except cameos.CameoError as exc:
        errors["video"] = f"{exc}. A new challenge is shown above; please record again."
    except ConsentError as exc:
        errors["handle"] = str(exc)
    except ValueError as exc:  # the liveness reader's VideoError (too short, unreadable, ...)
        errors["video"] = f"Selfie video: {exc}. A new challenge is shown above; please record again."
    except RuntimeError as exc:  # the face backend cannot run: say so, store nothing
        errors["video"] = f"Enrollment is unavailable on this server right now: {exc}"
    finally:
        if path is not None:
            path.unlink(missing_ok=True)
    if errors:
        return _enroll_page(request, user, values, errors, 422)
    flash(request, f"@{cm['handle']} is enrolled. Choose below who may use it (only you, for now).")
    return redirect(f"/cameos/{cm['id']}")


@router.get("/cameos/{cameo_id}", response_class=HTMLResponse)
def cameo_page(request: Request, cameo_id: int):
    user = require(request)
    cameo = _owned(request, cameo_id, user)
    c = request.app.state.components
    rows = cameos.appearances(c, user.name, cameo.id)
    approved = cameos.approved_users(c, cameo.id)
    asks = cameos.permission_requests(c, cameo, approved) if cameo.kind == "cameo" else []
    return render(request, "cameo.html", {"cameo": cameo, "appearances": rows, "approved": sorted(approved),
                                          "words": PERMISSION_WORDS, "requests": asks})


@router.get("/cameos/{cameo_id}/face.png")
def cameo_face(request: Request, cameo_id: int):
    user = require(request)
    cameo = _owned(request, cameo_id, user)
    c = request.app.state.components
    if not cameo.reference_image or not c.storage.exists(cameo.reference_image):
        raise HTTPException(404, "no reference image")
    return FileResponse(c.storage.path(cameo.reference_image), media_type="image/png",
                        headers={"Cache-Control": "private, max-age=300"})


async def _owner_action(request: Request, cameo_id: int) -> tuple[User, Any, Any]:
    user = require(request)
    form = await checked_form(request)
    return user, _owned(request, cameo_id, user), form


@router.post("/cameos/{cameo_id}/permissions", response_class=HTMLResponse)
async def set_permission(request: Request, cameo_id: int):
    user, cameo, form = await _owner_action(request, cameo_id)
    permission = str(form.get("permission") or "")
    if permission not in PERMISSION_WORDS:
        return _not_done(request, "Choose who may use the likeness: only me, people I approve, or everyone.",
                         f"/cameos/{cameo_id}")
    c = request.app.state.components
    try:
        _, removed = cameos.set_permission(c, user.name, cameo.id, permission)
    except ConsentError as exc:
        return _not_done(request, str(exc), f"/cameos/{cameo_id}", 409)
    extra = f" {len(removed)} clip(s) by people who lost access were taken down." if removed else ""
    flash(request, f"Saved: who may use @{cameo.handle} is now “{PERMISSION_WORDS[permission]}”.{extra}")
    return redirect(f"/cameos/{cameo_id}")


@router.post("/cameos/{cameo_id}/approvals", response_class=HTMLResponse)
async def approve(request: Request, cameo_id: int):
    user, cameo, form = await _owner_action(request, cameo_id)
    other = str(form.get("user") or "").strip().lower()
    if not USER_NAME.match(other):
        return _not_done(request, "Enter the user name to approve (2-32 of a-z, 0-9, '_' and '.').",
                         f"/cameos/{cameo_id}")
    if other == user.name:
        return _not_done(request, "You can always use your own cameo; no approval needed.", f"/cameos/{cameo_id}")
    c = request.app.state.components
    try:
        cameos.approve(c, user.name, cameo.id, other)
    except ConsentError as exc:
        return _not_done(request, str(exc), f"/cameos/{cameo_id}", 409)
    note = "" if cameo.permission == "approved" else " (it takes effect when “People I approve” is chosen)"
    flash(request, f"{other} may use @{cameo.handle}{note}.")
    return redirect(f"/cameos/{cameo_id}")


@router.post("/cameos/{cameo_id}/approvals/remove", response_class=HTMLResponse)
async def unapprove(request: Request, cameo_id: int):
    user, cameo, form = await _owner_action(request, cameo_id)
    other = str(form.get("user") or "").strip().lower()
    if not USER_NAME.match(other):
        return _not_done(request, "No such approved user.", f"/cameos/{cameo_id}")
    c = request.app.state.components
    removed = cameos.unapprove(c, user.name, cameo.id, other)
    extra = f" {len(removed)} clip(s) taken down." if removed else ""
    flash(request, f"{other} may no longer use @{cameo.handle}.{extra}")
    return redirect(f"/cameos/{cameo_id}")


@router.post("/cameos/{cameo_id}/appearances/{video_id}/delete", response_class=HTMLResponse)
async def delete_appearance(request: Request, cameo_id: int, video_id: str):
    user, cameo, _ = await _owner_action(request, cameo_id)
    c = request.app.state.components
    try:
        cameos.delete_appearance(c, user.name, cameo.id, video_id)
    except ConsentError as exc:
        return _not_done(request, str(exc), f"/cameos/{cameo_id}", 404)
    flash(request, f"Clip {video_id} is deleted and no longer available to anyone.")
    return redirect(f"/cameos/{cameo_id}")


@router.post("/cameos/{cameo_id}/revoke", response_class=HTMLResponse)
async def revoke(request: Request, cameo_id: int):
    user, cameo, form = await _owner_action(request, cameo_id)
    if str(form.get("confirm") or "") != cameo.handle:
        return _not_done(request, f"To revoke, type the handle {cameo.handle} in the confirmation box.",
                         f"/cameos/{cameo_id}")
    c = request.app.state.components
    removed = cameos.revoke(c, user.name, cameo.id)
    flash(request, f"@{cameo.handle} is revoked: no new clips may use it, and {len(removed)} clip(s) were taken down.")
    return redirect(f"/cameos/{cameo_id}")
