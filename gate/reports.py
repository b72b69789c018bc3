"""Notice and action: a signed-in viewer reports a published clip they can see; operators work through a queue
ordered by severity, then the number of people who reported, then reach (remixes made from it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from gate import audit, lineage
from gate.components import Components
from gate.db import session_scope
from gate.feed import visible_clip
from gate.grounds import GROUNDS, SEVERITY
from gate.job_store import NotFound
from gate.models import Job, User
from gate.moderation_models import Report, Statement
from gate.requests import visible_text

MAX_TEXT = 2000
# a reporter's budget (requests per window): enough for a person, not for a script flooding the queue
REPORTS_PER_WINDOW = 10
REPORT_WINDOW_SECONDS = 600
__all__ = ["NotFound", "ReportError", "file_report", "queue"]


class ReportError(ValueError):
    """A report the viewer must correct (422)."""


def report_as_dict(r: Report) -> dict[str, Any]:
    return {"id": r.id, "video_id": r.video_id, "reporter": r.reporter, "category": r.category, "text": r.text,
            "status": r.status, "created_at": r.created_at, "closed_at": r.closed_at,
            "statement_id": r.statement_id}


def file_report(c: Components, user: User, video_id: str, category: str, text: str = "") -> tuple[Report, bool]:
    """(the report, whether it is new). A second report by the same person on the same clip returns the first.
    NotFound: no such clip, or one the reporter cannot see; ReportError: a category not in the policy."""
    if category not in GROUNDS:
        raise ReportError(f"category: must be one of the policy's categories ({', '.join(GROUNDS)})")
    text = visible_text(text or "")
    if len(text) > MAX_TEXT:
        raise ReportError(f"text: at most {MAX_TEXT} characters")
    if visible_clip(c, video_id, user) is None:
        raise NotFound(f"no published clip {video_id} you can see")
    existing = _existing(c, video_id, user.name)
    if existing is not None:
        return existing, False
    try:
        with session_scope(c.engine, write=True) as s:
            row = Report(video_id=video_id, reporter=user.name, category=category, text=text)
            s.add(row)
            s.flush()
            audit.append_in(s, user.name, "report.filed", video_id, {"report": row.id, "category": category})
    except IntegrityError:  # the same person's concurrent second report lost the race: the first stands
        found = _existing(c, video_id, user.name)
        if found is None:
            raise
        return found, False
    return row, True


def _existing(c: Components, video_id: str, reporter: str) -> Report | None:
    with Session(c.engine, expire_on_commit=False) as s:
        return s.exec(select(Report).where(Report.video_id == video_id, Report.reporter == reporter)).first()


def reports_by(c: Components, reporter: str, limit: int = 100) -> list[Report]:
    with Session(c.engine, expire_on_commit=False) as s:
        return list(s.exec(select(Report).where(Report.reporter == reporter)
                           .order_by(col(Report.id).desc()).limit(limit)).all())


@dataclass
class QueueItem:
    job: Job
    reports: list[Report]
    severity: int
    reporters: int
    reach: int
    lineage: list[dict[str, Any]]
    statements: list[Statement]

    def as_dict(self) -> dict[str, Any]:
        return {"video_id": self.job.id, "creator": self.job.user, "status": self.job.status,
                "prompt": self.job.request.get("prompt"), "severity": self.severity, "reporters": self.reporters,
                "reach": self.reach, "categories": sorted({r.category for r in self.reports}),
                "reports": [report_as_dict(r) for r in self.reports], "gate_decisions": self.job.decisions,
                "lineage": self.lineage,
                "statements": [{"id": st.id, "decision": st.decision, "ground": st.ground, "source": st.source}
                               for st in self.statements]}


def queue(c: Components, limit: int = 50) -> list[QueueItem]:
    """Clips with open reports: highest severity first, then most reporters, then widest reach, then oldest."""
    with Session(c.engine, expire_on_commit=False) as s:
        open_reports = list(s.exec(select(Report).where(Report.status == "open").order_by(col(Report.id))
                                   .limit(10_000)).all())
        by_clip: dict[str, list[Report]] = {}
        for r in open_reports:
            by_clip.setdefault(r.video_id, []).append(r)
        ids = list(by_clip)
        jobs = {j.id: j for j in s.exec(select(Job).where(col(Job.id).in_(ids))).all()} if ids else {}
        reach = lineage.remix_counts(s, ids)
        items = []
        for vid, reps in by_clip.items():
            job = jobs.get(vid)
            if job is None or job.status != "published":  # taken down or re-checked meanwhile: nothing to decide
                continue
            sts = list(s.exec(select(Statement).where(Statement.video_id == vid).order_by(col(Statement.id))).all())
            items.append(QueueItem(job, reps, max(SEVERITY.get(r.category, 1) for r in reps),
                                   len({r.reporter for r in reps}), reach.get(vid, 0), lineage.chain(s, job), sts))
    items.sort(key=lambda i: (-i.severity, -i.reporters, -i.reach, i.reports[0].created_at))
    return items[:limit]
