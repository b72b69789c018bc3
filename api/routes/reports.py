"""Notice and action: viewers report clips (de-duplicated, rate-limited); operators work the queue and decide,
each decision with its statement of reasons."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status

from api.auth import components, current_user, require_roles
from api.loop_schemas import DecisionIn, DecisionOut, QueueItemOut, ReportIn, ReportOut
from api.schemas import COMMON_ERRORS, error_responses
from gate import moderation, reports
from gate.components import Components
from gate.models import User

router = APIRouter(tags=["reports"], responses=error_responses(*COMMON_ERRORS, 401))
VideoId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]


def _limit(request: Request, user: User) -> None:
    ok, retry = request.app.state.rate_limiter.hit(f"report:{user.name}", reports.REPORTS_PER_WINDOW,
                                                   reports.REPORT_WINDOW_SECONDS)
    if not ok:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"at most {reports.REPORTS_PER_WINDOW} reports per {reports.REPORT_WINDOW_SECONDS // 60} "
                            f"minutes; retry in {retry} s", headers={"Retry-After": str(retry)})


@router.post("/v1/reports", response_model=ReportOut, status_code=status.HTTP_201_CREATED,
             responses={200: {"model": ReportOut, "description": "You reported this clip before: that report"},
                        **error_responses(404, 422, 429)})
def file_report(body: ReportIn, request: Request, response: Response, user: User = Depends(current_user),
                c: Components = Depends(components)) -> ReportOut:
    """Report a published clip you can see, under one of the policy's categories."""
    _limit(request, user)
    try:
        row, new = reports.file_report(c, user, body.video_id, body.category, body.text)
    except reports.NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except reports.ReportError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    if not new:
        response.status_code = status.HTTP_200_OK
    return ReportOut(**reports.report_as_dict(row), new=new)


@router.get("/v1/reports", response_model=list[ReportOut])
def my_reports(user: User = Depends(current_user), c: Components = Depends(components)) -> list[ReportOut]:
    """The reports you filed, newest first, with what became of them."""
    return [ReportOut(**reports.report_as_dict(r)) for r in reports.reports_by(c, user.name)]


@router.get("/v1/reports/queue", response_model=list[QueueItemOut], responses=error_responses(403))
def report_queue(user: User = Depends(require_roles("operator")), c: Components = Depends(components),
                 ) -> list[QueueItemOut]:
    """Reported clips: highest severity, most reporters, widest reach first."""
    return [QueueItemOut(**item.as_dict()) for item in reports.queue(c)]


@router.post("/v1/clips/{video_id}/decision", response_model=DecisionOut,
             responses=error_responses(403, 404, 409, 422))
def decide(video_id: VideoId, body: DecisionIn, request: Request, user: User = Depends(require_roles("operator")),
           c: Components = Depends(components)) -> DecisionOut:
    """Keep, restrict or take down a published clip. The creator gets a statement of reasons; a takedown on a
    ground the pictures carry takes the remixes down too, any other sends them back through the gate."""
    try:
        out = moderation.decide(c, video_id, user.name, body.action, body.ground, body.facts,
                                dispatch=request.app.state.dispatch)
    except moderation.NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except moderation.ModerationError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    except moderation.JobError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return DecisionOut(**out)
