"""Web console: sign-in, sessions and CSRF, every page per role, form validation, and no cross-user leaks."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text
from sqlmodel import Session, func, select

from gate.models import AuditEntry, Job
from gate.users import create_user
from tests.conftest import FIXTURES
from tests.web_helpers import Browser

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


@pytest.fixture
def web(components):
    from api.app import create_app

    queued: list[str] = []
    app = create_app(components=components, dispatch=queued.append)
    keys = {}
    for name, role in [("alice", "creator"), ("bob", "creator"), ("olga", "operator"), ("rita", "rights_holder"),
                       ("ralf", "rights_holder"), ("jane", "journalist")]:
        _, keys[name] = create_user(components.engine, name, role)

    def browser(name: str | None = None) -> Browser:
        b = Browser(app)
        return b.sign_in(keys[name]) if name else b

    return browser, keys, queued, components


def job_count(c) -> int:
    with Session(c.engine) as s:
        return s.exec(select(func.count()).select_from(Job)).one()


def add_job(c, user: str, status: str, decisions: list | None = None, video: bytes | None = None,
            job_id: str = "00000000000000a1", prompt: str = "a secret draft about my cat") -> str:
    key = c.storage.put_bytes(f"videos/{job_id}.mp4", video) if video is not None else None
    with Session(c.engine) as s:
        s.add(Job(id=job_id, user=user, status=status, request={"prompt": prompt, "seconds": 2, "resolution": "480p"},
                  decisions=decisions or [], reasons=[], video_key=key))
        s.commit()
    return job_id


def tiny_mp4(path: Path, frames: int = 6, size: int = 64) -> bytes:
    import av

    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=12)
        st.width = st.height = size
        st.pix_fmt = "yuv420p"
        for i in range(frames):
            img = np.full((size, size, 3), (i * 40) % 255, dtype=np.uint8)
            for p in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    return path.read_bytes()


# --- sign-in, session, CSRF ------------------------------------------------------------------------

def test_sign_in_sets_a_signed_httponly_lax_cookie_without_the_key(web) -> None:
    browser, keys, _, _ = web
    b = Browser(browser().client.app)
    r = b.post("/signin", {"api_key": keys["alice"]}, token_from="/signin")
    assert r.status_code == 303 and r.headers["location"] == "/create"
    cookie = r.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert keys["alice"] not in cookie and keys["alice"][3:20] not in cookie
    page = b.get("/create")
    assert page.status_code == 200 and "alice" in page.text


@pytest.mark.parametrize(("key", "code", "needle"), [
    ("", 422, "Enter your API key"),
    ("hunter2", 401, "not an API key"),
    ("rg_" + "x" * 40, 401, "not valid or has been disabled"),
])
def test_sign_in_refuses_bad_keys_with_a_message(web, key, code, needle) -> None:
    browser, *_ = web
    b = browser()
    r = b.post("/signin", {"api_key": key}, token_from="/signin")
    assert r.status_code == code and needle in r.text
    assert b.get("/create").status_code == 303  # still signed out


def test_disabled_key_ends_the_session(web) -> None:
    browser, _, _, c = web
    b = browser("alice")
    assert b.get("/create").status_code == 200
    with Session(c.engine) as s:
        from gate.models import User

        u = s.exec(select(User).where(User.name == "alice")).one()
        u.disabled = True
        s.add(u)
        s.commit()
    r = b.get("/create")
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")


def test_sign_out_and_pages_need_sign_in_with_a_safe_return_path(web) -> None:
    browser, keys, _, _ = web
    b = browser("alice")
    assert b.post("/signout", token_from="/create").status_code == 303
    r = b.get("/jobs")
    assert r.status_code == 303 and r.headers["location"] == "/signin?next=%2Fjobs"
    # the return path is followed after sign-in, but never to another site
    r = b.post("/signin", {"api_key": keys["alice"], "next": "/jobs"}, token_from="/signin")
    assert r.headers["location"] == "/jobs"
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        b2 = browser()
        r = b2.post("/signin", {"api_key": keys["alice"], "next": evil}, token_from="/signin")
        assert r.headers["location"] == "/create", evil


@pytest.mark.parametrize("url", ["/signin", "/create", "/signout", "/verify", "/ops/policy", "/cameos/challenge"])
def test_forms_without_the_session_csrf_token_are_refused(web, url) -> None:
    browser, keys, _, c = web
    b = browser("olga")
    before = job_count(c)
    for token in (None, "forged-token", browser("alice").token("/create")):  # another session's token too
        data = {"prompt": "a cat", "api_key": keys["olga"]} | ({"csrf_token": token} if token else {})
        r = b.client.post(url, data=data, follow_redirects=False)
        assert r.status_code == 403, (url, token)
        assert "security token" in r.text and "Reload the page" in r.text
    assert job_count(c) == before
    assert b.get("/ops/review").status_code == 200  # the refused sign-out did not sign anyone out


def test_pages_have_lang_labels_and_no_external_scripts(web) -> None:
    browser, *_ = web
    b = browser("olga")
    for url in ["/create", "/jobs", "/ops/review", "/ops/policy", "/ops/audit", "/ops/dashboard", "/cameos",
                "/verify"]:
        html = b.get(url).text
        assert '<html lang="en">' in html and 'name="viewport"' in html, url
        assert not re.search(r'(src|href)="(https?:)?//', html), url  # nothing from a CDN
        for field in re.findall(r'<(?:input|select|textarea)\b[^>]*\bid="([^"]+)"', html):
            assert f'for="{field}"' in html or f'id="{field}" ' in html and "aria-label" in html, (url, field)
    js = b.get("/static/htmx.min.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert b.get("/static/htmx.LICENSE.txt").status_code == 200
    assert b.get("/static/..%2Fapp.py").status_code == 404


def test_wrong_role_gets_a_clear_403_page(web) -> None:
    browser, *_ = web
    alice, rita, jane = browser("alice"), browser("rita"), browser("jane")
    for b, url in [(alice, "/ops/review"), (alice, "/ops/policy"), (alice, "/rights"), (rita, "/create"),
                   (jane, "/ops/audit"), (rita, "/ops/health")]:
        r = b.get(url)
        assert r.status_code == 403 and "this page is for the role" in r.text, url
    assert jane.get("/verify").status_code == 200 and jane.get("/cameos").status_code == 200


# --- creator ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("form", "needle"), [
    ({"prompt": ""}, "write what the clip should show"),
    ({"prompt": ZERO_WIDTH}, "prompt is empty"),
    ({"prompt": "x" * 5000}, "too long"),
    ({"prompt": "a cat", "seconds": "abc"}, "must be a number of seconds"),
    ({"prompt": "a cat", "seconds": "0"}, "Length"),
    ({"prompt": "a cat", "seconds": "45"}, "at most 20"),
    ({"prompt": "a cat", "resolution": "4k"}, "Resolution"),
    ({"prompt": "a cat", "style": "<script>"}, "style must be a short word"),
    ({"prompt": "a cat", "cameos": "Not!A!Handle"}, "invalid cameo handle"),
    ({"prompt": "a cat", "cameos": "a1 b2 c3 d4 e5"}, "Cameos"),
    ({"prompt": "a cat", "remix": "../../etc/passwd"}, "16 hex"),
    ({"prompt": "a cat", "remix": "00112233445566ff"}, "no clip 00112233445566ff to remix"),
])
def test_create_form_validates_with_clear_messages_and_stores_nothing(web, form, needle) -> None:
    browser, _, queued, c = web
    b = browser("alice")
    r = b.post("/create", {"seconds": "5", "resolution": "480p"} | form, token_from="/create")
    assert r.status_code == 422
    assert needle in r.text, r.text[:3000]
    assert 'aria-invalid="true"' in r.text and "<script>" not in r.text.split("<main", 1)[1]
    assert job_count(c) == 0 and queued == []


def test_create_queues_a_job_and_shows_its_page(web) -> None:
    browser, _, queued, c = web
    b = browser("alice")
    r = b.post("/create", {"prompt": "a corgi surfing at sunset", "style": "cartoon", "seconds": "3",
                           "resolution": "480p", "cameos": "@Alice.Cam"}, token_from="/create")
    assert r.status_code == 303
    job_id = r.headers["location"].rsplit("/", 1)[1]
    assert queued == [job_id]
    job = c and __import__("gate.jobs", fromlist=["get_job"]).get_job(c, job_id)
    assert job.request["cameos"] == ["alice.cam"] and job.request["style"] == "cartoon"
    page = b.get(f"/jobs/{job_id}")
    assert "a corgi surfing at sunset" in page.text and "queued" in page.text
    assert 'http-equiv="refresh"' in page.text  # without JS the page reloads itself
    part = b.get(f"/jobs/{job_id}/progress")
    assert f'hx-get="/jobs/{job_id}/progress"' in part.text and "<html" not in part.text
    assert "hx-refresh" not in b.get(f"/jobs/{job_id}/progress", headers={"HX-Request": "true"}).headers


def test_queue_down_is_a_503_page_and_no_job(components) -> None:
    from api.app import create_app

    def broken(_: str) -> None:
        raise RuntimeError("broker gone")

    _, key = create_user(components.engine, "alice", "creator")
    b = Browser(create_app(components=components, dispatch=broken)).sign_in(key)
    r = b.post("/create", {"prompt": "a cat", "seconds": "2"}, token_from="/create")
    assert r.status_code == 503 and "queue is unavailable" in r.text
    assert job_count(components) == 0


def test_blocked_job_is_explained_in_words_and_polling_stops(web) -> None:
    browser, _, _, c = web
    decisions = [
        {"name": "prompt", "decision": "pass", "reasons": [], "seconds": 0.02},
        {"name": "consent", "decision": "pass", "reasons": [], "seconds": 0.0},
        {"name": "generate", "decision": "pass", "reasons": [], "seconds": 3.1},
        {"name": "frames", "decision": "block", "reasons": ["nudity score 0.91 in the generated frames"],
         "scores": {"nudity": 0.91}, "seconds": 1.2,
         "evidence": [{"frame": 3, "time": 0.25, "category": "nudity", "score": 0.91,
                       "boxes": [{"label": "FEMALE_BREAST_EXPOSED", "score": 0.9, "box": [10, 10, 20, 20]}]}]},
    ]
    job_id = add_job(c, "alice", "blocked", decisions)
    with Session(c.engine) as s:
        job = s.get(Job, job_id)
        job.reasons = ["frames: nudity score 0.91 in the generated frames"]
        s.add(job)
        s.commit()
    page = browser("alice").get(f"/jobs/{job_id}").text
    assert "The check found nudity in the generated frames, so the gate stopped the clip." in page
    assert "Frame 3 at 0.2 s: nudity" in page and "This frame was not kept" in page
    assert "hx-trigger" not in page and 'http-equiv="refresh"' not in page
    assert page.count('class="skipped"') == 5  # likeness .. publish never ran
    assert "<video" not in page
    part = browser("alice").get(f"/jobs/{job_id}/progress", headers={"HX-Request": "true"})
    assert part.headers.get("hx-refresh") == "true"  # htmx reloads the page once when the job is done


def test_evidence_frame_is_drawn_from_the_stored_clip(web, tmp_path) -> None:
    browser, _, _, c = web
    decisions = [{"name": "frames", "decision": "review", "reasons": ["violence score 0.6 in the generated frames"],
                  "evidence": [{"frame": 2, "time": 0.17, "category": "violence", "score": 0.6,
                                "boxes": [{"label": "x", "score": 0.6, "box": [8, 8, 30, 30]}]}]}]
    job_id = add_job(c, "alice", "review", decisions, video=tiny_mp4(tmp_path / "a.mp4"))
    b = browser("olga")  # a draft held for review: operators only (tests/test_hardening_visibility.py)
    page = b.get(f"/jobs/{job_id}").text
    assert f'src="/jobs/{job_id}/frames/frames/2.png"' in page and "<video" in page
    png = b.get(f"/jobs/{job_id}/frames/frames/2.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    from io import BytesIO

    from PIL import Image

    img = np.asarray(Image.open(BytesIO(png.content)).convert("RGB"))
    assert img.shape == (64, 64, 3) and tuple(img[20, 8]) [0] > 200 > tuple(img[20, 8])[1]  # the red box edge
    assert b.get(f"/jobs/{job_id}/frames/frames/99.png").status_code == 404
    assert b.get(f"/jobs/{job_id}/video").headers["content-type"] == "video/mp4"


def test_other_creators_cannot_see_drafts_jobs_or_frames(web, tmp_path) -> None:
    browser, _, _, c = web
    vid = add_job(c, "alice", "review", [], video=tiny_mp4(tmp_path / "a.mp4"))
    pub = add_job(c, "alice", "published", [], video=b"\x00" * 64, job_id="00000000000000b2",
                  prompt="a public clip")
    bob = browser("bob")
    for url in [f"/jobs/{vid}", f"/jobs/{vid}/progress", f"/jobs/{vid}/video", f"/jobs/{vid}/frames/frames/0.png",
                f"/jobs/{pub}", "/jobs/zzzz"]:
        r = bob.get(url)
        assert r.status_code == 404 and "secret draft" not in r.text, url
    listing = bob.get("/jobs").text
    assert vid not in listing and "secret draft" not in listing and pub not in listing
    assert bob.get(f"/jobs/{pub}/video").status_code == 200  # published clips play for anyone signed in
    assert "secret draft" in browser("olga").get("/jobs").text  # operators see all
    r = bob.post(f"/jobs/{vid}/review", {"action": "approve", "reason": "looks fine"}, token_from="/create")
    assert r.status_code == 403


def test_remix_form_on_a_published_clip(web) -> None:
    browser, _, queued, c = web
    pub = add_job(c, "alice", "published", [], video=b"\x00" * 64, prompt="a red ball")
    b = browser("alice")
    assert 'name="remix" value="' + pub in b.get(f"/jobs/{pub}").text
    r = b.post("/create", {"prompt": "a blue ball", "remix": pub, "seconds": "2"}, token_from="/create")
    assert r.status_code == 303 and len(queued) == 1
    # bob may remix a published clip of alice's, but not by guessing a draft's id
    draft = add_job(c, "alice", "review", [], video=b"\x00" * 64, job_id="00000000000000d1")
    r = browser("bob").post("/create", {"prompt": "mine now", "remix": draft, "seconds": "2"}, token_from="/create")
    assert r.status_code == 422 and "no clip" in r.text


# --- operator --------------------------------------------------------------------------------------

def test_review_queue_shows_evidence_and_approve_block_takedown_work(web) -> None:
    browser, _, _, c = web
    decisions = [{"name": "likeness", "decision": "review", "reasons": ["contains the likeness of @zed: not approved"],
                  "scores": {"@zed": 0.41}, "evidence": [{"frame": 5, "time": 0.4, "handle": "zed", "distance": 0.41,
                                                          "allowed": False}]}]
    a = add_job(c, "alice", "review", decisions, video=b"\x00" * 64, job_id="000000000000000a")
    with Session(c.engine) as s:  # a review draft lives under drafts/
        job = s.get(Job, a)
        job.video_key = c.storage.put_bytes(f"drafts/{a}.mp4", b"\x00" * 64)
        s.add(job)
        s.commit()
    olga = browser("olga")
    page = olga.get("/ops/review").text
    assert a in page and "shows the face of a person who has not allowed you" in page and "@zed" in page
    assert "Frame 5 at 0.4 s: @zed (0.41)" in page
    r = olga.post(f"/jobs/{a}/review", {"action": "approve", "reason": "x"}, token_from="/ops/review")
    assert r.status_code == 422 and "at least 3 characters" in r.text
    r = olga.post(f"/jobs/{a}/review", {"action": "publish", "reason": "fine by me"}, token_from="/ops/review")
    assert r.status_code == 422 and "Approve or Block" in r.text
    r = olga.post(f"/jobs/{a}/review", {"action": "approve", "reason": "consent confirmed"}, token_from="/ops/review")
    assert r.status_code == 303
    assert c.storage.exists(f"videos/{a}.mp4")
    assert "published" in olga.get(f"/jobs/{a}").text
    r = olga.post(f"/jobs/{a}/review", {"action": "block", "reason": "too late"}, token_from="/ops/review")
    assert r.status_code == 409 and "not waiting for review" in r.text
    r = olga.post(f"/jobs/{a}/takedown", {"reason": "court order 123"}, token_from="/ops/review")
    assert r.status_code == 303 and not c.storage.exists(f"videos/{a}.mp4")
    assert "taken down by olga: court order 123" in olga.get(f"/jobs/{a}").text
    assert "Nothing is waiting for review" in olga.get("/ops/review").text


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("prompt:hate:block", "1.5", "must be a number from 0 to 1"),
    ("prompt:hate:block", "abc", "must be a number from 0 to 1"),
    ("frames:nudity:review", "0.9", "must not be above the block threshold"),
    ("likeness_action", "ignore", "likeness action must be one of"),
    ("on_stage_error", "pass", "on stage error must be one of review, block"),
    ("unread_language", "ignore", "unread language must be one of"),
    ("required_signals", "frames.nudenet\nDROP TABLE", "Not a signal name"),
])
def test_policy_form_validates_and_keeps_the_old_policy(web, field, value, needle) -> None:
    browser, _, _, c = web
    olga = browser("olga")
    page = olga.get("/ops/policy").text
    form = dict(re.findall(r'name="([^"]+:[^"]+)" value="([^"]*)"', page))
    form |= {"likeness_action": "block", "copyright_action_default": "block", "unread_language": "review",
             "on_stage_error": "block", "required_signals": "frames.nudenet"}
    before = c.policy
    r = olga.post("/ops/policy", form | {field: value}, token_from="/ops/policy")
    assert r.status_code == 422 and needle in r.text
    assert c.policy == before


def test_policy_form_saves_thresholds_and_audits(web) -> None:
    browser, _, _, c = web
    olga = browser("olga")
    page = olga.get("/ops/policy").text
    form = dict(re.findall(r'name="([^"]+:[^"]+)" value="([^"]*)"', page))
    assert form["prompt:sexual/minors:block"] == "0.4"
    form |= {"prompt:violence:review": "0.3", "likeness_action": "review", "copyright_action_default": "review",
             "unread_language": "block", "on_stage_error": "review",
             "required_signals": "prompt.classifier\nframes.nudenet", "visible_watermark": "1"}
    r = olga.post("/ops/policy", form, token_from="/ops/policy")
    assert r.status_code == 303
    p = c.policy
    assert p.prompt["violence"].review == 0.3 and p.likeness_action == "review" and p.visible_watermark
    assert p.unread_language == "block"
    assert p.required_signals == ["prompt.classifier", "frames.nudenet"]
    assert p.prompt["sexual/minors"].block == 0.4  # untouched fields keep their values
    with Session(c.engine) as s:
        assert s.exec(select(AuditEntry).where(AuditEntry.event == "policy.changed")).first() is not None


def test_audit_page_searches_and_reports_a_broken_chain(web) -> None:
    from gate import audit

    browser, _, _, c = web
    audit.append(c.engine, "olga", "job.taken_down", "00000000000000ff", {"reason": "spam"})
    olga = browser("olga")
    page = olga.get("/ops/audit").text
    assert "Hash chain intact" in page and "user.created" in page
    found = olga.get("/ops/audit", params={"q": "TAKEN_down"}).text
    assert "00000000000000ff" in found and "user.created" not in found
    assert "No entries match" in olga.get("/ops/audit", params={"q": "nothing-like-this"}).text
    assert "No entries match" in olga.get("/ops/audit", params={"q": "job_taken"}).text  # _ is no wildcard
    assert "No entries match" in olga.get("/ops/audit", params={"q": "%"}).text  # nor is %
    with Session(c.engine) as s:  # tamper with a row (dropping the append-only trigger first)
        s.exec(text("DROP TRIGGER audit_log_no_update"))
        row = s.get(AuditEntry, 2)
        row.actor = "mallory"
        s.add(row)
        s.commit()
    assert "Hash chain BROKEN at entry 2" in olga.get("/ops/audit").text


def test_dashboard_counts_decisions_per_day_and_stage(web) -> None:
    browser, _, _, c = web
    add_job(c, "alice", "published", [{"name": "prompt", "decision": "pass"}, {"name": "frames", "decision": "pass"}],
            job_id="0000000000000001")
    add_job(c, "alice", "blocked", [{"name": "prompt", "decision": "block"}], job_id="0000000000000002")
    add_job(c, "bob", "review", [{"name": "prompt", "decision": "pass"}, {"name": "frames", "decision": "review"}],
            job_id="0000000000000003")
    from api.web.operator import dashboard_data

    d = dashboard_data(c)
    assert d["jobs"] == 3 and d["days"][0]["counts"] == {"published": 1, "blocked": 1, "review": 1}
    stages = {s["name"]: dict(s["counts"]) for s in d["stages"]}
    assert stages == {"prompt": {"pass": 2, "block": 1}, "frames": {"pass": 1, "review": 1}}
    page = browser("olga").get("/ops/dashboard").text
    assert "Decisions per day" in page and "Prompt check" in page and "2 pass, 0 review, 1 block" in page


@pytest.mark.slow
def test_health_page_lists_every_stage_signal(web) -> None:
    browser, *_ = web
    page = browser("olga").get("/ops/health")
    assert page.status_code == 200
    for name in ("prompt.classifier", "frames.nudenet", "likeness.faces"):
        assert name in page.text
    assert "Real weights" in page.text


# --- rights holders --------------------------------------------------------------------------------

def test_rights_holder_registers_sees_and_deletes_own_works_only(web) -> None:
    browser, _, _, c = web
    rita, ralf = browser("rita"), browser("ralf")
    img = (FIXTURES / "copyright" / "rocket_400.jpg").read_bytes()
    r = rita.post("/rights/works", {"name": "Rocket Ranger", "aliases": "Ranger R\nthe rocket guy", "policy": "review"},
                  files=[("images", ("rocket.jpg", img, "image/jpeg"))], token_from="/rights")
    assert r.status_code == 303, r.text[:2000]
    page = rita.get("/rights").text
    assert "Rocket Ranger" in page and "Ranger R, the rocket guy" in page and "review" in page
    assert "Rocket Ranger" not in ralf.get("/rights").text
    work_id = re.search(r'/rights/works/(\d+)/delete', page).group(1)
    assert ralf.post(f"/rights/works/{work_id}/delete", token_from="/rights").status_code == 404
    assert "Rocket Ranger" in rita.get("/rights").text
    assert rita.post(f"/rights/works/{work_id}/delete", token_from="/rights").status_code == 303
    assert "Rocket Ranger" not in rita.get("/rights").text
    assert "No decisions have named your works" in rita.get("/rights/decisions").text


@pytest.mark.parametrize(("form", "files", "needle"), [
    ({"name": "", "policy": "block"}, "img", "give the work or character a name"),
    ({"name": "Zed", "policy": "destroy"}, "img", "choose block, review or allow"),
    ({"name": "Zed", "policy": "block"}, None, "upload at least one image"),
    ({"name": "Zed", "policy": "block"}, "text", "not a readable image"),
    ({"name": "Zed", "policy": "block"}, "empty", "the file is empty"),
    ({"name": "x" * 5000, "policy": "block"}, "img", "name"),
])
def test_rights_form_validation(web, form, files, needle) -> None:
    browser, _, _, c = web
    payload = {"img": ("a.jpg", (FIXTURES / "copyright" / "rocket_400.jpg").read_bytes(), "image/jpeg"),
               "text": ("a.png", b"this is not a picture", "image/png"), "empty": ("a.png", b"", "image/png")}
    upload = [("images", payload[files])] if files else [("images", ("", b"", "application/octet-stream"))]
    r = browser("rita").post("/rights/works", form, files=upload, token_from="/rights")
    assert r.status_code == 422 and needle in r.text, r.text[-3000:]
    from safety.copyright.registry import list_works

    with Session(c.engine) as s:
        assert list_works(s, "rita") == []


# --- cameo owners ----------------------------------------------------------------------------------

@pytest.fixture
def cameo(web):
    """alice's cameo, enrolled straight through the registry (liveness over HTTP is tested below)."""
    from consent import registry

    browser, keys, queued, c = web
    key = c.storage.put_bytes("cameos/alice.png", (FIXTURES / "copyright" / "coffee_400.jpg").read_bytes())
    rng = np.random.default_rng(0)
    with Session(c.engine, expire_on_commit=False) as s:
        cm = registry.enroll(s, "alice", "alice_cam", {"frontal": rng.normal(size=128).astype(np.float32)}, key,
                             "dlib")
    return cm


