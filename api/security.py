"""Browser hardening on every response: a Content-Security-Policy without inline script, no framing,
no MIME sniffing, no referrer to other sites; the console's session cookie made Secure unless the
browser reaches the service over plain http on a loopback address.

A pure ASGI middleware (not BaseHTTPMiddleware) so streamed video responses pass through unbuffered.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The console: its own scripts and styles only. Style *attributes* stay allowed (bar widths in the
# dashboard are computed per row); they cannot run code. htmx is told (base.html's htmx-config meta)
# not to inject its indicator <style> nor to eval, so it needs nothing beyond 'self'.
CONSOLE_CSP = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "style-src-attr 'unsafe-inline'",
    "img-src 'self'",
    "media-src 'self' blob:",  # the enrollment page previews the selfie it recorded
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "object-src 'none'",
    "frame-ancestors 'none'",
))
# FastAPI's /docs and /redoc load their bundles from jsDelivr and start them with one inline script,
# allowed by its hash (computed from the page as served), never by 'unsafe-inline'.
DOCS_PATHS = ("/docs", "/redoc")
DOCS_CSP = "; ".join((
    "default-src 'none'",
    "script-src https://cdn.jsdelivr.net {hashes}",
    "style-src 'self' https://cdn.jsdelivr.net https://fonts.googleapis.com 'unsafe-inline'",
    "font-src https://fonts.gstatic.com",
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly",
    "connect-src 'self'",
    "worker-src blob:",
    "base-uri 'none'",
    "object-src 'none'",
    "frame-ancestors 'none'",
))
FIXED_HEADERS = (
    ("X-Frame-Options", "DENY"),  # for browsers that predate frame-ancestors
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def is_loopback_host(host_header: str) -> bool:
    """Whether the Host the browser asked for is this machine (localhost, 127.0.0.0/8, ::1)."""
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:8000
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cookie_secure(scope: Scope, setting: bool | None) -> bool:
    """The operator's choice when set; by default Secure unless plain http on a loopback address."""
    if setting is not None:
        return setting
    if scope.get("scheme") in ("https", "wss"):
        return True
    return not is_loopback_host(Headers(scope=scope).get("host", ""))


class SecurityHeaders:
    def __init__(self, app: ASGIApp, secure_cookies: bool | None = None, session_cookie: str = "") -> None:
        self.app = app
        self.secure_cookies = secure_cookies
        self.session_cookie = session_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        secure = cookie_secure(scope, self.secure_cookies)
        if path in DOCS_PATHS:
            await self._docs(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._harden(message, CONSOLE_CSP, secure)
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _harden(self, message: Message, csp: str, secure: bool) -> None:
        headers = MutableHeaders(scope=message)
        headers["Content-Security-Policy"] = csp
        for name, value in FIXED_HEADERS:
            headers[name] = value
        if secure and self.session_cookie:
            prefix = f"{self.session_cookie}="
            cookies = headers.getlist("set-cookie")
            if any(c.startswith(prefix) for c in cookies):
                del headers["set-cookie"]
                for c in cookies:
                    if c.startswith(prefix) and "secure" not in c.lower().split("; "):
                        c += "; secure"
                    headers.append("set-cookie", c)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffer the (small, static) docs page to hash its inline script into the policy."""
        start: Message | None = None
        body = b""

        async def collect(message: Message) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                start = message
                return
            body += message.get("body", b"")
            if message.get("more_body"):
                return
            assert start is not None
            hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(m).digest()).decode()}'"
                              for m in INLINE_SCRIPT.findall(body))
            self._harden(start, DOCS_CSP.format(hashes=hashes), cookie_secure(scope, self.secure_cookies))
            await send(start)
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, collect)
