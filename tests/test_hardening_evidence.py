"""Refused-job evidence frames (issue 17, hole 4): operators see them in full, the creator only a blurred
thumbnail no face detector can use, and they are deleted on takedown and when a cameo they show is revoked."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session

from gate.evidence import evidence_key
from gate.users import create_user
from tests.conftest import FIXTURES
from tests.test_web import add_job
from tests.web_helpers import Browser

FACE = FIXTURES / "faces" / "pratt_frame.jpg"  # 640x360, one face: the size of a generated frame


def likeness_block(handle: str, frame: int = 5) -> list[dict]:
    return [{"name": "likeness", "decision": "block", "reasons": [f"contains the likeness of @{handle}: not allowed"],
             "evidence": [{"frame": frame, "time": 0.4, "handle": handle, "distance": 0.3, "allowed": False}]},
            {"name": "copyright", "decision": "block", "reasons": ["matches a registered work"],
             "evidence": [{"frame": 7, "work": "Gopher", "work_id": 1, "score": 0.9}]}]


def keep(c, job_id: str, *frames: int) -> list[str]:
    buf = io.BytesIO()
    Image.open(FACE).convert("RGB").save(buf, format="PNG")
    return [c.storage.put_bytes(evidence_key(job_id, i), buf.getvalue()) for i in frames]


@pytest.fixture
def site(components):
    from api.app import create_app

    app = create_app(components=components, dispatch=lambda job_id: None)
    keys = {name: create_user(components.engine, name, role)[1]
            for name, role in [("bob", "creator"), ("zed", "creator"), ("olga", "operator")]}
    return app, keys, components


@pytest.fixture(scope="module")
def faces():
    from consent.faces import DlibBackend

    backend = DlibBackend(upsample=1)
    ok, why = backend.available()
    assert ok, why  # the dlib models ship with the install

    def count(png: bytes, size: tuple[int, int]) -> int:
        # scaled back up to the frame's size: the detector gets every chance it would get on a real frame
        img = Image.open(io.BytesIO(png)).convert("RGB").resize(size, Image.Resampling.BICUBIC)
        return len(backend.detect(np.asarray(img)))

    return count


def test_creator_gets_a_blurred_thumbnail_operators_the_frame(site, faces) -> None:
    app, keys, c = site
    job_id = add_job(c, "bob", "blocked", likeness_block("zed_cam"))
    keep(c, job_id, 5, 7)
    original = Image.open(FACE)
    plain = original.convert("RGB")
    plain.thumbnail((160, 160))
    buf = io.BytesIO()
    plain.save(buf, format="PNG")
    assert faces(buf.getvalue(), original.size) == 1  # a mere thumbnail of this size still shows the face

    bob = Browser(app).sign_in(keys["bob"])
    r = bob.get(f"/jobs/{job_id}/frames/likeness/5.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert faces(r.content, original.size) == 0  # nobody is recognisable in what the creator gets
    assert max(Image.open(io.BytesIO(r.content)).size) <= 160
    assert "no-store" in r.headers["cache-control"]
    page = bob.get(f"/jobs/{job_id}").text
    assert f'src="/jobs/{job_id}/frames/likeness/5.png"' in page and "Blurred: only operators see" in page

    olga = Browser(app).sign_in(keys["olga"])
    full = olga.get(f"/jobs/{job_id}/frames/likeness/5.png")
    assert full.status_code == 200 and Image.open(io.BytesIO(full.content)).size == original.size
    assert faces(full.content, original.size) == 1
    assert "Blurred" not in olga.get(f"/jobs/{job_id}").text


def test_takedown_deletes_the_kept_frames(site) -> None:
    app, keys, c = site
    job_id = add_job(c, "bob", "review", likeness_block("zed_cam"), video=b"\x00" * 64)
    kept = keep(c, job_id, 5, 7)
    r = TestClient(app).post(f"/v1/generations/{job_id}/takedown", json={"reason": "court order 7"},
                             headers={"Authorization": f"Bearer {keys['olga']}"})
    assert r.status_code == 200 and r.json()["status"] == "taken_down"
    assert not any(c.storage.exists(k) for k in kept)
    olga = Browser(app).sign_in(keys["olga"])
    assert olga.get(f"/jobs/{job_id}/frames/likeness/5.png").status_code == 404


def test_revoking_a_cameo_deletes_every_kept_frame_that_shows_it(site) -> None:
    from consent import registry
    from gate import cameos

    app, keys, c = site
    with Session(c.engine, expire_on_commit=False) as s:
        zed = registry.enroll(s, "zed", "zed_cam", {"frontal": np.ones(128, np.float32)}, "cameos/z.png", "dlib")
        registry.enroll(s, "zed", "zed_cam2", {"frontal": np.zeros(128, np.float32)}, "cameos/y.png", "dlib")
    refused = add_job(c, "bob", "blocked", likeness_block("zed_cam"), job_id="00000000000000e1")
    other = add_job(c, "bob", "blocked", likeness_block("zed_cam2"), job_id="00000000000000e2")
    named = add_job(c, "bob", "blocked", [{"name": "prompt", "decision": "block", "reasons": ["names @zed_cam"],
                                           "evidence": [{"names": ["zed_cam"], "frame": 3, "category": "x"}]}],
                    job_id="00000000000000e3")  # names the handle in words; its frame is not of the face
    draft = add_job(c, "bob", "review", [{"name": "frames", "decision": "review",
                                         "evidence": [{"frame": 2, "category": "violence", "score": 0.6}]}],
                    video=b"\x00" * 64, job_id="00000000000000e4")
    with Session(c.engine) as s:  # a consented draft that shows the cameo: revocation takes it down
        registry.record_appearance(s, zed.id, draft, "draft", creator="bob")
    gone = keep(c, refused, 5, 7) + keep(c, draft, 2)
    stay = keep(c, other, 5, 7) + keep(c, named, 3)

    removed = cameos.revoke(c, "zed", zed.id)
    assert removed == [draft]
    assert not any(c.storage.exists(k) for k in gone)  # the face frame and the rest of that clip's frames
    assert all(c.storage.exists(k) for k in stay)
    bob = Browser(app).sign_in(keys["bob"])
    assert bob.get(f"/jobs/{refused}/frames/likeness/5.png").status_code == 404
    assert "This frame was not kept" in bob.get(f"/jobs/{refused}").text


def test_frames_kept_after_a_takedown_or_revocation_swept_are_dropped_at_finish(site) -> None:
    """run_job keeps frames just before it finishes: a takedown or revocation that swept while the job ran
    found none yet, so the end of the run deletes them (gate.job_worker.run_job -> drop_if_withdrawn)."""
    from consent import registry
    from gate import cameos
    from gate.evidence import drop_if_withdrawn

    _, _, c = site
    with Session(c.engine, expire_on_commit=False) as s:
        zed = registry.enroll(s, "zed", "zed_cam", {"frontal": np.ones(128, np.float32)}, "cameos/z.png", "dlib")
        registry.enroll(s, "zed", "zed_cam2", {"frontal": np.zeros(128, np.float32)}, "cameos/y.png", "dlib")
    cameos.revoke(c, "zed", zed.id)  # swept before this run's frames were written
    revoked = keep(c, "00000000000000f1", 5)
    assert drop_if_withdrawn(c, "00000000000000f1", "blocked", likeness_block("zed_cam"))
    assert not any(c.storage.exists(k) for k in revoked)
    active = keep(c, "00000000000000f2", 5)
    assert not drop_if_withdrawn(c, "00000000000000f2", "blocked", likeness_block("zed_cam2"))
    assert all(c.storage.exists(k) for k in active)
    taken = keep(c, "00000000000000f3", 2)
    assert drop_if_withdrawn(c, "00000000000000f3", "taken_down", [])
    assert not any(c.storage.exists(k) for k in taken)
