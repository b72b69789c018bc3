"""Prometheus metrics: a job's stages and outcome, the queue read from the database, verify requests and
HTTP requests by route template, scraped from GET /metrics with an operator's key (anyone else: 401/403);
other processes' figures through PROMETHEUS_MULTIPROC_DIR, and a worker's own port."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from gate import jobs
from gate.decision import Decision
from gate.users import create_user

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


class _Timed:
    """A stage that takes a known time and returns a fixed verdict (the real stages need the models)."""

    def __init__(self, name: str, decision: str, seconds: float) -> None:
        self.name, self.decision, self.seconds = name, decision, seconds

    def signals(self) -> list:
        return []

    def run(self, ctx) -> Decision:
        time.sleep(self.seconds)
        return Decision(stage=self.name, decision=self.decision, reasons=[f"{self.name} says {self.decision}"])


@pytest.fixture
def api(components, monkeypatch: pytest.MonkeyPatch):
    from api.app import create_app

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    client = TestClient(create_app(components=components, dispatch=lambda job_id: None))
    keys = {name: create_user(components.engine, name, role)[1]
            for name, role in [("olga", "operator"), ("alice", "creator")]}
    return client, keys, components


def scrape(client: TestClient, key: str) -> Samples:
    r = client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return parse(r.text)


def test_a_job_moves_its_stage_and_outcome_metrics(api, monkeypatch: pytest.MonkeyPatch) -> None:
    import gate.stages

    client, keys, c = api
    monkeypatch.setattr(gate.stages, "build_stages",
                        lambda c: [_Timed("mtr_check", "pass", 0.06), _Timed("mtr_look", "review", 0.0)])
    before = scrape(client, keys["olga"])
    job = jobs.create_job(c, "alice", jobs.GenerationRequest(prompt="a red ball"))
    assert jobs.run_job(c, job.id) == "review"
    after = scrape(client, keys["olga"])

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("reelgate_stage_decisions_total", stage="mtr_check", decision="pass") == 1
    assert delta("reelgate_stage_decisions_total", stage="mtr_look", decision="review") == 1
    assert delta("reelgate_stage_decisions_total", stage="mtr_check", decision="block") == 0
    # the histogram holds the stage's own time: 60 ms is over the 50 ms bucket, under the 100 ms one
    assert delta("reelgate_stage_seconds_count", stage="mtr_check") == 1
    assert delta("reelgate_stage_seconds_bucket", stage="mtr_check", le="0.05") == 0
    assert delta("reelgate_stage_seconds_bucket", stage="mtr_check", le="0.1") == 1
    assert 0.06 <= delta("reelgate_stage_seconds_sum", stage="mtr_check") < 1.0
    assert delta("reelgate_jobs_finished_total", status="review") == 1
    assert delta("reelgate_jobs_finished_total", status="published") == 0


def test_a_takedown_during_the_run_is_the_outcome_counted(api, monkeypatch: pytest.MonkeyPatch) -> None:
    import gate.stages

    client, keys, c = api

    class _TakenDownMidway(_Timed):
        def run(self, ctx) -> Decision:
            jobs.take_down(c, ctx.job_id, "olga", "reported")
            return super().run(ctx)

    monkeypatch.setattr(gate.stages, "build_stages", lambda c: [_TakenDownMidway("mtr_td", "pass", 0.0)])
    before = scrape(client, keys["olga"])
    job = jobs.create_job(c, "alice", jobs.GenerationRequest(prompt="a red ball"))
    assert jobs.run_job(c, job.id) == "taken_down"
    after = scrape(client, keys["olga"])
    for status, moved in [("taken_down", 1), ("published", 0)]:
        assert (value(after, "reelgate_jobs_finished_total", status=status)
                - value(before, "reelgate_jobs_finished_total", status=status)) == moved


def test_queue_depth_is_read_from_the_database(api) -> None:
    from sqlmodel import Session

    from gate.models import Job

    client, keys, c = api
    first = jobs.create_job(c, "alice", jobs.GenerationRequest(prompt="a red ball"))
    jobs.create_job(c, "alice", jobs.GenerationRequest(prompt="a blue ball"))
    with Session(c.engine) as s:  # as a worker's claim would, in another process: nothing here counted it
        row = s.get(Job, first.id)
        row.status = "running"
        s.add(row)
        s.commit()
    got = scrape(client, keys["olga"])
    assert value(got, "reelgate_queue_jobs", status="queued") == 1
    assert value(got, "reelgate_queue_jobs", status="running") == 1
    assert 0 <= value(got, "reelgate_queue_oldest_seconds") < 60
    assert value(got, "reelgate_database_up") == 1


def test_verify_and_http_requests_are_counted_by_verdict_and_route(api) -> None:
    client, keys, _ = api
    before = scrape(client, keys["olga"])
    png = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 140, 200)).save(png, "PNG")
    r = client.post("/v1/verify", files={"file": ("plain.png", png.getvalue(), "image/png")})
    assert r.status_code == 200, r.text
    verdict = r.json()["verdict_code"]
    assert client.post("/v1/verify", files={"file": ("empty.mp4", b"", "video/mp4")}).status_code == 422
    job_id = "0123456789abcdef"  # a raw id must not become a label
    assert client.get(f"/v1/generations/{job_id}", headers={"Authorization": f"Bearer {keys['alice']}"}
                      ).status_code == 404
    assert client.get(f"/v1/generations/{job_id}").status_code == 401  # refused before routing (RequestGuard)
    assert client.get("/no/such/path/5f3a").status_code == 404
    after = scrape(client, keys["olga"])

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("reelgate_verify_requests_total", verdict=verdict) == 1
    assert delta("reelgate_verify_requests_total", verdict="rejected") == 1
    assert delta("reelgate_verify_seconds_count") == 2
    assert delta("reelgate_http_requests_total", method="POST", route="/v1/verify", status="200") == 1
    assert delta("reelgate_http_requests_total", method="POST", route="/v1/verify", status="422") == 1
    assert delta("reelgate_http_requests_total", method="GET", route="/v1/generations/{job_id}",
                 status="404") == 1
    assert delta("reelgate_http_requests_total", method="GET", route="/v1/generations/{job_id}",
                 status="401") == 1
    assert delta("reelgate_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert delta("reelgate_http_request_seconds_count", method="POST", route="/v1/verify") == 2
    # the scrape before this one was counted too
    assert delta("reelgate_http_requests_total", method="GET", route="/metrics", status="200") >= 1
    labels = {v for (_, ls) in after for _, v in ls}
    assert job_id not in str(labels) and "/no/such/path/5f3a" not in labels


def test_only_operators_scrape(api) -> None:
    client, keys, _ = api
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer rg_not-a-key"}).status_code == 401
    r = client.get("/metrics", headers={"Authorization": f"Bearer {keys['alice']}"})
    assert r.status_code == 403 and "reelgate_" not in r.text
    r = client.get("/metrics", headers={"Authorization": f"Bearer {keys['olga']}",
                                        "Accept": "application/openmetrics-text; version=1.0.0"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.rstrip().endswith("# EOF")
    r = client.request("TRACE", "/metrics")  # an API route's errors are JSON, not the console's HTML page
    assert r.status_code == 405 and r.headers["allow"] == "GET" and r.json()["detail"]


def test_other_processes_are_summed_in_multiprocess_mode(api, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Two worker processes record into PROMETHEUS_MULTIPROC_DIR; the API's scrape shows their sum."""
    client, keys, _ = api
    mp = tmp_path / "prom"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(mp)}
    code = ("from gate import metrics; metrics.stage_decided('watermark', 'pass', 8.7); "
            "metrics.job_finished('published')")
    for _ in range(2):
        subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(mp))
    got = scrape(client, keys["olga"])
    assert value(got, "reelgate_stage_decisions_total", stage="watermark", decision="pass") == 2
    assert value(got, "reelgate_stage_seconds_bucket", stage="watermark", le="10.0") == 2
    assert value(got, "reelgate_stage_seconds_bucket", stage="watermark", le="5.0") == 0
    assert value(got, "reelgate_jobs_finished_total", status="published") == 2
    assert value(got, "reelgate_queue_jobs", status="queued") == 0  # the database's figures are still there


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_worker_serves_its_own_port(components, monkeypatch: pytest.MonkeyPatch) -> None:
    from gate import metrics

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    jobs.create_job(components, "alice", jobs.GenerationRequest(prompt="a red ball"))
    metrics.stage_decided("mtr_port", "block", 0.2)
    port = _free_port()
    server = metrics.serve_port(components.engine, port, "127.0.0.1")
    assert server is not None
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            got = parse(r.read().decode())
        assert value(got, "reelgate_queue_jobs", status="queued") == 1
        assert not [name for name, _ in got if name.endswith("_created")]  # half the series, no use
        assert value(got, "reelgate_stage_decisions_total", stage="mtr_port", decision="block") >= 1
        assert metrics.serve_port(components.engine, port, "127.0.0.1") is None  # taken: logged, not raised
    finally:
        server.shutdown()
        server.server_close()
