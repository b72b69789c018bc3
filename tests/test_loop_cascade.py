"""Cascades: a takedown on a ground a remix's pictures carry (likeness, sexual content, a revoked cameo) takes the
remixes down, remixes of remixes included; on any other ground the remixes go back through the gate, which runs
its analysis stages on each as published and decides again."""

from __future__ import annotations

from sqlmodel import Session, select

from gate import cameos, jobs, moderation
from gate.models import Job, JobStatus
from gate.moderation_models import Statement
from tests.loop_helpers import seed_clip

SRC, R1, R2, OTHER = "a100000000000001", "a200000000000002", "a300000000000003", "a400000000000004"


def _job(c, vid: str) -> Job:
    with Session(c.engine) as s:
        return s.get(Job, vid)


def _statements(c, vid: str) -> list[Statement]:
    with Session(c.engine) as s:
        return list(s.exec(select(Statement).where(Statement.video_id == vid)).all())


def test_takedown_for_likeness_takes_the_remixes_down(components) -> None:
    c = components
    seed_clip(c, SRC, "alice")
    seed_clip(c, R1, "bob", remix=SRC)
    seed_clip(c, R2, "carl", remix=R1)
    seed_clip(c, OTHER, "bob")
    queued: list[str] = []
    out = moderation.decide(c, SRC, "olga", "take_down", "likeness", "shows a classmate without consent",
                            dispatch=queued.append)
    assert out["cascade"] == {"taken_down": [R1, R2], "rechecked": []} and queued == []
    for vid in (R1, R2):
        assert _job(c, vid).status == JobStatus.TAKEN_DOWN and not c.storage.exists(f"videos/{vid}.mp4")
        (st,) = _statements(c, vid)
        assert st.source == "cascade" and st.automated and st.caused_by == out["id"] and st.ground == "likeness"
        assert st.creator == _job(c, vid).user
    assert _job(c, OTHER).status == JobStatus.PUBLISHED


def test_takedown_on_another_ground_sends_the_remixes_back_through_the_gate(components) -> None:
    c = components
    seed_clip(c, SRC, "alice")
    # a remix that changed the picture (the removed bank would stop one that looks like the source: stay-down)
    seed_clip(c, R1, "bob", remix=SRC, prompt="add stripes", variant=3)
    seed_clip(c, R2, "carl", remix=SRC, prompt="louder")  # kept the source's pictures as they were
    queued: list[str] = []
    out = moderation.decide(c, SRC, "olga", "take_down", "copyright", "the tune is a registered song",
                            dispatch=queued.append)
    assert out["cascade"] == {"taken_down": [], "rechecked": [R1, R2]} and queued == [R1, R2]
    remix = _job(c, R1)
    assert remix.status == JobStatus.QUEUED and remix.request["recheck"]["source"] == SRC
    assert [s.decision for s in _statements(c, R1)] == ["recheck"]
    # hidden while it waits: not downloadable by anyone but operators
    assert c.storage.exists(f"videos/{R1}.mp4")
    # the worker runs the gate's analysis stages on the clip as published: nothing in it fails, so it is back
    status = jobs.run_job(c, R1)
    remix = _job(c, R1)
    assert status == JobStatus.PUBLISHED, remix.reasons
    names = [d["name"] for d in remix.decisions]
    assert names == ["prompt", "frames", "likeness", "copyright", "publish"], names  # first run's prompt kept
    assert all(d["decision"] == "pass" for d in remix.decisions)
    assert remix.video_key == f"videos/{R1}.mp4" and c.storage.exists(remix.video_key)
    # the remix that kept the source's pictures is recognised by the removed bank and refused, with a statement
    assert jobs.run_job(c, R2) == JobStatus.BLOCKED
    frames = next(d for d in _job(c, R2).decisions if d["name"] == "frames")
    assert frames["decision"] == "block" and any("removed" in r for r in frames["reasons"]), frames["reasons"]
    assert [s.decision for s in _statements(c, R2)] == ["recheck", "refuse"]
    assert not c.storage.exists(f"videos/{R2}.mp4")


def test_a_revoked_cameo_takes_down_its_clips_and_their_remixes(components) -> None:
    from consent.models import Appearance, Cameo

    c = components
    seed_clip(c, SRC, "alice")
    seed_clip(c, R1, "bob", remix=SRC)  # the likeness gate did not see the face in the remix: lineage does
    with Session(c.engine) as s:
        cameo = Cameo(handle="vera.v", owner="vera", permission="everyone")
        s.add(cameo)
        s.commit()
        s.add(Appearance(cameo_id=cameo.id, video_id=SRC, creator="alice", status="published"))
        s.commit()
        cameo_id = cameo.id
    assert sorted(cameos.revoke(c, "vera", cameo_id)) == [SRC, R1]
    assert _job(c, R1).status == JobStatus.TAKEN_DOWN
    (st,) = _statements(c, SRC)
    assert st.ground == "cameo_revoked" and st.source == "cameo" and not st.appealable
    (cascaded,) = _statements(c, R1)
    assert cascaded.caused_by == st.id and not cascaded.appealable and not c.storage.exists(f"held/{R1}.mp4")
