"""Cameo registry: enrollment, permissions, approvals, revocation, appearances and face matching.

Every function takes a SQLModel Session and commits its own change, so one call is one transaction:
a revocation marks the cameo and all its appearances in the same commit, and a refused call (raising a
ConsentError) stores nothing. Taking the media down is the caller's job; `revoke` and the permission
functions return the video ids that must go.

Rules:
- "protected" likenesses are never usable, by anyone (the owner included): they exist to be blocked.
- A revoked cameo is never usable and STAYS in the face index, so clips showing that face are blocked
  rather than passing as "unknown".
- Only the owner may change permissions, approve, revoke or list appearances.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sqlmodel import Session, col, select

from consent.faces import DLIB_THRESHOLD, Face
from consent.index import FaceIndex
from consent.models import (
    APPEARANCE_STATUSES,
    CAMEO_KINDS,
    PERMISSIONS,
    Appearance,
    Cameo,
    CameoApproval,
    CameoEmbedding,
    stored_id,
    utcnow,
)


class ConsentError(ValueError):
    """A consent rule refused the request; the message is meant for the person who made it."""


class NotFound(ConsentError):
    pass


class Forbidden(ConsentError):
    pass


class Conflict(ConsentError):
    pass


HANDLE_RE = re.compile(r"^[a-z0-9][a-z0-9_.]{2,31}$")
MAX_EMBEDDINGS = 64


@dataclass(frozen=True)
class LikenessHit:
    handle: str
    cameo_id: int
    kind: str
    distance: float
    allowed: bool
    why: str
    face_index: int = 0  # which of the given faces matched


def normalize_handle(handle: str) -> str:
    h = (handle or "").strip().lstrip("@").lower()
    if not HANDLE_RE.match(h):
        raise ConsentError(
            f"invalid handle {handle!r}: 3-32 characters, letters, digits, '_' or '.', starting alphanumeric"
        )
    return h


def _check_user(user: str, what: str = "user") -> str:
    u = (user or "").strip()
    if not u or len(u) > 128 or any(not c.isprintable() for c in u):
        raise ConsentError(f"invalid {what} name {user!r}")
    return u


def _embedding_rows(
    embeddings: Sequence[np.ndarray] | Mapping[str, np.ndarray],
) -> list[tuple[str, np.ndarray]]:
    if isinstance(embeddings, Mapping):
        items = [(str(k), v) for k, v in embeddings.items()]
    else:
        items = [(f"pose_{i}", v) for i, v in enumerate(embeddings)]
    if not items:
        raise ConsentError("enrollment needs at least one face embedding")
    if len(items) > MAX_EMBEDDINGS:
        raise ConsentError(f"too many embeddings ({len(items)} > {MAX_EMBEDDINGS})")
    out = []
    dims = set()
    for pose, v in items:
        vec = np.asarray(v, dtype=np.float32).ravel()
        if vec.size == 0 or not np.all(np.isfinite(vec)):
            raise ConsentError(f"embedding {pose!r} is empty or not finite")
        dims.add(vec.size)
        out.append((pose[:32], vec))
    if len(dims) != 1:
        raise ConsentError(f"embeddings have different sizes: {sorted(dims)}")
    return out


def get_cameo(session: Session, cameo_id: int) -> Cameo:
    cameo = session.get(Cameo, cameo_id)
    if cameo is None:
        raise NotFound(f"no cameo with id {cameo_id}")
    return cameo


def get_by_handle(session: Session, handle: str) -> Cameo:
    h = normalize_handle(handle)
    cameo = session.exec(select(Cameo).where(Cameo.handle == h)).first()
    if cameo is None:
        raise NotFound(f"no cameo @{h}")
    return cameo


def _owned(session: Session, cameo_id: int, actor: str) -> Cameo:
    cameo = get_cameo(session, cameo_id)
    if cameo.owner != actor:
        raise Forbidden(f"@{cameo.handle} belongs to someone else; only its owner can do this")
    return cameo


def enroll(
    session: Session,
    owner: str,
    handle: str,
    embeddings: Sequence[np.ndarray] | Mapping[str, np.ndarray],
    reference_image_path: str,
    backend_name: str,
    kind: str = "cameo",
    *,
    index: FaceIndex | None = None,
    threshold: float | None = None,
) -> Cameo:
    """Register a likeness. With `index` (+ `threshold`), refuse a face someone else already registered."""
    owner = _check_user(owner, "owner")
    h = normalize_handle(handle)
    if kind not in CAMEO_KINDS:
        raise ConsentError(f"kind must be one of {CAMEO_KINDS}, got {kind!r}")
    rows = _embedding_rows(embeddings)
    if session.exec(select(Cameo).where(Cameo.handle == h)).first() is not None:
        raise Conflict(f"handle @{h} is taken")
    if index is not None:
        limit = DLIB_THRESHOLD if threshold is None else threshold
        for _, vec in rows:
            if vec.size != index.dim:
                continue
            for cameo_id, dist in index.search(vec, k=5):
                other = session.get(Cameo, cameo_id)
                if other is not None and other.owner != owner and dist < limit:
                    raise Conflict("this face is already registered to another account")
    cameo = Cameo(
        handle=h,
        owner=owner,
        kind=kind,
        permission="only_me",
        status="active",
        reference_image=str(reference_image_path),
        backend=backend_name,
    )
    session.add(cameo)
    session.flush()
    assert cameo.id is not None
    for pose, vec in rows:
        session.add(
            CameoEmbedding(cameo_id=cameo.id, vector=vec.astype("<f4").tobytes(), dim=vec.size, pose=pose)
        )
    session.commit()
    session.refresh(cameo)
    return cameo


def _approved_users(session: Session, cameo_id: int) -> set[str]:
    return set(session.exec(select(CameoApproval.user).where(CameoApproval.cameo_id == cameo_id)).all())


def _allowed(session: Session, cameo: Cameo, user: str | None) -> tuple[bool, str]:
    if cameo.kind == "protected":
        return False, f"@{cameo.handle} is a protected likeness: never generated"
    if cameo.status != "active":
        return False, f"@{cameo.handle} was revoked by its owner"
    if user is not None and user == cameo.owner:
        return True, f"@{cameo.handle} is your own cameo"
    if cameo.permission == "everyone":
        return True, f"@{cameo.handle} may be used by everyone"
    if cameo.permission == "approved" and user is not None and user in _approved_users(session, stored_id(cameo)):
        return True, f"you are approved to use @{cameo.handle}"
    if cameo.permission == "approved":
        return False, f"@{cameo.handle} may only be used by people its owner approved"
    return False, f"@{cameo.handle} may only be used by its owner"


def can_use(session: Session, handle: str, user: str) -> tuple[bool, str]:
    try:
        cameo = get_by_handle(session, handle)
    except ConsentError as exc:
        return False, str(exc)
    return _allowed(session, cameo, user)


def _takedowns_for_lost_access(session: Session, cameo: Cameo) -> list[str]:
    """Mark removed every live appearance whose creator may no longer use the cameo; return video ids."""
    live = session.exec(
        select(Appearance).where(
            Appearance.cameo_id == cameo.id, col(Appearance.status).in_(("draft", "published"))
        )
    ).all()
    out = []
    for app in live:
        # Unknown creator: fail closed (take it down) rather than leave a clip nobody can vouch for.
        ok = app.creator is not None and _allowed(session, cameo, app.creator)[0]
        if not ok:
            app.status = "removed"
            app.removed_at = utcnow()
            session.add(app)
            out.append(app.video_id)
    return out


def set_permission(
    session: Session, cameo_id: int, actor: str, permission: str, approved: list[str] | None = None
) -> list[str]:
    """Change who may use a cameo (and, with `approved`, replace the approval list).

    Returns the video ids of clips by people who lost access; they are marked removed in the same commit.
    """
    cameo = _owned(session, cameo_id, actor)
    if permission not in PERMISSIONS:
        raise ConsentError(f"permission must be one of {PERMISSIONS}, got {permission!r}")
    if cameo.kind == "protected":
        raise Conflict(f"@{cameo.handle} is a protected likeness; it cannot be shared")
    if cameo.status != "active":
        raise Conflict(f"@{cameo.handle} was revoked; enroll again to share a likeness")
    if approved is not None:
        users = {_check_user(u) for u in approved}
        for row in session.exec(select(CameoApproval).where(CameoApproval.cameo_id == cameo.id)).all():
            if row.user not in users:
                session.delete(row)
            else:
                users.discard(row.user)
        for u in sorted(users):
            session.add(CameoApproval(cameo_id=stored_id(cameo), user=u))
    cameo.permission = permission
    session.add(cameo)
    session.flush()
    removed = _takedowns_for_lost_access(session, cameo)
    session.commit()
    return removed


def approve(session: Session, cameo_id: int, actor: str, user: str) -> None:
    cameo = _owned(session, cameo_id, actor)
    user = _check_user(user)
    if cameo.kind == "protected":
        raise Conflict(f"@{cameo.handle} is a protected likeness; it cannot be shared")
    if cameo.status != "active":
        raise Conflict(f"@{cameo.handle} was revoked")
    if user not in _approved_users(session, stored_id(cameo)):
        session.add(CameoApproval(cameo_id=stored_id(cameo), user=user))
        session.commit()


def unapprove(session: Session, cameo_id: int, actor: str, user: str) -> list[str]:
    """Withdraw one person's approval; returns the video ids of their clips that must be taken down."""
    cameo = _owned(session, cameo_id, actor)
    user = _check_user(user)
    for row in session.exec(
        select(CameoApproval).where(CameoApproval.cameo_id == cameo.id, CameoApproval.user == user)
    ).all():
        session.delete(row)
    session.flush()
    removed = _takedowns_for_lost_access(session, cameo)
    session.commit()
    return removed


