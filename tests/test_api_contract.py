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


# Where a schema-valid request may still be a correct 422, because JSON Schema cannot state the rule.
# positive_data_acceptance then also accepts 422 (every other check, and its other statuses, still apply):
# * routes that take a media file: the schema can only say "a binary file" (`format: binary`), so any bytes
#   are schema-valid, yet only a real, decodable video or image is acceptable (the file checks refuse it);
# * PUT /v1/policy: a threshold's block must not be below its review bar, a relation between two fields
#   that JSON Schema has no keyword for (the schema's description says it).
# * POST /v1/banks/check takes a media file as above; POST /v1/banks/{name}/import a bank file, any text of
#   which is schema-valid, yet one bad line refuses it.
# * GET /v1/feed: a cursor is a token the feed gave out (any other string is refused), and scope=creator needs
#   the creator's name; GET /v1/transparency: `until` must not be before `since` (two fields again).
SEMANTIC_422 = ["POST /v1/verify", "POST /v1/cameos", "POST /v1/rights/works", "PUT /v1/policy", "GET /v1/feed",
                "GET /v1/transparency",
                "POST /v1/banks/check", "POST /v1/banks/{name}/import"]
ACCEPTED_OR_422 = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]


# Rotating one's own key ends the key the run is using: that operation runs last, on its own.
ROTATE = "POST /v1/me/key"