def test_cameo_pages_are_the_owners_alone(web, cameo) -> None:
    browser, *_ = web
    alice, bob = browser("alice"), browser("bob")
    assert "@alice_cam" in alice.get("/cameos").text
    assert "alice_cam" not in bob.get("/cameos").text
    assert "alice_cam" not in bob.get("/create").text and "alice_cam" in alice.get("/create").text
    for url in [f"/cameos/{cameo.id}", f"/cameos/{cameo.id}/face.png", "/cameos/99999", "/cameos/abc"]:
        r = bob.get(url)
        assert r.status_code == 404 and "alice_cam" not in r.text, url
    for url, data in [(f"/cameos/{cameo.id}/permissions", {"permission": "everyone"}),
                      (f"/cameos/{cameo.id}/approvals", {"user": "bob"}),
                      (f"/cameos/{cameo.id}/revoke", {"confirm": "alice_cam"})]:
        r = bob.post(url, data, token_from="/cameos")
        assert r.status_code == 404 and "alice_cam" not in r.text, url
    assert alice.get(f"/cameos/{cameo.id}/face.png").headers["content-type"] == "image/png"
    assert "text/html" in bob.get("/cameos/abc").headers["content-type"]
    assert bob.get("/v1/cameos/abc/appearances").json()["detail"]  # the API keeps its JSON errors


