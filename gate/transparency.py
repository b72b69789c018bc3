"""The transparency report (EU DSA art. 15 and 24) for a period: the gate's decisions per stage and per policy
ground, automated against human ones, reports received and acted on with the median time to action, appeals
and reversals, takedowns by cause. Counted from the stored records (jobs, statements, reports, appeals)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from gate.components import Components
from gate.grounds import ground_of_decision
from gate.models import AuditEntry, Job
from gate.moderation_models import Appeal, Report, Statement

HUMAN_REVIEW_EVENTS = ("job.review_approve", "job.review_block")


def _median_seconds(spans: list[float]) -> float | None:
    return round(statistics.median(spans), 1) if spans else None


def _seconds(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


def report(c: Components, since: datetime, until: datetime) -> dict[str, Any]:
    if until <= since:
        raise ValueError("until must be after since")
    with Session(c.engine) as s:
        jobs = s.exec(select(Job).where(col(Job.created_at) >= since, col(Job.created_at) < until)).all()
        sts = s.exec(select(Statement).where(col(Statement.created_at) >= since,
                                             col(Statement.created_at) < until)).all()
        received = s.exec(select(Report).where(col(Report.created_at) >= since, col(Report.created_at) < until)).all()
        closed = s.exec(select(Report).where(col(Report.closed_at) >= since, col(Report.closed_at) < until)).all()
        filed = s.exec(select(Appeal).where(col(Appeal.created_at) >= since, col(Appeal.created_at) < until)).all()
        decided = s.exec(select(Appeal).where(col(Appeal.decided_at) >= since, col(Appeal.decided_at) < until)).all()
        reviews = s.exec(select(AuditEntry.event).where(col(AuditEntry.event).in_(HUMAN_REVIEW_EVENTS),
                                                        col(AuditEntry.ts) >= since.isoformat(),
                                                        col(AuditEntry.ts) < until.isoformat())).all()

    per_stage: dict[str, Counter[str]] = defaultdict(Counter)
    stage_grounds: dict[str, Counter[str]] = defaultdict(Counter)  # what each stage held or refused, by ground
    for j in jobs:
        for d in j.decisions:
            if d.get("decision") in ("pass", "review", "block"):
                per_stage[str(d.get("name"))][d["decision"]] += 1
                if d["decision"] != "pass":
                    stage_grounds[str(d.get("name"))][ground_of_decision(d)] += 1
    per_ground: dict[str, Counter[str]] = defaultdict(Counter)
    for st in sts:
        per_ground[st.ground][st.decision] += 1
    automated = Counter("automated" if st.automated else "human" for st in sts)
    gate_decisions = sum(sum(v.values()) for v in per_stage.values())
    takedowns = Counter(f"{st.source}:{st.ground}" for st in sts if st.decision == "take_down")
    actioned = [r for r in closed if r.status == "actioned"]
    return {
        "since": since.isoformat(), "until": until.isoformat(),
        "jobs": len(jobs), "job_outcomes": dict(Counter(j.status for j in jobs)),
        "decisions_per_stage": {k: dict(v) for k, v in sorted(per_stage.items())},
        "held_or_refused_per_stage_and_ground": {k: dict(v) for k, v in sorted(stage_grounds.items())},
        "decisions_per_ground": {k: dict(v) for k, v in sorted(per_ground.items())},
        "decisions_per_actor": dict(sorted(Counter(st.actor for st in sts).items())),
        "automated_vs_human": {
            "gate_stage_decisions": gate_decisions,  # every stage decision is automated
            "human_reviews": len(reviews),
            "statements_automated": automated["automated"], "statements_human": automated["human"]},
        "reports": {
            "received": len(received), "by_category": dict(Counter(r.category for r in received)),
            "reporters": len({r.reporter for r in received}),
            "actioned": len(actioned), "dismissed": sum(1 for r in closed if r.status == "dismissed"),
            "median_seconds_to_action": _median_seconds([_seconds(r.created_at, r.closed_at)
                                                         for r in closed if r.closed_at is not None])},
        "appeals": {
            "filed": len(filed), "decided": len(decided),
            "upheld": sum(1 for a in decided if a.status == "upheld"),
            "reversed": sum(1 for a in decided if a.status == "reversed"),
            "median_seconds_to_decision": _median_seconds([_seconds(a.created_at, a.decided_at)
                                                           for a in decided if a.decided_at is not None])},
        "takedowns_by_cause": dict(sorted(takedowns.items())),
        "takedowns": sum(takedowns.values()),
    }


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:g} s"


def as_markdown(r: dict[str, Any]) -> str:
    """The report as a person reads it (the CLI without --json)."""
    lines = [f"# Transparency report {r['since'][:10]} .. {r['until'][:10]}", "",
             f"Generation requests: {r['jobs']} ({', '.join(f'{k} {v}' for k, v in r['job_outcomes'].items()) or '-'})",
             "", "| stage | pass | review | block |", "|---|---|---|---|"]
    for stage, v in r["decisions_per_stage"].items():
        lines.append(f"| {stage} | {v.get('pass', 0)} | {v.get('review', 0)} | {v.get('block', 0)} |")
    lines += ["", "| stage | held or refused, by ground |", "|---|---|"]
    for stage, v in r["held_or_refused_per_stage_and_ground"].items():
        lines.append(f"| {stage} | {', '.join(f'{k} {n}' for k, n in sorted(v.items()))} |")
    lines += ["", "| ground | decisions |", "|---|---|"]
    for ground, v in r["decisions_per_ground"].items():
        lines.append(f"| {ground} | {', '.join(f'{k} {n}' for k, n in sorted(v.items()))} |")
    a, rep, ap = r["automated_vs_human"], r["reports"], r["appeals"]
    lines += ["", f"Automated: {a['gate_stage_decisions']} stage decisions, {a['statements_automated']} statements; "
              f"human: {a['human_reviews']} reviews, {a['statements_human']} statements.",
              f"Reports: {rep['received']} received from {rep['reporters']} people, {rep['actioned']} actioned, "
              f"{rep['dismissed']} dismissed; median time to action {_secs(rep['median_seconds_to_action'])}.",
              f"Appeals: {ap['filed']} filed, {ap['decided']} decided, {ap['upheld']} upheld, {ap['reversed']} "
              f"reversed; median time to decision {_secs(ap['median_seconds_to_decision'])}.",
              f"Takedowns: {r['takedowns']}" + (" (" + ", ".join(f"{k} {v}" for k, v in
                                                          r["takedowns_by_cause"].items()) + ")"
                                                  if r["takedowns"] else "")]
    return "\n".join(lines) + "\n"
