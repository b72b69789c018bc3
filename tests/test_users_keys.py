"""API keys can be disabled and rotated (issue 17, hole 10): `reelgate users disable|enable|rotate NAME`
and POST /v1/me/key; a disabled or replaced key gets 401 and its console sessions end."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import Session, select

import api.cli.core  # noqa: F401  registers the `users` group
from api.cli.base import cli
from gate.models import AuditEntry
from gate.users import create_user
from tests.web_helpers import Browser


def run(*args: str):
    return CliRunner().invoke(cli, list(args), obj={})


@pytest.fixture
def app_client(components):
    from api.app import create_app
    from gate.components import reset_components

    reset_components()
    app = create_app(components=components, dispatch=lambda job_id: None)
    yield app, TestClient(app), components
    reset_components()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def events(c) -> list[tuple[str, str]]:
    with Session(c.engine) as s:
        return [(e.event, e.subject) for e in s.exec(select(AuditEntry).order_by(AuditEntry.seq))]


def test_cli_disable_refuses_the_key_and_enable_restores_it(app_client) -> None:
    app, client, c = app_client
    _, key = create_user(c.engine, "alice", "creator")
    assert client.get("/v1/generations", headers=bearer(key)).status_code == 200
    r = run("users", "disable", "alice", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {"name": "alice", "disabled": True}
    r = client.get("/v1/generations", headers=bearer(key))
    assert r.status_code == 401 and "disabled" in r.json()["detail"]
    assert run("users", "enable", "alice").exit_code == 0
    assert client.get("/v1/generations", headers=bearer(key)).status_code == 200
    assert ("user.disabled", "alice") in events(c) and ("user.enabled", "alice") in events(c)


def test_cli_disable_ends_console_sessions(app_client) -> None:
    app, _, c = app_client
    _, key = create_user(c.engine, "alice", "creator")
    b = Browser(app).sign_in(key)
    assert b.get("/jobs").status_code == 200
    assert run("users", "disable", "alice").exit_code == 0
    r = b.get("/jobs")
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")


def test_cli_rotate_prints_a_new_key_and_retires_the_old(app_client) -> None:
    _, client, c = app_client
    _, old = create_user(c.engine, "alice", "creator")
    r = run("users", "rotate", "alice")
    assert r.exit_code == 0, r.output
    new = r.output.strip()
    assert new.startswith("rg_") and new != old and len(new) > 40
    assert client.get("/v1/generations", headers=bearer(old)).status_code == 401
    assert client.get("/v1/generations", headers=bearer(new)).status_code == 200
    audit_rows = [e for e in events(c) if e[0] == "user.key_rotated"]
    assert audit_rows == [("user.key_rotated", "alice")]
    with Session(c.engine) as s:  # the audit log records the prefix, never the key
        assert all(new not in e.payload for e in s.exec(select(AuditEntry)))


@pytest.mark.parametrize("command", ["disable", "rotate", "enable"])
def test_cli_unknown_user_is_a_one_line_error(app_client, command: str) -> None:
    r = run("users", command, "nobody")
    assert r.exit_code == 2 and "no user 'nobody'" in r.output and "Traceback" not in r.output


def test_rotate_own_key_over_the_api(app_client) -> None:
    app, client, c = app_client
    _, old = create_user(c.engine, "alice", "creator")
    _, bob = create_user(c.engine, "bob", "creator")
    browser = Browser(app).sign_in(old)
    r = client.post("/v1/me/key", headers=bearer(old))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "alice" and body["role"] == "creator" and body["api_key"].startswith(body["key_prefix"])
    assert client.get("/v1/generations", headers=bearer(old)).status_code == 401
    assert client.get("/v1/generations", headers=bearer(body["api_key"])).status_code == 200
    assert client.get("/v1/generations", headers=bearer(bob)).status_code == 200  # others untouched
    assert client.post("/v1/me/key", headers=bearer(old)).status_code == 401  # the old key cannot rotate again
    assert client.post("/v1/me/key").status_code == 401
    assert browser.get("/jobs").status_code == 303  # the session signed in with the old key ended


def test_disabled_key_cannot_rotate_itself_back(app_client) -> None:
    _, client, c = app_client
    _, key = create_user(c.engine, "alice", "creator")
    assert run("users", "disable", "alice").exit_code == 0
    assert client.post("/v1/me/key", headers=bearer(key)).status_code == 401
