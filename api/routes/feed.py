"""The feed: published clips, newest first, with their remix lineage (cursor pagination)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from api.auth import components, current_user
from api.loop_schemas import FeedItemOut, FeedOut
from api.schemas import COMMON_ERRORS, error_responses
from gate.components import Components
from gate.feed import FeedError, feed
from gate.models import User

router = APIRouter(prefix="/v1/feed", tags=["feed"], responses=error_responses(*COMMON_ERRORS, 401))


@router.get("", response_model=FeedOut, responses=error_responses(422))
def get_feed(
    request: Request,
    scope: Literal["all", "mine", "creator", "showing_me"] = "all",
    creator: str | None = Query(None, max_length=64, description="with scope=creator: whose clips"),
    cursor: str | None = Query(None, max_length=200),
    limit: int = Query(20, ge=1, le=100),
    user: User = Depends(current_user),
    c: Components = Depends(components),
) -> FeedOut:
    """All public clips, your own (`mine`), one creator's, or every clip that shows one of your likenesses
    (`showing_me`: remixes of remixes included, restricted ones too)."""
    try:
        page = feed(c, user, scope, creator, cursor, limit)
    except FeedError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    items = [FeedItemOut(**it.as_dict(), video_url=str(request.url_for("download_video", job_id=it.job.id)))
             for it in page.items]
    return FeedOut(items=items, next_cursor=page.next_cursor)
