"""The frames that made a stage refuse a clip, kept after the draft itself is deleted, so the operators can
see why (the creator gets the words and a blurred thumbnail, api/web/creator.py). Frames flagged for sexual
content are never kept: the decision and its words are the record there, and no copy of such material is
stored. Kept frames go when the clip is taken down and when a cameo they show is revoked: they may show the
face of someone who did not consent."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
from sqlalchemy import String, cast
from sqlmodel import Session, col, select

from gate.components import Components
from gate.models import Job

log = logging.getLogger(__name__)
NEVER_KEEP = frozenset({"nudity", "minor_sexual", "sexual", "sexual_clip"})
MAX_FRAMES = 6


def evidence_key(job_id: str, index: int) -> str:
    return f"evidence/{job_id}/{int(index)}.png"


def flagged_frames(decisions: list[dict[str, Any]]) -> list[int]:
    frames: list[int] = []
    for d in decisions:
        if d.get("decision") == "pass":
            continue
        evidence = [e for e in d.get("evidence") or [] if isinstance(e, dict) and isinstance(e.get("frame"), int)]
        if any(e.get("category") in NEVER_KEEP for e in evidence):
            continue  # one sexual-content finding in a stage: keep none of its frames
        frames += [e["frame"] for e in evidence if e.get("allowed") is not True]
    return sorted(set(frames))[:MAX_FRAMES]


def keep_evidence_frames(c: Components, job_id: str, draft: Path, decisions: list[dict[str, Any]]) -> list[int]:
    wanted = flagged_frames(decisions)
    if not wanted or not draft.exists():
        return []
    kept = []
    with av.open(str(draft)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                buf = io.BytesIO()
                frame.to_image().save(buf, format="PNG")
                c.storage.put_bytes(evidence_key(job_id, i), buf.getvalue())
                kept.append(i)
            if i >= wanted[-1]:
                break
    return kept


def delete_evidence(c: Components, job_id: str) -> int:
    """Every kept frame of one job (takedown, revocation). Returns how many were deleted."""
    return c.storage.delete_prefix(f"evidence/{job_id}")


def frame_handles(decisions: Sequence[dict[str, Any]]) -> set[str]:
    """The likenesses that frame-level findings name (the likeness stage's evidence)."""
    return {e["handle"] for d in decisions for e in d.get("evidence") or []
            if isinstance(e, dict) and isinstance(e.get("handle"), str) and isinstance(e.get("frame"), int)}


def shows_handle(decisions: Sequence[dict[str, Any]], handle: str) -> bool:
    return handle in frame_handles(decisions)


def delete_evidence_showing(c: Components, handle: str) -> list[str]:
    """On revocation: delete the kept frames of every job whose findings name @handle.

    All of such a job's frames go, not only the likeness ones: a copyright or violence frame of the same
    clip may show the same face. A coarse text match narrows the rows in SQL (handles are [a-z0-9_.],
    which JSON never escapes); the evidence itself decides."""
    with Session(c.engine) as s:
        rows = s.exec(select(Job.id, Job.decisions).where(
            cast(col(Job.decisions), String).contains(f'"{handle}"', autoescape=True))).all()
    done = []
    for job_id, decisions in rows:
        if shows_handle(decisions or [], handle) and delete_evidence(c, job_id):
            done.append(job_id)
    if done:
        log.info("deleted the kept frames of %d job(s) showing @%s", len(done), handle)
    return done


def drop_if_withdrawn(c: Components, job_id: str, status: str, decisions: list[dict[str, Any]]) -> bool:
    """After a run: frames kept for a clip that was taken down, or that show a cameo revoked, while the job
    ran are deleted now (the takedown or revocation may have swept before they were written)."""
    from consent.models import Cameo

    withdrawn = status == "taken_down"
    if not withdrawn:
        handles = frame_handles(decisions)
        if handles:
            with Session(c.engine) as s:
                withdrawn = s.exec(select(Cameo.id).where(col(Cameo.handle).in_(handles),
                                                          col(Cameo.status) == "revoked")).first() is not None
    return withdrawn and delete_evidence(c, job_id) > 0