def test_cameo_permissions_approvals_appearances_and_revoke(web, cameo) -> None:
    from consent import registry

    browser, _, _, c = web
    alice = browser("alice")
    r = alice.post(f"/cameos/{cameo.id}/permissions", {"permission": "all"}, token_from="/cameos")
    assert r.status_code == 422 and "only me, people I approve, or everyone" in r.text
    assert alice.post(f"/cameos/{cameo.id}/permissions", {"permission": "approved"},
                      token_from="/cameos").status_code == 303
    r = alice.post(f"/cameos/{cameo.id}/approvals", {"user": "Bob Smith!"}, token_from="/cameos")
    assert r.status_code == 422 and "Enter the user name" in r.text
    assert alice.post(f"/cameos/{cameo.id}/approvals", {"user": "bob"}, token_from="/cameos").status_code == 303
    with Session(c.engine) as s:
        assert registry.can_use(s, "alice_cam", "bob")[0]
        for vid, who in (("00000000000000b1", "bob"), ("00000000000000b2", "bob")):
            add_job(c, who, "published", [], video=b"\x00" * 64, job_id=vid, prompt="bob's clip")
            registry.record_appearance(s, cameo.id, vid, "published", creator=who)
    page = alice.get(f"/cameos/{cameo.id}").text
    assert "00000000000000b1" in page and "00000000000000b2" in page and "bob" in page
    assert "bob&#39;s clip" not in page and "bob's clip" not in page  # the owner sees the clip, not bob's prompt
    r = alice.post(f"/cameos/{cameo.id}/appearances/00000000000000b1/delete", token_from="/cameos")
    assert r.status_code == 303
    assert not c.storage.exists("videos/00000000000000b1.mp4")
    r = alice.post(f"/cameos/{cameo.id}/revoke", {"confirm": "wrong"}, token_from="/cameos")
    assert r.status_code == 422 and "type the handle alice_cam" in r.text
    r = alice.post(f"/cameos/{cameo.id}/revoke", {"confirm": "alice_cam"}, token_from="/cameos", follow=True)
    assert "revoked" in r.text and "1 clip(s) were taken down" in r.text
    with Session(c.engine) as s:
        assert s.get(Job, "00000000000000b2").status == "taken_down"
        assert not registry.can_use(s, "alice_cam", "bob")[0]


