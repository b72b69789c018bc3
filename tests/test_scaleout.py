"""Scale-out for real: Celery workers on Redis with PostgreSQL, and the embedded queue across a restart.

These run the whole gate in separate worker processes (real models), so they are marked slow.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.services import REDIS_URL, fresh_pg_database, require_services

pytestmark = [pytest.mark.slow]
PROMPT = {"prompt": "a blue ball bouncing on a wooden floor", "seconds": 2, "resolution": "480p"}


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "api.cli", "worker", "--loglevel", "WARNING"],
                            env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for(client: TestClient, key: str, job_id: str, states: set[str], timeout: float = 420) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/generations/{job_id}", headers={"Authorization": f"Bearer {key}"}).json()
        if job["status"] in states:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not reach {states} in {timeout} s; last: {job['status']}")


def make_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELGATE_")}
    env.update({"REELGATE_DATA_DIR": str(tmp_path / "data"), "OMP_NUM_THREADS": "1", **extra})
    return env


def client_for(env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    from api.app import create_app
    from gate.components import Components
    from gate.settings import Settings
    from gate.users import create_user

    for k, v in env.items():
        if k.startswith("REELGATE_"):
            monkeypatch.setenv(k, v)
    c = Components(Settings())
    _, key = create_user(c.engine, f"u{secrets.token_hex(3)}", "creator")
    return TestClient(create_app(components=c)), key, c


def test_celery_worker_on_redis_with_postgresql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_services()
    with fresh_pg_database() as db_url:
        env = make_env(tmp_path, REELGATE_DATABASE_URL=db_url, REELGATE_BROKER_URL=REDIS_URL,
                       REELGATE_QUEUE_NAME=f"reelgate-test-{secrets.token_hex(4)}")
        client, key, c = client_for(env, monkeypatch)
        assert c.engine.dialect.name == "postgresql"
        worker = start_worker(env, tmp_path / "worker.log")
        try:
            r = client.post("/v1/generations", json=PROMPT, headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 202, r.text
            job = wait_for(client, key, r.json()["id"], {"published", "blocked", "review", "failed"})
        finally:
            stop(worker)
            c.engine.dispose()
        log = (tmp_path / "worker.log").read_text(errors="replace")
        assert job["status"] == "published", (job["reasons"], log[-3000:])
        assert [s["name"] for s in job["stages"]][-1] == "publish"
        assert job["video_url"]


def test_killed_worker_loses_no_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_services()
    with fresh_pg_database() as db_url:
        env = make_env(tmp_path, REELGATE_DATABASE_URL=db_url, REELGATE_BROKER_URL=REDIS_URL,
                       REELGATE_QUEUE_NAME=f"reelgate-test-{secrets.token_hex(4)}",
                       REELGATE_JOB_LEASE_SECONDS="6", REELGATE_SWEEP_SECONDS="2")
        client, key, c = client_for(env, monkeypatch)
        first = start_worker(env, tmp_path / "w1.log")
        second = None
        try:
            r = client.post("/v1/generations", json=PROMPT, headers={"Authorization": f"Bearer {key}"})
            job_id = r.json()["id"]
            wait_for(client, key, job_id, {"running"}, timeout=180)
            stop(first, signal.SIGKILL)  # mid-job, no chance to clean up or ack
            assert client.get(f"/v1/generations/{job_id}", headers={"Authorization": f"Bearer {key}"}).json()[
                "status"] == "running"
            second = start_worker(env, tmp_path / "w2.log")
            job = wait_for(client, key, job_id, {"published", "blocked", "review", "failed"})
        finally:
            stop(first, signal.SIGKILL)
            if second is not None:
                stop(second)
            c.engine.dispose()
        from gate.jobs import get_job

        assert job["status"] == "published", job["reasons"]
        assert get_job(c, job_id).attempts == 2


def test_embedded_queue_keeps_jobs_across_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No server at all: the job is queued while no worker runs, and a worker started later runs it."""
    env = make_env(tmp_path)
    client, key, c = client_for(env, monkeypatch)
    r = client.post("/v1/generations", json=PROMPT, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 202
    job_id = r.json()["id"]
    c.engine.dispose()  # "restart": the API process's state is gone; only the data dir remains
    assert (tmp_path / "data" / "queue.db").exists()
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        job = wait_for(client, key, job_id, {"published", "blocked", "review", "failed"})
    finally:
        stop(worker)
    assert job["status"] == "published", job["reasons"]


def test_worker_restarts_itself_to_drop_a_hung_stage_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stage that overruns its limit is decided (blocked) at once; its thread cannot be killed, so the worker
    stops after that job and re-executes itself, and the next job runs in the fresh process."""
    from gate.policy import Policy

    env = make_env(tmp_path)
    client, key, c = client_for(env, monkeypatch)
    c.set_policy(Policy(stage_timeout_seconds={"generate": 0.05}), "test")  # 10 s of 720p takes seconds
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        hdr = {"Authorization": f"Bearer {key}"}
        r = client.post("/v1/generations", json={**PROMPT, "seconds": 10, "resolution": "720p"}, headers=hdr)
        job = wait_for(client, key, r.json()["id"], {"published", "blocked", "review", "failed"})
        assert job["status"] == "blocked" and any("timed out" in x for x in job["reasons"]), job["reasons"]
        deadline = time.monotonic() + 60
        while "re-executing the worker" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "re-executing the worker" in log.read_text()
        c.set_policy(Policy(), "test")
        r = client.post("/v1/generations", json=PROMPT, headers=hdr)
        job = wait_for(client, key, r.json()["id"], {"published", "blocked", "review", "failed"})
        assert job["status"] == "published", job["reasons"]
        assert worker.poll() is None  # the same process (exec keeps the pid), running again
    finally:
        stop(worker)
