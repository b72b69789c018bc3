"""Rights holders: register works, list and delete their own, see the decisions made for them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, UploadFile, status
from sqlmodel import Session, col, select

from api.auth import components, require_roles
from api.uploads import save_upload
from gate import rights
from gate.components import Components
from gate.models import Job, User
from gate.uploads import UploadError

router = APIRouter(prefix="/v1/rights", tags=["rights"])
holder = require_roles("rights_holder", "operator")


def _owner_filter(user: User) -> str | None:
    return None if user.role == "operator" else user.name


@router.post("/works", status_code=status.HTTP_201_CREATED)
def register_work(
    name: str = Form(..., max_length=10_000),
    aliases: list[str] = Form(default_factory=list),
    policy: Literal["block", "review", "allow"] = Form("block"),
    images: list[UploadFile] = File(..., description="reference images"),
    user: User = Depends(require_roles("rights_holder")),
    c: Components = Depends(components),
) -> dict:
    from safety.copyright.errors import CopyrightError

    if len(images) > 50:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "at most 50 reference images per request")
    paths: list[Path] = []
    try:
        paths = [save_upload(f, c.settings.max_upload_bytes) for f in images]
        return rights.register(c, user.name, name, aliases, policy, paths)
    except (UploadError, CopyrightError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    finally:
        for p in paths:
            p.unlink(missing_ok=True)


@router.get("/works")
def list_works(user: User = Depends(holder), c: Components = Depends(components)) -> list[dict]:
    from safety.copyright.registry import list_works, references

    with Session(c.engine) as s:
        return [{"id": w.id, "name": w.name, "aliases": w.aliases, "policy": w.policy, "owner": w.owner,
                 "references": len(references(s, w.id)), "created_at": w.created_at}
                for w in list_works(s, _owner_filter(user))]


@router.delete("/works/{work_id}")
def delete_work(work_id: int, user: User = Depends(holder), c: Components = Depends(components)) -> dict:
    from safety.copyright.errors import CopyrightError

    try:
        rights.delete(c, _owner_filter(user), work_id, user.name)
    except CopyrightError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return {"deleted": work_id}


@router.get("/decisions")
def decisions(limit: int = 200, user: User = Depends(holder), c: Components = Depends(components)) -> list[dict]:
    """Recent gate decisions that named one of this holder's works (prompt or pixels)."""
    from safety.copyright.registry import list_works

    with Session(c.engine) as s:
        names = {w.name for w in list_works(s, _owner_filter(user))}
        jobs = s.exec(select(Job).order_by(col(Job.created_at).desc()).limit(max(1, min(limit, 1000)) * 5)).all()
    out = []
    for job in jobs:
        for d in job.decisions:
            hits = [e for e in d.get("evidence") or [] if e.get("work") in names]
            hits += [{"work": n["canonical"]} for e in d.get("evidence") or [] for n in e.get("names") or []
                     if isinstance(n, dict) and n.get("canonical") in names]
            if hits:
                out.append({"video_id": job.id, "stage": d.get("name"), "decision": d.get("decision"),
                            "works": sorted({h["work"] for h in hits}), "at": job.updated_at})
    return out[:limit]
