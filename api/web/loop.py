"""Console pages of the loop after publication: the feed (player, remix, lineage, report button), the
operators' report queue and appeals, the creator's statements of reasons with the appeal form, the
transparency report. Each page calls one gate service; the rules live there."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from api.web.creator import JOB_ID
from api.web.render import redirect, render
from api.web.session import checked_form, flash, require
from gate import appeals, moderation, reports, statements, transparency
from gate.feed import SCOPES, FeedError, feed
from gate.grounds import GROUNDS
from gate.statements import MEANING

router = APIRouter(include_in_schema=False)
SCOPE_TITLES = {"all": "Everyone's", "mine": "Mine", "showing_me": "Showing me", "creator": "One creator's"}


def _text(form: Any, name: str) -> str:
    return " ".join(str(form.get(name) or "").split())


@router.get("/feed", response_class=HTMLResponse)
def feed_page(request: Request, scope: str = "all", creator: str | None = None, cursor: str | None = None):
    user = require(request)
    if scope not in SCOPES:
        scope = "all"
    try:
        page = feed(request.app.state.components, user, scope, creator, cursor, 10)
    except FeedError as exc:
        raise HTTPException(404, str(exc)) from exc
    return render(request, "feed.html", {"page": page, "scope": scope, "creator": creator or "",
                                         "scopes": SCOPE_TITLES, "grounds": GROUNDS})


@router.post("/clips/{video_id}/report", response_class=HTMLResponse)
async def report_clip(request: Request, video_id: str):
    user = require(request)
    form = await checked_form(request)
    back = str(form.get("back") or "/feed")
    back = back if back.startswith("/") and not back.startswith("//") else "/feed"
    ok, retry = request.app.state.rate_limiter.hit(f"report:{user.name}", reports.REPORTS_PER_WINDOW,
                                                   reports.REPORT_WINDOW_SECONDS)
    if not ok:
        raise HTTPException(429, f"You have sent many reports in a short time; try again in {retry} s.")
    if not JOB_ID.match(video_id):
        raise HTTPException(404, "no such clip")
    try:
        _, new = reports.file_report(request.app.state.components, user, video_id, str(form.get("category") or ""),
                                     str(form.get("text") or ""))
    except reports.NotFound as exc:
        raise HTTPException(404, "no such clip") from exc
    except reports.ReportError as exc:
        return render(request, "error.html", {"heading": "Not sent", "message": str(exc), "back": back}, 422)
    flash(request, "Thank you: your report was sent to the operators." if new else
          "You reported this clip already; your first report stands.")
    return redirect(back)


@router.get("/ops/reports", response_class=HTMLResponse)
def report_queue(request: Request):
    require(request, "operator")
    items = reports.queue(request.app.state.components)
    return render(request, "reports_queue.html", {"items": items, "grounds": GROUNDS, "actions": moderation.ACTIONS})


@router.post("/ops/reports/{video_id}/decision", response_class=HTMLResponse)
async def decide(request: Request, video_id: str):
    user = require(request, "operator")
    form = await checked_form(request)
    try:
        out = moderation.decide(request.app.state.components, video_id, user.name, str(form.get("action") or ""),
                                str(form.get("ground") or ""), _text(form, "facts"),
                                dispatch=request.app.state.dispatch)
    except moderation.NotFound as exc:
        raise HTTPException(404, "no such clip") from exc
    except (moderation.ModerationError, moderation.JobError) as exc:
        return render(request, "error.html", {"heading": "Not done", "message": str(exc), "back": "/ops/reports"},
                      422 if isinstance(exc, moderation.ModerationError) else 409)
    cascade = out["cascade"]
    extra = "".join(f" {len(v)} remix(es) {k.replace('_', ' ')}." for k, v in cascade.items() if v)
    flash(request, f"Decision recorded ({out['decision'].replace('_', ' ')}); statement {out['id']} sent to "
                   f"the creator.{extra}")
    return redirect("/ops/reports")


@router.get("/statements", response_class=HTMLResponse)
def statements_page(request: Request, video_id: str | None = None):
    user = require(request)
    vid = video_id if video_id and JOB_ID.match(video_id) else None
    rows = statements.for_user(request.app.state.components, user, vid)
    if user.role == "operator":  # operators read every statement; this page is the creator's own
        rows = [r for r in rows if r["creator"] == user.name]
    return render(request, "statements.html", {"rows": rows, "meaning": MEANING})


@router.post("/statements/{statement_id}/appeal", response_class=HTMLResponse)
async def appeal(request: Request, statement_id: int):
    user = require(request)
    form = await checked_form(request)
    try:
        appeals.file_appeal(request.app.state.components, user, statement_id, str(form.get("text") or ""))
    except appeals.NotFound as exc:
        raise HTTPException(404, "no such decision") from exc
    except (appeals.AppealConflict, appeals.AppealError) as exc:
        return render(request, "error.html", {"heading": "Appeal not sent", "message": str(exc),
                                              "back": "/statements"},
                      409 if isinstance(exc, appeals.AppealConflict) else 422)
    flash(request, "Your appeal was sent. An operator who did not take the decision will review it.")
    return redirect("/statements")


@router.get("/ops/appeals", response_class=HTMLResponse)
def appeals_page(request: Request):
    require(request, "operator")
    return render(request, "appeals.html", {"rows": appeals.open_appeals(request.app.state.components)})


@router.post("/ops/appeals/{appeal_id}/decision", response_class=HTMLResponse)
async def decide_appeal(request: Request, appeal_id: int):
    user = require(request, "operator")
    form = await checked_form(request)
    try:
        out = appeals.decide_appeal(request.app.state.components, appeal_id, user.name,
                                    str(form.get("outcome") or ""), _text(form, "reason"))
    except appeals.NotFound as exc:
        raise HTTPException(404, "no such appeal") from exc
    except appeals.SameDecider as exc:
        return render(request, "error.html", {"heading": "Another operator must decide", "message": str(exc),
                                              "back": "/ops/appeals"}, 403)
    except (appeals.AppealConflict, appeals.AppealError) as exc:
        return render(request, "error.html", {"heading": "Not done", "message": str(exc), "back": "/ops/appeals"},
                      409 if isinstance(exc, appeals.AppealConflict) else 422)
    flash(request, f"Appeal {appeal_id} {out['appeal']['status']}"
                   + (f"; restored {', '.join(out['restored'])}." if out["restored"] else "."))
    return redirect("/ops/appeals")


def _day(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


@router.get("/transparency", response_class=HTMLResponse)
def transparency_page(request: Request, since: str | None = None, until: str | None = None):
    require(request)
    today = datetime.now(UTC).date()
    first, last = _day(since, today - timedelta(days=30)), _day(until, today)
    if last < first:
        first, last = last, first
    report = transparency.report(request.app.state.components, datetime.combine(first, time.min, UTC),
                                 datetime.combine(last, time.max, UTC))
    return render(request, "transparency.html", {"r": report, "since": first.isoformat(), "until": last.isoformat()})
