"""The job's request as the pipeline reads it: typed, frozen, validated where it enters (create and run)."""

from __future__ import annotations

import pydantic
import pytest
from sqlmodel import Session

from gate import jobs
from gate.models import Job, JobStatus
from gate.requests import GenerationRequest, JobRequest


def test_a_stored_request_reads_back_as_the_request_that_was_made() -> None:
    req = GenerationRequest(prompt="a red ball", style="Cartoon", seconds=3.0, resolution="720p",
                            cameos=["@Alice.Cam", "alice.cam"])
    stored = req.model_dump() | {"remix_key": "uploads/abc.mp4"}
    got = JobRequest.stored(stored)
    assert (got.prompt, got.style, got.seconds, got.resolution, got.fps) == ("a red ball", "cartoon", 3.0, "720p", 24)
    assert got.cameos == ("alice.cam",) and got.remix_key == "uploads/abc.mp4" and got.recheck is None
    assert JobRequest.stored({"prompt": "x", "seconds": 2}).seconds == 2.0  # JSON keeps 2.0 as 2


def test_the_request_is_frozen() -> None:
    got = JobRequest.stored({"prompt": "x"})
    with pytest.raises(pydantic.ValidationError):
        got.prompt = "something else"  # type: ignore[misc]
    assert isinstance(got.cameos, tuple)


@pytest.mark.parametrize("stored", [
    {},  # no prompt
    {"prompt": "\u200b "},  # nothing visible
    {"prompt": "x", "cameos": ["not a handle"]},
    {"prompt": "x", "seconds": 600},
    {"prompt": "x", "whatever": 1},  # a field nothing reads
    {"prompt": "x", "remix_key": 5},
])
def test_a_request_that_breaks_the_front_doors_rules_is_refused(stored: dict) -> None:
    with pytest.raises(ValueError):
        JobRequest.stored(stored)


def test_create_job_checks_the_gates_own_fields(components) -> None:
    with pytest.raises(jobs.JobError):
        jobs.create_job(components, "bob", GenerationRequest(prompt="a red ball"), extra={"remix_key": 5})


def test_a_stored_request_that_no_longer_validates_fails_the_job_before_any_stage(components) -> None:
    with Session(components.engine) as s:
        s.add(Job(id="00000000000000ee", user="bob", status=JobStatus.QUEUED, request={"prompt": " "}))
        s.commit()
    ran: list[str] = []
    status = jobs.run_job(components, "00000000000000ee", progress=lambda name, d: ran.append(name))
    job = jobs.get_job(components, "00000000000000ee")
    assert status == JobStatus.FAILED and job is not None and job.status == JobStatus.FAILED
    assert ran == [] and any("stored request is not valid" in r for r in job.reasons)


def test_the_job_request_has_every_field_of_the_front_doors_request() -> None:
    assert set(JobRequest.model_fields) == set(GenerationRequest.model_fields) | {"remix_key", "recheck"}
