"""Browser hardening (issue 17, hole 7): CSP without inline script, no framing, nosniff and a referrer
policy on every response; console sessions end on the server at sign-out and after an absolute lifetime;
the session cookie is Secure unless the browser speaks plain http to a loopback address."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session

from gate.models import WebSession, utcnow
from gate.users import create_user
from tests.web_helpers import Browser

TEMPLATES = Path(__file__).resolve().parents[1] / "api" / "templates"


@pytest.fixture
def app_keys(components):
    from api.app import create_app

    app = create_app(components=components, dispatch=lambda job_id: None)
    keys = {n: create_user(components.engine, n, r)[1] for n, r in [("alice", "creator"), ("olga", "operator")]}
    return app, keys, components


def directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


@pytest.mark.parametrize("path", ["/", "/signin", "/verify", "/static/htmx.min.js", "/health", "/openapi.json",
                                  "/v1/generations", "/no/such/page", "/docs"])
def test_every_response_forbids_framing_sniffing_and_inline_script(app_keys, path: str) -> None:
    app, _, _ = app_keys
    r = TestClient(app).get(path)
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] in ("same-origin", "no-referrer")
    csp = directives(r.headers["content-security-policy"])
    assert csp["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]


def test_console_pages_allow_only_own_scripts_and_styles(app_keys) -> None:
    app, keys, _ = app_keys
    b = Browser(app).sign_in(keys["olga"])
    for page in ("/jobs", "/ops/review", "/ops/dashboard", "/ops/policy", "/ops/health", "/verify"):
        r = b.get(page)
        assert r.status_code == 200, page
        csp = directives(r.headers["content-security-policy"])
        assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
        assert csp["default-src"] == ["'none'"] and csp["form-action"] == ["'self'"]
        # htmx must not inject its <style> nor eval: configured from a meta tag, no inline script needed
        assert '"includeIndicatorStyles":false' in r.text and '"allowEval":false' in r.text


def test_docs_inline_script_is_allowed_by_its_hash_only(app_keys) -> None:
    import base64
    import hashlib

    app, _, _ = app_keys
    r = TestClient(app).get("/docs")
    script = re.search(r"<script>(.*?)</script>", r.text, re.S)
    assert script is not None
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in directives(r.headers["content-security-policy"])["script-src"]


def test_templates_have_no_inline_script_or_event_handlers() -> None:
    for path in TEMPLATES.glob("*.html"):
        text = path.read_text()
        for m in re.finditer(r"<script\b[^>]*>", text):
            assert "src=" in m.group(0), f"inline <script> in {path.name}: {m.group(0)}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"inline event handler in {path.name}"
        assert "javascript:" not in text.lower() and "hx-on" not in text, path.name


def test_sign_out_ends_the_session_on_the_server(app_keys) -> None:
    app, keys, _ = app_keys
    b = Browser(app).sign_in(keys["alice"])
    copied = dict(b.client.cookies)  # what an attacker who read the cookie would keep
    assert b.get("/jobs").status_code == 200
    token = b.token("/jobs")
    assert b.client.post("/signout", data={"csrf_token": token}).status_code == 303
    thief = TestClient(app, base_url="http://localhost", follow_redirects=False, cookies=copied)
    r = thief.get("/jobs")
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")


def test_session_ends_after_its_absolute_lifetime_even_when_active(app_keys) -> None:
    app, keys, c = app_keys
    assert c.settings.session_hours == 12
    b = Browser(app).sign_in(keys["alice"])
    assert b.get("/jobs").status_code == 200
    with Session(c.engine) as s:
        row = s.exec(WebSession.__table__.select()).one()
        assert abs((row.expires_at - row.created_at) - timedelta(hours=12)) < timedelta(seconds=1)
        s.exec(update(WebSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    r = b.get("/jobs")
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")


def test_cookie_lifetime_follows_the_setting(settings, monkeypatch) -> None:
    from api.app import create_app
    from gate.components import Components
    from gate.settings import Settings

    monkeypatch.setenv("REELGATE_SESSION_HOURS", "2")
    c = Components(Settings())
    _, key = create_user(c.engine, "alice", "creator")
    b = Browser(create_app(components=c, dispatch=lambda j: None))
    r = b.post("/signin", {"api_key": key}, token_from="/signin")
    assert "max-age=7200" in r.headers["set-cookie"].lower()
    with Session(c.engine) as s:
        row = s.exec(WebSession.__table__.select()).one()
        assert abs((row.expires_at - row.created_at) - timedelta(hours=2)) < timedelta(seconds=1)
    c.engine.dispose()


def _session_cookie(client: TestClient) -> str:
    r = client.get("/signin")
    return next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("reelgate_session="))


@pytest.mark.parametrize(("base", "setting", "secure"), [
    ("http://reelgate.example", None, True),  # default: Secure anywhere but loopback http
    ("https://reelgate.example", None, True),
    ("http://localhost:8000", None, False),
    ("http://127.0.0.1:8000", None, False),
    ("http://[::1]:8000", None, False),
    ("http://10.0.0.5", None, True),
    ("http://reelgate.example", "false", False),  # the operator's explicit choice wins
    ("http://localhost", "true", True),
])
def test_session_cookie_is_secure_unless_plain_http_on_loopback(settings, monkeypatch, base, setting,
                                                                 secure) -> None:
    from api.app import create_app
    from gate.components import Components
    from gate.settings import Settings

    if setting is not None:
        monkeypatch.setenv("REELGATE_SECURE_COOKIES", setting)
    c = Components(Settings())
    cookie = _session_cookie(TestClient(create_app(components=c, dispatch=lambda j: None), base_url=base))
    flags = [f.strip().lower() for f in cookie.split(";")]
    assert ("secure" in flags) is secure
    assert "httponly" in flags and "samesite=lax" in flags
    c.engine.dispose()


def test_plain_http_sign_in_explains_the_secure_cookie(app_keys) -> None:
    app, keys, _ = app_keys
    b = Browser(app)
    b.client.base_url = "http://reelgate.example"  # a LAN address over http: the cookie is Secure
    page = b.client.get("/signin").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = b.client.post("/signin", data={"csrf_token": token, "api_key": keys["alice"]})
    assert r.status_code == 403 and "REELGATE_SECURE_COOKIES=false" in r.text