def test_enrollment_shows_the_challenge_and_validates(web, tmp_path) -> None:
    browser, _, _, c = web
    bob = browser("bob")
    page = bob.post("/cameos/challenge", token_from="/cameos").text
    steps = re.search(r'<p class="steps">Face the camera, then:\s*<strong>([^<]+)</strong>', page).group(1)
    assert re.search(r"turn your head (left|right)", steps)
    cid = re.search(r'name="challenge_id" value="([^"]+)"', page).group(1)
    r = bob.post("/cameos/enroll", {"handle": "B!", "challenge_id": cid, "kind": "cameo"},
                 files=[("video", ("", b"", "application/octet-stream"))], token_from="/cameos")
    assert r.status_code == 422 and "Handle: 3-32 characters" in r.text and "record or upload a short video" in r.text
    assert 'name="challenge_id" value="' in r.text  # a fresh challenge to try again with
    r = bob.post("/cameos/enroll", {"handle": "bob.cam", "challenge_id": cid, "kind": "cameo"},
                 files=[("video", ("s.mp4", b"\x00\x00\x00\x18ftypmp42 truncated", "video/mp4"))],
                 token_from="/cameos")
    assert r.status_code == 422 and "not a readable video" in r.text
    short = tiny_mp4(tmp_path / "short.mp4", frames=3, size=96)
    r = bob.post("/cameos/enroll", {"handle": "bob.cam", "challenge_id": cid, "kind": "cameo"},
                 files=[("video", ("s.mp4", short, "video/mp4"))], token_from="/cameos")
    assert r.status_code == 422 and "video too short" in r.text, r.text[-2000:]
    cid = re.search(r'name="challenge_id" value="([^"]+)"', r.text).group(1)  # the used one is gone
    # a real video that shows no face: the liveness check refuses it and nothing is stored
    video = tiny_mp4(tmp_path / "noface.mp4", frames=24, size=96)
    r = bob.post("/cameos/enroll", {"handle": "bob.cam", "challenge_id": cid, "kind": "cameo"},
                 files=[("video", ("s.mp4", video, "video/mp4"))], token_from="/cameos")
    assert r.status_code == 422 and "liveness check failed" in r.text, r.text[-2000:]
    from consent.models import Cameo

    with Session(c.engine) as s:
        assert s.exec(select(Cameo)).all() == []


