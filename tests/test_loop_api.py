"""After publication, through the API: the feed and its lineage, reports (de-duplicated, rate-limited, 404 for
what the reporter cannot see), the operators' queue and decisions with statements of reasons, appeals decided
by another operator, gate refusals' statements, and the transparency report."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from gate import jobs
from gate.models import AuditEntry, Job, JobStatus
from gate.moderation_models import Report
from gate.reports import REPORT_WINDOW_SECONDS, REPORTS_PER_WINDOW
from gate.users import create_user
from tests.loop_helpers import seed_clip

A, B, C, D = "a000000000000001", "b000000000000002", "c000000000000003", "d000000000000004"


@pytest.fixture
def loop(components):
    from api.app import create_app

    queued: list[str] = []
    client = TestClient(create_app(components=components, dispatch=queued.append))
    keys = {name: create_user(components.engine, name, role)[1] for name, role in [
        ("alice", "creator"), ("bob", "creator"), ("vera", "journalist"), ("olga", "operator"),
        ("otto", "operator")]}
    return client, keys, queued, components


def h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def events(c, subject: str) -> list[str]:
    with Session(c.engine) as s:
        return list(s.exec(select(AuditEntry.event).where(col(AuditEntry.subject) == subject)
                           .order_by(col(AuditEntry.seq))).all())


def banked(c, video_id: str) -> int:
    from safety.hashbank.models import BankEntry

    with Session(c.engine) as s:
        return len(s.exec(select(BankEntry).where(BankEntry.content_id == video_id)).all())


def test_feed_newest_first_with_cursor_scopes_and_lineage(loop) -> None:
    client, keys, _, c = loop
    seed_clip(c, A, "alice", age_minutes=30)
    seed_clip(c, B, "bob", remix=A, age_minutes=20)
    seed_clip(c, C, "alice", remix=B, age_minutes=10)
    seed_clip(c, D, "alice", status=JobStatus.BLOCKED)  # never in the feed
    r = client.get("/v1/feed?limit=2", headers=h(keys["vera"]))
    assert r.status_code == 200, r.text
    page = r.json()
    assert [i["id"] for i in page["items"]] == [C, B] and page["next_cursor"]
    assert [s["id"] for s in page["items"][0]["lineage"]] == [B, A]  # remix of B by bob, down to the original
    assert page["items"][0]["lineage"][0]["creator"] == "bob" and page["items"][1]["remixes"] == 1
    rest = client.get(f"/v1/feed?limit=2&cursor={page['next_cursor']}", headers=h(keys["vera"])).json()
    assert [i["id"] for i in rest["items"]] == [A] and rest["next_cursor"] is None
    mine = client.get("/v1/feed?scope=mine", headers=h(keys["bob"])).json()
    assert [i["id"] for i in mine["items"]] == [B]
    theirs = client.get("/v1/feed?scope=creator&creator=alice", headers=h(keys["bob"])).json()
    assert [i["id"] for i in theirs["items"]] == [C, A]
    assert client.get(theirs["items"][0]["video_url"], headers=h(keys["bob"])).status_code == 200
    assert client.get("/v1/feed?cursor=not-a-cursor", headers=h(keys["bob"])).status_code == 422
    assert client.get("/v1/feed?scope=creator", headers=h(keys["bob"])).status_code == 422
    assert client.get("/v1/feed?scope=everything", headers=h(keys["bob"])).status_code == 422
    assert client.get("/v1/feed").status_code == 401


def test_cameo_owner_sees_every_clip_showing_them_remixes_of_remixes_included(loop) -> None:
    from consent.models import Appearance, Cameo

    client, keys, _, c = loop
    seed_clip(c, A, "alice", age_minutes=30)
    seed_clip(c, B, "bob", remix=A, age_minutes=20)
    seed_clip(c, C, "alice", remix=B, age_minutes=10)
    seed_clip(c, D, "bob", age_minutes=5)  # shows someone else
    with Session(c.engine) as s:
        cameo = Cameo(handle="vera.v", owner="vera", permission="everyone")
        s.add(cameo)
        s.commit()
        s.add(Appearance(cameo_id=cameo.id, video_id=A, creator="alice", status="published"))
        s.commit()
    r = client.get("/v1/feed?scope=showing_me", headers=h(keys["vera"])).json()
    assert [i["id"] for i in r["items"]] == [C, B, A] and all(i["shows_you"] for i in r["items"])
    # a restricted one stays in their view, and leaves everyone else's
    r = client.post(f"/v1/clips/{C}/decision", headers=h(keys["olga"]),
                    json={"action": "restrict", "ground": "harassment", "facts": "mocks the person"})
    assert r.status_code == 200, r.text
    assert C in [i["id"] for i in client.get("/v1/feed?scope=showing_me", headers=h(keys["vera"])).json()["items"]]
    assert C not in [i["id"] for i in client.get("/v1/feed", headers=h(keys["bob"])).json()["items"]]
    assert C in [i["id"] for i in client.get("/v1/feed", headers=h(keys["alice"])).json()["items"]]  # her own


def test_reports_dedup_404_422_and_429(loop, monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    from types import SimpleNamespace

    from gate import ratelimit

    # the reporters' windows are fixed: hold the limiter's clock mid-window so the flood cannot straddle two
    mid = time.time() // REPORT_WINDOW_SECONDS * REPORT_WINDOW_SECONDS + REPORT_WINDOW_SECONDS / 2
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: mid))
    client, keys, _, c = loop
    seed_clip(c, A, "alice")
    seed_clip(c, B, "alice", status=JobStatus.REVIEW)
    r = client.post("/v1/reports", headers=h(keys["bob"]), json={"video_id": A, "category": "violence", "text": "x"})
    assert r.status_code == 201 and r.json()["new"] is True
    again = client.post("/v1/reports", headers=h(keys["bob"]), json={"video_id": A, "category": "hate"})
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"] and again.json()["category"] == "violence"
    for vid in ("f" * 16, B):  # missing, and not published (a draft in review is not the reporter's to see)
        nf = client.post("/v1/reports", headers=h(keys["bob"]), json={"video_id": vid, "category": "violence"})
        assert nf.status_code == 404, nf.text
    assert client.post("/v1/reports", headers=h(keys["bob"]),
                       json={"video_id": A, "category": "ugly"}).status_code == 422
    assert client.post("/v1/reports", headers=h(keys["bob"]),
                       json={"video_id": "../etc", "category": "hate"}).status_code == 422
    with Session(c.engine) as s:
        assert len(s.exec(select(Report)).all()) == 1
    # a flood: the reporter's budget runs out (429 with Retry-After), nothing past it is stored
    codes = [client.post("/v1/reports", headers=h(keys["vera"]), json={"video_id": A, "category": "hate"}).status_code
             for _ in range(REPORTS_PER_WINDOW + 2)]
    assert codes[0] == 201 and codes[-1] == 429 and codes.count(429) == 2
    flood = client.post("/v1/reports", headers=h(keys["vera"]), json={"video_id": A, "category": "hate"})
    assert flood.status_code == 429 and int(flood.headers["Retry-After"]) > 0
    assert client.post("/v1/reports", headers=h(keys["bob"]),
                       json={"video_id": A, "category": "hate"}).status_code == 200  # another reporter's budget


def test_queue_orders_by_severity_reporters_reach_and_is_for_operators(loop) -> None:
    client, keys, _, c = loop
    for vid in (A, B, C):
        seed_clip(c, vid, "alice")
    seed_clip(c, D, "bob", remix=C)  # C has reach 1
    client.post("/v1/reports", headers=h(keys["bob"]), json={"video_id": A, "category": "copyright"})
    client.post("/v1/reports", headers=h(keys["vera"]), json={"video_id": A, "category": "copyright"})
    client.post("/v1/reports", headers=h(keys["bob"]), json={"video_id": B, "category": "copyright"})
    client.post("/v1/reports", headers=h(keys["bob"]), json={"video_id": C, "category": "copyright"})
    client.post("/v1/reports", headers=h(keys["vera"]), json={"video_id": D, "category": "sexual/minors"})
    assert client.get("/v1/reports/queue", headers=h(keys["bob"])).status_code == 403
    q = client.get("/v1/reports/queue", headers=h(keys["olga"])).json()
    assert [i["video_id"] for i in q] == [D, A, C, B]  # severity, then 2 reporters, then reach 1, then reach 0
    assert q[0]["lineage"][0]["id"] == C and q[0]["gate_decisions"][0]["name"] == "prompt"
    assert q[1]["reporters"] == 2 and len(q[1]["reports"]) == 2 and q[2]["reach"] == 1


def test_takedown_statement_appeal_and_reversal_by_another_operator(loop) -> None:
    client, keys, _, c = loop
    seed_clip(c, A, "alice")
    client.post("/v1/reports", headers=h(keys["bob"]), json={"video_id": A, "category": "harassment", "text": "mean"})
    bad = client.post(f"/v1/clips/{A}/decision", headers=h(keys["olga"]),
                      json={"action": "delete", "ground": "harassment", "facts": "x"})
    assert bad.status_code == 422
    assert client.post(f"/v1/clips/{A}/decision", headers=h(keys["alice"]),
                       json={"action": "take_down", "ground": "harassment", "facts": "abc"}).status_code == 403
    assert client.post(f"/v1/clips/{'e' * 16}/decision", headers=h(keys["olga"]),
                       json={"action": "take_down", "ground": "harassment", "facts": "abc"}).status_code == 404
    r = client.post(f"/v1/clips/{A}/decision", headers=h(keys["olga"]),
                    json={"action": "take_down", "ground": "harassment", "facts": "it targets a classmate by name"})
    assert r.status_code == 200, r.text
    st = r.json()
    assert st["decision"] == "take_down" and st["automated"] is False and st["ground"] == "harassment"
    assert st["reports_closed"] == 1 and st["appealable"] and "appeal" in st["how_to_appeal"]
    assert client.post(f"/v1/clips/{A}/decision", headers=h(keys["olga"]),
                       json={"action": "keep", "ground": "harassment", "facts": "again"}).status_code == 409
    assert client.get(f"/v1/generations/{A}/video", headers=h(keys["bob"])).status_code == 404
    assert banked(c, A) > 0  # its hashes went into the removed bank (stay-down)
    # the creator reads it; nobody else does
    mine = client.get("/v1/statements", headers=h(keys["alice"])).json()
    assert [s["id"] for s in mine] == [st["id"]] and mine[0]["facts"] == "it targets a classmate by name"
    assert client.get(f"/v1/statements/{st['id']}", headers=h(keys["bob"])).status_code == 404
    assert client.get("/v1/statements", headers=h(keys["bob"])).json() == []
    reps = client.get("/v1/reports", headers=h(keys["bob"])).json()
    assert reps[0]["status"] == "actioned" and reps[0]["statement_id"] == st["id"]
    # the appeal: once, by the creator only
    path = f"/v1/statements/{st['id']}/appeal"
    assert client.post(path, headers=h(keys["bob"]), json={"text": "not mine but wrong"}).status_code == 404
    ap = client.post(path, headers=h(keys["alice"]), json={"text": "it is a scene from a school play"})
    assert ap.status_code == 201, ap.text
    assert client.post(path, headers=h(keys["alice"]), json={"text": "again"}).status_code == 409
    assert client.post(path, headers=h(keys["alice"]), json={"text": ""}).status_code == 422
    appeal_id = ap.json()["id"]
    assert [a["id"] for a in client.get("/v1/appeals", headers=h(keys["otto"])).json()] == [appeal_id]
    decision = f"/v1/appeals/{appeal_id}/decision"
    same = client.post(decision, headers=h(keys["olga"]), json={"outcome": "reverse", "reason": "my own call"})
    assert same.status_code == 403, same.text  # the operator who took the decision may not decide the appeal
    by_creator = client.post(decision, headers=h(keys["alice"]), json={"outcome": "reverse", "reason": "x" * 5})
    assert by_creator.status_code == 403
    assert client.post("/v1/appeals/999/decision", headers=h(keys["otto"]),
                       json={"outcome": "reverse", "reason": "nope"}).status_code == 404
    done = client.post(decision, headers=h(keys["otto"]), json={"outcome": "reverse", "reason": "a play, staged"})
    assert done.status_code == 200, done.text
    assert done.json()["appeal"]["status"] == "reversed" and done.json()["restored"] == [A]
    assert done.json()["statement"]["decision"] == "restore" and done.json()["statement"]["appealable"] is False
    again = client.post(decision, headers=h(keys["otto"]), json={"outcome": "uphold", "reason": "again"})
    assert again.status_code == 409
    assert banked(c, A) == 0  # the reversal lifted it from the removed bank
    assert client.get(f"/v1/generations/{A}/video", headers=h(keys["bob"])).status_code == 200  # published again
    assert not c.storage.exists(f"held/{A}.mp4")
    ev = events(c, A)
    for e in ("report.filed", "job.taken_down", "statement.issued", "clip.take_down", "appeal.filed",
              "appeal.decided"):
        assert e in ev
    assert ev.index("report.filed") < ev.index("clip.take_down") < ev.index("appeal.filed") < ev.index("appeal.decided")


def test_keep_and_restrict_close_reports_and_restrict_hides_from_others(loop) -> None:
    client, keys, _, c = loop
    seed_clip(c, A, "alice")
    seed_clip(c, B, "alice")
    client.post("/v1/reports", headers=h(keys["bob"]), json={"video_id": A, "category": "deception"})
    client.post("/v1/reports", headers=h(keys["bob"]), json={"video_id": B, "category": "deception"})
    kept = client.post(f"/v1/clips/{A}/decision", headers=h(keys["olga"]),
                       json={"action": "keep", "ground": "deception", "facts": "plainly a cartoon"}).json()
    assert kept["decision"] == "keep" and kept["appealable"] is False
    client.post(f"/v1/clips/{B}/decision", headers=h(keys["olga"]),
                json={"action": "restrict", "ground": "deception", "facts": "looks like news footage"})
    statuses = {r["video_id"]: r["status"] for r in client.get("/v1/reports", headers=h(keys["bob"])).json()}
    assert statuses == {A: "dismissed", B: "actioned"}
    assert client.get("/v1/reports/queue", headers=h(keys["olga"])).json() == []
    assert client.post("/v1/reports", headers=h(keys["vera"]),
                       json={"video_id": B, "category": "hate"}).status_code == 404  # restricted: not visible
    assert client.post("/v1/reports", headers=h(keys["vera"]),
                       json={"video_id": A, "category": "hate"}).status_code == 201


def test_gate_refusal_gets_a_statement_and_its_appeal_is_recorded(loop) -> None:
    client, keys, _, c = loop
    with Session(c.engine) as s:
        s.add(Job(id=D, user="bob", status=JobStatus.RUNNING, request={"prompt": "x"}, attempts=1))
        s.commit()
    decisions = [{"name": "prompt", "decision": "block", "reasons": ["violence/graphic p=0.93"],
                  "scores": {"violence/graphic": 0.93, "violence": 0.7}}]
    assert jobs._finish(c, D, JobStatus.BLOCKED, decisions, ["prompt: violence/graphic p=0.93"], attempt=1) == "blocked"
    st = client.get(f"/v1/statements?video_id={D}", headers=h(keys["bob"])).json()
    today = __import__("datetime").datetime.now(__import__("datetime").UTC).date().isoformat()
    t = client.get(f"/v1/transparency?since={today}&until={today}", headers=h(keys["bob"])).json()
    assert t["held_or_refused_per_stage_and_ground"] == {"prompt": {"violence/graphic": 1}}
    assert t["decisions_per_ground"] == {"violence/graphic": {"refuse": 1}}
    assert len(st) == 1 and st[0]["decision"] == "refuse" and st[0]["automated"] is True
    assert st[0]["ground"] == "violence/graphic" and "prompt" in st[0]["facts"] and st[0]["appealable"]
    ap = client.post(f"/v1/statements/{st[0]['id']}/appeal", headers=h(keys["bob"]), json={"text": "a war film"})
    out = client.post(f"/v1/appeals/{ap.json()['id']}/decision", headers=h(keys["olga"]),
                      json={"outcome": "reverse", "reason": "historical context"}).json()
    assert out["statement"]["decision"] == "reverse_refusal" and out["appeal"]["status"] == "reversed"


def test_transparency_report_counts_each_step(loop) -> None:
    client, keys, _, c = loop
    seed_clip(c, A, "alice")
    client.post("/v1/reports", headers=h(keys["bob"]), json={"video_id": A, "category": "likeness"})
    st = client.post(f"/v1/clips/{A}/decision", headers=h(keys["olga"]),
                     json={"action": "take_down", "ground": "likeness", "facts": "shows a real person"}).json()
    ap = client.post(f"/v1/statements/{st['id']}/appeal", headers=h(keys["alice"]), json={"text": "it is me"}).json()
    assert client.post(f"/v1/appeals/{ap['id']}/decision", headers=h(keys["otto"]),
                       json={"outcome": "reverse", "reason": "her own selfie"}).status_code == 200
    from datetime import UTC, datetime

    today = datetime.now(UTC).date().isoformat()
    r = client.get(f"/v1/transparency?since={today}&until={today}", headers=h(keys["vera"]))
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["reports"]["received"] == 1 and t["reports"]["actioned"] == 1
    assert t["reports"]["median_seconds_to_action"] is not None
    assert t["appeals"] == t["appeals"] | {"filed": 1, "decided": 1, "reversed": 1, "upheld": 0}
    assert t["takedowns_by_cause"] == {"operator:likeness": 1}
    assert t["automated_vs_human"]["statements_human"] == 2
    assert t["decisions_per_ground"]["likeness"] == {"take_down": 1, "restore": 1}
    assert t["decisions_per_actor"] == {"olga": 1, "otto": 1}
    assert client.get("/v1/transparency?since=2026-13-01&until=x", headers=h(keys["vera"])).status_code == 422
    assert client.get(f"/v1/transparency?since={today}&until=2020-01-01", headers=h(keys["vera"])).status_code == 422


def test_cli_transparency_report(loop) -> None:
    from datetime import UTC, datetime

    from click.testing import CliRunner

    from api.cli import cli

    client, keys, _, c = loop
    seed_clip(c, A, "alice")
    client.post("/v1/reports", headers=h(keys["bob"]), json={"video_id": A, "category": "sexual"})
    client.post(f"/v1/clips/{A}/decision", headers=h(keys["olga"]),
                json={"action": "take_down", "ground": "sexual", "facts": "nudity in the last second"})
    today = datetime.now(UTC).date().isoformat()
    r = CliRunner().invoke(cli, ["report", "transparency", "--since", today, "--until", today, "--json"], obj={})
    assert r.exit_code == 0, r.output
    out = __import__("json").loads(r.output)
    assert out["reports"]["received"] == 1 and out["takedowns_by_cause"] == {"operator:sexual": 1}
    human = CliRunner().invoke(cli, ["report", "transparency", "--since", today, "--until", today], obj={})
    assert "Reports: 1 received from 1 people, 1 actioned" in human.output
    assert "Takedowns: 1 (operator:sexual 1)" in human.output
    bad = CliRunner().invoke(cli, ["report", "transparency", "--since", today, "--until", "2001-01-01"], obj={})
    assert bad.exit_code == 2 and "until" in bad.output


def test_a_restricted_clip_cannot_be_remixed_by_others(loop) -> None:
    client, keys, queued, c = loop
    seed_clip(c, A, "alice")
    client.post(f"/v1/clips/{A}/decision", headers=h(keys["olga"]),
                json={"action": "restrict", "ground": "deception", "facts": "passes for news footage"})
    r = client.post("/v1/generations", headers=h(keys["bob"]), json={"prompt": "make it blue", "remix": A})
    assert r.status_code == 404 and queued == []
    assert client.post("/v1/generations", headers=h(keys["alice"]),
                       json={"prompt": "make it blue", "remix": A}).status_code == 202


def test_takedown_of_a_missing_or_taken_down_clip_is_a_4xx_and_keeps_the_appeal_copy(loop) -> None:
    client, keys, _, c = loop
    seed_clip(c, A, "alice")
    for bad in ("<", "a b", "f" * 16):
        assert client.post(f"/v1/generations/{bad}/takedown", headers=h(keys["olga"]),
                           json={"reason": "test"}).status_code == 404
    first = client.post(f"/v1/generations/{A}/takedown", headers=h(keys["olga"]), json={"reason": "spam"})
    assert first.status_code == 200
    assert c.storage.exists(f"held/{A}.mp4")
    again = client.post(f"/v1/generations/{A}/takedown", headers=h(keys["otto"]), json={"reason": "spam"})
    assert again.status_code == 409 and c.storage.exists(f"held/{A}.mp4")  # the first takedown's copy stays
    (st,) = client.get(f"/v1/statements?video_id={A}", headers=h(keys["alice"])).json()
    assert st["decision"] == "take_down" and st["ground"] == "other" and st["appealable"]