def revoke(session: Session, cameo_id: int, actor: str) -> list[str]:
    """Revoke a cameo: no new uses, every draft/published appearance marked removed (ids returned).

    Idempotent: revoking again returns only appearances recorded since (normally none).
    """
    cameo = _owned(session, cameo_id, actor)
    now = utcnow()
    if cameo.status != "revoked":
        cameo.status = "revoked"
        cameo.revoked_at = now
        session.add(cameo)
    live = session.exec(
        select(Appearance).where(
            Appearance.cameo_id == cameo.id, col(Appearance.status).in_(("draft", "published"))
        )
    ).all()
    for app in live:
        app.status = "removed"
        app.removed_at = now
        session.add(app)
    session.commit()
    return [a.video_id for a in live]


def record_appearance(
    session: Session, cameo_id: int, video_id: str, status: str, creator: str | None = None, *, commit: bool = True
) -> Appearance:
    """Record (or update) that a clip contains a cameo. A removed appearance is never revived.

    commit=False leaves the change in the caller's transaction (publish records every cameo and the
    clip's status in one commit, with the cameo rows still locked)."""
    if status not in APPEARANCE_STATUSES:
        raise ConsentError(f"status must be one of {APPEARANCE_STATUSES}, got {status!r}")
    video_id = str(video_id)
    if not video_id or len(video_id) > 128:
        raise ConsentError("invalid video id")
    cameo = get_cameo(session, cameo_id)
    app = session.exec(
        select(Appearance).where(Appearance.cameo_id == cameo.id, Appearance.video_id == video_id)
    ).first()
    if app is None:
        app = Appearance(cameo_id=stored_id(cameo), video_id=video_id, status=status, creator=creator)
    elif app.status == "removed" and status != "removed":
        raise Conflict(f"clip {video_id} was taken down for @{cameo.handle}; it cannot be republished")
    else:
        app.status = status
        if creator is not None:
            app.creator = creator
    if status == "removed" and app.removed_at is None:
        app.removed_at = utcnow()
    session.add(app)
    if commit:
        session.commit()
        session.refresh(app)
    return app