def _config(headers: dict[str, str], only: str | None = None) -> schemathesis.Config:
    operations: list[dict] = [{"include-name": SEMANTIC_422,
                               "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_OR_422}}}]
    operations.append({"include-name": ROTATE, "enabled": only == ROTATE})
    return schemathesis.Config.from_dict({
        "seed": 17,
        "generation": {"max-examples": 10, "deterministic": True, "database": "none"},
        "checks": {"enabled": True},
        "headers": headers,
        "workers": 1,
        "operations": operations,
    })


def run_contract(app, headers: dict[str, str], only: str | None = None) -> tuple[list[str], dict[str, int]]:
    """Failures (one line each: operation, check, message head) and the requests sent per operation."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(headers, only))
    if only is not None:
        schema = schema.include(name=only)
    failures: list[str] = []
    sent: dict[str, int] = {}
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            label = event.recorder.label
            sent[label] = sent.get(label, 0) + len(event.recorder.interactions)
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        f = check.failure_info.failure
                        head = f.message.splitlines()[0][:200] if f.message else ""
                        failures.append(f"{f.operation} [{check.name}] {f.title}: {head}")
        elif isinstance(event, events.NonFatalError):
            failures.append(f"{event.label} [error] {event.info.title}: {event.info.message[:300]}")
        elif isinstance(event, events.FatalError):
            raise event.exception
        elif isinstance(event, events.EngineFinished):
            failures += [f"{f.operation} [after_run] {f.title}" for f in event.failures]
    return sorted(set(failures)), sent


@pytest.fixture(scope="module")
def contract_app(tmp_path_factory: pytest.TempPathFactory):
    """One installation for the four roles (what one role creates, another then reads or is refused)."""
    import os

    from fastapi.testclient import TestClient

    from api.app import create_app
    from gate.components import Components, reset_components
    from gate.settings import Settings

    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("REELGATE_")]:
            mp.delenv(key)
        mp.setenv("REELGATE_DATA_DIR", str(tmp_path_factory.mktemp("contract") / "data"))
        c = Components(Settings())
        app = create_app(components=c, dispatch=lambda job_id: None)
        keys = {role: create_user(c.engine, role.replace("_", ""), role)[1] for role in ROLES if role != "anonymous"}
        # /health loads every model on its first call (tens of seconds on a busy CI core); that is start-up,
        # not the contract, so it happens here and the run keeps schemathesis' 10 s request timeout.
        assert TestClient(app).get("/health").status_code == 200
        yield app, keys
        c.engine.dispose()
        reset_components()


@pytest.mark.parametrize("role", ROLES)
def test_every_role_gets_the_contract(contract_app, role: str) -> None:
    app, keys = contract_app
    headers = {"Authorization": f"Bearer {keys[role]}"} if role in keys else {}
    failures, sent = run_contract(app, headers)
    operations = {f"{m.upper()} {p}" for p, item in app.openapi()["paths"].items() for m in item} - {ROTATE}
    assert all(sent.get(op) for op in operations), sorted(op for op in operations if not sent.get(op))
    assert not failures, f"{len(failures)} contract failures as {role}:\n" + "\n".join(failures)
    failures, sent = run_contract(app, headers, only=ROTATE)
    assert sent.get(ROTATE) and not failures, failures


@pytest.fixture
def creator_client(components):
    from fastapi.testclient import TestClient

    from api.app import create_app

    _, key = create_user(components.engine, "cara", "creator")
    app = create_app(components=components, dispatch=lambda job_id: None)
    return TestClient(app), {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize(("method", "path"), [
    ("put", "/v1/cameos/{}/permissions"), ("post", "/v1/cameos/{}/revoke"), ("get", "/v1/cameos/{}/appearances"),
    ("post", "/v1/cameos/{}/approvals"), ("delete", "/v1/cameos/{}/approvals/bob"),
    ("delete", "/v1/cameos/{}/appearances/00000000000000a1"), ("delete", "/v1/rights/works/{}"),
])
def test_ids_past_64_bits_are_a_422_not_a_500(creator_client, method: str, path: str) -> None:
    client, headers = creator_client
    body = {"put": {"permission": "everyone"}, "post": {"user": "bob"}}.get(method)
    for bad in (2**64, 2**63, 0, -1):
        r = client.request(method, path.format(bad), json=body, headers=headers)
        assert r.status_code in (403, 422), (path, bad, r.status_code, r.text)  # rights: the role comes first
        assert isinstance(r.json()["detail"], str)
    r = client.request(method, path.format(2**63 - 1), json=body, headers=headers)
    assert r.status_code in (403, 404), r.text  # the largest id is a valid id: no such object


def test_405_lists_every_method_of_the_resource(creator_client) -> None:
    client, headers = creator_client
    r = client.request("PATCH", "/v1/cameos", headers=headers)
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} >= {"GET", "POST"}


def test_the_schema_states_the_validators_rules(components, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    from api.app import create_app
    from gate.requests import GenerationRequest, visible_pattern, visible_text

    pattern = re.compile(visible_pattern())
    for cp in list(range(0x3000)) + [0xFEFF, 0xFFFA, 0x110BD, 0x1D173, 0xE0001, 0xE0041, 0x1F600]:
        assert bool(pattern.search(chr(cp))) == bool(visible_text(chr(cp))), hex(cp)
    assert GenerationRequest(prompt="x", style=" Film noir", cameos=["@Alice.Cam"]).cameos == ["alice.cam"]
    for bad in ({"style": "x\n"}, {"cameos": [" alice"]}, {"remix": "0123456789abcdef\n"}, {"prompt": "\u200b \u2060"}):
        with pytest.raises(ValueError):
            GenerationRequest(**{"prompt": "a cat", **bad})
    monkeypatch.setattr(components.settings, "max_seconds", 7.5)
    props = create_app(components=components, dispatch=lambda j: None).openapi()["components"]["schemas"][
        "GenerationRequest"]["properties"]
    assert props["seconds"]["maximum"] == 7.5 and props["prompt"]["maxLength"] == components.settings.max_prompt_chars


def test_json_is_held_to_the_schema_types(components) -> None:
    """What the schema says is a number or a boolean is not taken from a string, a boolean or a 0."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    client = TestClient(create_app(components=components, dispatch=lambda job_id: None))
    creator = {"Authorization": f"Bearer {create_user(components.engine, 'cara', 'creator')[1]}"}
    operator = {"Authorization": f"Bearer {create_user(components.engine, 'otto', 'operator')[1]}"}
    for bad in ({"seconds": "5"}, {"seconds": True}, {"seed": "3"}, {"seed": True}):
        r = client.post("/v1/generations", json={"prompt": "a red ball", **bad}, headers=creator)
        assert r.status_code == 422, (bad, r.text)
    for good in ({"seconds": 3}, {"seed": 850.0}):  # JSON Schema's integer includes 850.0
        r = client.post("/v1/generations", json={"prompt": "a red ball", **good}, headers=creator)
        assert r.status_code == 202, (good, r.text)
    policy = client.get("/v1/policy", headers=operator).json()
    for bad in ({"visible_watermark": 0}, {"real_person_harm_bar": "0.3"}):
        r = client.put("/v1/policy", json={**policy, **bad}, headers=operator)
        assert r.status_code == 422, (bad, r.text)
    assert client.put("/v1/policy", json=policy, headers=operator).status_code == 200
