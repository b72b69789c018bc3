"""Public verification page: drop a file, get the report (C2PA chain, watermark, detector estimate, evidence
thumbnails), stored under an unguessable id so it can be shared as a permalink. Rate-limited like the API.
Reports expire (REELGATE_VERIFY_REPORT_TTL_DAYS) and are purged at start, now and then, and when an expired one
is asked for; thumbnails pass the nudity check before they are stored and are never cached by anyone."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from PIL import Image

from api.limits import accepts_upload
from api.routes.verify import DEFAULT_LIMIT, LIMITS
from api.web.media import MediaError, is_upload, save_upload, thumbnail_bytes, video_frames
from api.web.render import redirect, render
from api.web.session import checked_form, flash, web_user
from gate.uploads import UploadError
from gate.verify import load_report, purge_expired_reports, screen_thumbnails, store_report, verify_file

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
REPORT_ID = re.compile(r"^[0-9a-f]{32}$")
THUMB_NAME = re.compile(r"^thumb-[0-9]{1,5}$")
MAX_THUMBS = 6
PURGE_EVERY = 3600.0  # seconds between sweeps of expired reports in one process
NO_STORE = {"Cache-Control": "private, no-store"}  # what anyone uploaded is not kept by browsers or proxies


def _rate_limited(request: Request) -> str | None:
    user = web_user(request)
    if user is None:
        client = f"ip:{request.client.host if request.client else 'unknown'}"
        limit = LIMITS["anonymous"]
    else:
        client, limit = f"key:{user.name}", LIMITS.get(user.role, DEFAULT_LIMIT)
    ok, retry = request.app.state.rate_limiter.hit(client, limit)
    return None if ok else f"You reached the limit of {limit} verifications per minute; try again in {retry} s."


def _thumbnails(path: Path, kind: str, report: dict[str, Any]) -> dict[str, Image.Image]:
    if kind == "image":
        with Image.open(path) as im:
            return {"thumb-0": im.convert("RGB")}
    wanted = list((report.get("detector") or {}).get("evidence_frames") or [])[:MAX_THUMBS] or [0]
    return {f"thumb-{i}": img for i, img in video_frames(path, wanted, MAX_THUMBS).items()}


def keep_report(c: Any, report: dict[str, Any], images: dict[str, Image.Image]) -> str:
    """Screen the pictures (gate.verify.screen_thumbnails), then store the report with those that passed."""
    kept, withheld = screen_thumbnails(c, images)
    if withheld:
        report = report | {"thumbnails_withheld": withheld}
    return store_report(c, report, {name: thumbnail_bytes(img) for name, img in kept.items()})


def sweep_reports(app: Any, force: bool = False) -> None:
    """Purge expired reports: at start (force) and then at most every PURGE_EVERY seconds, on requests."""
    last = getattr(app.state, "verify_swept_at", None)
    if not force and last is not None and time.monotonic() - last < PURGE_EVERY:
        return
    app.state.verify_swept_at = time.monotonic()
    try:
        purge_expired_reports(app.state.components)
    except Exception:  # housekeeping never takes a page down; the next sweep tries again
        log.exception("purging expired verification reports failed")


@router.get("/verify", response_class=HTMLResponse)
def verify_form(request: Request):
    return render(request, "verify.html", {"errors": {}})


@router.post("/verify", response_class=HTMLResponse)
@accepts_upload
async def verify(request: Request):
    limited = _rate_limited(request)  # from the session alone: an over-limit visitor's file is never read
    if limited:
        return render(request, "verify.html", {"errors": {"file": limited}}, 429)
    form = await checked_form(request)
    upload = form.get("file")
    if not is_upload(upload):
        return render(request, "verify.html", {"errors": {"file": "Choose a clip or an image to verify."}}, 422)
    c = request.app.state.components
    path = None
    try:
        path = await save_upload(upload, c.settings.max_upload_bytes, ".mp4")
        # The checks and models are CPU work: off the event loop so other pages keep answering.
        report = await asyncio.to_thread(verify_file, c, path, Path(upload.filename or "upload").name[:200])
        images = await asyncio.to_thread(_thumbnails, path, report.get("kind", "video"), report)
        rid = await asyncio.to_thread(keep_report, c, report, images)
    except (UploadError, MediaError) as exc:
        return render(request, "verify.html", {"errors": {"file": str(exc)}}, 422)
    except Exception as exc:  # a verifier that cannot run is reported, never turned into a verdict
        log.exception("verification failed")
        msg = f"Verification could not run on this server right now ({type(exc).__name__}: {exc}). Nothing was stored."
        return render(request, "verify.html", {"errors": {"file": msg}}, 503)
    finally:
        if path is not None:
            path.unlink(missing_ok=True)
    flash(request, "Verified. This page's address is a permalink to the report.")
    return redirect(f"/verify/r/{rid}")


def _load(request: Request, rid: str) -> dict[str, Any]:
    sweep_reports(request.app)
    report = load_report(request.app.state.components, rid) if REPORT_ID.match(rid) else None
    if report is None:  # never stored, or expired (and now deleted)
        raise HTTPException(404, "no such report (reports are deleted after a while)")
    return report


@router.get("/verify/r/{rid}", response_class=HTMLResponse)
def report_page(request: Request, rid: str):
    report = _load(request, rid)
    response = render(request, "verify_report.html", {"r": report, "rid": rid,
                                                      "permalink": str(request.url_for("report_page", rid=rid))})
    response.headers.update(NO_STORE)
    return response


@router.get("/verify/r/{rid}/report.json")
def report_json(request: Request, rid: str) -> Response:
    return Response(json.dumps(_load(request, rid), indent=2), media_type="application/json", headers=NO_STORE)


@router.get("/verify/r/{rid}/{name}.jpg")
def report_thumb(request: Request, rid: str, name: str) -> Response:
    if not THUMB_NAME.match(name) or name not in _load(request, rid).get("thumbnails", []):
        raise HTTPException(404, "no such image")
    storage = request.app.state.components.storage
    key = f"verify/{rid}/{name}.jpg"
    if not storage.exists(key):
        raise HTTPException(404, "no such image")
    return Response(storage.path(key).read_bytes(), media_type="image/jpeg", headers=NO_STORE)


