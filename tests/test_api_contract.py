"""The JSON API keeps its OpenAPI contract: a property-based run of the published schema (schemathesis),
in-process on the ASGI app, for every role, with every check schemathesis has.

The run uses schemathesis' own engine (what its CLI runs: examples, coverage, fuzzing and stateful
phases) rather than its pytest plugin, whose fixture-based loader does not work with pytest 9. Each
operation gets a bounded, deterministic set of generated requests, so the run is the same on every CI
machine and stays well under two minutes.
"""

from __future__ import annotations

import pytest
import schemathesis
from schemathesis.engine import events, from_schema

from gate.users import create_user

ROLES = ("anonymous", "creator", "rights_holder", "operator")


# Routes that take a media file. Their body is fuzzed like any other, with every check but one:
# positive_data_acceptance. The schema can only say "a binary file" (`format: binary`), so any bytes are
# schema-valid, yet only a real, decodable video or image is acceptable: an upload the checks refuse is a
# correct 422, not a contract breach. Their statuses, headers and bodies are checked on every request.
UPLOADS = ["POST /v1/verify", "POST /v1/cameos", "POST /v1/rights/works"]


def _config(headers: dict[str, str]) -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "seed": 17,
        "generation": {"max-examples": 10, "deterministic": True, "database": "none"},
        "checks": {"enabled": True},
        "headers": headers,
        "workers": 1,
        "operations": [{"include-name": UPLOADS, "checks": {"positive_data_acceptance": {"enabled": False}}}],
    })


def run_contract(app, headers: dict[str, str]) -> tuple[list[str], int]:
    """Failures (one line each: operation, check, message head) and the number of requests sent."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(headers))
    failures: list[str] = []
    sent = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            sent += len(event.recorder.interactions)
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        f = check.failure_info.failure
                        failures.append(f"{f.operation} [{check.name}] {f.title}: {f.message.splitlines()[0][:200]}"
                                        if f.message else f"{f.operation} [{check.name}] {f.title}")
        elif isinstance(event, events.NonFatalError):
            failures.append(f"{event.label} [error] {event.info.title}: {event.info.message[:300]}")
        elif isinstance(event, events.FatalError):
            raise event.exception
        elif isinstance(event, events.EngineFinished):
            failures += [f"{f.operation} [after_run] {f.title}" for f in event.failures]
    return sorted(set(failures)), sent


@pytest.mark.parametrize("role", ROLES)
def test_every_role_gets_the_contract(components, role: str) -> None:
    from api.app import create_app

    app = create_app(components=components, dispatch=lambda job_id: None)
    headers: dict[str, str] = {}
    if role != "anonymous":
        _, key = create_user(components.engine, role.replace("_", ""), role)
        headers = {"Authorization": f"Bearer {key}"}
    failures, sent = run_contract(app, headers)
    assert sent > 0
    assert not failures, f"{len(failures)} contract failures as {role}:\n" + "\n".join(failures)
