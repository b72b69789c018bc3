"""Job status races: a revocation or a takedown always wins over a concurrent approve, publish or finish.

Each round starts two threads on a barrier, each after its own random delay, with the media copy slowed
by a random few milliseconds (the window in which a concurrent commit used to be overwritten). After
both have finished, the clip must not be public: status not `published`, its appearance removed, and no
file left under videos/. Run on SQLite (the default install) and on PostgreSQL.
"""

from __future__ import annotations

import os
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from gate.decision import Decision
from gate.models import Job, utcnow

ROUNDS = 200


@pytest.fixture(params=["sqlite", "postgresql"])
def racing(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """Components on the given database, with a media copy that takes a random few milliseconds."""
    from gate.components import Components, reset_components
    from gate.settings import Settings

    for key in list(os.environ):
        if key.startswith("REELGATE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("REELGATE_DATA_DIR", str(tmp_path / "data"))

    def build() -> Components:
        c = Components(Settings())
        # Commits without waiting for the disk (no effect on locking or visibility, which is what the
        # rounds exercise): 800 rounds of ~6 commits each stay well under a minute.
        @event.listens_for(c.engine, "connect")
        def _no_fsync(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA synchronous=NORMAL" if request.param == "sqlite" else "SET synchronous_commit=off")
            cur.close()
            if request.param == "postgresql":
                dbapi_conn.commit()

        c.engine.dispose()
        slow = random.Random(7)
        put_file = c.storage.put_file

        def slow_put_file(key: str, src: Path) -> str:
            time.sleep(slow.uniform(0, 0.004))
            return put_file(key, src)

        c.storage.put_file = slow_put_file  # type: ignore[method-assign]
        return c

    if request.param == "sqlite":
        c = build()
        yield c
        c.engine.dispose()
    else:
        from tests.services import fresh_pg_database, require_services

        require_services("PostgreSQL")

        with fresh_pg_database() as url:
            monkeypatch.setenv("REELGATE_DATABASE_URL", url)
            c = build()
            yield c
            c.engine.dispose()
    reset_components()


def _together(a: Callable[[], object], b: Callable[[], object], rng: random.Random, spread: float) -> list:
    """Run a and b in two threads released at once, each after a random delay; re-raise their errors."""
    barrier = threading.Barrier(2)
    out: list = [None, None]
    errors: list[BaseException] = []
    delays = (rng.uniform(0, spread), rng.uniform(0, spread))

    def run(i: int, fn: Callable[[], object]) -> None:
        try:
            barrier.wait()
            time.sleep(delays[i])
            out[i] = fn()
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate((a, b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    return out


def _clips_in_review(c, n: int) -> list[tuple[str, int]]:
    """n drafts held for review, each showing its own cameo (usable by everyone), set up in one commit."""
    from consent.models import Appearance, Cameo

    with Session(c.engine, expire_on_commit=False) as s:
        cameos = [Cameo(handle=f"cam{i:04d}", owner="alice", permission="everyone") for i in range(n)]
        s.add_all(cameos)
        s.flush()
        out = []
        for cameo in cameos:
            job_id = secrets.token_hex(8)
            s.add(Job(id=job_id, user="bob", status="review", request={"prompt": "x"},
                      video_key=f"drafts/{job_id}.mp4"))
            s.add(Appearance(cameo_id=cameo.id, video_id=job_id, creator="bob", status="draft"))
            c.storage.put_bytes(f"drafts/{job_id}.mp4", b"\x00" * 64)
            out.append((job_id, cameo.id))
        s.commit()
    return out


def _assert_not_public(c, job_id: str) -> Job:
    from consent.models import Appearance

    with Session(c.engine) as s:
        job = s.get(Job, job_id)
        apps = s.exec(select(Appearance).where(Appearance.video_id == job_id)).all()
    assert job.status != "published", f"job {job_id} published after a revocation or takedown"
    assert all(a.status == "removed" for a in apps), [a.status for a in apps]
    assert not c.storage.exists(f"videos/{job_id}.mp4"), f"videos/{job_id}.mp4 left on disk"
    return job


@pytest.mark.slow  # 200 rounds on each database
def test_revoke_against_approve(racing) -> None:
    from gate import cameos, jobs

    c, rng, outcomes = racing, random.Random(17), Counter()

    def approve(job_id: str) -> str:
        try:
            jobs.review(c, job_id, "op", "approve", "looks fine")
            return "approved"
        except jobs.JobError:
            return "refused"

    for job_id, cameo_id in _clips_in_review(c, ROUNDS):
        result, _ = _together(partial(approve, job_id), partial(cameos.revoke, c, "alice", cameo_id), rng, 0.004)
        job = _assert_not_public(c, job_id)
        assert job.status == "taken_down" or (result == "refused" and job.status == "review"), job.status
        outcomes[result] += 1
    # both orders happened: approve first (then taken down by the revocation) and revoke first (refused)
    assert outcomes["approved"] and outcomes["refused"], outcomes


class _Generate:
    """Stands in for the model stages: writes the signed clip the publish stage copies."""

    name = "generate"

    def signals(self) -> list:
        return []

    def run(self, ctx) -> Decision:
        signed = ctx.workdir / "signed.mp4"
        signed.write_bytes(b"\x00" * 64)
        ctx.signed = signed
        return Decision(stage=self.name, decision="pass", reasons=["generated"])


def _two_stages(monkeypatch: pytest.MonkeyPatch) -> None:
    import gate.stages
    from gate.stages.publish import PublishStage

    monkeypatch.setattr(gate.stages, "build_stages", lambda c: [_Generate(), PublishStage(c)])


def _running_jobs(c, n: int) -> list[str]:
    """n jobs claimed by a worker (attempt 1, lease live), set up in one commit."""
    ids = [secrets.token_hex(8) for _ in range(n)]
    with Session(c.engine) as s:
        s.add_all(Job(id=i, user="bob", status="running", attempts=1, request={"prompt": "a red ball"},
                      lease_until=utcnow() + timedelta(minutes=5)) for i in ids)
        s.commit()
    return ids


def _end_of_run(c, job_id: str, workdir: Path) -> None:
    """What run_job does once the model stages passed: the publish stage, then the finish."""
    from gate import jobs
    from gate.pipeline import JobContext
    from gate.requests import JobRequest
    from gate.stages.publish import PublishStage

    ctx = JobContext(job_id=job_id, user="bob", request=JobRequest(prompt="a red ball"), workdir=workdir,
                     signed=workdir / "signed.mp4", verdicts=["pass"], attempt=1)
    d = PublishStage(c).run(ctx)
    status = "published" if d.decision == "pass" else "blocked"
    jobs._finish(c, job_id, status, [d.as_dict()], [f"publish: {r}" for r in d.reasons])


@pytest.mark.slow  # 200 rounds on each database
def test_takedown_against_finish(racing, tmp_path: Path) -> None:
    from gate import jobs

    c, rng, seen = racing, random.Random(23), Counter()
    (tmp_path / "signed.mp4").write_bytes(b"\x00" * 64)
    ids = _running_jobs(c, ROUNDS + 1)
    t0 = time.perf_counter()  # the spread covers a whole publish + finish: takedowns land all over it
    probe = ids.pop()
    _end_of_run(c, probe, tmp_path)
    assert jobs.get_job(c, probe).status == "published"
    spread = (time.perf_counter() - t0) * 1.2
    for job_id in ids:
        _together(partial(_end_of_run, c, job_id, tmp_path), partial(jobs.take_down, c, job_id, "op", "reported"),
                  rng, spread)
        after = _assert_not_public(c, job_id)
        assert after.status == "taken_down", after.status
        with Session(c.engine) as s:  # the run's decision is recorded, the takedown's reason kept
            assert any("taken down by op" in r for r in s.get(Job, job_id).reasons)
        seen["published first" if after.decisions[0]["decision"] == "pass" else "taken down first"] += 1
    assert seen["published first"] and seen["taken down first"], seen


def test_run_job_after_a_takedown_while_running(components, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole run_job path: a takedown that lands during the model stages stands at the end."""
    from gate import jobs

    class _TakenDownMidway(_Generate):
        def run(self, ctx) -> Decision:
            jobs.take_down(components, ctx.job_id, "op", "reported")
            return super().run(ctx)

    import gate.stages
    from gate.stages.publish import PublishStage

    monkeypatch.setattr(gate.stages, "build_stages", lambda c: [_TakenDownMidway(), PublishStage(c)])
    job = jobs.create_job(components, "bob", jobs.GenerationRequest(prompt="a red ball"))
    assert jobs.run_job(components, job.id) == "taken_down"
    after = _assert_not_public(components, job.id)
    assert after.decisions[-1]["decision"] == "block" and "taken down" in after.decisions[-1]["reasons"][0]


def test_timed_out_publish_never_publishes_later(components, monkeypatch: pytest.MonkeyPatch) -> None:
    """The publish stage overran its limit (slow copy); the job is blocked, and the abandoned thread's
    late commit must not make it public."""
    from gate import jobs

    _two_stages(monkeypatch)
    components.settings.stage_timeout_seconds = 0.3
    put_file = components.storage.put_file

    def slow_put_file(key: str, src: Path) -> str:
        time.sleep(1.0)
        return put_file(key, src)

    monkeypatch.setattr(components.storage, "put_file", slow_put_file)
    job = jobs.create_job(components, "bob", jobs.GenerationRequest(prompt="a red ball"))
    assert jobs.run_job(components, job.id) == "blocked"
    deadline = time.monotonic() + 10
    while components.hung_stages.names() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not components.hung_stages.names()
    after = _assert_not_public(components, job.id)
    assert after.status == "blocked"
