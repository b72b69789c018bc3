"""Console pages of the loop after publication (no browser): each page renders for its role and refuses others,
forms carry CSRF, bad input gets a page with a 4xx and changes nothing."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from gate.moderation_models import Appeal, Report
from gate.users import create_user
from tests.loop_helpers import seed_clip
from tests.web_helpers import Browser

CLIP, REMIX = "f100000000000001", "f200000000000002"


@pytest.fixture
def site(components):
    from api.app import create_app

    app = create_app(components=components, dispatch=lambda _id: None)
    keys = {n: create_user(components.engine, n, r)[1] for n, r in [
        ("alice", "creator"), ("bob", "creator"), ("olga", "operator"), ("otto", "operator")]}
    seed_clip(components, CLIP, "alice", prompt="a yellow square", age_minutes=5)
    seed_clip(components, REMIX, "bob", remix=CLIP, prompt="a red square")
    return app, keys, components


def test_feed_page_shows_player_remix_lineage_and_report_form(site) -> None:
    app, keys, _ = site
    bob = Browser(app).sign_in(keys["bob"])
    page = bob.get("/feed").text
    assert f'src="/jobs/{CLIP}/video"' in page and f'href="/create?remix={CLIP}"' in page
    assert f"remix of <code>{CLIP}</code> by alice" in page
    assert page.count("Report this clip") == 1  # not on his own remix
    assert bob.get("/feed?scope=mine").text.count("<video") == 1


def test_report_decide_statement_appeal_through_the_console(site) -> None:
    app, keys, c = site
    bob = Browser(app).sign_in(keys["bob"])
    r = bob.post(f"/clips/{CLIP}/report", {"category": "nonsense", "back": "/feed"}, token_from="/feed")
    assert r.status_code == 422
    r = bob.post(f"/clips/{'0' * 16}/report", {"category": "hate"}, token_from="/feed")
    assert r.status_code == 404
    r = bob.post(f"/clips/{CLIP}/report", {"category": "hate", "text": "slur at 0:01", "back": "//evil"},
                 token_from="/feed")
    assert r.status_code == 303 and r.headers["location"] == "/feed"
    with Session(c.engine) as s:
        assert len(s.exec(select(Report)).all()) == 1
    assert bob.get("/ops/reports").status_code == 403
    olga = Browser(app).sign_in(keys["olga"])
    queue = olga.get("/ops/reports").text
    assert "slur at 0:01" in queue and CLIP in queue
    bad = olga.post(f"/ops/reports/{CLIP}/decision", {"action": "take_down", "ground": "hate", "facts": ""},
                    token_from="/ops/reports")
    assert bad.status_code == 422
    ok = olga.post(f"/ops/reports/{CLIP}/decision", {"action": "take_down", "ground": "hate",
                                                     "facts": "a slur in the speech"}, token_from="/ops/reports")
    assert ok.status_code == 303
    alice = Browser(app).sign_in(keys["alice"])
    page = alice.get("/statements").text
    assert "a slur in the speech" in page and "Appeal this decision" in page
    st_id = page.split('action="/statements/')[1].split("/")[0]
    assert alice.post(f"/statements/{st_id}/appeal", {"text": " \u200b "}, token_from="/statements").status_code == 422
    assert alice.post(f"/statements/{st_id}/appeal", {"text": "a quote, not a slur"},
                      token_from="/statements").status_code == 303
    assert alice.post(f"/statements/{st_id}/appeal", {"text": "again please"},
                      token_from="/statements").status_code == 409
    with Session(c.engine) as s:
        (appeal,) = s.exec(select(Appeal)).all()
    same = olga.post(f"/ops/appeals/{appeal.id}/decision", {"outcome": "reverse", "reason": "mine"},
                     token_from="/ops/appeals")
    assert same.status_code == 403 and "Another operator must decide" in same.text
    otto = Browser(app).sign_in(keys["otto"])
    assert CLIP in otto.get("/ops/appeals").text
    done = otto.post(f"/ops/appeals/{appeal.id}/decision", {"outcome": "uphold", "reason": "it is a slur"},
                     token_from="/ops/appeals")
    assert done.status_code == 303
    page = alice.get(f"/statements?video_id={CLIP}").text
    assert "the decision stands" in page and "upheld" in page
    t = otto.get("/transparency").text
    assert "1 filed, 1 decided, 1 upheld, 0 reversed" in t and "operator:hate 1" in t
