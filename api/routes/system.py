"""Health (every stage, its model, whether it runs on real weights) and the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from api.auth import components, optional_user, require_roles
from api.schemas import COMMON_ERRORS, AuditEntryOut, ChainReportOut, Health, HealthPublic, error_responses
from gate import audit
from gate.components import Components
from gate.health import health_report
from gate.models import User
from gate.policy import Policy
from gate.policy_changes import change_policy

router = APIRouter(tags=["system"])
# Operator-only routes: a key is checked against the database first (401, 403, 503).
OPERATOR = error_responses(*COMMON_ERRORS, 401, 403)


@router.get("/health", response_model=Health | HealthPublic, responses=error_responses(400, 401, 413, 503))
def health(user: User | None = Depends(optional_user), c: Components = Depends(components)) -> Health | HealthPublic:
    """An operator's key sees every stage, its model and why a signal is not running; anyone else only
    ok or degraded (model names and failure reasons help an attacker pick what to evade)."""
    report = health_report(c)
    if user is not None and user.role == "operator":
        return Health(**report)
    return HealthPublic(status=report["status"])


@router.get("/v1/audit", response_model=list[AuditEntryOut], responses={**OPERATOR, **error_responses(422)})
def audit_log(
    limit: int = 100, subject: str | None = Query(None, max_length=64), _: User = Depends(require_roles("operator")),
    c: Components = Depends(components),
) -> list[dict[str, Any]]:
    rows = audit.recent(c.engine, max(1, min(limit, 1000)), subject)
    return [r.model_dump() for r in rows]


@router.get("/v1/audit/verify", response_model=ChainReportOut, responses=OPERATOR)
def audit_verify(_: User = Depends(require_roles("operator")), c: Components = Depends(components)) -> dict:
    return audit.verify_signed(c.engine, c.audit_checkpoints).as_dict()


@router.get("/v1/policy", response_model=Policy, responses=OPERATOR)
def get_policy(_: User = Depends(require_roles("operator")), c: Components = Depends(components)) -> Policy:
    return c.policy


@router.put("/v1/policy", response_model=Policy, responses={**OPERATOR, **error_responses(422)})
def put_policy(body: Policy, user: User = Depends(require_roles("operator")),
               c: Components = Depends(components)) -> Policy:
    """Replace the policy (validated; applies to the next job in every process sharing the data dir)."""
    return change_policy(c, body, user.name)
