"""Home, sign-in and sign-out, the static files (CSS and the vendored htmx), and page errors."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from api.web.render import HOME, redirect, render
from api.web.session import checked_form, flash, sign_in, sign_out, web_user

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parent.parent / "static"
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".txt": "text/plain"}


def safe_next(target: str | None) -> str | None:
    """Only same-site paths: an open redirect would make the sign-in page a phishing tool."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    path = STATIC / name
    if "/" in name or name.startswith(".") or path.suffix not in STATIC_TYPES or not path.is_file():
        raise HTTPException(404, "no such file")
    return FileResponse(path, media_type=STATIC_TYPES[path.suffix],
                        headers={"Cache-Control": "public, max-age=3600"})


@router.get("/", response_class=HTMLResponse)
def home(request: Request):
    user = web_user(request)
    if user is not None:
        return RedirectResponse(HOME.get(user.role, "/cameos"), status_code=303)
    return render(request, "home.html")


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: str | None = None):  # noqa: A002 - the query parameter's name
    return render(request, "signin.html", {"next": safe_next(next) or ""})


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request):
    form = await checked_form(request)
    key = str(form.get("api_key") or "").strip()
    target = safe_next(str(form.get("next") or ""))
    errors = {}
    if not key:
        errors["api_key"] = "Enter your API key (it starts with rg_)."
    elif not key.startswith("rg_") or len(key) > 128:
        errors["api_key"] = "That is not an API key: keys start with rg_ and come from `reelgate users create`."
    if not errors:
        user = sign_in(request, key)
        if user is not None:
            flash(request, f"Signed in as {user.name}.")
            return redirect(target or HOME.get(user.role, "/cameos"))
        errors["api_key"] = "This key is not valid or has been disabled."
    return render(request, "signin.html", {"errors": errors, "next": target or ""}, 401 if key else 422)


@router.post("/signout")
async def signout(request: Request):
    await checked_form(request)
    sign_out(request)
    flash(request, "Signed out.")
    return redirect("/signin")
