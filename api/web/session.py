"""Browser sessions: a signed cookie (Starlette's SessionMiddleware), sign-in by API key, CSRF tokens.

The cookie holds the user's name, the SHA-256 of the key they signed in with (never the key), and a
server-side session id: a disabled or rotated key ends every session made with it at the next request,
sign-out deletes the session row (a copied cookie stops working), and every session ends after
REELGATE_SESSION_HOURS however active it is.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData

from gate.models import User
from gate.users import close_web_session, open_web_session, user_for_key, web_session_user

SESSION_COOKIE = "reelgate_session"
CSRF_FIELD = "csrf_token"


class SignInRequired(Exception):  # noqa: N818 - control flow for a redirect, not an error
    """The page needs a signed-in user; the handler redirects to the sign-in form."""


class WrongRole(Exception):  # noqa: N818
    def __init__(self, roles: tuple[str, ...], have: str) -> None:
        super().__init__(f"this page is for the role {' or '.join(roles)}; you are signed in as {have}")


class CsrfError(Exception):
    """A state-changing form arrived without this session's token (expired page or another site)."""


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def checked_form(request: Request) -> FormData:
    """The posted form, after checking its CSRF token against the session's (constant-time)."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        raise CsrfError()
    return form


def sign_in(request: Request, key: str) -> User | None:
    user = user_for_key(request.app.state.components.engine, key.strip())
    if user is None:
        return None
    _end(request)  # a new session id and a new CSRF token: no fixation across sign-ins
    sid = secrets.token_urlsafe(32)
    c = request.app.state.components
    open_web_session(c.engine, user.name, sid, timedelta(hours=c.settings.session_hours))
    request.session.update({"user": user.name, "kh": user.key_hash, "sid": sid, "csrf": secrets.token_urlsafe(32)})
    return user


def _end(request: Request) -> None:
    sid = request.session.get("sid")
    if isinstance(sid, str):
        close_web_session(request.app.state.components.engine, sid)
    request.session.clear()


def sign_out(request: Request) -> None:
    """Ends the session on the server too: the cookie, wherever it was copied to, signs in no one."""
    _end(request)


def web_user(request: Request) -> User | None:
    """The signed-in user, re-checked against the database on every request."""
    if hasattr(request.state, "web_user"):
        return request.state.web_user
    user = None
    name, kh, sid = request.session.get("user"), request.session.get("kh"), request.session.get("sid")
    if isinstance(name, str) and isinstance(kh, str) and isinstance(sid, str):
        user = web_session_user(request.app.state.components.engine, name, kh, sid)
        if user is None:
            for k in ("user", "kh", "sid"):
                request.session.pop(k, None)
    elif name is not None:
        for k in ("user", "kh", "sid"):  # a cookie from before server-side sessions: signed in no more
            request.session.pop(k, None)
    request.state.web_user = user
    return user


def require(request: Request, *roles: str) -> User:
    user = web_user(request)
    if user is None:
        raise SignInRequired()
    if roles and user.role not in roles:
        raise WrongRole(roles, user.role)
    return user


def flash(request: Request, message: str, kind: str = "ok") -> None:
    request.session.setdefault("flash", [])
    request.session["flash"] = [*request.session["flash"], {"kind": kind, "text": message}][-5:]


def pop_flashes(request: Request) -> list[dict[str, Any]]:
    return request.session.pop("flash", None) or []
