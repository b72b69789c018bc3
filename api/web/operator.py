"""Operator pages: review queue, approve / block / take down, policy thresholds, audit log, dashboard, health."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from api.web.creator import visible_job
from api.web.explain import STAGE_ORDER, STAGE_TITLES, timeline
from api.web.render import redirect, render
from api.web.session import checked_form, flash, require
from gate import audit, jobs
from gate.health import health_report
from gate.job_access import jobs_since
from gate.job_access import review_queue as jobs_for_review
from gate.models import utcnow
from gate.policy import PROMPT_CATEGORIES, Policy
from gate.policy_changes import change_policy

router = APIRouter(include_in_schema=False)
SIGNAL_NAME = re.compile(r"^[a-z_]+\.[a-z0-9_]+$")
VERDICTS = ("pass", "review", "block")


def _reason(form: Any) -> tuple[str, str | None]:
    reason = " ".join(str(form.get("reason") or "").split())
    if len(reason) < 3:
        return reason, "Give a reason of at least 3 characters; it is recorded in the audit log."
    if len(reason) > 500:
        return reason, "The reason is too long (at most 500 characters)."
    return reason, None


def _refuse(request: Request, message: str, back: str, code: int = 422) -> HTMLResponse:
    return render(request, "error.html", {"heading": "Not done", "message": message, "back": back}, code)


@router.get("/ops/review", response_class=HTMLResponse)
def review_queue(request: Request):
    require(request, "operator")
    rows = jobs_for_review(request.app.state.components, 50)
    items = [{"job": j, "stages": [st for st in timeline(j.decisions, j.status) if st["state"] in ("review", "block")],
              "playable": bool(j.video_key)} for j in rows]
    return render(request, "review.html", {"items": items})


@router.post("/jobs/{job_id}/review", response_class=HTMLResponse)
async def review(request: Request, job_id: str):
    user = require(request, "operator")
    form = await checked_form(request)
    visible_job(request, job_id, user)
    action = str(form.get("action") or "")
    reason, problem = _reason(form)
    if action not in ("approve", "block"):
        problem = "Choose Approve or Block."
    if problem:
        return _refuse(request, problem, f"/jobs/{job_id}")
    try:
        jobs.review(request.app.state.components, job_id, user.name, action, reason)
    except jobs.NotFound:
        return _refuse(request, "No such clip.", "/ops/review", 404)
    except jobs.JobError as exc:
        return _refuse(request, str(exc), f"/jobs/{job_id}", 409)
    flash(request, f"Clip {job_id} {'approved and published' if action == 'approve' else 'blocked'}.")
    return redirect("/ops/review")


@router.post("/jobs/{job_id}/takedown", response_class=HTMLResponse)
async def takedown(request: Request, job_id: str):
    user = require(request, "operator")
    form = await checked_form(request)
    visible_job(request, job_id, user)
    reason, problem = _reason(form)
    if problem:
        return _refuse(request, problem, f"/jobs/{job_id}")
    try:
        jobs.take_down(request.app.state.components, job_id, user.name, reason, dispatch=request.app.state.dispatch)
    except jobs.JobError as exc:
        return _refuse(request, str(exc), f"/jobs/{job_id}", 409)
    flash(request, f"Clip {job_id} taken down.")
    return redirect(f"/jobs/{job_id}")


# --- policy ---------------------------------------------------------------------------------------

def _policy_values(p: Policy) -> dict[str, Any]:
    v: dict[str, Any] = {}
    for group in ("prompt", "frames"):
        for cat, th in getattr(p, group).items():
            v[f"{group}:{cat}:review"] = f"{th.review:g}"
            v[f"{group}:{cat}:block"] = "" if th.block is None else f"{th.block:g}"
    v |= {"likeness_action": p.likeness_action, "copyright_action_default": p.copyright_action_default,
          "unread_language": p.unread_language,
          "on_stage_error": p.on_stage_error, "visible_watermark": p.visible_watermark,
          "required_signals": "\n".join(p.required_signals)}
    return v


def _policy_ctx(p: Policy, values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    prompt_cats = list(dict.fromkeys([*PROMPT_CATEGORIES, *p.prompt]))
    return {"values": values, "errors": errors, "prompt_cats": prompt_cats, "frame_cats": list(p.frames),
            "verdicts": VERDICTS}


@router.get("/ops/policy", response_class=HTMLResponse)
def policy_form(request: Request):
    require(request, "operator")
    p = request.app.state.components.policy
    return render(request, "policy.html", _policy_ctx(p, _policy_values(p), {}))


def parse_policy_form(form: Any, current: Policy) -> tuple[dict[str, Any], Policy | None, dict[str, str]]:
    values: dict[str, Any] = {k: str(v) for k, v in form.multi_items() if k != "csrf_token"}
    values["visible_watermark"] = "visible_watermark" in values
    errors: dict[str, str] = {}
    body = current.model_dump()
    for group in ("prompt", "frames"):
        cats = list(dict.fromkeys([*(PROMPT_CATEGORIES if group == "prompt" else ()), *body[group]]))
        for cat in cats:
            th: dict[str, float | None] = {}
            for level in ("review", "block"):
                key = f"{group}:{cat}:{level}"
                raw = values.get(key, "").strip()
                if level == "block" and raw == "":
                    th[level] = None  # empty: this category alone never blocks
                    continue
                try:
                    num = float(raw)
                    if not 0.0 <= num <= 1.0:
                        raise ValueError
                    th[level] = num
                except ValueError:
                    errors[key] = (f"{group} / {cat}: the {level} threshold must be a number from 0 to 1"
                                   f"{' (or empty: never blocks alone)' if level == 'block' else ''} (got {raw!r}).")
            if len(th) == 2:
                review, block = th["review"], th["block"]
                if block is not None and review is not None and review > block:
                    errors[f"{group}:{cat}:review"] = (
                        f"{group} / {cat}: the review threshold ({th['review']:g}) must not be above the block "
                        f"threshold ({th['block']:g}).")
                body[group][cat] = th
    for key, allowed in (("likeness_action", VERDICTS), ("copyright_action_default", VERDICTS),
                         ("unread_language", VERDICTS), ("on_stage_error", ("review", "block"))):
        if values.get(key) not in allowed:
            errors[key] = f"{key.replace('_', ' ')} must be one of {', '.join(allowed)}."
        else:
            body[key] = values[key]
    signals = [s.strip() for s in values.get("required_signals", "").splitlines() if s.strip()]
    bad = [s for s in signals if not SIGNAL_NAME.match(s)]
    if bad:
        errors["required_signals"] = f"Not a signal name: {', '.join(bad[:3])} (names look like frames.nudenet)."
    elif len(signals) > 50:
        errors["required_signals"] = "At most 50 required signals."
    body["required_signals"] = list(dict.fromkeys(signals))
    body["visible_watermark"] = values["visible_watermark"]
    if errors:
        return values, None, errors
    try:
        return values, Policy.model_validate(body), {}
    except ValidationError as exc:
        return values, None, {"policy": f"The policy is not valid: {exc.errors()[0].get('msg')}"}


@router.post("/ops/policy", response_class=HTMLResponse)
async def policy_save(request: Request):
    user = require(request, "operator")
    form = await checked_form(request)
    c = request.app.state.components
    before = c.policy
    values, policy, errors = parse_policy_form(form, before)
    if policy is None:
        return render(request, "policy.html", _policy_ctx(before, values, errors), 422)
    change_policy(c, policy, user.name)
    flash(request, "Policy saved; it applies to the next job in every process.")
    return redirect("/ops/policy")


# --- audit log ------------------------------------------------------------------------------------

@router.get("/ops/audit", response_class=HTMLResponse)
def audit_page(request: Request, q: str = "", before: int | None = None):
    require(request, "operator")
    c = request.app.state.components
    q = " ".join(q.split())[:100]
    rows = audit.search(c.engine, q, before, 100)
    chain = audit.verify_signed(c.engine, c.audit_checkpoints, write=False)  # a page view signs nothing
    entries = []
    for r in rows:
        try:
            payload = json.dumps(json.loads(r.payload), indent=1, ensure_ascii=False)
        except ValueError:
            payload = r.payload
        entries.append({"row": r, "payload": payload[:2000]})
    older = rows[-1].seq if len(rows) == 100 else None
    return render(request, "audit.html", {"entries": entries, "q": q, "chain": chain, "older": older})


# --- dashboard and health ---------------------------------------------------------------------------

def dashboard_data(c: Any, days: int = 14) -> dict[str, Any]:
    since = utcnow() - timedelta(days=days)
    rows = jobs_since(c, since, 20_000)
    per_day: dict[str, Counter] = defaultdict(Counter)
    per_stage: dict[str, Counter] = defaultdict(Counter)
    for j in rows:
        per_day[j.created_at.strftime("%Y-%m-%d")][j.status] += 1
        for d in j.decisions:
            if d.get("decision") in VERDICTS:
                per_stage[d.get("name", "?")][d["decision"]] += 1
    days_rows: list[dict[str, Any]] = [{"day": day, "counts": per_day[day], "total": sum(per_day[day].values())}
                 for day in sorted(per_day, reverse=True)]
    order = [n for n in STAGE_ORDER if n in per_stage] + [n for n in per_stage if n not in STAGE_ORDER]
    stage_rows = [{"name": n, "title": STAGE_TITLES.get(n, n), "counts": per_stage[n],
                   "total": sum(per_stage[n].values())} for n in order]
    return {"days": days_rows, "stages": stage_rows, "jobs": len(rows), "window": days,
            "max_day": max((r["total"] for r in days_rows), default=1)}


@router.get("/ops/dashboard", response_class=HTMLResponse)
def dashboard(request: Request):
    require(request, "operator")
    return render(request, "dashboard.html", dashboard_data(request.app.state.components))


@router.get("/ops/health", response_class=HTMLResponse)
def health_page(request: Request):
    require(request, "operator")
    return render(request, "health.html", {"report": health_report(request.app.state.components)})
