"""Requests are refused from their request line and headers, before a byte of their body is read.

FastAPI reads and parses the whole body (JSON, or a multipart upload spooled to disk) before it runs a
route's dependencies: a 200 MiB JSON was parsed before its 401, and a client over the verify rate limit
uploaded its whole file before its 429. RequestGuard, for the route a request matches:
  * enforces the route's body limit: an upload route (a File parameter, or a console page marked
    accepts_upload) gets the configured upload limit, every other route JSON_MAX_BYTES. A declared
    Content-Length over it is refused before reading, a chunked body is cut off at it;
  * checks the API key of a route that takes one: 401 for an invalid key, or a missing one where needed;
  * runs the route's dependencies marked before_body (role checks: 403, the verify rate limit: 429).
Refusals are JSON {"detail": ...} like the rest of the API, and close the connection (the body unread)."""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request, params
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)
# Every body but an upload: the largest is a 2,000-character prompt, 24 KiB if a client writes each
# character as a JSON \uXXXX surrogate pair; a form posts it percent-encoded in about as much.
JSON_MAX_BYTES = 64 * 2**10
_BEFORE_BODY: set[Callable[..., Any]] = set()
_UPLOAD_PAGES: set[Callable[..., Any]] = set()
_DONE = "before_body_done"


def before_body(dep: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a dependency that decides from the headers and the API key alone, taking `request` and/or
    `user`: RequestGuard runs it before the body is read. One with a side effect (a rate limit counts)
    returns at once when ran_before_body() says so, so FastAPI's own call after the body does not repeat it."""
    names = set(inspect.signature(dep).parameters)
    if not names <= {"request", "user"}:
        raise TypeError(f"{dep.__qualname__}: a before_body dependency takes only request and user")
    _BEFORE_BODY.add(dep)
    return dep


def ran_before_body(request: Request, dep: Callable[..., Any]) -> bool:
    return dep in request.scope.get("state", {}).get(_DONE, ())


def accepts_upload(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a console page that reads a file from its form itself (FastAPI cannot see it): upload limit."""
    _UPLOAD_PAGES.add(endpoint)
    return endpoint


@dataclass(frozen=True)
class Rules:
    max_bytes: int
    key: str | None  # "required", "optional" (checked when one is sent) or None: the route takes no key
    before_body: tuple[Callable[..., Any], ...] = ()


def _dependants(d: Dependant) -> Iterator[Dependant]:
    yield d
    for sub in d.dependencies:
        yield from _dependants(sub)


def route_contexts(app: Any) -> list[Any]:
    """Every route of the app with what matches it, included routers flattened (FastAPI >= 0.16x keeps
    them nested in app.routes: a context matches with the include's prefix and carries its dependencies)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is flat already
        return list(getattr(app, "routes", ()))
    return list(iter_route_contexts(getattr(app, "routes", ())))


def rules_for(route: Any, upload_bytes: int) -> Rules:
    """The rules of one route (an APIRoute, or FastAPI's RouteContext of one)."""
    from api.auth import current_user, optional_user  # here: api.auth marks its role checks with before_body

    if not isinstance(getattr(route, "original_route", route), APIRoute):
        return Rules(JSON_MAX_BYTES, None)
    deps = list(_dependants(route.dependant))
    calls = [d.call for d in deps]
    upload = route.endpoint in _UPLOAD_PAGES or any(
        isinstance(p.field_info, params.File) for d in deps for p in d.body_params)
    key = "required" if current_user in calls else "optional" if optional_user in calls else None
    pre = tuple(dict.fromkeys(c for c in calls if c in _BEFORE_BODY))
    return Rules(upload_bytes if upload else JSON_MAX_BYTES, key, pre)


def _refusal(status: int, detail: Any, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status, headers={**(headers or {}), "Connection": "close"})


class _TooLarge(Exception):
    pass


class RequestGuard:
    def __init__(self, app: ASGIApp, upload_bytes: int) -> None:
        self.app = app
        self.upload_bytes = upload_bytes
        self._table: list[tuple[Any, Rules]] | None = None  # built at the first request: routes are all in

    def rules(self, scope: Scope) -> Rules:
        if self._table is None:
            self._table = [(r, rules_for(r, self.upload_bytes)) for r in route_contexts(scope.get("app"))]
        for route, rules in self._table:  # in FastAPI's order: the first full match is the one it runs
            if route.matches(scope)[0] == Match.FULL:
                return rules
        return Rules(JSON_MAX_BYTES, None)  # no such route (404/405): nothing to read a body for

    async def _check(self, scope: Scope, rules: Rules) -> JSONResponse | None:
        from api.auth import _bearer, _header, current_user, optional_user  # the schemes the routes declare

        request = Request(scope)  # no receive: nothing here can read the body
        try:
            user = None
            if rules.key:
                bearer, header = await _bearer(request), await _header(request)
                user = await run_in_threadpool(optional_user, request, bearer, header)
                if rules.key == "required":
                    current_user(user)
            for dep in rules.before_body:
                args = {"request": request, "user": user}
                await run_in_threadpool(dep, **{k: args[k] for k in inspect.signature(dep).parameters})
                scope.setdefault("state", {}).setdefault(_DONE, set()).add(dep)
        except HTTPException as exc:
            return _refusal(exc.status_code, exc.detail, exc.headers)
        except Exception:  # e.g. the database is down: the route's own dependencies answer (503), late
            log.warning("checks before the body could not run; the route's dependencies will", exc_info=True)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rules = self.rules(scope)
        limit = rules.max_bytes
        unit = f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit // 2**10} KiB"
        limit_msg = f"request body over the {unit} limit of this route"
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            if not length.isdigit():
                await _refusal(400, "invalid Content-Length")(scope, receive, send)
                return
            if int(length) > limit:
                await _refusal(413, limit_msg)(scope, receive, send)
                return
        if rules.key or rules.before_body:
            refusal = await self._check(scope, rules)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        seen = 0
        started = refused = False

        async def counted_receive() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Answer now: the app's body parser would turn any exception into its own 400.
                    if not started and not refused:
                        refused = True
                        await _refusal(413, limit_msg)(scope, receive, send)
                    raise _TooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is already on its way; drop what the app says after it
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counted_receive, tracked_send)
