"""Rights API: holders manage only their own works, bad registrations store nothing, and each holder sees
the gate decisions that named their own works (by work id, not by name).

Two holders register works with the same name; a creator's prompt names it. Each holder sees the decision
for their own work, a third holder sees nothing, and deleting a work removes its rows only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gate import jobs
from gate.users import create_user
from tests.conftest import FIXTURES

IMG = FIXTURES / "copyright" / "rocket_400.jpg"


@pytest.fixture
def api(components):
    from api.app import create_app

    app = create_app(components=components, dispatch=lambda job_id: None)
    keys = {n: create_user(components.engine, n, r)[1]
            for n, r in [("alice", "creator"), ("rita", "rights_holder"), ("ralf", "rights_holder"),
                         ("rosa", "rights_holder")]}
    return TestClient(app), {n: {"Authorization": f"Bearer {k}"} for n, k in keys.items()}, components


def register(client, hdr, policy: str) -> int:
    r = client.post("/v1/rights/works", headers=hdr, data={"name": "Captain Zorblax", "aliases": ["Zorblax"],
                                                           "policy": policy},
                    files=[("images", ("rocket.jpg", IMG.read_bytes(), "image/jpeg"))])
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_each_holder_sees_decisions_for_their_own_work(api) -> None:
    client, h, c = api
    rita_work = register(client, h["rita"], "block")
    register(client, h["ralf"], "review")
    r = client.post("/v1/generations", headers=h["alice"], json={"prompt": "zorblax flying over a city", "seconds": 2})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    assert jobs.run_job(c, job_id) == "blocked"

    for who in ("rita", "ralf"):
        rows = client.get("/v1/rights/decisions", headers=h[who]).json()
        assert [(d["video_id"], d["stage"], d["decision"], d["works"]) for d in rows] == \
            [(job_id, "prompt", "block", ["Captain Zorblax"])], who
    assert client.get("/v1/rights/decisions", headers=h["rosa"]).json() == []

    assert client.delete(f"/v1/rights/works/{rita_work}", headers=h["rita"]).status_code in (200, 204)
    assert client.get("/v1/rights/decisions", headers=h["rita"]).json() == []
    assert len(client.get("/v1/rights/decisions", headers=h["ralf"]).json()) == 1


def test_one_row_per_stage_and_work_keeping_the_first_score() -> None:
    decisions = [{"name": "prompt", "decision": "review", "evidence": [{"works": [{"work_id": 3, "score": 0.9}]}]},
                 {"name": "copyright", "decision": "block", "evidence": [{"work_id": 3, "score": 0.8},
                                                                         {"work_id": 3, "score": 0.7}]}]
    rows = jobs.rights_decisions("00000000000000aa", decisions)
    assert sorted((r.stage, r.work_id, r.decision, r.score) for r in rows) == \
        [("copyright", 3, "block", 0.8), ("prompt", 3, "review", 0.9)]


def work_count(c) -> int:
    from sqlmodel import Session, func, select

    from safety.copyright.models import Work, WorkReference

    with Session(c.engine) as s:
        return s.exec(select(func.count()).select_from(Work)).one() + \
            s.exec(select(func.count()).select_from(WorkReference)).one()


def _png_bomb() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buf, format="PNG")  # ~50 kB on disk, 400 M pixels decoded
    return buf.getvalue()


@pytest.mark.parametrize(("who", "data", "image", "code", "needle"), [
    ("rita", {"name": "Bomb"}, ("b.png", _png_bomb), 422, "pixel"),
    ("rita", {"name": "Empty"}, ("e.png", lambda: b""), 422, "empty"),
    ("rita", {"name": "x" * 5000}, ("r.jpg", IMG.read_bytes), 422, "5000 characters"),
    ("rita", {"name": "Junk"}, ("j.png", lambda: b"\x89PNG\r\n\x1a\n not really"), 422, "image"),
    ("alice", {"name": "Not a holder"}, ("r.jpg", IMG.read_bytes), 403, "rights_holder"),
])
def test_bad_registrations_are_4xx_and_store_nothing(api, who, data, image, code, needle) -> None:
    client, h, c = api
    r = client.post("/v1/rights/works", headers=h[who], data={"policy": "block", **data},
                    files=[("images", (image[0], image[1](), "image/png"))])
    assert r.status_code == code and needle in r.json()["detail"], r.text
    assert work_count(c) == 0


def test_a_holder_cannot_register_or_delete_for_another(api) -> None:
    client, h, c = api
    r = client.post("/v1/rights/works", headers=h["rita"], data={"name": "Mine", "owner": "ralf"},
                    files=[("images", ("r.jpg", IMG.read_bytes(), "image/jpeg"))])
    assert r.status_code == 201
    work_id = r.json()["id"]
    assert [w["owner"] for w in client.get("/v1/rights/works", headers=h["rita"]).json()] == ["rita"]
    assert client.get("/v1/rights/works", headers=h["ralf"]).json() == []
    assert client.delete(f"/v1/rights/works/{work_id}", headers=h["ralf"]).status_code == 404
    assert len(client.get("/v1/rights/works", headers=h["rita"]).json()) == 1
