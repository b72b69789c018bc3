"""Prometheus metrics: each stage's time and decision, job outcomes, the queue, verify requests, HTTP requests.

Processes. A job runs in a worker process (`reelgate worker`, or the ones `reelgate serve` starts), not in the
API process that answers GET /metrics. Set PROMETHEUS_MULTIPROC_DIR (an empty directory, the same for every
process of a host, set before they start) and prometheus_client's multiprocess mode is on: each process
writes its samples to memory-mapped files there and a scrape of any of them sums the files of all (this is
the mode prometheus_client documents for gunicorn and prefork pools, and the only one that sees the children
of a prefork Celery pool). Without it, each process counts in memory: the API's /metrics then shows HTTP and
verify figures only, and a worker shows its own on REELGATE_METRICS_PORT. A worker on another host always
needs its own port (the directory is per host).

The queue gauges are not counted by any process: they are read from the database at scrape time (so they
are right with any number of API processes and workers, and after a crash), by the collector that
`exposition` adds to each scrape.

Recording never fails the caller: a metric that cannot be written is logged, the job or request goes on.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, ParamSpec

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from gate.models import TERMINAL_STATES, Job, JobStatus, utcnow

log = logging.getLogger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


if multiprocess_dir():  # prometheus_client opens its files there at the first sample; a missing dir would raise
    os.makedirs(multiprocess_dir() or "", mode=0o700, exist_ok=True)

disable_created_metrics()  # no `_created` series beside every counter and histogram (multiprocess mode has none)
# Our own registry, not prometheus_client's global one: only these metrics, whatever else a library registers.
REGISTRY = CollectorRegistry(auto_describe=True)

# A stage takes milliseconds (prompt, sign) to minutes (generation on a CPU); the default time limit is 300 s.
STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

STAGE_SECONDS = Histogram("reelgate_stage_seconds", "Time a gate stage took, by stage (failed and timed-out runs "
                          "included)", ["stage"], buckets=STAGE_BUCKETS, registry=REGISTRY)
STAGE_DECISIONS = Counter("reelgate_stage_decisions", "Gate stage decisions, by stage and decision "
                          "(pass, review, block)", ["stage", "decision"], registry=REGISTRY)
JOBS_FINISHED = Counter("reelgate_jobs_finished", "Job runs finished, by the status they left the job in",
                        ["status"], registry=REGISTRY)
VERIFY_REQUESTS = Counter("reelgate_verify_requests", "Verifications (API, console, CLI), by verdict code; "
                          "'rejected' for a file not read (empty, truncated, bomb), 'error' for a failure",
                          ["verdict"], registry=REGISTRY)
VERIFY_SECONDS = Histogram("reelgate_verify_seconds", "Time one verification took (checks, C2PA, watermark, "
                           "detector)", buckets=REQUEST_BUCKETS, registry=REGISTRY)
HTTP_REQUESTS = Counter("reelgate_http_requests", "HTTP requests, by method, route template and status",
                        ["method", "route", "status"], registry=REGISTRY)
HTTP_SECONDS = Histogram("reelgate_http_request_seconds", "HTTP request time to the end of the response, by "
                         "method and route template", ["method", "route"], buckets=REQUEST_BUCKETS,
                         registry=REGISTRY)

for _status in sorted(TERMINAL_STATES):  # every outcome from zero, so rate() sees the first one
    JOBS_FINISHED.labels(status=str(_status))

P = ParamSpec("P")


def _never_raises(fn: Callable[P, None]) -> Callable[P, None]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            fn(*args, **kwargs)
        except Exception:  # e.g. the multiprocess directory is full or gone: the figures suffer, not the job
            log.warning("could not record metric %s", fn.__name__, exc_info=True)

    return wrapper


@_never_raises
def stage_decided(stage: str, decision: str, seconds: float) -> None:
    STAGE_SECONDS.labels(stage=stage).observe(max(0.0, seconds))
    STAGE_DECISIONS.labels(stage=stage, decision=decision).inc()


@_never_raises
def job_finished(status: str) -> None:
    JOBS_FINISHED.labels(status=str(status)).inc()


@_never_raises
def verify_done(verdict: str, seconds: float) -> None:
    VERIFY_REQUESTS.labels(verdict=verdict).inc()
    VERIFY_SECONDS.observe(max(0.0, seconds))


@_never_raises
def http_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    HTTP_SECONDS.labels(method=method, route=route).observe(max(0.0, seconds))


class QueueCollector(Collector):
    """Jobs queued and running now, and the age of the oldest queued one: read from the database at each
    scrape, so every process reports the same truth however many API processes and workers there are."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("reelgate_database_up", "1 if the scrape could read the jobs table, else 0")
        try:
            with Session(self.engine) as s:
                rows = s.exec(select(Job.status, func.count(), func.min(Job.created_at))
                              .where(col(Job.status).in_([str(JobStatus.QUEUED), str(JobStatus.RUNNING)]))
                              .group_by(col(Job.status))).all()
        except Exception as exc:  # the scrape still answers: the database being down is itself the figure
            log.warning("metrics: could not read the queue: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        counts = {str(JobStatus.QUEUED): 0, str(JobStatus.RUNNING): 0}
        oldest_queued: datetime | None = None
        for status, n, oldest in rows:
            counts[str(status)] = int(n)
            if status == JobStatus.QUEUED:
                oldest_queued = oldest
        jobs = GaugeMetricFamily("reelgate_queue_jobs", "Jobs waiting for a worker (queued) or being run "
                                 "(running) now, from the database", labels=["status"])
        for status, n in counts.items():
            jobs.add_metric([status], n)
        yield jobs
        age = GaugeMetricFamily("reelgate_queue_oldest_seconds", "Age of the oldest queued job (0 when none)")
        if oldest_queued is not None and oldest_queued.tzinfo is None:
            oldest_queued = oldest_queued.replace(tzinfo=UTC)  # SQLite hands back naive UTC
        age.add_metric([], max(0.0, (utcnow() - oldest_queued).total_seconds()) if oldest_queued else 0.0)
        yield age


def exposition(engine: Engine) -> CollectorRegistry:
    """What one scrape shows: every process's samples (multiprocess mode) or this process's, plus the queue."""
    registry = CollectorRegistry(auto_describe=False)
    path = multiprocess_dir()
    if path:
        MultiProcessCollector(registry, path=path)
    else:
        registry.register(_Forward(REGISTRY))
    registry.register(QueueCollector(engine))
    return registry


class _Forward(Collector):
    """This process's own registry inside a scrape's registry (a collector may be registered only once)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


def render(engine: Engine, accept: str | None) -> tuple[bytes, str]:
    """The scrape's body and content type: OpenMetrics if the scraper asks for it, else Prometheus text."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(exposition(engine)), content_type


def serve_port(engine: Engine, port: int, addr: str) -> Any | None:
    """prometheus_client's own HTTP server for a process without one (a worker): GET / or /metrics on
    addr:port, no key (bind it where only the scraper reaches). Returns the server, or None if the port is
    taken (e.g. a second worker on the host: in multiprocess mode the first one already shows its figures)."""
    from prometheus_client import start_http_server

    try:
        server, _ = start_http_server(port, addr=addr, registry=exposition(engine))
    except OSError as exc:
        log.warning("metrics: cannot listen on %s:%d (%s); this process's figures are not exposed there%s",
                    addr, port, exc, "" if not multiprocess_dir() else ", but they are in every scrape of the host")
        return None
    log.info("metrics on http://%s:%d/metrics", addr, port)
    return server
