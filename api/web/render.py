"""Jinja2 rendering with what every page needs: the user, the CSRF token, flash messages, navigation."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from api.web.session import csrf_token, pop_flashes, web_user

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))

# What each role sees in the navigation (everyone may also manage their own cameos and verify files).
NAV: dict[str, list[tuple[str, str]]] = {
    "creator": [("/create", "Create"), ("/jobs", "My clips"), ("/statements", "Decisions")],
    "operator": [("/ops/review", "Review queue"), ("/ops/reports", "Reports"), ("/ops/appeals", "Appeals"),
                 ("/ops/dashboard", "Dashboard"), ("/ops/audit", "Audit log"), ("/ops/policy", "Policy"),
                 ("/ops/names", "Work names"), ("/ops/health", "Health"), ("/transparency", "Transparency"),
                 ("/create", "Create"), ("/jobs", "Clips")],
    "rights_holder": [("/rights", "My works"), ("/rights/decisions", "Decisions")],
    "journalist": [],
}
COMMON = [("/feed", "Feed"), ("/cameos", "My cameos"), ("/verify", "Verify a file")]
HOME = {"creator": "/create", "operator": "/ops/review", "rights_holder": "/rights", "journalist": "/verify"}


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, str) and len(value) >= 16:
        return value[:16].replace("T", " ") + " UTC"
    return "" if value is None else str(value)


TEMPLATES.env.filters["when"] = _when


def render(request: Request, name: str, ctx: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    user = web_user(request)
    nav = ([*NAV.get(user.role, []), *COMMON] if user else [("/verify", "Verify a file")])
    base = {"user": user, "csrf_token": csrf_token(request), "flashes": pop_flashes(request), "nav": nav,
            "path": request.url.path}
    return TEMPLATES.TemplateResponse(request, name, base | (ctx or {}), status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)  # POST -> GET after a form