# --- verify ----------------------------------------------------------------------------------------

def fake_report(name: str, kind: str) -> dict:
    """The shape gate.verify.verify_file returns (see its tests for the real values)."""
    return {"file": name, "kind": kind, "seconds": 0.1, "verdict_code": "likely_ai",
            "verdict": "No provenance signal; the detector estimates p=0.81 that it is AI-generated",
            "c2pa": {"state": "absent", "failures": [], "signer": None, "chain": [], "actions": [], "error": None},
            "watermark": {"found": False, "payload": None, "video_id": None, "record": None},
            "detector": {"available": True, "ai_probability": 0.81, "artifacts": {"frequency": {"score": 0.7}},
                         "evidence_frames": [1, 3], "model_version": "test", "notes": []}}


def test_verify_page_stores_a_permalinked_report_with_thumbnails(web, tmp_path, monkeypatch) -> None:
    import api.web.verify as wv

    browser, _, _, c = web
    monkeypatch.setattr(wv, "verify_file", lambda comp, path, name: fake_report(name, "video"))
    anon = browser()
    video = tiny_mp4(tmp_path / "clip.mp4")
    r = anon.post("/verify", files=[("file", ("clip.mp4", video, "video/mp4"))])
    assert r.status_code == 303
    rid = r.headers["location"].rsplit("/", 1)[1]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    page = browser().get(f"/verify/r/{rid}").text  # anyone with the link, no session needed
    assert "p=0.81" in page and "81%" in page and "No Content Credentials" in page and "No watermark" in page
    assert f"/verify/r/{rid}/thumb-1.jpg" in page and f"/verify/r/{rid}/thumb-3.jpg" in page
    thumb = anon.get(f"/verify/r/{rid}/thumb-3.jpg")
    assert thumb.status_code == 200 and thumb.content[:3] == b"\xff\xd8\xff"
    assert anon.get(f"/verify/r/{rid}/report.json").json()["thumbnails"] == ["thumb-1", "thumb-3"]
    assert anon.get(f"/verify/r/{'0' * 32}").status_code == 404
    assert anon.get(f"/verify/r/{rid}/..%2Freport.jpg").status_code == 404
    assert not any(p.suffix == ".mp4" for p in (c.storage.root / "verify" / rid).iterdir())  # the upload is not kept


