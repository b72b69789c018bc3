"""Creator pages: the prompt form, the job page with live stage-by-stage progress, the clip, remix."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from PIL import Image
from pydantic import ValidationError

from api.web.explain import timeline
from api.web.media import MediaError, blurred_thumbnail, draw_boxes, frame_image, png_bytes
from api.web.render import redirect, render
from api.web.session import checked_form, flash, require
from gate import cameos, jobs
from gate.evidence import evidence_key, flagged_frames
from gate.job_access import downloadable_job, list_jobs, video_allowed
from gate.job_access import visible_job as visible
from gate.models import TERMINAL_STATES, Job, User
from gate.quota import QuotaExceeded
from gate.requests import STYLES, GenerationRequest

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
CREATORS = ("creator", "operator")
RESOLUTIONS = ("480p", "720p", "1080p")
JOB_ID = re.compile(r"^[0-9a-f]{16}$")


def styles() -> tuple[str, ...]:
    return tuple(STYLES)


def visible_job(request: Request, job_id: str, user: User) -> Job:
    """Someone else's clip answers exactly like a missing one (operators see all)."""
    job = visible(request.app.state.components, job_id, user) if JOB_ID.match(job_id) else None
    if job is None:
        raise HTTPException(404, "no such clip")
    return job


def _field_errors(exc: ValidationError) -> dict[str, str]:
    names = {"prompt": "Prompt", "style": "Style", "seconds": "Length", "resolution": "Resolution",
             "cameos": "Cameos", "remix": "Remix of"}
    out: dict[str, str] = {}
    for e in exc.errors():
        field = str(e["loc"][0]) if e.get("loc") else "prompt"
        msg = e.get("msg", "invalid").removeprefix("Value error, ")
        if e.get("type") == "string_too_long":
            msg = f"is too long (at most {e.get('ctx', {}).get('max_length')} characters)"
        elif e.get("type") in ("float_parsing", "float_type"):
            msg = "must be a number of seconds"
        out.setdefault(field, f"{names.get(field, field)}: {msg}")
    return out


def parse_create_form(form: Any) -> tuple[dict[str, Any], GenerationRequest | None, dict[str, str]]:
    values = {k: str(form.get(k) or "").strip() for k in ("prompt", "style", "seconds", "resolution", "cameos",
                                                         "remix")}
    data: dict[str, Any] = {"prompt": values["prompt"], "resolution": values["resolution"] or "480p"}
    errors: dict[str, str] = {}
    if not values["prompt"]:
        errors["prompt"] = "Prompt: write what the clip should show."
    if values["style"]:
        data["style"] = values["style"]
    if values["seconds"]:
        data["seconds"] = values["seconds"]
    if values["cameos"]:
        data["cameos"] = [h for h in re.split(r"[\s,]+", values["cameos"]) if h]
    if values["remix"]:
        data["remix"] = values["remix"].lower()
    try:
        req = GenerationRequest.model_validate(data, strict=False)  # form fields are text
    except ValidationError as exc:
        return values, None, _field_errors(exc) | errors
    return values, (None if errors else req), errors


