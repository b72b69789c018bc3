"""Rights holders' pages: register works (reference images, aliases, policy), delete them, see decisions."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.limits import accepts_upload
from api.web.media import MediaError, is_upload, save_upload
from api.web.render import redirect, render
from api.web.session import checked_form, flash, require
from gate import rights
from gate.rights import CopyrightError
from gate.uploads import UploadError

router = APIRouter(include_in_schema=False)
HOLDERS = ("rights_holder",)
POLICIES = ("block", "review", "allow")
MAX_IMAGES = 20


def _ctx(request: Request, user: Any, values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    return {"works": rights.works(request.app.state.components, user.name), "values": values, "errors": errors,
            "policies": POLICIES, "max_images": MAX_IMAGES}


@router.get("/rights", response_class=HTMLResponse)
def works_page(request: Request):
    user = require(request, *HOLDERS)
    return render(request, "rights.html", _ctx(request, user, {"policy": "block"}, {}))


@router.post("/rights/works", response_class=HTMLResponse)
@accepts_upload
async def register(request: Request):
    user = require(request, *HOLDERS)
    form = await checked_form(request)
    c = request.app.state.components
    values = {"name": str(form.get("name") or "").strip(), "aliases": str(form.get("aliases") or ""),
              "policy": str(form.get("policy") or "")}
    errors: dict[str, str] = {}
    aliases = [a.strip() for part in values["aliases"].splitlines() for a in part.split(",") if a.strip()]
    files = [f for f in form.getlist("images") if is_upload(f)]
    if not values["name"]:
        errors["name"] = "Name: give the work or character a name."
    if values["policy"] not in POLICIES:
        errors["policy"] = "Policy: choose block, review or allow."
    if not files:
        errors["images"] = "Reference images: upload at least one image of the work."
    elif len(files) > MAX_IMAGES:
        errors["images"] = f"Reference images: at most {MAX_IMAGES} per work."
    if errors:
        return render(request, "rights.html", _ctx(request, user, values, errors), 422)
    paths: list[Path] = []
    try:
        for f in files:
            paths.append(await save_upload(f, c.settings.max_upload_bytes, ".png"))
        # hashing and indexing the references is CPU work: off the event loop
        work = await asyncio.to_thread(rights.register, c, user.name, values["name"], aliases, values["policy"], paths)
    except (UploadError, MediaError) as exc:
        errors["images"] = f"Reference images: {exc}"
    except CopyrightError as exc:
        key = "aliases" if "alias" in str(exc).lower() else "images" if "image" in str(exc).lower() else "name"
        errors[key] = str(exc)
    finally:
        for p in paths:
            p.unlink(missing_ok=True)
    if errors:
        return render(request, "rights.html", _ctx(request, user, values, errors), 422)
    flash(request, f"Registered “{work['name']}” with {work['references']} reference image(s); "
                   "the gate checks it from now on.")
    if work.get("pending_names"):
        flash(request, f"{', '.join(work['pending_names'])}: common words, so prompts are not checked for them "
                       "until an operator approves them (the reference images are checked now).", "warn")
    return redirect("/rights")


@router.post("/rights/works/{work_id}/delete", response_class=HTMLResponse)
async def delete(request: Request, work_id: int):
    user = require(request, *HOLDERS)
    await checked_form(request)
    try:
        rights.delete(request.app.state.components, user.name, work_id, user.name)
    except CopyrightError:
        return render(request, "error.html", {"heading": "Not found", "message": "No such work of yours.",
                                              "back": "/rights"}, 404)
    flash(request, "Work deleted; its reference images are gone.")
    return redirect("/rights")


@router.get("/rights/decisions", response_class=HTMLResponse)
def decisions_page(request: Request):
    user = require(request, *HOLDERS)
    rows = rights.decisions(request.app.state.components, user.name, 200)
    return render(request, "rights_decisions.html", {"rows": rows})