@pytest.mark.parametrize(("upload", "needle", "code"), [
    (None, "Choose a clip or an image", 422),
    (("e.mp4", b"", "video/mp4"), "the file is empty", 422),
    (("t.mp4", b"\x00\x00\x00\x18ftypmp42 truncated", "video/mp4"), "not a readable video", 422),
    (("x.png", b"\x89PNG\r\n\x1a\n garbage", "image/png"), "not a readable image", 422),
])
def test_verify_rejects_bad_files_with_a_message(web, upload, needle, code) -> None:
    browser, *_ = web
    files = [("file", upload)] if upload else [("file", ("", b"", "application/octet-stream"))]
    r = browser().post("/verify", files=files)
    assert r.status_code == code and needle in r.text


def test_verify_is_rate_limited_for_anonymous_visitors(web, monkeypatch) -> None:
    import api.web.verify as wv

    browser, *_ = web
    monkeypatch.setattr(wv, "verify_file", lambda comp, path, name: fake_report(name, "image"))
    img = ("c.jpg", (FIXTURES / "copyright" / "coffee_400.jpg").read_bytes(), "image/jpeg")
    anon = browser()
    codes = [anon.post("/verify", files=[("file", img)]).status_code for _ in range(11)]
    assert codes[:10] == [303] * 10 and codes[10] == 429
    r = anon.post("/verify", files=[("file", img)])
    assert "limit of 10 verifications per minute" in r.text
    assert browser("jane").post("/verify", files=[("file", img)]).status_code == 303  # journalists: higher limit


