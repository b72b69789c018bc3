"""Generation jobs, by concern: the records (gate.job_store: create, read, undo an unqueued one), the worker
(gate.job_worker: lease, run, finish) and operators' decisions (gate.job_review: review, take down). Callers
import them from here."""

from __future__ import annotations

from gate.job_review import review, take_down
from gate.job_store import JobError, NotFound, create_job, delete_unqueued, get_job, new_job_id, resolve_remix_source
from gate.job_worker import (
    MAX_ATTEMPTS,
    STALE_QUEUED,
    Progress,
    _finish,
    build_pipeline,
    prewarm,
    rights_decisions,
    run_job,
    stale_jobs,
)
from gate.requests import GenerationRequest

__all__ = [
    "MAX_ATTEMPTS", "STALE_QUEUED", "GenerationRequest", "JobError", "NotFound", "Progress", "_finish",
    "build_pipeline", "create_job", "delete_unqueued", "get_job", "new_job_id", "prewarm",
    "resolve_remix_source", "review", "rights_decisions", "run_job", "stale_jobs", "take_down",
]
