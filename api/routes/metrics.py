"""GET /metrics: the Prometheus scrape, for operators (an operator's API key, like every operator route).

Prometheus sends it as `authorization: {type: Bearer, credentials_file: ...}` in its scrape config. In
multiprocess mode (PROMETHEUS_MULTIPROC_DIR) it shows every process of the host, workers included."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from api.auth import components, require_roles
from api.schemas import COMMON_ERRORS, error_responses
from gate import metrics
from gate.components import Components
from gate.models import User

router = APIRouter(tags=["system"])

_TEXT = {"schema": {"type": "string"}}
SCRAPE: dict[int | str, dict[str, Any]] = {
    200: {"description": "Prometheus text format (OpenMetrics when the Accept header asks for it)",
          "content": {"text/plain": _TEXT, "application/openmetrics-text": _TEXT}}}


@router.get("/metrics", response_class=Response, responses={**SCRAPE, **error_responses(*COMMON_ERRORS, 401, 403)})
def scrape(request: Request, _: User = Depends(require_roles("operator")),
           c: Components = Depends(components)) -> Response:
    body, content_type = metrics.render(c.engine, request.headers.get("accept"))
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
