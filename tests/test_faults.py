"""The fault eval in small: real worker processes, faults injected, nothing unsafe or duplicated published.

Four jobs on the embedded default (SQLite, broker-less queue), each with one fault: a stage that raises,
one that returns garbage, a full media disk, and a worker SIGKILLed mid-stage (the restarted worker re-runs
the job once its lease runs out); an operator takes one down meanwhile. The full table: `python -m evals.faults`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]


def test_faults_publish_nothing_unsafe_and_lose_no_job() -> None:
    from evals.faults import run_config

    out = run_config("embedded", n=4, workers=1, seed=3, pg_redis=False, fault_rate=1.0,
                     kinds=("sigkill", "raise", "garbage", "disk_full"), drain_seconds=240)
    fired = {e["kind"] for e in out.events}
    assert fired == {"sigkill", "raise", "garbage", "disk_full"}, out.events
    assert out.restarts >= 1  # the SIGKILL was real: the worker process died and was started again
    assert dict(out.problems) == {}, dict(out.problems)  # no stuck, unsafe, duplicate or lost
    assert sum(out.statuses.values()) == 4 and not out.statuses["running"] and not out.statuses["queued"]


def test_embedded_worker_start_requeues_a_job_whose_message_died(tmp_path: Path) -> None:
    """A worker SIGKILLed right after it took a message off the embedded queue (kombu's SQL transport marks it
    taken at once and never hands it out again) leaves its job queued with no message. The next worker to
    start gives every queued job a message again, rather than the sweep after STALE_QUEUED (10 min)."""
    from gate import jobs
    from gate.components import Components
    from gate.models import TERMINAL_STATES
    from gate.requests import GenerationRequest
    from gate.settings import Settings
    from tests.test_scaleout import make_env, start_worker, stop

    env = make_env(tmp_path)
    c = Components(Settings(data_dir=tmp_path / "data"))
    job = jobs.create_job(c, "bob", GenerationRequest(prompt="a red ball bouncing on a wooden floor", seconds=1,
                                                      resolution="480p"))  # its message died with a worker
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + 300  # well under STALE_QUEUED
        while jobs.get_job(c, job.id).status not in TERMINAL_STATES and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        stop(worker)
        c.engine.dispose()
    assert jobs.get_job(c, job.id).status == "published", (tmp_path / "worker.log").read_text()[-2000:]


def test_worker_sweeps_even_when_its_start_up_requeue_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The eval found it: workers that started while their start-up re-queue raised (the database unreachable,
    there a broken import) ran without a sweeper, so a job whose worker was SIGKILLed stayed running forever."""
    import threading

    from celery import Celery
    from celery.signals import worker_ready

    import gate.jobs
    import gate.queue
    from gate.settings import Settings

    started: list[float] = []

    def database_down(*_a: object, **_k: object) -> list[str]:
        raise RuntimeError("database unavailable")

    def fake_sweeper(app: object, settings: object, every: float) -> threading.Event:
        started.append(every)
        return threading.Event()

    monkeypatch.setattr(gate.jobs, "stale_jobs", database_down)
    monkeypatch.setattr(gate.queue, "start_sweeper", fake_sweeper)
    monkeypatch.setattr(Celery, "worker_main", lambda self, argv: worker_ready.send(sender=None))
    gate.queue.run_worker(Settings(data_dir=tmp_path / "data", sweep_seconds=3.0))
    assert started == [3.0]


def test_a_connection_dropped_during_the_finish_leaves_no_publication_unrecorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The eval found it on PostgreSQL: another job's pg_terminate_backend dropped this worker's connection
    while it recorded the end of a run whose publish had committed; the job stayed published with no
    job.finished in the audit log, and nothing would ever write it. The finish is tried again."""
    from sqlalchemy.exc import OperationalError
    from sqlmodel import Session, col, select

    import gate.job_worker
    from gate import audit, jobs
    from gate.components import Components
    from gate.models import AuditEntry
    from gate.requests import GenerationRequest
    from gate.settings import Settings
    from tests.test_job_races import _two_stages

    _two_stages(monkeypatch)
    c = Components(Settings(data_dir=tmp_path / "data"))
    real, dropped = audit.append_in, []

    def dropping(s, actor: str, event: str, subject: str = "", payload: object = None):
        if event == "job.finished" and not dropped:
            dropped.append(subject)
            raise OperationalError("COMMIT", {}, Exception("terminating connection due to administrator command"))
        return real(s, actor, event, subject, payload)

    monkeypatch.setattr(gate.job_worker.audit, "append_in", dropping)
    job = jobs.create_job(c, "bob", GenerationRequest(prompt="a red ball", seconds=1, resolution="480p"))
    assert jobs.run_job(c, job.id) == "published"
    with Session(c.engine) as s:
        finished = s.exec(select(AuditEntry).where(col(AuditEntry.subject) == job.id,
                                                   col(AuditEntry.event) == "job.finished")).all()
    assert dropped == [job.id] and len(finished) == 1
    c.engine.dispose()
