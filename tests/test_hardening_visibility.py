"""Nothing held for review leaves: a clip's video and frames reach its creator only once it is published;
operators see everything (issue 17, hole 1)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gate.users import create_user
from tests.test_web import add_job, tiny_mp4
from tests.web_helpers import Browser

FRAMES_REVIEW = [{"name": "frames", "decision": "review", "reasons": ["violence score 0.6 in the generated frames"],
                  "evidence": [{"frame": 2, "time": 0.17, "category": "violence", "score": 0.6,
                                "boxes": [{"label": "x", "score": 0.6, "box": [8, 8, 30, 30]}]}]}]
HELD = ("review", "blocked", "failed", "running", "queued", "taken_down")


@pytest.fixture
def site(components):
    from api.app import create_app

    app = create_app(components=components, dispatch=lambda job_id: None)
    keys = {name: create_user(components.engine, name, role)[1]
            for name, role in [("alice", "creator"), ("olga", "operator")]}
    return app, keys, components


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("status", HELD)
def test_api_serves_no_unpublished_video_to_its_creator(site, tmp_path, status) -> None:
    app, keys, c = site
    job_id = add_job(c, "alice", status, FRAMES_REVIEW, video=tiny_mp4(tmp_path / "a.mp4"))
    api = TestClient(app)
    mine = api.get(f"/v1/generations/{job_id}", headers=_auth(keys["alice"]))
    assert mine.status_code == 200 and mine.json()["status"] == status
    assert mine.json()["video_url"] is None  # no download link is even offered
    assert all(j["video_url"] is None for j in api.get("/v1/generations", headers=_auth(keys["alice"])).json())
    r = api.get(f"/v1/generations/{job_id}/video", headers=_auth(keys["alice"]))
    assert r.status_code == 404 and not r.content.startswith(b"\x00\x00\x00")
    # operators see everything that is stored
    ops = api.get(f"/v1/generations/{job_id}", headers=_auth(keys["olga"])).json()
    assert ops["video_url"] and ops["video_url"].endswith(f"/v1/generations/{job_id}/video")
    r = api.get(f"/v1/generations/{job_id}/video", headers=_auth(keys["olga"]))
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"


def test_api_published_video_reaches_its_creator(site, tmp_path) -> None:
    app, keys, c = site
    job_id = add_job(c, "alice", "published", [], video=tiny_mp4(tmp_path / "a.mp4"))
    api = TestClient(app)
    assert api.get(f"/v1/generations/{job_id}", headers=_auth(keys["alice"])).json()["video_url"]
    assert api.get(f"/v1/generations/{job_id}/video", headers=_auth(keys["alice"])).status_code == 200


@pytest.mark.parametrize("status", HELD)
def test_console_serves_no_unpublished_video_or_frame_to_its_creator(site, tmp_path, status) -> None:
    app, keys, c = site
    job_id = add_job(c, "alice", status, FRAMES_REVIEW, video=tiny_mp4(tmp_path / "a.mp4"))
    alice = Browser(app).sign_in(keys["alice"])
    for page_url in (f"/jobs/{job_id}", f"/jobs/{job_id}/progress"):
        page = alice.get(page_url)
        assert page.status_code == 200
        assert "<video" not in page.text and f"/jobs/{job_id}/video" not in page.text  # no player, no link
        assert f"/jobs/{job_id}/frames/" not in page.text  # no frame of the stored clip either
    assert alice.get(f"/jobs/{job_id}/video").status_code == 404
    for index in (0, 2):
        assert alice.get(f"/jobs/{job_id}/frames/frames/{index}.png").status_code == 404
    olga = Browser(app).sign_in(keys["olga"])
    page = olga.get(f"/jobs/{job_id}").text
    assert "<video" in page and f'src="/jobs/{job_id}/frames/frames/2.png"' in page
    assert olga.get(f"/jobs/{job_id}/video").headers["content-type"] == "video/mp4"
    frame = olga.get(f"/jobs/{job_id}/frames/frames/2.png")
    assert frame.status_code == 200 and frame.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_console_published_clip_plays_for_its_creator(site, tmp_path) -> None:
    app, keys, c = site
    job_id = add_job(c, "alice", "published", FRAMES_REVIEW, video=tiny_mp4(tmp_path / "a.mp4"))
    alice = Browser(app).sign_in(keys["alice"])
    assert "<video" in alice.get(f"/jobs/{job_id}").text
    assert alice.get(f"/jobs/{job_id}/video").status_code == 200
    assert alice.get(f"/jobs/{job_id}/frames/frames/2.png").status_code == 200


def test_a_draft_held_for_review_cannot_be_remixed_out_by_its_creator(site, tmp_path) -> None:
    """Remixing one's own draft would carry its frames into a new clip that the unread-language review
    never saw: only published clips are remix sources."""
    app, keys, c = site
    draft = add_job(c, "alice", "review", FRAMES_REVIEW, video=tiny_mp4(tmp_path / "a.mp4"))
    r = TestClient(app).post("/v1/generations", json={"prompt": "a calm sea", "remix": draft},
                             headers=_auth(keys["alice"]))
    assert r.status_code == 404 and "no clip" in r.json()["detail"]
