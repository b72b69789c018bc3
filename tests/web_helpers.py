"""Helpers for the web console tests: a browser-like client that signs in and posts forms with CSRF."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    def __init__(self, app: Any) -> None:
        # localhost: plain http on loopback, where the session cookie is not Secure (as `reelgate serve` locally)
        self.client = TestClient(app, base_url="http://localhost", follow_redirects=False)

    def get(self, url: str, **kw: Any):
        return self.client.get(url, **kw)

    def token(self, url: str = "/verify") -> str:
        m = CSRF.search(self.client.get(url, follow_redirects=True).text)
        assert m, f"no CSRF token on {url}"
        return m.group(1)

    def post(self, url: str, data: dict[str, Any] | None = None, files: Any = None, token_from: str = "/verify",
             follow: bool = False):
        body = {"csrf_token": self.token(token_from)} | (data or {})
        return self.client.post(url, data=body, files=files, follow_redirects=follow)

    def sign_in(self, key: str) -> Browser:
        r = self.post("/signin", {"api_key": key}, token_from="/signin")
        assert r.status_code == 303, r.text
        return self
