"""Per-user job quota (issue 17, hole 10): jobs per hour and jobs in flight, 429 with Retry-After from the
API and the console alike; nothing is stored for a refused request; other users are not affected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, func, select

from gate.models import Job, utcnow
from gate.users import create_user
from tests.web_helpers import Browser


@pytest.fixture
def quota_app(settings, monkeypatch):
    from api.app import create_app
    from gate.components import Components
    from gate.settings import Settings

    monkeypatch.setenv("REELGATE_JOBS_PER_HOUR", "3")
    monkeypatch.setenv("REELGATE_CONCURRENT_JOBS", "2")
    c = Components(Settings())
    app = create_app(components=c, dispatch=lambda job_id: None)  # jobs stay queued: in flight
    keys = {n: create_user(c.engine, n, "creator")[1] for n in ("alice", "bob")}
    yield app, keys, c
    c.engine.dispose()


def jobs_of(c, user: str) -> int:
    with Session(c.engine) as s:
        return s.exec(select(func.count()).select_from(Job).where(Job.user == user)).one()


def finish_all(c, user: str, age: timedelta = timedelta(0)) -> None:
    with Session(c.engine) as s:
        s.exec(update(Job).where(Job.user == user).values(status="published", created_at=utcnow() - age))
        s.commit()


def post(client: TestClient, key: str):
    return client.post("/v1/generations", json={"prompt": "a red ball"}, headers={"Authorization": f"Bearer {key}"})


def test_concurrent_jobs_limit_answers_429_with_retry_after(quota_app) -> None:
    app, keys, c = quota_app
    client = TestClient(app)
    assert [post(client, keys["alice"]).status_code for _ in range(2)] == [202, 202]
    r = post(client, keys["alice"])
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert "queued or running" in r.json()["detail"]
    assert jobs_of(c, "alice") == 2  # the refused request stored nothing
    assert post(client, keys["bob"]).status_code == 202  # per user
    finish_all(c, "alice")
    assert post(client, keys["alice"]).status_code == 202  # a finished job frees its slot


def test_jobs_per_hour_limit_and_its_retry_after(quota_app) -> None:
    app, keys, c = quota_app
    client = TestClient(app)
    for _ in range(3):
        assert post(client, keys["alice"]).status_code == 202
        finish_all(c, "alice", age=timedelta(minutes=50))  # not in flight; made 50 min ago
    r = post(client, keys["alice"])
    assert r.status_code == 429 and "per hour" in r.json()["detail"]
    retry = int(r.headers["retry-after"])
    assert 9 * 60 <= retry <= 10 * 60 + 1  # the oldest job of the hour leaves the window in ~10 min
    assert jobs_of(c, "alice") == 3
    finish_all(c, "alice", age=timedelta(minutes=61))
    assert post(client, keys["alice"]).status_code == 202


def test_console_create_is_held_to_the_same_quota(quota_app) -> None:
    app, keys, c = quota_app
    b = Browser(app).sign_in(keys["alice"])
    for _ in range(2):
        assert b.post("/create", {"prompt": "a red ball"}, token_from="/create").status_code == 303
    r = b.post("/create", {"prompt": "a red ball"}, token_from="/create")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert "Not queued" in r.text and jobs_of(c, "alice") == 2


def test_zero_means_no_limit(settings, monkeypatch) -> None:
    from gate import jobs
    from gate.components import Components
    from gate.requests import GenerationRequest
    from gate.settings import Settings

    monkeypatch.setenv("REELGATE_JOBS_PER_HOUR", "0")
    monkeypatch.setenv("REELGATE_CONCURRENT_JOBS", "0")
    c = Components(Settings())
    for _ in range(6):
        jobs.create_job(c, "alice", GenerationRequest(prompt="a red ball"), quota=True)
    assert jobs_of(c, "alice") == 6
    c.engine.dispose()


def test_defaults_are_limits(settings) -> None:
    assert settings.jobs_per_hour == 60 and settings.concurrent_jobs == 4
