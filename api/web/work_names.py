"""Operators approve registered work names that are common words (see gate.rights.common_name)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.web.render import redirect, render
from api.web.session import checked_form, flash, require
from gate import rights
from gate.rights import CopyrightError

router = APIRouter(include_in_schema=False)


@router.get("/ops/names", response_class=HTMLResponse)
def names_page(request: Request):
    require(request, "operator")
    works = rights.works_with_pending_names(request.app.state.components)
    return render(request, "work_names.html", {"works": works})


@router.post("/ops/names/{work_id}/approve", response_class=HTMLResponse)
async def approve(request: Request, work_id: int):
    user = require(request, "operator")
    await checked_form(request)
    try:
        done = rights.approve_names(request.app.state.components, work_id, user.name)
    except CopyrightError:
        return render(request, "error.html", {"heading": "Not found", "message": "No such work.",
                                              "back": "/ops/names"}, 404)
    flash(request, f"Approved {', '.join(done['approved']) or 'no names'} of “{done['name']}”: prompts are "
                   "checked for them from now on.")
    return redirect("/ops/names")
