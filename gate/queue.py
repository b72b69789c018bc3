"""The job queue: Celery tasks. Embedded default: a broker-less transport in a SQLite file (kombu's
SQLAlchemy transport), so queued jobs survive a restart with no server. Scale-out: REELGATE_BROKER_URL
(redis://, amqp://) and the same tasks on any number of stateless workers.

Delivery is at-least-once (acks late, re-queued if the worker dies); jobs are idempotent (gate.jobs),
and a lease sweep re-queues any job whose worker vanished (kombu's SQL transport cannot redeliver
a message that a killed worker had taken).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from datetime import timedelta

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

from gate.settings import Settings

log = logging.getLogger(__name__)
RUN_JOB = "reelgate.run_job"


class BrokerUnavailable(RuntimeError):
    pass


def make_celery(settings: Settings, on_hung: Callable[[list[str]], None] | None = None) -> Celery:
    """The Celery app and its task. `on_hung` is called after a job that left a timed-out stage thread
    running in this process (run_worker uses it to restart the worker)."""
    app = Celery("reelgate", broker=settings.queue_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,  # ack after the job ran: a killed worker's job is delivered again
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_track_started=False,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        # kombu's SQL transport hands its options to create_engine: broker-specific options only.
        broker_transport_options=(
            {} if settings.embedded_queue else {"visibility_timeout": 3600, "max_retries": 2}
        ),
        worker_hijack_root_logger=False,
        task_default_queue=settings.queue_name,
        task_serializer="json",
        accept_content=["json"],
    )

    @app.task(name=RUN_JOB, bind=True, acks_late=True, max_retries=None)
    def run_job_task(self, job_id: str) -> str:  # noqa: ARG001 - Celery passes the task as self
        from gate.components import get_components
        from gate.jobs import run_job

        c = get_components(settings)
        status = run_job(c, job_id)
        hung = c.hung_stages.names()
        if hung and on_hung is not None:
            on_hung(hung)
        return status

    return app


def enqueue(app: Celery, job_id: str) -> None:
    try:
        app.send_task(RUN_JOB, args=[job_id], retry=True,
                      retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5})
    except Exception as exc:  # kombu raises OperationalError and friends; callers answer 503
        raise BrokerUnavailable(f"job queue unavailable: {exc}") from exc


def start_sweeper(app: Celery, settings: Settings, every: float = 15.0) -> threading.Event:
    """In each worker: periodically re-queue jobs whose lease expired or that never got a message."""
    stop = threading.Event()

    def loop() -> None:
        from gate.components import get_components
        from gate.jobs import stale_jobs

        while not stop.wait(every):
            try:
                for job_id in stale_jobs(get_components(settings)):
                    log.warning("re-queueing stale job %s", job_id)
                    enqueue(app, job_id)
            except Exception:
                log.exception("sweep failed; will try again")

    threading.Thread(target=loop, name="reelgate-sweeper", daemon=True).start()
    return stop


def run_worker(settings: Settings, concurrency: int = 1, loglevel: str = "INFO") -> None:
    pool = "solo" if concurrency == 1 else "prefork"
    restart = threading.Event()

    def on_hung(names: list[str]) -> None:
        if pool != "solo":  # in a pool process; the pool's own limits have to recycle it
            log.error("stage thread(s) %s still running after their job in a pool process", ", ".join(names))
            return
        from celery.worker import state

        log.error("stage thread(s) %s still running after their job: restarting this worker", ", ".join(names))
        restart.set()
        state.should_stop = 0  # the consumer loop checks it between messages: a warm stop, job acknowledged

    app = make_celery(settings, on_hung)
    stop = threading.Event()

    @worker_ready.connect
    def _ready(**_: object) -> None:
        nonlocal stop
        # The sweeper first: a worker whose start-up re-queue failed (database down as it started) would
        # otherwise never look for jobs whose worker died, and they would wait forever.
        stop = start_sweeper(app, settings, every=settings.sweep_seconds)
        try:
            from gate.components import get_components
            from gate.jobs import STALE_QUEUED, stale_jobs

            # kombu's SQL transport marks a message taken as a worker takes it and never hands it out again:
            # a worker killed before it claimed the job leaves it queued with no message. So the embedded
            # queue gives every queued job a message at start (a duplicate finds the job claimed or done),
            # instead of the sweep doing so after STALE_QUEUED.
            queued_for = timedelta(0) if settings.embedded_queue else STALE_QUEUED
            for job_id in stale_jobs(get_components(settings), queued_for):
                enqueue(app, job_id)
        except Exception:
            log.exception("could not re-queue jobs at start; the sweep will try again")
        if settings.metrics_port is not None:
            from gate.metrics import multiprocess_dir, serve_port

            if pool != "solo" and not multiprocess_dir():
                log.warning("metrics: the pool's processes run the jobs; set PROMETHEUS_MULTIPROC_DIR so that "
                            "port %d shows their figures", settings.metrics_port)
            serve_port(get_components(settings).engine, settings.metrics_port, settings.metrics_addr)

    @worker_shutdown.connect
    def _shutdown(**_: object) -> None:
        stop.set()

    try:
        app.worker_main(["worker", f"--pool={pool}", f"--concurrency={concurrency}", f"--loglevel={loglevel}",
                         "--without-gossip", "--without-mingle", "--without-heartbeat"])
    finally:
        if restart.is_set():  # (not when an operator stops the worker)
            # exec replaces the process image, hung native calls and all; the queue and leases carry on
            args = [sys.executable, "-m", "api.cli", "worker", "--concurrency", str(concurrency),
                    "--loglevel", loglevel]
            log.warning("re-executing the worker: %s", " ".join(args))
            os.execv(sys.executable, args)