def appearances(session: Session, cameo_id: int, actor: str) -> list[Appearance]:
    """Every clip (draft, published, removed) that contains the cameo; owner only."""
    cameo = _owned(session, cameo_id, actor)
    return list(
        session.exec(
            select(Appearance).where(Appearance.cameo_id == cameo.id).order_by(col(Appearance.created_at))
        ).all()
    )


def delete_appearance(session: Session, cameo_id: int, video_id: str, actor: str) -> str:
    """The owner takes down one clip containing their likeness; returns the video id to remove."""
    cameo = _owned(session, cameo_id, actor)
    app = session.exec(
        select(Appearance).where(Appearance.cameo_id == cameo.id, Appearance.video_id == str(video_id))
    ).first()
    if app is None:
        raise NotFound(f"clip {video_id} does not contain @{cameo.handle}")
    if app.status != "removed":
        app.status = "removed"
        app.removed_at = utcnow()
        session.add(app)
        session.commit()
    return app.video_id


def cameo_embeddings(session: Session, cameo_id: int) -> list[tuple[int, str, np.ndarray]]:
    """(row id, pose, vector) of one cameo, e.g. to add a fresh enrollment to the FaceIndex."""
    rows = session.exec(select(CameoEmbedding).where(CameoEmbedding.cameo_id == cameo_id)).all()
    return [(stored_id(r), r.pose, np.frombuffer(r.vector, dtype="<f4").copy()) for r in rows]