def _create_ctx(request: Request, user: User, values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    c = request.app.state.components
    return {"values": values, "errors": errors, "styles": styles(), "resolutions": RESOLUTIONS,
            "cameos": cameos.cameos_of(c, user.name, usable_only=True), "max_seconds": c.settings.max_seconds}


@router.get("/create", response_class=HTMLResponse)
def create_form(request: Request, remix: str | None = None):
    user = require(request, *CREATORS)
    values = {"seconds": "5", "resolution": "480p", "remix": remix if remix and JOB_ID.match(remix) else ""}
    return render(request, "create.html", _create_ctx(request, user, values, {}))


@router.post("/create", response_class=HTMLResponse)
async def create(request: Request):
    user = require(request, *CREATORS)
    form = await checked_form(request)
    values, req, errors = parse_create_form(form)
    c = request.app.state.components
    if req is not None:
        try:
            job = jobs.create_job(c, user.name, req, quota=True)
        except QuotaExceeded as exc:
            errors["prompt"] = f"Not queued: {exc}."
            response = render(request, "create.html", _create_ctx(request, user, values, errors), 429)
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except jobs.NotFound as exc:
            errors["remix"] = f"Remix of: {exc} (it must be a published clip)"
        except jobs.JobError as exc:
            errors["seconds" if "seconds" in str(exc) else "prompt"] = str(exc)
        else:
            try:
                request.app.state.dispatch(job.id)
            except Exception:
                log.exception("queueing job %s failed", job.id)
                jobs.delete_unqueued(c, job.id)
                errors["prompt"] = "The job queue is unavailable right now; nothing was stored. Try again shortly."
                return render(request, "create.html", _create_ctx(request, user, values, errors), 503)
            flash(request, "Your clip is queued; this page follows it through the gate.")
            return redirect(f"/jobs/{job.id}")
    return render(request, "create.html", _create_ctx(request, user, values, errors), 422)


@router.get("/jobs", response_class=HTMLResponse)
def job_list(request: Request):
    user = require(request)
    return render(request, "jobs.html", {"jobs": list_jobs(request.app.state.components, user, 100)})


def _job_ctx(job: Job, user: User, storage: Any = None) -> dict[str, Any]:
    kept = set()
    if storage is not None and job.status in TERMINAL_STATES:
        kept = {i for i in flagged_frames(job.decisions) if storage.exists(evidence_key(job.id, i))}
    return {"job": job, "stages": timeline(job.decisions, job.status), "done": job.status in TERMINAL_STATES,
            "playable": video_allowed(job, user), "kept_frames": kept}


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str):
    user = require(request)
    job = visible_job(request, job_id, user)
    return render(request, "job.html", _job_ctx(job, user, request.app.state.components.storage) | {"styles": styles()})


@router.get("/jobs/{job_id}/progress", response_class=HTMLResponse)
def job_progress(request: Request, job_id: str):
    """The progress panel alone, polled by htmx while the job runs."""
    user = require(request)
    job = visible_job(request, job_id, user)
    ctx = _job_ctx(job, user, request.app.state.components.storage)
    response = render(request, "_progress.html", ctx)
    if ctx["done"] and request.headers.get("HX-Request"):
        response.headers["HX-Refresh"] = "true"  # one full reload shows the clip, the reasons and the actions
    return response


@router.get("/jobs/{job_id}/video")
def job_video(request: Request, job_id: str):
    user = require(request)
    c = request.app.state.components
    job = downloadable_job(c, job_id, user) if JOB_ID.match(job_id) else None
    if job is None:  # unpublished: operators only (the creator gets no video); someone else's: like missing
        raise HTTPException(404, "this clip has no published video")
    return FileResponse(c.storage.path(job.video_key), media_type="video/mp4")


@router.get("/jobs/{job_id}/frames/{stage}/{index}.png")
def job_frame(request: Request, job_id: str, stage: str, index: int):
    """The frame a stage flagged, with its boxes drawn, from the clip while it may be seen, else from the
    kept evidence: in full for operators, strongly blurred for the creator (it may show a person who did not
    consent, violence, or someone's work; the words say what was found)."""
    user = require(request)
    job = visible_job(request, job_id, user)
    c = request.app.state.components
    boxes = [b for d in job.decisions if d.get("name") == stage for e in d.get("evidence") or []
             if isinstance(e, dict) and e.get("frame") == index for b in e.get("boxes") or []]
    try:
        if video_allowed(job, user) and c.storage.exists(str(job.video_key)):
            img = draw_boxes(frame_image(c.storage.path(job.video_key), index), boxes)
        elif 0 <= index <= 1_000_000 and c.storage.exists(evidence_key(job.id, index)):
            with Image.open(c.storage.path(evidence_key(job.id, index))) as kept:
                img = draw_boxes(kept, boxes) if user.role == "operator" else blurred_thumbnail(kept)
        else:
            raise HTTPException(404, "the clip is no longer stored, so its frames cannot be shown")
    except MediaError as exc:
        raise HTTPException(404, str(exc)) from exc
    # not cached: a takedown or a revocation removes the frame, and a cached copy would outlive it
    return Response(png_bytes(img), media_type="image/png", headers={"Cache-Control": "private, no-store"})
