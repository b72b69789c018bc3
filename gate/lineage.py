"""Remix lineage: which clip a remix was made from (the request's `remix`, the same parent its C2PA manifest
names as ingredient), up to the original, and every remix made from a clip, down to remixes of remixes."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from gate.models import Job

MAX_DEPTH = 50  # a chain longer than this is cut (ids are random: no cycle can be made, but never loop)


def parent_id(job: Job) -> str | None:
    remix = job.request.get("remix")
    return remix if isinstance(remix, str) else None


def _remix_of() -> Any:
    return col(Job.request)["remix"].as_string()  # json_extract on SQLite, ->> on PostgreSQL


def ancestors(s: Session, job: Job) -> list[Job]:
    """The clips `job` was remixed from, nearest first, down to the original."""
    out: list[Job] = []
    seen = {job.id}
    pid = parent_id(job)
    while pid and pid not in seen and len(out) < MAX_DEPTH:
        parent = s.get(Job, pid)
        if parent is None:
            break
        out.append(parent)
        seen.add(pid)
        pid = parent_id(parent)
    return out


def descendants(s: Session, video_id: str) -> list[Job]:
    """Every remix made from `video_id`, and remixes of those, breadth first."""
    out: list[Job] = []
    seen = {video_id}
    frontier = [video_id]
    for _ in range(MAX_DEPTH):
        if not frontier:
            break
        rows = s.exec(select(Job).where(_remix_of().in_(frontier)).order_by(col(Job.created_at))).all()
        frontier = [j.id for j in rows if j.id not in seen]
        seen.update(frontier)
        out.extend(j for j in rows if j.id in frontier)
    return out


def remix_counts(s: Session, video_ids: list[str]) -> dict[str, int]:
    """Direct remixes of each clip (its reach in the operators' queue)."""
    if not video_ids:
        return {}
    counts: dict[str, int] = {}
    for pid in s.exec(select(_remix_of()).where(_remix_of().in_(video_ids))).all():
        counts[pid] = counts.get(pid, 0) + 1
    return counts


def chain(s: Session, job: Job) -> list[dict[str, Any]]:
    """The lineage a person reads: each ancestor's id, creator and status, nearest first."""
    return [{"id": a.id, "creator": a.user, "status": a.status} for a in ancestors(s, job)]
