"""Anonymous verification reports (issue 17, hole 9): they expire (REELGATE_VERIFY_REPORT_TTL_DAYS, purged on
access and at start), their thumbnails pass the nudity check before anything is stored, and nothing of them
is publicly cacheable."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from gate.users import create_user
from tests.test_web import fake_report, tiny_mp4
from tests.web_helpers import Browser


@pytest.fixture
def site(components, monkeypatch):
    import api.web.verify as wv
    from api.app import create_app

    monkeypatch.setattr(wv, "verify_file", lambda comp, path, name: fake_report(name, "video"))
    _, key = create_user(components.engine, "jane", "journalist")

    def app():
        return create_app(components=components, dispatch=lambda job_id: None)

    return app, key, components


def upload(app, tmp_path, key: str | None = None) -> str:
    b = Browser(app)
    if key:
        b.sign_in(key)
    r = b.post("/verify", files=[("file", ("clip.mp4", tiny_mp4(tmp_path / "clip.mp4"), "video/mp4"))])
    assert r.status_code == 303, r.text[-500:]
    rid = r.headers["location"].rsplit("/", 1)[1]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    return rid


def age(c, rid: str, days: float) -> None:
    """As if the report had been stored `days` ago."""
    path = c.storage.path(f"verify/{rid}/report.json")
    body = json.loads(path.read_text())
    body["stored_at"] = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    path.write_text(json.dumps(body))


def test_thumbnails_and_reports_are_not_publicly_cacheable(site, tmp_path) -> None:
    app, _, c = site
    a = app()
    rid = upload(a, tmp_path)
    anon = Browser(a)
    for url in (f"/verify/r/{rid}/thumb-1.jpg", f"/verify/r/{rid}/report.json", f"/verify/r/{rid}"):
        r = anon.get(url)
        assert r.status_code == 200, url
        cache = r.headers.get("cache-control", "")
        assert "public" not in cache and "no-store" in cache and "private" in cache, (url, cache)


def test_a_report_expires_after_the_default_30_days_and_is_deleted_on_access(site, tmp_path) -> None:
    app, _, c = site
    assert c.settings.verify_report_ttl_days == 30
    a = app()
    rid = upload(a, tmp_path)
    body = Browser(a).get(f"/verify/r/{rid}/report.json").json()
    expires = datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(body["stored_at"])
    assert expires == timedelta(days=30)
    assert "Kept until" in Browser(a).get(f"/verify/r/{rid}").text
    age(c, rid, 29.9)
    assert Browser(a).get(f"/verify/r/{rid}").status_code == 200  # not yet
    age(c, rid, 30.1)
    anon = Browser(a)
    assert anon.get(f"/verify/r/{rid}/thumb-1.jpg").status_code == 404
    assert anon.get(f"/verify/r/{rid}").status_code == 404
    assert anon.get(f"/verify/r/{rid}/report.json").status_code == 404
    assert c.storage.keys(f"verify/{rid}") == []  # report and thumbnails are gone from the disk


def test_the_lifetime_is_configurable_and_expired_reports_are_swept_at_start(site, tmp_path, monkeypatch) -> None:
    from gate.settings import Settings

    monkeypatch.setenv("REELGATE_VERIFY_REPORT_TTL_DAYS", "2")
    assert Settings().verify_report_ttl_days == 2
    monkeypatch.setenv("REELGATE_VERIFY_REPORT_TTL_DAYS", "0")
    with pytest.raises(ValueError, match="greater than 0"):
        Settings()
    app, _, c = site
    c.settings.verify_report_ttl_days = 2.0
    a = app()
    old, fresh = upload(a, tmp_path), upload(a, tmp_path)
    age(c, old, 2.5)
    age(c, fresh, 1.5)
    c.storage.put_bytes("verify/" + "ab" * 16 + "/thumb-0.jpg", b"\xff\xd8\xff")  # a write that never finished
    orphan = c.storage.path("verify/" + "ab" * 16 + "/thumb-0.jpg")
    stamp = (datetime.now(UTC) - timedelta(hours=2)).timestamp()
    os.utime(orphan, (stamp, stamp))
    app()  # a process starting: nobody asks for the old report, it is purged all the same
    assert c.storage.keys(f"verify/{old}") == [] and not orphan.exists()
    assert c.storage.exists(f"verify/{fresh}/report.json") and c.storage.exists(f"verify/{fresh}/thumb-1.jpg")


def test_thumbnails_pass_the_nudity_check_before_they_are_stored(site, tmp_path, monkeypatch) -> None:
    """No explicit imagery may be used here: NudeNet is real and loaded, and for the bright frame it is made to
    report what it reports on an exposed breast (0.95); the scoring and the storing are the real ones."""
    app, _, c = site
    gate, why = c.frame_gate.get()
    assert gate is not None and gate.available()[0], why
    real = gate.detect_nudity
    seen = []

    def detect(rgb: np.ndarray) -> list[dict]:
        seen.append(float(rgb.mean()))
        if rgb.mean() > 100:  # frame 3 of tiny_mp4 (grey 120); frame 1 is grey 40
            return [{"class": "FEMALE_BREAST_EXPOSED", "score": 0.95, "box": [4, 4, 20, 20]}]
        return real(rgb)

    monkeypatch.setattr(gate, "detect_nudity", detect)
    a = app()
    rid = upload(a, tmp_path)
    assert len(seen) == 2  # both evidence frames were checked
    assert not c.storage.exists(f"verify/{rid}/thumb-3.jpg")  # not stored, not even blurred
    assert c.storage.exists(f"verify/{rid}/thumb-1.jpg")
    body = Browser(a).get(f"/verify/r/{rid}/report.json").json()
    assert body["thumbnails"] == ["thumb-1"] and "1 thumbnail(s) not stored" in body["thumbnails_withheld"]
    assert Browser(a).get(f"/verify/r/{rid}/thumb-3.jpg").status_code == 404
    assert "nudity check flagged them" in Browser(a).get(f"/verify/r/{rid}").text


def test_no_thumbnail_is_stored_when_the_nudity_check_cannot_run(site, tmp_path, monkeypatch) -> None:
    app, _, c = site
    gate, _ = c.frame_gate.get()
    monkeypatch.setattr(gate, "_nude", None)
    monkeypatch.setattr(gate, "_nude_why", "NudeNet failed to load: test")
    rid = upload(app(), tmp_path)
    assert c.storage.keys(f"verify/{rid}") == [f"verify/{rid}/report.json"]
    body = json.loads(c.storage.path(f"verify/{rid}/report.json").read_text())
    assert body["thumbnails"] == [] and "could not run (NudeNet failed to load: test)" in body["thumbnails_withheld"]
