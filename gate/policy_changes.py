"""Operators change the policy: the new version and its audit entry (before and after) commit together, so
the log never misses a change nor records one that did not happen. One function for the API and the console."""

from __future__ import annotations

from sqlmodel import col, select

from gate import audit
from gate.components import Components
from gate.db import session_scope
from gate.models import PolicyVersion
from gate.policy import Policy


def change_policy(c: Components, policy: Policy, actor: str) -> Policy:
    """Replace the policy (validated by its model); it applies to the next job in every process."""
    with session_scope(c.engine, write=True) as s:
        # read the version replaced inside the write transaction: two operators saving at once each record
        # the version they actually replaced
        row = s.exec(select(PolicyVersion).order_by(col(PolicyVersion.id).desc()).limit(1)).first()
        before = Policy.model_validate(row.body) if row is not None else c.policy
        s.add(PolicyVersion(actor=actor, body=policy.model_dump()))
        audit.append_in(s, actor, "policy.changed", "policy",
                        {"before": before.model_dump(), "after": policy.model_dump()})
    return policy
