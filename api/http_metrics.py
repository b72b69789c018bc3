"""HTTP requests counted by method, route template and status: low cardinality whatever clients send (a
job id is `/v1/generations/{job_id}`, a path no route has is `unmatched`, an unknown method `OTHER`)."""

from __future__ import annotations

import time
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.limits import route_contexts
from gate import metrics

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


class HttpMetrics:
    """Outermost middleware: it also sees what RequestGuard refuses (401/403/413/429) before any route runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._table: list[tuple[Any, str]] | None = None  # built at the first request: routes are all in

    def route_of(self, scope: Scope) -> str:
        if self._table is None:
            self._table = [(r, getattr(r, "path_format", None) or getattr(r, "path", None) or UNMATCHED)
                           for r in route_contexts(scope.get("app"))]
        partial = None
        for route, template in self._table:  # FastAPI's order: the first full match is the route it runs
            match = route.matches(scope)[0]
            if match == Match.FULL:
                return template
            if match == Match.PARTIAL and partial is None:
                partial = template  # the path is a route's, the method not (405)
        return partial or UNMATCHED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        before = dict(scope)  # as it came in: routing adds to the scope (a Mount rewrites its root_path)
        status = 500  # what the server sends if the app raises before it answers

        async def counted_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, counted_send)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            # the route the router ran; else (refused before routing, or no route) the first that matches
            route = getattr(scope.get("route"), "path_format", None) or self.route_of(before)
            metrics.http_request(method, route, status, time.perf_counter() - t0)
