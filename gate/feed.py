"""The feed: published clips, newest first, with their remix lineage; who may see a published clip.

A published clip is public to anyone signed in unless an operator restricted it; a restricted one is still
seen by its creator, operators and the people it shows (cameo owners see every clip with their likeness,
remixes of remixes included: a remix keeps its source's footage)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from gate import lineage
from gate.components import Components
from gate.models import Job, JobStatus, User
from gate.moderation_models import RestrictedClip

Scope = Literal["all", "mine", "creator", "showing_me"]
SCOPES: tuple[str, ...] = ("all", "mine", "creator", "showing_me")
MAX_LIMIT = 100


class FeedError(ValueError):
    """A request the caller can fix (422)."""


@dataclass
class FeedItem:
    job: Job
    lineage: list[dict[str, Any]]
    remixes: int
    restricted: bool
    shows_viewer: bool

    def as_dict(self) -> dict[str, Any]:
        r = self.job.request
        return {"id": self.job.id, "creator": self.job.user, "prompt": r.get("prompt"), "style": r.get("style"),
                "seconds": r.get("seconds"), "created_at": self.job.created_at, "remix_of": lineage.parent_id(self.job),
                "lineage": self.lineage, "remixes": self.remixes, "restricted": self.restricted,
                "shows_you": self.shows_viewer}


@dataclass
class FeedPage:
    items: list[FeedItem] = field(default_factory=list)
    next_cursor: str | None = None


def encode_cursor(job: Job) -> str:
    return base64.urlsafe_b64encode(f"{job.created_at.isoformat()}|{job.id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, job_id = raw.split("|", 1)
        return datetime.fromisoformat(when), job_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise FeedError("cursor: not a cursor this feed gave out") from exc


def clips_showing(s: Session, owner: str) -> set[str]:
    """Every clip that shows one of `owner`'s likenesses: the clips the likeness gate found them in, and every
    remix made from those, down the chain."""
    from consent.models import Appearance, Cameo

    direct = set(s.exec(select(Appearance.video_id).join(Cameo, col(Cameo.id) == col(Appearance.cameo_id))
                        .where(Cameo.owner == owner)).all())
    found = set(direct)
    for vid in direct:
        found.update(j.id for j in lineage.descendants(s, vid))
    return found


def _restricted(s: Session, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    return set(s.exec(select(RestrictedClip.video_id).where(col(RestrictedClip.video_id).in_(ids))).all())


def is_restricted(c: Components, video_id: str) -> bool:
    with Session(c.engine) as s:
        return s.get(RestrictedClip, video_id) is not None


def visible_clip(c: Components, video_id: str, user: User) -> Job | None:
    """The published clip if `user` may see it in the feed (and so report it); None exactly like a missing one."""
    with Session(c.engine, expire_on_commit=False) as s:
        job = s.get(Job, video_id)
        if job is None or job.status != JobStatus.PUBLISHED:
            return None
        if s.get(RestrictedClip, video_id) is None or user.role == "operator" or job.user == user.name:
            return job
        return job if video_id in clips_showing(s, user.name) else None


def feed(c: Components, viewer: User, scope: str = "all", creator: str | None = None, cursor: str | None = None,
         limit: int = 20) -> FeedPage:
    """One page of published clips, newest first. `scope`: all public ones, the viewer's own, one creator's
    (`creator`), or every clip showing the viewer."""
    if scope not in SCOPES:
        raise FeedError(f"scope: must be one of {', '.join(SCOPES)}")
    if scope == "creator" and not creator:
        raise FeedError("creator: name the creator whose clips to list")
    limit = max(1, min(limit, MAX_LIMIT))
    q = select(Job).where(Job.status == JobStatus.PUBLISHED)
    with Session(c.engine, expire_on_commit=False) as s:
        showing = clips_showing(s, viewer.name)
        if scope == "mine":
            q = q.where(Job.user == viewer.name)
        elif scope == "creator":
            q = q.where(Job.user == str(creator).strip().lower())
        elif scope == "showing_me":
            q = q.where(col(Job.id).in_(showing or {""}))
        if scope in ("all", "creator") and viewer.role != "operator":
            hidden = select(RestrictedClip.video_id)
            q = q.where(or_(col(Job.id).not_in(hidden), col(Job.user) == viewer.name, col(Job.id).in_(showing or {""})))
        if cursor:
            when, last = decode_cursor(cursor)
            q = q.where(or_(col(Job.created_at) < when, and_(col(Job.created_at) == when, col(Job.id) < last)))
        rows = list(s.exec(q.order_by(col(Job.created_at).desc(), col(Job.id).desc()).limit(limit + 1)).all())
        page, more = rows[:limit], len(rows) > limit
        ids = [j.id for j in page]
        counts = lineage.remix_counts(s, ids)
        restricted = _restricted(s, ids)
        items = [FeedItem(j, lineage.chain(s, j), counts.get(j.id, 0), j.id in restricted, j.id in showing)
                 for j in page]
    return FeedPage(items, encode_cursor(page[-1]) if more and page else None)
