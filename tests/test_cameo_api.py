"""Cameo routes: permissions, revocation with takedown, appearances, and other people's cameos.

Cameos are enrolled here straight through the registry with real dlib embeddings of a real photo; the
liveness check that guards enrollment over HTTP is exercised in its own tests and in the refusal below.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session

from gate.models import Job
from gate.users import create_user
from tests.conftest import FIXTURES


def hdr(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def env(components):
    from api.app import create_app
    from consent import registry

    keys = {n: create_user(components.engine, n, "creator")[1] for n in ("alice", "bob", "carl")}
    backend, why = components.face_backend.get()
    assert backend is not None, why
    img = np.asarray(Image.open(FIXTURES / "faces" / "pratt_frame.jpg").convert("RGB"))
    faces = backend.analyze(img)
    assert len(faces) == 1
    key = components.storage.put_bytes("cameos/alice.png", (FIXTURES / "faces" / "pratt_frame.jpg").read_bytes())
    with Session(components.engine, expire_on_commit=False) as s:
        cameo = registry.enroll(s, "alice", "alice_cam", {"frontal": faces[0].embedding}, key, backend.name)
    client = TestClient(create_app(components=components, dispatch=lambda j: None))
    return client, keys, cameo, components


def published_clip(c, user: str, cameo_id: int, vid: str) -> None:
    """A published job showing the cameo, as the publish stage leaves it."""
    from consent import registry

    key = c.storage.put_bytes(f"videos/{vid}.mp4", b"\x00" * 64)
    with Session(c.engine) as s:
        s.add(Job(id=vid, user=user, status="published", request={"prompt": "x"}, video_key=key))
        s.commit()
        registry.record_appearance(s, cameo_id, vid, "published", creator=user)


def test_only_the_owner_manages_a_cameo(env) -> None:
    client, keys, cameo, c = env
    for method, path, body in [
        ("post", f"/v1/cameos/{cameo.id}/revoke", None),
        ("put", f"/v1/cameos/{cameo.id}/permissions", {"permission": "everyone"}),
        ("get", f"/v1/cameos/{cameo.id}/appearances", None),
    ]:
        r = client.request(method, path, json=body, headers=hdr(keys["bob"]))
        assert r.status_code == 404, (path, r.text)
    assert client.get("/v1/cameos", headers=hdr(keys["bob"])).json() == []
    mine = client.get("/v1/cameos", headers=hdr(keys["alice"])).json()
    assert [m["handle"] for m in mine] == ["alice_cam"] and mine[0]["status"] == "active"


def test_revocation_takes_down_published_clips_in_the_same_request(env) -> None:
    client, keys, cameo, c = env
    client.put(f"/v1/cameos/{cameo.id}/permissions", json={"permission": "everyone"}, headers=hdr(keys["alice"]))
    published_clip(c, "bob", cameo.id, "00000000000000b1")
    published_clip(c, "carl", cameo.id, "00000000000000c1")
    r = client.post(f"/v1/cameos/{cameo.id}/revoke", headers=hdr(keys["alice"]))
    assert r.status_code == 200
    assert sorted(r.json()["taken_down"]) == ["00000000000000b1", "00000000000000c1"]
    with Session(c.engine) as s:
        for vid in ("00000000000000b1", "00000000000000c1"):
            assert s.get(Job, vid).status == "taken_down"
            assert not c.storage.exists(f"videos/{vid}.mp4")
    apps = client.get(f"/v1/cameos/{cameo.id}/appearances", headers=hdr(keys["alice"])).json()
    assert {a["status"] for a in apps} == {"removed"}


def test_removing_an_approval_takes_down_that_persons_clips_only(env) -> None:
    client, keys, cameo, c = env
    r = client.put(f"/v1/cameos/{cameo.id}/permissions", json={"permission": "approved", "approved": ["bob", "carl"]},
                   headers=hdr(keys["alice"]))
    assert r.status_code == 200
    published_clip(c, "bob", cameo.id, "00000000000000b2")
    published_clip(c, "carl", cameo.id, "00000000000000c2")
    r = client.delete(f"/v1/cameos/{cameo.id}/approvals/bob", headers=hdr(keys["alice"]))
    assert r.json()["taken_down"] == ["00000000000000b2"]
    with Session(c.engine) as s:
        assert s.get(Job, "00000000000000b2").status == "taken_down"
        assert s.get(Job, "00000000000000c2").status == "published"


def test_owner_deletes_one_clip(env) -> None:
    client, keys, cameo, c = env
    client.put(f"/v1/cameos/{cameo.id}/permissions", json={"permission": "everyone"}, headers=hdr(keys["alice"]))
    published_clip(c, "bob", cameo.id, "00000000000000b3")
    r = client.delete(f"/v1/cameos/{cameo.id}/appearances/00000000000000b3", headers=hdr(keys["alice"]))
    assert r.status_code == 200 and r.json()["taken_down"] == ["00000000000000b3"]
    r = client.delete(f"/v1/cameos/{cameo.id}/appearances/ffffffffffffffff", headers=hdr(keys["alice"]))
    assert r.status_code == 404


def test_challenge_is_single_use_and_bound_to_its_user(env, tmp_path: Path) -> None:
    client, keys, _, c = env
    ch = client.post("/v1/cameos/challenge", headers=hdr(keys["bob"])).json()
    assert len(ch["steps"]) >= 1
    video = (FIXTURES / "liveness" / "carphone_face_qcif.mp4").read_bytes()
    files = {"video": ("selfie.mp4", video, "video/mp4")}
    # someone else's challenge
    r = client.post("/v1/cameos", data={"handle": "carl_cam", "challenge_id": ch["id"]}, files=files,
                    headers=hdr(keys["carl"]))
    assert r.status_code == 422 and "challenge" in r.json()["detail"]
    r1 = client.post("/v1/cameos", data={"handle": "bob_cam", "challenge_id": ch["id"]}, files=files,
                     headers=hdr(keys["bob"]))
    r2 = client.post("/v1/cameos", data={"handle": "bob_cam", "challenge_id": ch["id"]}, files=files,
                     headers=hdr(keys["bob"]))
    assert r2.status_code == 422 and "already used" in r2.json()["detail"]
    # a clip that does not perform the random challenge is refused, and nothing is stored
    if r1.status_code != 201:
        assert r1.status_code == 422 and "liveness" in r1.json()["detail"]
        assert client.get("/v1/cameos", headers=hdr(keys["bob"])).json() == []


@pytest.mark.parametrize("payload", [b"", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100, b"not a video at all"])
def test_bad_selfie_uploads_are_refused(env, payload: bytes) -> None:
    client, keys, _, _ = env
    ch = client.post("/v1/cameos/challenge", headers=hdr(keys["bob"])).json()
    r = client.post("/v1/cameos", data={"handle": "bob_cam", "challenge_id": ch["id"]},
                    files={"video": ("s.mp4", payload, "video/mp4")}, headers=hdr(keys["bob"]))
    assert r.status_code == 422
    assert client.get("/v1/cameos", headers=hdr(keys["bob"])).json() == []
