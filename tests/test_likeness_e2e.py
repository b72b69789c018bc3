"""The likeness gate on real clips: a face nobody asked for is still found in the pixels.

Alice enrolls her likeness (real dlib embeddings of a real photo). She makes a clip with her cameo, and
it is published. Bob remixes that clip without naming any cameo: the consent check has nothing to check,
so it is the likeness gate that must find Alice's face in the frames and block. When Alice allows
everyone, the same remix passes, and her later revocation takes Bob's clip down."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from sqlmodel import Session

from gate import cameos, jobs
from gate.requests import GenerationRequest, JobRequest
from tests.conftest import FIXTURES

pytestmark = pytest.mark.slow
FACE = FIXTURES / "faces" / "pratt_frame.jpg"


def run(c, user: str, **req) -> tuple[str, object]:
    job = jobs.create_job(c, user, GenerationRequest(seconds=3, **req))
    jobs.run_job(c, job.id)
    return job.id, jobs.get_job(c, job.id)


def stage(job, name: str) -> dict:
    return next(d for d in job.decisions if d["name"] == name)


@pytest.fixture
def alice_cameo(components):
    from consent import registry

    backend, why = components.face_backend.get()
    assert backend is not None, why
    faces = backend.analyze(np.asarray(Image.open(FACE).convert("RGB")))
    key = components.storage.put_bytes("cameos/alice.jpg", FACE.read_bytes())
    with Session(components.engine, expire_on_commit=False) as s:
        return registry.enroll(s, "alice", "alice_cam", {"frontal": faces[0].embedding}, key, backend.name)


def test_unrequested_face_is_found_and_blocked_then_allowed_then_taken_down(components, alice_cameo) -> None:
    c = components
    src_id, src = run(c, "alice", prompt="a person waving in a park at noon", cameos=["alice_cam"])
    assert src.status == "published", src.reasons
    likeness = stage(src, "likeness")
    assert "@alice_cam" in likeness["scores"] and likeness["decision"] == "pass"

    _, refused = run(c, "bob", prompt="a person waving in a park, make the sky purple", remix=src_id)
    assert refused.status == "blocked", refused.reasons
    assert stage(refused, "consent")["decision"] == "pass"  # no cameo was named
    blocked = stage(refused, "likeness")
    assert blocked["decision"] == "block" and "@alice_cam" in blocked["reasons"][0]
    # the draft is gone, but the frames that show why are kept for the creator and the operators
    from gate.evidence import evidence_key, flagged_frames

    kept = [i for i in flagged_frames(refused.decisions) if c.storage.exists(evidence_key(refused.id, i))]
    assert kept and refused.video_key is None
    _check_frame_page(c, refused.id, kept[0])

    cameos.set_permission(c, "alice", alice_cameo.id, "everyone")
    ok_id, ok = run(c, "bob", prompt="a person waving in a park, make the sky purple", remix=src_id)
    assert ok.status == "published", ok.reasons

    removed = cameos.revoke(c, "alice", alice_cameo.id)
    assert set(removed) == {src_id, ok_id}
    assert jobs.get_job(c, ok_id).status == "taken_down"
    assert not c.storage.exists(f"videos/{ok_id}.mp4")


def _check_frame_page(c, job_id: str, index: int) -> None:
    from api.app import create_app
    from gate.users import create_user
    from tests.web_helpers import Browser

    app = create_app(components=c, dispatch=lambda j: None)
    for name in ("bob", "eve"):
        _, key = create_user(c.engine, name, "creator")
        r = Browser(app).sign_in(key).get(f"/jobs/{job_id}/frames/likeness/{index}.png")
        if name == "bob":
            assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text[:200]
        else:
            assert r.status_code == 404  # another creator sees nothing of Bob's refused clip


def test_no_registered_likeness_skips_the_face_search(components, tmp_path) -> None:
    """With nobody registered no face can match: the stage passes without decoding a frame, and says why."""
    from gate.pipeline import JobState
    from gate.stages.likeness import LikenessStage

    ctx = JobState(job_id="00000000abcd", user="bob", request=JobRequest(prompt="x"), workdir=tmp_path)
    ctx.draft = tmp_path / "not-a-video.mp4"  # never opened: decoding it would fail the stage
    ctx.draft.write_bytes(b"junk")
    d = LikenessStage(components).run(ctx)
    assert d.decision == "pass" and "no likeness is registered" in d.reasons[0]
    assert "faces_seen" not in d.scores