def all_embeddings(
    session: Session, backend_name: str | None = None
) -> list[tuple[int, int, np.ndarray]]:
    """(row id, cameo id, vector) for every enrolled or protected face, revoked ones included
    (a revoked face must still be recognised to be blocked). Feed to `FaceIndex.rebuild`."""
    stmt = select(CameoEmbedding, Cameo.backend).join(Cameo, col(Cameo.id) == col(CameoEmbedding.cameo_id))
    if backend_name is not None:
        stmt = stmt.where(Cameo.backend == backend_name)
    rows = session.exec(stmt.order_by(col(CameoEmbedding.id))).all()
    return [(stored_id(e), e.cameo_id, np.frombuffer(e.vector, dtype="<f4").copy()) for e, _ in rows]


def match_faces(
    index: FaceIndex,
    faces: Iterable[Face | np.ndarray],
    session: Session,
    requester: str | None,
    *,
    threshold: float = DLIB_THRESHOLD,
    k: int = 5,
) -> list[LikenessHit]:
    """Every registered likeness among `faces` (distance < threshold), with whether `requester` may use it.

    Unknown faces produce no hit (they pass). The gate blocks when any hit has allowed=False.
    """
    hits: list[LikenessHit] = []
    cache: dict[int, Cameo | None] = {}
    for i, face in enumerate(faces):
        emb = face.embedding if isinstance(face, Face) else np.asarray(face, dtype=np.float32)
        for cameo_id, dist in index.search(emb, k=k):
            if dist >= threshold:
                continue
            if cameo_id not in cache:
                cache[cameo_id] = session.get(Cameo, cameo_id)
            cameo = cache[cameo_id]
            if cameo is None:
                # In the index but gone from the database: the index is stale; block to stay safe.
                hits.append(
                    LikenessHit("?", cameo_id, "unknown", dist, False, "registered face (index stale)", i)
                )
                continue
            allowed, why = _allowed(session, cameo, requester)
            hits.append(LikenessHit(cameo.handle, cameo_id, cameo.kind, dist, allowed, why, i))
    return hits
