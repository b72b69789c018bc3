"""Consent is checked again at publish time: a revocation that lands while a job runs still wins."""

from __future__ import annotations

import numpy as np
from sqlmodel import Session, select

from gate.models import Job
from gate.pipeline import GrantedCameo, JobContext
from gate.requests import JobRequest
from gate.stages.publish import PublishStage


def setup(c, tmp_path, permission: str = "everyone"):
    from consent import registry

    with Session(c.engine, expire_on_commit=False) as s:
        vec = np.ones(128, dtype=np.float32) / 12
        cameo = registry.enroll(s, "alice", "alice_cam", {"frontal": vec}, "x.png", "dlib")
        registry.set_permission(s, cameo.id, "alice", permission)
        s.add(Job(id="00000000000000aa", user="bob", status="running", request={"prompt": "x"}))
        s.commit()
    signed = tmp_path / "signed.mp4"
    signed.write_bytes(b"\x00" * 100)
    ctx = JobContext(job_id="00000000000000aa", user="bob", request=JobRequest(prompt="x", cameos=("alice_cam",)),
                     workdir=tmp_path)
    ctx.signed = signed
    ctx.cameos = [GrantedCameo("alice_cam", cameo.id, "x.png")]
    ctx.verdicts = ["pass"] * 8
    return cameo, ctx


def test_publishes_with_consent_and_records_the_appearance(components, tmp_path) -> None:
    from consent.models import Appearance

    cameo, ctx = setup(components, tmp_path)
    d = PublishStage(components).run(ctx)
    assert d.decision == "pass"
    with Session(components.engine) as s:
        job = s.get(Job, ctx.job_id)
        assert job.status == "published" and components.storage.exists(job.video_key)
        app = s.exec(select(Appearance).where(Appearance.cameo_id == cameo.id)).one()
        assert app.status == "published" and app.creator == "bob"


def test_revoked_while_running_blocks_at_publish(components, tmp_path) -> None:
    from consent import registry

    cameo, ctx = setup(components, tmp_path)
    with Session(components.engine) as s:  # the owner revokes after the pre-generation check passed
        registry.revoke(s, cameo.id, "alice")
    d = PublishStage(components).run(ctx)
    assert d.decision == "block" and "revoked" in d.reasons[0] and "publish" in d.reasons[0]
    with Session(components.engine) as s:
        job = s.get(Job, ctx.job_id)
        assert job.status == "running" and job.video_key is None
    assert not components.storage.exists(f"videos/{ctx.job_id}.mp4")


def test_held_for_review_is_stored_as_a_draft(components, tmp_path) -> None:
    _, ctx = setup(components, tmp_path)
    ctx.verdicts = ["pass", "review", "pass"]
    d = PublishStage(components).run(ctx)
    assert d.decision == "review"
    with Session(components.engine) as s:
        job = s.get(Job, ctx.job_id)
        assert job.status == "running" and job.video_key == f"drafts/{ctx.job_id}.mp4"
