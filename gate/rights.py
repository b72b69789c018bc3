"""Rights holders' service: register works (images checked at the boundary), keep the index current."""

from __future__ import annotations

import secrets
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import delete as sql_delete
from sqlmodel import Session, col, select

from gate import audit
from gate.components import Components
from gate.models import RightsDecision
from gate.uploads import check_image

# The copyright package's one error type, for the API and the console to answer (404, 422) without reaching
# into the package themselves.
from safety.copyright.errors import CopyrightError

__all__ = ["CopyrightError"]


def load_rgb(path: Path, max_bytes: int) -> np.ndarray:
    """RGB, or RGBA when the image has transparency: such a reference is registered as a figure (its
    transparent pixels' colour is never read, so a drawing exported with black there is no black box)."""
    from safety.copyright.images import to_rgb

    check_image(path, max_bytes)  # size, pixel bomb and decodability, before decoding for real
    with Image.open(path) as im:
        return to_rgb(im, path.name, keep_alpha=True)


def common_name(name: str, threshold: float) -> bool:
    """A name that is an everyday word or phrase ("ball", "city", "red ball"), as written or once disguises
    are undone ("b4ll"): one holder registering it would block everyone's prompts that use it.

    wordfreq's Zipf frequency (log10 per billion words; "ball" 5.0, "gopher" 2.9); a phrase's is derived
    from its words' frequencies, so a phrase of common words is common too.
    """
    from wordfreq import zipf_frequency

    from safety.text_normalize import normalize

    forms = {name, normalize(name).text}
    return any(zipf_frequency(f, "en") >= threshold for f in forms if f.strip())


def register(
    c: Components, owner: str, name: str, aliases: list[str], policy: str, images: list[Path]
) -> dict:
    """Raises UploadError or CopyrightError (both ValueError) before anything is stored. Names that are
    common words are stored pending: the prompt gate ignores them until an operator approves them."""
    from safety.copyright.registry import register_work, validate_work

    validate_work(name, aliases, policy)  # cheap checks first: a 5,000-character name stores no image
    arrays = [load_rgb(p, c.settings.max_upload_bytes) for p in images]

    def store(data: bytes, suffix: str) -> str:
        return c.storage.put_bytes(f"works/{secrets.token_hex(8)}{suffix}", data)

    from safety.copyright.registry import references

    with Session(c.engine, expire_on_commit=False) as s:
        work = register_work(s, owner, name, aliases, policy, arrays, store,
                             is_pending=lambda n: common_name(n, c.settings.common_name_zipf))
        refs = references(s, work.id)
    index, _ = c.copyright_index.get()
    if index is not None:
        index.add_work(work, refs, c.storage.path)  # this process at once; others see is_stale()
    audit.append(c.engine, owner, "work.registered", f"work:{work.id}",
                 {"name": work.name, "aliases": work.aliases, "policy": work.policy, "images": len(arrays),
                  "pending_names": work.pending_names})
    return {"id": work.id, "name": work.name, "aliases": work.aliases, "policy": work.policy,
            "references": len(arrays), "pending_names": work.pending_names}


def approve_names(c: Components, work_id: int, actor: str) -> dict:
    """An operator lets the prompt gate use a work's common-word names. Raises CopyrightError if absent."""
    from safety.copyright.registry import approve_names as approve
    from safety.copyright.registry import get_work

    with Session(c.engine, expire_on_commit=False) as s:
        before = list(get_work(s, work_id).pending_names or [])
        work = approve(s, work_id)
    audit.append(c.engine, actor, "work.names_approved", f"work:{work_id}", {"names": before})
    return {"id": work.id, "name": work.name, "aliases": work.aliases, "policy": work.policy,
            "owner": work.owner, "pending_names": work.pending_names, "approved": before}


def fresh_copyright_index(c: Components):
    """The index, rebuilt when the database changed under it (another process registered a work)."""
    index, why = c.copyright_index.get()
    if index is None:
        return None, why
    with Session(c.engine) as s:
        if index.is_stale(s):  # add what is new, delete what is gone: nothing indexed is described again
            index.refresh(s, c.storage.path)
            index.try_save(c.settings.resolved_data_dir / "copyright_index")
    return index, ""


def delete(c: Components, owner: str | None, work_id: int, actor: str) -> None:
    from safety.copyright.registry import delete_work

    with Session(c.engine) as s:
        keys = delete_work(s, work_id, owner)
        s.exec(sql_delete(RightsDecision).where(col(RightsDecision.work_id) == work_id))
        s.commit()
    for key in keys:
        c.storage.delete(key)
    fresh_copyright_index(c)
    audit.append(c.engine, actor, "work.deleted", f"work:{work_id}", {})


# --- what the holders' pages and the API show ----------------------------------------------------------------

def works(c: Components, owner: str | None) -> list[dict]:
    """The works of `owner` (None: everyone's, for operators), with their reference counts."""
    from safety.copyright.registry import list_works, references

    with Session(c.engine) as s:
        return [{"id": w.id, "name": w.name, "aliases": w.aliases, "policy": w.policy, "owner": w.owner,
                 "references": len(references(s, w.id)), "created_at": w.created_at,
                 "pending_names": w.pending_names or []}
                for w in list_works(s, owner)]


def works_with_pending_names(c: Components) -> list:
    """Works whose common-word names wait for an operator."""
    from safety.copyright.registry import list_all_works

    with Session(c.engine) as s:
        return [w for w in list_all_works(s) if w.pending_names]


def decisions(c: Components, owner: str | None, limit: int) -> list[dict]:
    """Gate decisions that named one of `owner`'s works (prompt or pixels), newest first, one entry per
    (clip, stage) listing the works it named."""
    from safety.copyright.registry import list_works

    with Session(c.engine) as s:
        names = {w.id: w.name for w in list_works(s, owner)}
        rows = s.exec(select(RightsDecision).where(col(RightsDecision.work_id).in_(list(names)))
                      .order_by(col(RightsDecision.created_at).desc(), col(RightsDecision.id).desc())
                      .limit(limit * 4)).all() if names else []
    out: dict[tuple[str, str], dict] = {}
    for r in rows:
        entry = out.setdefault((r.job_id, r.stage), {"video_id": r.job_id, "stage": r.stage, "decision": r.decision,
                                                     "works": [], "scores": {}, "at": r.created_at})
        entry["works"] = sorted({*entry["works"], names[r.work_id]})
        if r.score is not None:
            entry["scores"][names[r.work_id]] = r.score
    return list(out.values())[:limit]
