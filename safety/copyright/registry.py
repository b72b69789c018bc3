"""The rights holders' registry: register, list and delete works; names for the prompt side.

Validation happens before anything is written, so a bad request stores nothing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

import numpy as np
from sqlmodel import Session, col, select

from safety.copyright.errors import CopyrightError
from safety.copyright.images import encode_png, figure_on, validate_array
from safety.copyright.models import ReferenceKind, Work, WorkPolicy, WorkReference, row_id
from safety.copyright.signals.pdq import pdq_hash

MAX_NAME = 200
MAX_ALIASES = 50
MAX_ALIAS = 200
MAX_IMAGES = 50
MIN_DETAIL = 2.0  # grey-level std: a flat image would "match" every flat frame


def is_flat(img: np.ndarray) -> bool:
    """No detail to match on (e.g. a black frame from a clip's fade-in); such frames are not references."""
    return float(img.mean(axis=2).std()) < MIN_DETAIL


def _clean_label(value: str, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise CopyrightError(f"{what} must be text")
    # NFC + drop control/format characters (zero-width etc.) so "Go\u200bpher" is stored as "Gopher"
    value = "".join(c for c in unicodedata.normalize("NFC", value) if unicodedata.category(c)[0] != "C")
    value = " ".join(value.split())
    if not value:
        raise CopyrightError(f"{what} is empty")
    if len(value) > limit:
        raise CopyrightError(f"{what} is {len(value)} characters; the limit is {limit}")
    return value


def validate_work(name: str, aliases: Sequence[str], policy: str) -> tuple[str, list[str], str]:
    clean = _clean_label(name, "work name", MAX_NAME)
    if isinstance(aliases, str):
        raise CopyrightError("aliases must be a list of names, not one string")
    if len(aliases) > MAX_ALIASES:
        raise CopyrightError(f"{len(aliases)} aliases; the limit is {MAX_ALIASES}")
    seen = {clean.casefold()}
    out = []
    for i, a in enumerate(aliases):
        a = _clean_label(a, f"alias {i + 1}", MAX_ALIAS)
        if a.casefold() not in seen:
            seen.add(a.casefold())
            out.append(a)
    try:
        pol = WorkPolicy(str(policy).strip().lower()).value
    except ValueError:
        raise CopyrightError(f"policy must be one of block, review, allow (got {policy!r})") from None
    return clean, out, pol


def register_work(
    session: Session,
    owner: str,
    name: str,
    aliases: Sequence[str],
    policy: str,
    images: Sequence[np.ndarray],
    store_image: Callable[[bytes, str], str],
    kinds: Sequence[str] | None = None,
    is_pending: Callable[[str], bool] | None = None,
) -> Work:
    """Validate everything, store the reference images via `store_image(png_bytes, ".png") -> key`,
    then add the Work and its WorkReferences and commit. Raises CopyrightError on bad input.
    `is_pending(name)`: names (after cleaning) the prompt side must not use until approve_names."""
    owner = _clean_label(owner, "owner", MAX_NAME)
    clean, clean_aliases, pol = validate_work(name, aliases, policy)
    if not images:
        raise CopyrightError("at least one reference image is required")
    if len(images) > MAX_IMAGES:
        raise CopyrightError(f"{len(images)} reference images; the limit is {MAX_IMAGES}")
    kinds = list(kinds) if kinds is not None else [ReferenceKind.image.value] * len(images)
    if len(kinds) != len(images) or any(k not in {r.value for r in ReferenceKind} for k in kinds):
        raise CopyrightError("kinds must give image or video_frame for every reference")
    prepared = []
    for i, img in enumerate(images):
        # RGBA (a figure with transparency) is stored with its alpha: the index describes it as a figure
        img = validate_array(img, f"reference image {i + 1}", allow_alpha=True)
        if img.shape[2] == 4 and int(img[..., 3].min()) == 255:
            img = np.ascontiguousarray(img[..., :3])
        flat = figure_on(img, "white")
        if is_flat(flat):
            raise CopyrightError(f"reference image {i + 1} is flat (no detail to match on)")
        prepared.append((img, pdq_hash(flat)[0]))

    stored = [store_image(encode_png(img), ".png") for img, _ in prepared]
    pending = [n for n in (clean, *clean_aliases) if is_pending is not None and is_pending(n)]
    work = Work(owner=owner, name=clean, aliases=clean_aliases, policy=pol, pending_names=pending)
    try:
        session.add(work)
        session.flush()
        for (_, h), key, kind in zip(prepared, stored, kinds, strict=True):
            session.add(WorkReference(work_id=row_id(work), media=key, kind=kind, pdq=h))
        session.commit()
    except Exception:
        session.rollback()
        raise
    session.refresh(work)
    return work


def list_works(session: Session, owner: str | None = None) -> list[Work]:
    """Works of one rights holder (owner=None: all, for operators)."""
    q = select(Work).order_by(col(Work.id))
    if owner is not None:
        q = q.where(Work.owner == owner)
    return list(session.exec(q))


def list_all_works(session: Session) -> list[Work]:
    return list_works(session, None)


def get_work(session: Session, work_id: int, owner: str | None = None) -> Work:
    work = session.get(Work, work_id)
    if work is None or (owner is not None and work.owner != owner):
        # the same message for "absent" and "someone else's": no probing of other holders' works
        raise CopyrightError(f"no work {work_id} for this rights holder")
    return work


def references(session: Session, work_id: int | None = None) -> list[WorkReference]:
    q = select(WorkReference).order_by(col(WorkReference.id))
    if work_id is not None:
        q = q.where(WorkReference.work_id == work_id)
    return list(session.exec(q))


def delete_work(session: Session, work_id: int, owner: str | None = None) -> list[str]:
    """Delete a work and its references; returns the media keys so the caller can remove the files."""
    work = get_work(session, work_id, owner)
    refs = references(session, work.id)
    keys = [r.media for r in refs]
    for r in refs:
        session.delete(r)
    session.flush()  # references first: the foreign key must never point at a deleted work
    session.delete(work)
    session.commit()
    return keys


def active_names(work: Work) -> list[str]:
    """The work's name and aliases the prompt side may use: those not waiting for an operator's approval."""
    pending = set(work.pending_names or [])
    return [n for n in (work.name, *(work.aliases or [])) if n not in pending]


def approve_names(session: Session, work_id: int) -> Work:
    """An operator accepts the work's pending names: the prompt side uses them from now on."""
    work = get_work(session, work_id)
    work.pending_names = []
    session.add(work)
    session.commit()
    session.refresh(work)
    return work


def work_names(session: Session, policies: Sequence[str] = ("block", "review")) -> dict[str, list[str]]:
    """{name: aliases} of works whose policy asks the prompt gate to act (names pending approval left out;
    a work whose own name is pending is keyed by its first active alias)."""
    out: dict[str, list[str]] = {}
    for w in session.exec(select(Work).where(Work.policy.in_(list(policies)))):  # type: ignore[attr-defined]
        active = active_names(w)
        if not active:
            continue
        out.setdefault(active[0], [])
        out[active[0]].extend(a for a in active[1:] if a not in out[active[0]])
    return out
