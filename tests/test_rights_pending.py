"""Common-word names wait for an operator (issue 17, hole 10): a rights holder who registers "ball" must
not block every prompt that says ball. Such names are stored pending; the prompt gate ignores them until an
operator approves them (API); the reference images are matched at once."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gate import jobs
from gate.rights import common_name
from gate.stages.prompt import registered_characters
from gate.users import create_user
from tests.conftest import FIXTURES

IMG = FIXTURES / "copyright" / "rocket_400.jpg"


@pytest.fixture
def api(components):
    from api.app import create_app

    app = create_app(components=components, dispatch=lambda job_id: None)
    keys = {n: create_user(components.engine, n, r)[1]
            for n, r in [("alice", "creator"), ("rita", "rights_holder"), ("olga", "operator")]}
    return TestClient(app), {n: {"Authorization": f"Bearer {k}"} for n, k in keys.items()}, components


def register(client, hdr, name: str, aliases: list[str]) -> dict:
    r = client.post("/v1/rights/works", headers=hdr, data={"name": name, "aliases": aliases, "policy": "block"},
                    files=[("images", ("rocket.jpg", IMG.read_bytes(), "image/jpeg"))])
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.parametrize(("name", "common"), [("ball", True), ("City", True), ("red ball", True), ("b4ll", True),
                                              ("Captain Zorblax", False), ("Zorblax", False), ("Go Gopher", False)])
def test_common_name_uses_word_frequency(name: str, common: bool) -> None:
    assert common_name(name, 3.5) is common


def test_common_names_are_pending_and_ignored_by_the_prompt_gate(api) -> None:
    client, h, c = api
    work = register(client, h["rita"], "Captain Zorblax", ["Zorblax", "city"])
    assert work["pending_names"] == ["city"]
    solo = register(client, h["rita"], "Ball", [])
    assert solo["pending_names"] == ["Ball"]
    names, by_name = registered_characters(c)
    assert names == {"Captain Zorblax": ["Zorblax"]}  # "city" and "Ball" are not matched in prompts
    assert "ball" not in by_name and "city" not in by_name
    listed = {w["name"]: w["pending_names"] for w in client.get("/v1/rights/works", headers=h["rita"]).json()}
    assert listed == {"Captain Zorblax": ["city"], "Ball": ["Ball"]}


def test_prompt_with_a_pending_name_is_not_blocked_until_approved(api) -> None:
    client, h, c = api
    work = register(client, h["rita"], "Ball", [])

    def run(prompt: str) -> tuple[str, list[str]]:
        r = client.post("/v1/generations", headers=h["alice"], json={"prompt": prompt, "seconds": 2})
        assert r.status_code == 202, r.text
        status = jobs.run_job(c, r.json()["id"])
        return status, jobs.get_job(c, r.json()["id"]).reasons

    status, reasons = run("a Ball bouncing on a wooden floor")
    assert not [x for x in reasons if "registered character" in x], reasons
    # only operators approve; the holder cannot approve their own
    assert client.post(f"/v1/rights/works/{work['id']}/approve-names", headers=h["rita"]).status_code == 403
    r = client.post(f"/v1/rights/works/{work['id']}/approve-names", headers=h["olga"])
    assert r.status_code == 200 and r.json()["approved"] == ["Ball"] and r.json()["pending_names"] == []
    status, reasons = run("a Ball bouncing on a wooden floor")
    assert status == "blocked" and any("registered character 'Ball'" in x for x in reasons), reasons


def test_approving_an_unknown_work_is_404(api) -> None:
    client, h, _ = api
    assert client.post("/v1/rights/works/999/approve-names", headers=h["olga"]).status_code == 404
    assert client.post("/v1/rights/works/0/approve-names", headers=h["olga"]).status_code == 422


def test_operator_approves_in_the_console(api) -> None:
    from tests.web_helpers import Browser

    client, h, c = api
    work = register(client, h["rita"], "Ball", ["Ballzorp"])
    assert work["pending_names"] == ["Ball"]
    keys = {n: hdr["Authorization"].removeprefix("Bearer ") for n, hdr in h.items()}
    holder = Browser(client.app).sign_in(keys["rita"])
    assert "not checked in prompts until an operator approves them: Ball" in holder.get("/rights").text
    assert holder.get("/ops/names").status_code == 403
    ops = Browser(client.app).sign_in(keys["olga"])
    page = ops.get("/ops/names").text
    assert "Ball" in page and f'action="/ops/names/{work["id"]}/approve"' in page
    assert registered_characters(c)[0] == {"Ballzorp": []}  # the uncommon alias works already
    r = ops.post(f"/ops/names/{work['id']}/approve", token_from="/ops/names")
    assert r.status_code == 303 and r.headers["location"] == "/ops/names"
    assert registered_characters(c)[0] == {"Ball": ["Ballzorp"]}
    assert "No work names are waiting." in ops.get("/ops/names").text
    assert ops.post("/ops/names/999/approve", token_from="/ops/names").status_code == 404