def test_verify_says_so_when_the_verifier_cannot_run(web, monkeypatch) -> None:
    import api.web.verify as wv

    def broken(*_):
        raise ImportError("cannot import name 'watermark'")

    browser, *_ = web
    monkeypatch.setattr(wv, "verify_file", broken)
    img = ("c.jpg", (FIXTURES / "copyright" / "coffee_400.jpg").read_bytes(), "image/jpeg")
    r = browser().post("/verify", files=[("file", img)])
    assert r.status_code == 503 and "could not run" in r.text and "Nothing was stored" in r.text


@pytest.mark.slow
def test_verify_real_image_end_to_end(web) -> None:
    browser, *_ = web
    img = ("c.jpg", (FIXTURES / "copyright" / "coffee_400.jpg").read_bytes(), "image/jpeg")
    r = browser().post("/verify", files=[("file", img)], follow=True)
    assert r.status_code == 200 and "Verification report" in r.text and "No Content Credentials" in r.text
    assert "No watermark of ours was found" in r.text and "Estimated probability" in r.text


def test_session_secret_is_created_once_private_and_shared(tmp_path) -> None:
    from gate.users import session_secret

    keys = tmp_path / "keys"
    keys.mkdir()
    first = session_secret(keys)
    path = keys / "web_session.key"
    assert len(first) >= 48 and path.stat().st_mode & 0o777 == 0o600
    assert session_secret(keys) == first  # a second process signs with the same secret
    assert [p.name for p in keys.iterdir()] == ["web_session.key"]


