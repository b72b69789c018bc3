"""The web console: server-rendered pages on the same app, accounts and roles as the JSON API.

`install(app)` adds the session middleware, the error pages and every page router.
"""

from __future__ import annotations

import inspect

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from api.security import SecurityHeaders, cookie_secure
from api.web import cameos, creator, loop, operator, pages, rights, verify, work_names
from api.web.render import render
from api.web.session import SESSION_COOKIE, CsrfError, SignInRequired, WrongRole
from gate.users import session_secret

API_PREFIXES = ("/v1/", "/health", "/metrics", "/openapi.json", "/docs", "/redoc")


def install(app: FastAPI) -> None:
    c = app.state.components
    app.add_middleware(SessionMiddleware, secret_key=session_secret(c.settings.keys_dir),
                       session_cookie=SESSION_COOKIE, max_age=int(c.settings.session_hours * 3600),
                       same_site="lax")  # HttpOnly is always set by the middleware; Secure by SecurityHeaders
    # outermost: CSP, no framing, nosniff on every response (API and console); Secure per request
    app.add_middleware(SecurityHeaders, secure_cookies=c.settings.secure_cookies, session_cookie=SESSION_COOKIE)
    verify.sweep_reports(app, force=True)  # expired verification reports go at start (then hourly, on requests)

    @app.exception_handler(SignInRequired)
    async def _signin(request: Request, _: SignInRequired) -> RedirectResponse:
        from urllib.parse import quote

        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(WrongRole)
    async def _role(request: Request, exc: WrongRole) -> HTMLResponse:
        return render(request, "error.html", {"heading": "Not for your role", "message": str(exc)}, 403)

    @app.exception_handler(CsrfError)
    async def _csrf(request: Request, _: CsrfError) -> HTMLResponse:
        msg = ("This form could not be accepted: its security token is missing or out of date (the page was "
               "open too long, you signed in again, or the form came from another site). Reload the page and "
               "try again.")
        if request.url.scheme == "http" and cookie_secure(request.scope, c.settings.secure_cookies):
            # the browser keeps a Secure cookie to itself over plain http: no session, so no token
            msg += (" This server is reached over plain http, where the sign-in cookie (Secure) is not sent back:"
                    " serve the console over HTTPS, or set REELGATE_SECURE_COOKIES=false on a trusted network.")
        return render(request, "error.html", {"heading": "Form expired", "message": msg}, 403)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        # The JSON API keeps FastAPI's JSON errors; pages get a page.
        if request.url.path.startswith(API_PREFIXES) or exc.status_code < 400:
            return await http_exception_handler(request, exc)
        heading = {404: "Not found", 403: "Forbidden", 429: "Too many requests"}.get(exc.status_code, "Error")
        return render(request, "error.html", {"heading": heading, "message": str(exc.detail)}, exc.status_code)

    api_invalid = app.exception_handlers.get(RequestValidationError)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        # Pages validate their forms themselves; what reaches here is a malformed address (e.g. /cameos/abc).
        if request.url.path.startswith(API_PREFIXES) and api_invalid is not None:
            answer = api_invalid(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        return render(request, "error.html", {"heading": "Not found", "message": "There is no such page."}, 404)

    for module in (pages, creator, operator, loop, rights, cameos, verify, work_names):
        app.include_router(module.router)
