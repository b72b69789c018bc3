"""/health (issue 17, hole 10): anyone sees ok or degraded; model names, stages and failure reasons only
with an operator's key."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gate.users import create_user


@pytest.fixture
def client_keys(components):
    from api.app import create_app

    client = TestClient(create_app(components=components, dispatch=lambda job_id: None))
    keys = {n: create_user(components.engine, n, r)[1] for n, r in [("olga", "operator"), ("alice", "creator")]}
    return client, keys


def test_public_health_is_status_only(client_keys) -> None:
    client, keys = client_keys
    for headers in ({}, {"Authorization": f"Bearer {keys['alice']}"}):
        r = client.get("/health", headers=headers)
        assert r.status_code == 200
        assert r.json() == {"status": "ok"} or r.json() == {"status": "degraded"}
        assert "model" not in r.text and "why" not in r.text


def test_operator_sees_the_details(client_keys) -> None:
    client, keys = client_keys
    body = client.get("/health", headers={"Authorization": f"Bearer {keys['olga']}"}).json()
    assert body["status"] in ("ok", "degraded") and body["database"] == "ok"
    assert body["stages"] and all("signals" in st for st in body["stages"])
    assert body["verify"][0]["name"] == "verify.detector" and "model" in body["verify"][0]


def test_invalid_key_on_health_is_401(client_keys) -> None:
    client, _ = client_keys
    assert client.get("/health", headers={"Authorization": "Bearer rg_not-a-key"}).status_code == 401