def test_cookie_signed_by_another_install_is_ignored(web, tmp_path) -> None:
    from itsdangerous import TimestampSigner

    browser, *_ = web
    import base64
    import json

    forged = base64.b64encode(json.dumps({"user": "olga", "kh": "0" * 64}).encode())
    cookie = TimestampSigner("not-our-secret").sign(forged).decode()
    b = browser()
    b.client.cookies.set("reelgate_session", cookie)
    r = b.get("/ops/review")
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")
    # even with our secret, a name without the hash of that user's current key is not a session
    from gate.users import session_secret

    secret = session_secret(web[3].settings.keys_dir)
    b.client.cookies.set("reelgate_session", TimestampSigner(secret).sign(forged).decode())
    r = b.get("/ops/review")
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")


def test_refused_uses_show_as_requests_the_owner_can_approve(web, cameo) -> None:
    browser, _, _, c = web
    refusal = [{"name": "prompt", "decision": "pass"},
               {"name": "consent", "decision": "block",
                "reasons": ["cameo @alice_cam: @alice_cam may only be used by its owner"]}]
    add_job(c, "bob", "blocked", refusal, job_id="00000000000000c1", prompt="bob's private idea")
    add_job(c, "bob", "blocked", refusal, job_id="00000000000000c2", prompt="bob's private idea")
    other = [{"name": "consent", "decision": "block", "reasons": ["cameo @someone: no cameo @someone"]}]
    add_job(c, "olga", "blocked", other, job_id="00000000000000c3")
    alice = browser("alice")
    page = alice.get(f"/cameos/{cameo.id}").text
    requests = page.split("<h2>Requests</h2>", 1)[1].split("<h2>People I approve</h2>", 1)[0]
    assert "bob" in requests and "2 times" in requests and "olga" not in requests
    assert "private idea" not in page  # who asked, never what they asked for
    assert alice.post(f"/cameos/{cameo.id}/approvals", {"user": "bob"}, token_from="/cameos").status_code == 303
    assert "No one has been refused" in alice.get(f"/cameos/{cameo.id}").text
