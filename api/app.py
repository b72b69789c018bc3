"""The FastAPI application. Built by create_app(); the composition root hands it its components."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api import web
from api.http_metrics import HttpMetrics
from api.limits import RequestGuard, route_contexts, rules_for
from api.routes import banks, cameos, feed, generations, me, metrics, reports, rights, statements, system, verify
from gate.components import Components, get_components
from gate.db import DatabaseUnavailable
from gate.queue import BrokerUnavailable, enqueue, make_celery
from gate.ratelimit import make_rate_limiter
from gate.settings import Settings

log = logging.getLogger(__name__)


def _error(code: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=code, content={"detail": message})


def create_app(
    settings: Settings | None = None,
    components: Components | None = None,
    dispatch: Callable[[str], None] | None = None,
) -> FastAPI:
    c = components or get_components(settings)
    app = FastAPI(
        title="reelgate", version="0.1.0",
        description="Trust-and-safety and provenance gate for generative video.",
    )
    app.state.components = c
    if dispatch is None:
        celery_app = make_celery(c.settings)

        def dispatch(job_id: str) -> None:
            enqueue(celery_app, job_id)

    app.state.dispatch = dispatch
    app.state.rate_limiter = make_rate_limiter(c.settings.broker_url, c.engine)  # shared by every API process

    # body limits per route, the API key and the rate limit, all before a body is read
    app.add_middleware(RequestGuard, upload_bytes=c.settings.max_upload_bytes)
    app.add_middleware(HttpMetrics)  # added after RequestGuard, so around it: counts its refusals too

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            msg = e.get("msg", "invalid").removeprefix("Value error, ")
            parts.append(f"{where}: {msg}" if where else msg)
        return _error(status.HTTP_422_UNPROCESSABLE_CONTENT, "; ".join(parts) or "invalid request")

    @app.exception_handler(OperationalError)
    @app.exception_handler(DatabaseUnavailable)
    async def _db_down(_: Request, exc: Exception) -> JSONResponse:
        log.error("database unavailable: %s", exc)
        return _error(status.HTTP_503_SERVICE_UNAVAILABLE, "database unavailable; nothing was stored, retry later")

    @app.exception_handler(status.HTTP_405_METHOD_NOT_ALLOWED)
    async def _method_not_allowed(request: Request, exc: StarletteHTTPException):
        # Starlette's Allow names only the first route matching the path; a resource served by several
        # routes (GET and POST /v1/cameos) must list them all (RFC 9110).
        methods = {m for r in route_contexts(request.app) if getattr(r, "methods", None)
                   and r.matches(request.scope)[0] != Match.NONE for m in r.methods}
        exc = StarletteHTTPException(exc.status_code, exc.detail,
                                     headers={**(exc.headers or {}), "Allow": ", ".join(sorted(methods))})
        handler = request.app.exception_handlers.get(StarletteHTTPException, http_exception_handler)
        return await handler(request, exc)

    @app.exception_handler(BrokerUnavailable)
    async def _queue_down(_: Request, exc: BrokerUnavailable) -> JSONResponse:
        log.error("broker unavailable: %s", exc)
        return _error(status.HTTP_503_SERVICE_UNAVAILABLE, "job queue unavailable; nothing was stored, retry later")

    app.include_router(system.router)
    app.include_router(generations.router)
    app.include_router(cameos.router)
    app.include_router(rights.router)
    app.include_router(verify.router)
    app.include_router(me.router)
    app.include_router(metrics.router)
    app.include_router(banks.router)
    app.include_router(feed.router)
    app.include_router(reports.router)
    app.include_router(statements.router)
    web.install(app)  # the server-rendered console (api/web)
    _complete_schema(app, c.settings)
    return app


def _complete_schema(app: FastAPI, settings: Settings) -> None:
    """What FastAPI's generated schema leaves out, so that a request it calls valid is not then refused:
    * this installation's limits (REELGATE_MAX_SECONDS, REELGATE_MAX_PROMPT_CHARS), not only the hard
      ceilings of the request model;
    * that a key is optional where it is (verify, health): an empty security requirement beside the
      schemes, which FastAPI otherwise lists as if one of them were required."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        props = schema["components"]["schemas"]["GenerationRequest"]["properties"]
        props["seconds"]["maximum"] = min(props["seconds"]["maximum"], settings.max_seconds)
        props["prompt"]["maxLength"] = min(props["prompt"]["maxLength"], settings.max_prompt_chars)
        for route in route_contexts(app):
            operations = schema["paths"].get(getattr(route, "path_format", None) or "", {})
            if rules_for(route, settings.max_upload_bytes).key != "optional":
                continue
            for method in route.methods or ():
                op = operations.get(method.lower())
                if op is not None and {} not in op.get("security", [{}]):
                    op["security"].append({})
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
