"""Cameo service: enrollment with a liveness challenge, permissions, revocation with takedown.

The consent package decides (who may use a likeness, which clips lost consent); this module applies
those decisions to the things the gate owns: jobs, media files, the face index and the audit log.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from pathlib import Path

import numpy as np
from PIL import Image
from sqlmodel import Session, col, select

# The consent package's errors are the API's and the console's to answer (404, 409, 422): re-exported here
# so interfaces reach the consent package through this service only.
from consent.models import Cameo, CameoApproval
from consent.registry import Conflict, ConsentError, Forbidden, NotFound, normalize_handle
from gate import audit, statements
from gate.components import Components
from gate.db import write_session
from gate.evidence import delete_evidence, delete_evidence_showing
from gate.job_status import transition
from gate.models import Job, JobStatus, LivenessChallenge, utcnow
from gate.uploads import check_video

log = logging.getLogger(__name__)
CHALLENGE_TTL = timedelta(minutes=5)
__all__ = ["Cameo", "CameoError", "Conflict", "ConsentError", "Forbidden", "NotFound", "normalize_handle"]


class CameoError(ValueError):
    pass


def recheck_consent(s: Session, cameo_ids: list[int], user: str) -> tuple[list, list[str]]:
    """Lock the cameo rows (until the caller's commit) and check each is still usable by `user`.

    Returns the locked cameos and the refusals. Publishing and approving a reviewed clip both go through
    here, so a revocation either is seen now or finds the clip afterwards."""
    from sqlmodel import col, select

    from consent import registry
    from consent.models import Cameo

    cameos = list(s.exec(select(Cameo).where(col(Cameo.id).in_(cameo_ids)).with_for_update()).all())
    refused = [f"cameo @{cm.handle}: {why}" for cm in cameos
               for ok, why in [registry.can_use(s, cm.handle, user)] if not ok]
    return cameos, refused


def issue_challenge(c: Components, user: str) -> LivenessChallenge:
    from consent.liveness import issue_challenge as new_challenge

    ch = new_challenge(ttl_seconds=int(CHALLENGE_TTL.total_seconds()))
    row = LivenessChallenge(id=secrets.token_urlsafe(16), user=user, steps=list(ch.steps),
                            issued_at=ch.issued_at, expires_at=ch.expires_at)
    with Session(c.engine, expire_on_commit=False) as s:
        s.add(row)
        s.commit()
    return row


def _take_challenge(c: Components, challenge_id: str, user: str):
    """Mark the challenge used (single use) and return it as the consent package's Challenge."""
    from consent.liveness import Challenge

    with Session(c.engine, expire_on_commit=False) as s:
        row = s.get(LivenessChallenge, challenge_id)
        if row is None or row.user != user:
            raise CameoError("unknown challenge; request one first (POST /v1/cameos/challenge)")
        if row.used_at is not None:
            raise CameoError("this challenge was already used; request a new one")
        row.used_at = utcnow()
        s.add(row)
        s.commit()
    return Challenge(id=row.id, steps=list(row.steps), issued_at=row.issued_at, expires_at=row.expires_at)


def enroll(c: Components, user: str, handle: str, challenge_id: str, video: Path, kind: str = "cameo") -> dict:
    """Check liveness on the selfie video and register the likeness. Nothing is stored on refusal."""
    from consent import registry
    from consent.liveness import check_liveness

    check_video(video, c.settings.max_upload_bytes)
    challenge = _take_challenge(c, challenge_id, user)
    backend, why = c.face_backend.get()
    if backend is None:
        raise RuntimeError(why)
    result = check_liveness(video, challenge, backend)
    if not result.ok:
        audit.append(c.engine, user, "cameo.enroll_refused", handle, {"reason": result.reason})
        raise CameoError(f"liveness check failed: {result.reason}")
    index, _ = c.fresh_face_index()
    key = f"cameos/{secrets.token_hex(8)}.png"
    buf = _png(result.reference_face)
    with Session(c.engine, expire_on_commit=False) as s:
        cameo = registry.enroll(
            s, user, handle, dict(zip(result.embedding_labels, result.embeddings, strict=False)), key,
            backend.name, kind=kind, index=index, threshold=backend.threshold,
        )
    c.storage.put_bytes(key, buf)
    c.fresh_face_index()  # pick up the new embeddings now, in this process
    audit.append(c.engine, user, "cameo.enrolled", cameo.handle, {"cameo_id": cameo.id, "kind": kind,
                                                                   "embeddings": len(result.embeddings)})
    return {"id": cameo.id, "handle": cameo.handle, "kind": cameo.kind, "permission": cameo.permission,
            "status": cameo.status, "steps_seen": result.steps_seen}


def _png(rgb: np.ndarray | None) -> bytes:
    import io

    if rgb is None:
        raise CameoError("no reference face could be taken from the video")
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(out, format="PNG")
    return out.getvalue()


def take_down_videos(c: Components, video_ids: list[str], actor: str, reason: str) -> list[str]:
    """Remove clips that lost consent: status taken_down and the media file deleted, at once."""
    from gate.cascade import cascade  # here: the cascade's takedowns come back through job_review

    done: list[str] = []
    sts: dict[str, int | None] = {}
    with write_session(c.engine) as s:
        for vid in video_ids:
            # Compare-and-set, then read: an approve that committed first has moved the file to
            # videos/, and that is the key deleted here. A job still running (its draft recorded, not
            # yet finished) is stopped too: its finish finds it taken down and leaves it so.
            transition(s, vid, {JobStatus.PUBLISHED, JobStatus.REVIEW, JobStatus.RUNNING, JobStatus.QUEUED},
                       JobStatus.TAKEN_DOWN)
            job = s.get(Job, vid)
            if job is None:
                continue
            if job.video_key:
                c.storage.delete(job.video_key)
            job.reasons = [*job.reasons, f"taken down: {reason}"]
            job.updated_at = utcnow()
            s.add(job)
            # the creator's statement of reasons: the person shown withdrew consent (not appealable)
            sts[vid] = statements.add_in(s, job, "take_down", "cameo", "cameo_revoked", f"{reason}.",
                                         automated=False, actor=actor, appealable=False).id
            done.append(vid)
        s.commit()
    for vid in done:
        delete_evidence(c, vid)  # a review draft's kept frames show the same likeness
    for vid in done:
        audit.append(c.engine, actor, "job.taken_down", vid, {"reason": reason})
    for vid in list(done):  # the remixes made from it show the same person: they go too
        done += [r for r in cascade(c, vid, "cameo_revoked", actor, sts[vid]).taken_down if r not in done]
    return done


# --- the owner's actions: the consent decision, the takedown it implies, and the audit entry, together ---

def set_permission(c: Components, actor: str, cameo_id: int, permission: str,
                   approved: list[str] | None = None) -> tuple[Cameo, list[str]]:
    """Raises consent.registry.ConsentError. Returns the cameo and the clips taken down."""
    from consent import registry

    with Session(c.engine, expire_on_commit=False) as s:
        lost = registry.set_permission(s, cameo_id, actor, permission, approved)
        cameo = registry.get_cameo(s, cameo_id)
    removed = take_down_videos(c, lost, actor, f"@{cameo.handle}'s owner changed who may use it")
    audit.append(c.engine, actor, "cameo.permissions", cameo.handle,
                 {"permission": permission, "approved": approved, "taken_down": removed})
    return cameo, removed


def approve(c: Components, actor: str, cameo_id: int, user: str) -> None:
    from consent import registry

    with Session(c.engine) as s:
        registry.approve(s, cameo_id, actor, user)
    audit.append(c.engine, actor, "cameo.approved", str(cameo_id), {"user": user})


def unapprove(c: Components, actor: str, cameo_id: int, user: str) -> list[str]:
    from consent import registry

    with Session(c.engine) as s:
        lost = registry.unapprove(s, cameo_id, actor, user)
    removed = take_down_videos(c, lost, actor, "the cameo owner withdrew the approval")
    audit.append(c.engine, actor, "cameo.unapproved", str(cameo_id), {"user": user, "taken_down": removed})
    return removed


def revoke(c: Components, actor: str, cameo_id: int) -> list[str]:
    """Blocks new uses at once and takes down every clip with this likeness, in the same call."""
    from consent import registry

    with Session(c.engine) as s:
        lost = registry.revoke(s, cameo_id, actor)
        handle = registry.get_cameo(s, cameo_id).handle
    removed = take_down_videos(c, lost, actor, "the cameo owner revoked consent")
    # refused clips have no appearance row, but their kept frames may show this face: they go too
    cleared = delete_evidence_showing(c, handle)
    audit.append(c.engine, actor, "cameo.revoked", str(cameo_id), {"taken_down": removed, "evidence_deleted": cleared})
    return removed


def delete_appearance(c: Components, actor: str, cameo_id: int, video_id: str) -> list[str]:
    from consent import registry

    with Session(c.engine) as s:
        vid = registry.delete_appearance(s, cameo_id, video_id, actor)
    return take_down_videos(c, [vid], actor, "deleted by the person it shows")


# --- what the owner's pages and the API show ---------------------------------------------------------------

def cameos_of(c: Components, owner: str, usable_only: bool = False) -> list[Cameo]:
    """The owner's cameos, oldest first; `usable_only`: active cameos (not protected likenesses), the ones a
    generation request may name."""
    q = select(Cameo).where(Cameo.owner == owner).order_by(col(Cameo.created_at))
    if usable_only:
        q = q.where(Cameo.status == "active", Cameo.kind == "cameo")
    with Session(c.engine, expire_on_commit=False) as s:
        return list(s.exec(q).all())


def owned_cameo(c: Components, owner: str, cameo_id: int) -> Cameo | None:
    """The owner's cameo; another person's is None, exactly like a missing one."""
    with Session(c.engine, expire_on_commit=False) as s:
        cameo = s.get(Cameo, cameo_id)
    return cameo if cameo is not None and cameo.owner == owner else None


def appearances(c: Components, actor: str, cameo_id: int) -> list[dict]:
    """Every clip with this likeness (owner only: raises ConsentError), with its job's status now."""
    from consent import registry

    with Session(c.engine) as s:
        rows = registry.appearances(s, cameo_id, actor)
        ids = [a.video_id for a in rows]
        statuses = {j.id: j.status for j in s.exec(select(Job).where(col(Job.id).in_(ids)))} if ids else {}
    return [{"video_id": a.video_id, "status": a.status, "created_at": a.created_at,
             "job_status": statuses.get(a.video_id)} for a in rows]


def approved_users(c: Components, cameo_id: int) -> list[str]:
    with Session(c.engine) as s:
        return sorted(s.exec(select(CameoApproval.user).where(CameoApproval.cameo_id == cameo_id)).all())


def permission_requests(c: Components, cameo: Cameo, approved: list[str], scan: int = 2000) -> list[dict]:
    """People whose clips the consent check refused because they lack permission for this cameo: the
    requests an owner may approve. Only who and when; their prompts and drafts stay theirs."""
    prefix = f"cameo @{cameo.handle}: "
    seen: dict[str, dict] = {}
    with Session(c.engine) as s:
        rows = s.exec(select(Job).where(Job.status == JobStatus.BLOCKED).order_by(col(Job.created_at).desc())
                      .limit(scan))
        for job in rows:
            if job.user in (cameo.owner, *approved):
                continue
            refused = any(d.get("name") == "consent" and d.get("decision") == "block" and
                          any(r.startswith(prefix) and "may only be used" in r for r in d.get("reasons") or [])
                          for d in job.decisions)
            if refused:
                entry = seen.setdefault(job.user, {"user": job.user, "last": job.created_at, "count": 0})
                entry["count"] += 1
    return sorted(seen.values(), key=lambda e: e["last"], reverse=True)
