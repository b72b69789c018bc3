"""Generation jobs: create, read (object-level authorization), download, take down."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from fastapi.responses import FileResponse

from api.auth import components, current_user, require_roles
from api.schemas import (
    COMMON_ERRORS,
    GenerationCreated,
    GenerationOut,
    ReviewIn,
    StageDecision,
    TakedownIn,
    error_responses,
)
from gate import jobs
from gate.components import Components
from gate.job_access import downloadable_job, list_jobs, video_allowed, visible_job
from gate.models import Job, User
from gate.quota import QuotaExceeded
from gate.requests import GenerationRequest

router = APIRouter(prefix="/v1/generations", tags=["generations"], responses=error_responses(*COMMON_ERRORS, 401))
JobId = Annotated[str, Path(min_length=1, max_length=64)]  # ids are 16 hex characters; anything else is a 404
MP4: dict[int | str, dict[str, Any]] = {
    200: {"description": "The clip", "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}}}}


def _out(request: Request, job: Job, user: User, c: Components) -> GenerationOut:
    url = None
    if video_allowed(job, user) and c.storage.exists(str(job.video_key)):
        url = str(request.url_for("download_video", job_id=job.id))
    return GenerationOut(
        id=job.id, status=job.status, user=job.user, request=job.request, reasons=job.reasons,
        stages=[StageDecision.model_validate(d) for d in job.decisions], video_url=url,
        created_at=job.created_at, updated_at=job.updated_at,
    )


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=GenerationCreated,
             responses=error_responses(403, 404, 422, 429))
def create_generation(
    body: GenerationRequest,
    request: Request,
    user: User = Depends(require_roles("creator", "operator")),
    c: Components = Depends(components),
) -> GenerationCreated:
    try:
        job = jobs.create_job(c, user.name, body, quota=True)
    except QuotaExceeded as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc),
                            headers={"Retry-After": str(exc.retry_after)}) from exc
    except jobs.NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except jobs.JobError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    try:
        request.app.state.dispatch(job.id)
    except Exception:
        jobs.delete_unqueued(c, job.id)  # no half-written job: it was never queued
        raise
    return GenerationCreated(id=job.id, status=job.status,
                             url=str(request.url_for("get_generation", job_id=job.id)))


@router.get("", response_model=list[GenerationOut], responses=error_responses(422))
def list_generations(
    request: Request, limit: int = 50, user: User = Depends(current_user),
    c: Components = Depends(components),
) -> list[GenerationOut]:
    return [_out(request, j, user, c) for j in list_jobs(c, user, max(1, min(limit, 200)))]


@router.get("/{job_id}", response_model=GenerationOut, responses=error_responses(404, 422))
def get_generation(
    job_id: JobId, request: Request, user: User = Depends(current_user), c: Components = Depends(components)
) -> GenerationOut:
    job = visible_job(c, job_id, user)  # someone else's job answers like a missing one: ids are not to be probed
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such generation")
    return _out(request, job, user, c)


@router.get("/{job_id}/video", response_class=FileResponse, responses={**MP4, **error_responses(404, 422)})
def download_video(
    job_id: JobId, user: User = Depends(current_user), c: Components = Depends(components)
) -> FileResponse:
    job = downloadable_job(c, job_id, user)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this generation has no published video to download")
    return FileResponse(c.storage.path(str(job.video_key)), media_type="video/mp4", filename=f"{job.id}.mp4")


@router.post("/{job_id}/takedown", response_model=GenerationOut, responses=error_responses(403, 404, 409, 422))
def takedown(
    job_id: JobId, body: TakedownIn, request: Request, user: User = Depends(require_roles("operator")),
    c: Components = Depends(components),
) -> GenerationOut:
    try:
        job = jobs.take_down(c, job_id, user.name, body.reason, dispatch=request.app.state.dispatch)
    except jobs.NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except jobs.JobError as exc:  # taken down already
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return _out(request, job, user, c)


@router.post("/{job_id}/review", response_model=GenerationOut, responses=error_responses(403, 404, 409, 422))
def review(
    job_id: JobId, body: ReviewIn, request: Request, user: User = Depends(require_roles("operator")),
    c: Components = Depends(components),
) -> GenerationOut:
    """Approve (publish, with consent re-checked) or block a clip the gate sent to review."""
    try:
        job = jobs.review(c, job_id, user.name, body.action, body.reason)
    except jobs.NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except jobs.JobError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return _out(request, job, user, c)
