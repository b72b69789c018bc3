"""The typed stage contract: what each stage reads and provides, the analysis stages run at once on one
shared decode of the draft, and the job is decided exactly as if they had run one by one."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest

from gate.decision import Decision, Signal
from gate.job_status import JobStatus, TransitionError, transition
from gate.pipeline import FrameSample, JobState, Pipeline, check_flow, stage_groups
from gate.policy import Policy
from gate.requests import JobRequest
from gate.stages import STAGE_NAMES, STAGES


class _Sleepy:
    concurrent = True
    reads: ClassVar[frozenset[str]] = frozenset()
    provides: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, name: str, seconds: float, verdict: str = "pass", raises: bool = False) -> None:
        self.name, self.seconds, self.verdict, self.raises = name, seconds, verdict, raises
        self.ran = threading.Event()

    def signals(self) -> list[Signal]:
        return []

    def run(self, ctx: JobState) -> Decision:
        time.sleep(self.seconds)
        self.ran.set()
        if self.raises:
            raise RuntimeError("boom")
        return Decision(stage=self.name, decision=self.verdict, reasons=[self.name])  # type: ignore[arg-type]


class _Tail(_Sleepy):
    concurrent = False


def _state(tmp_path: Path) -> JobState:
    return JobState(job_id="00" * 8, user="u", request=JobRequest(prompt="x"), workdir=tmp_path)


def test_the_shipped_flow_is_consistent_and_groups_the_analysis_stages() -> None:
    check_flow(STAGES)  # type: ignore[arg-type]
    assert [[s.name for s in g] for g in stage_groups(STAGES)] == [  # type: ignore[arg-type]
        ["prompt"], ["consent"], ["generate"], ["frames", "likeness", "copyright", "watermark"], ["sign"],
        ["publish"]]
    assert all(s.title and s.description for s in STAGES)
    from api.web.explain import STAGE_ORDER, STAGE_TITLES, timeline

    assert STAGE_ORDER == STAGE_NAMES
    rows = timeline([], "queued")
    assert [r["title"] for r in rows] == [s.title for s in STAGES] and STAGE_TITLES["gate"] == "Gate"


def test_a_stage_reading_what_nobody_provides_is_refused() -> None:
    class Reader(_Tail):
        reads: ClassVar[frozenset[str]] = frozenset({"signed"})

    with pytest.raises(ValueError, match="reads"):
        check_flow([Reader("publish", 0)])
    with pytest.raises(ValueError, match="unknown"):
        Reader.reads = frozenset({"facts"})
        check_flow([Reader("x", 0)])


def test_analysis_stages_run_at_once_and_decide_in_declared_order(tmp_path: Path) -> None:
    # the slowest first: sequentially 1.8 s; at once about 0.8 s; decisions still in declared order
    stages = [_Sleepy("frames", 0.8), _Sleepy("likeness", 0.5), _Sleepy("copyright", 0.5), _Tail("sign", 0)]
    seen: list[str] = []
    p = Pipeline(stages, Policy(), on_decision=lambda ctx, d: seen.append(d.stage))
    t0 = time.perf_counter()
    res = p.run(_state(tmp_path))
    wall = time.perf_counter() - t0
    assert res.status == JobStatus.PUBLISHED and res.status == "published"
    assert [d.stage for d in res.decisions] == seen == ["frames", "likeness", "copyright", "sign"]
    assert wall < 1.5, wall


def test_a_block_beside_others_stops_the_job_as_if_sequential(tmp_path: Path) -> None:
    tail = _Tail("sign", 0)
    stages = [_Sleepy("frames", 0.3), _Sleepy("likeness", 0.0, "block"), _Sleepy("copyright", 0.1, "block"), tail]
    ctx = _state(tmp_path)
    res = Pipeline(stages, Policy()).run(ctx)
    assert res.status == "blocked"
    assert [(d.stage, d.decision) for d in res.decisions] == [("frames", "pass"), ("likeness", "block")]
    assert ctx.verdicts == ["pass", "block"] and not tail.ran.is_set()


def test_a_concurrent_stage_that_raises_or_overruns_fails_closed(tmp_path: Path) -> None:
    policy = Policy().model_copy(update={"stage_timeout_seconds": {"copyright": 0.3}})
    stages = [_Sleepy("frames", 0.0), _Sleepy("likeness", 0.0, raises=True), _Sleepy("copyright", 2.0)]
    res = Pipeline(stages, policy).run(_state(tmp_path))
    assert res.status == "blocked"
    assert [(d.stage, d.decision) for d in res.decisions] == [("frames", "pass"), ("likeness", "block")]
    assert "failed closed" in res.decisions[1].reasons[0]
    stages = [_Sleepy("frames", 0.0), _Sleepy("copyright", 2.0)]
    t0 = time.perf_counter()
    res = Pipeline(stages, policy).run(_state(tmp_path))
    assert res.status == "blocked" and "timed out" in res.decisions[1].reasons[0]
    assert time.perf_counter() - t0 < 1.5


def test_the_draft_is_decoded_once_for_every_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import safety.frames
    from provenance.synthetic import make_test_clip

    draft = make_test_clip(tmp_path / "draft.mp4", seconds=3.0, width=160, height=120, seed=3)
    calls: list[Path] = []
    real = safety.frames.decode_sample

    def counting(path: Path, every_seconds: float = 0.5, strict: bool = False):
        calls.append(path)
        time.sleep(0.2)  # the others arrive while it decodes
        return real(path, every_seconds, strict)

    monkeypatch.setattr(safety.frames, "decode_sample", counting)
    sample = FrameSample(draft)
    out: list[int] = []
    readers = [threading.Thread(target=lambda: out.append(len(sample.thinned(64)))) for _ in range(3)]
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    assert calls == [draft] and len(set(out)) == 1
    # the same frames each stage sampled on its own before (frames: 64, likeness: 48, copyright: interval only)
    assert [f.index for f in sample.thinned(64)] == [f.index for f in safety.frames.sample_frames(draft, 0.5, 64)]
    assert [f.index for f in sample.thinned(48)] == [f.index for f in safety.frames.sample_frames(draft, 0.5, 48)]
    from safety.copyright.video import sample_frames as copyright_frames

    assert [f.index for f in sample.at_interval(600)] == [i for i, _, _ in copyright_frames(draft, 0.5)]



def test_the_generate_stage_samples_the_draft_as_it_encodes_it(components, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The analysis stages' frames come from the encoder's input: the draft is never decoded for them, and the
    frames picked (index, time, why) are the ones a decode of the draft picks."""
    import safety.frames
    from gate.stages.generate import GenerateStage

    real = safety.frames.decode_sample
    ctx = JobState(job_id="00000000000000c1", user="u", workdir=tmp_path,
                   request=JobRequest(prompt="a red ball bouncing on a wooden floor", seconds=3, resolution="480p"))

    def no_decode(*a: object, **k: object) -> None:
        raise AssertionError("the draft was decoded")

    monkeypatch.setattr(safety.frames, "decode_sample", no_decode)
    assert GenerateStage(components).run(ctx).decision == "pass"
    sample = ctx.need("frame_sample")
    got = [(f.index, f.time, f.reasons) for f in sample.thinned(64)]
    assert [f.index for f in sample.at_interval(600)] == list(range(0, 72, 12))
    monkeypatch.setattr(safety.frames, "decode_sample", real)
    assert got == [(f.index, f.time, f.reasons) for f in real(ctx.draft, FrameSample.EVERY_SECONDS)]
    assert all(f.image.shape == (480, 854, 3) for f in sample.thinned(64))


def test_the_draft_is_marked_as_it_is_encoded(components, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The generate stage embeds the watermark (this job's payload, the installation's current key) in the
    draft's one encode; the watermark stage records it without decoding or encoding the clip again, and the
    file signed is that draft."""
    import provenance.media
    from gate.stages.generate import GenerateStage
    from gate.stages.watermark import WatermarkStage
    from provenance.watermark import WATERMARK_VERSION, detect_clip

    ctx = JobState(job_id="00000000000000c2", user="u", workdir=tmp_path,
                   request=JobRequest(prompt="a red ball bouncing on a wooden floor", seconds=3, resolution="480p"))
    assert GenerateStage(components).run(ctx).decision == "pass"
    mark = ctx.need("draft_mark")
    assert mark["payload"] == ctx.job_id and mark["frames"] == 72 and mark["audio"]["marked"]
    assert mark["psnr_db"] > 38 and mark["version"] == WATERMARK_VERSION and mark["audio"]["snr_db"] > 5

    def no_transcode(*a: object, **k: object) -> None:
        raise AssertionError("the draft was transcoded again")

    monkeypatch.setattr(provenance.media, "transcode", no_transcode)
    monkeypatch.setattr("provenance.watermark.transcode", no_transcode)
    d = WatermarkStage(components).run(ctx)
    ring = components.watermark_keys.get()
    assert d.decision == "pass" and ctx.marked == ctx.draft
    assert ctx.watermark == {"name": WATERMARK_VERSION, "payload": ctx.job_id, "key_id": ring.current.key_id}
    assert d.scores["psnr_db"] == mark["psnr_db"]
    found = detect_clip(ctx.draft, keys=ring)
    assert found["found"] and found["payload"] == ctx.job_id and found["key_id"] == ring.current.key_id


def test_a_draft_mark_not_this_jobs_fails_the_watermark_stage(components, tmp_path: Path) -> None:
    from gate.stages.watermark import WatermarkStage
    from provenance.watermark import WATERMARK_VERSION

    ctx = JobState(job_id="00000000000000c3", user="u", workdir=tmp_path, request=JobRequest(prompt="x"),
                   draft=tmp_path / "draft.mp4",
                   draft_mark={"payload": "00000000000000c4", "version": WATERMARK_VERSION, "key_id": "k"})
    with pytest.raises(RuntimeError, match="not this job's"):
        WatermarkStage(components).run(ctx)
    assert ctx.marked is None


def test_a_visible_mark_leaves_the_marking_to_the_watermark_stage(components, tmp_path: Path) -> None:
    """The visible label must go under the invisible mark: the draft is encoded unmarked, and the watermark
    stage draws the label and marks the result, as before the mark moved into the draft's encode."""
    from gate.stages.generate import GenerateStage
    from gate.stages.watermark import WatermarkStage
    from provenance.watermark import detect_clip

    components.set_policy(components.policy.model_copy(update={"visible_watermark": True}), "test")
    ctx = JobState(job_id="00000000000000c5", user="u", workdir=tmp_path,
                   request=JobRequest(prompt="a red ball bouncing on a wooden floor", seconds=2, resolution="480p"))
    assert GenerateStage(components).run(ctx).decision == "pass"
    assert ctx.draft_mark is None
    ring = components.watermark_keys.get()
    assert not detect_clip(ctx.need("draft"), keys=ring)["found"]
    assert WatermarkStage(components).run(ctx).decision == "pass"
    assert ctx.marked != ctx.draft and (tmp_path / "visible.mp4").exists()
    assert detect_clip(ctx.need("marked"), keys=ring)["payload"] == ctx.job_id

def test_an_undecodable_draft_fails_every_reader(tmp_path: Path) -> None:
    bad = tmp_path / "draft.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)
    sample = FrameSample(bad)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="could not be decoded"):
            sample.thinned(64)


def test_job_status_is_one_enum_stored_as_its_string(components) -> None:
    from sqlmodel import Session

    from gate.models import Job

    assert [str(s) for s in JobStatus] == ["queued", "running", "published", "blocked", "review", "failed",
                                           "taken_down"]
    with Session(components.engine) as s:
        s.add(Job(id="00000000000000bb", user="u", status=JobStatus.QUEUED, request={"prompt": "x"}))
        s.commit()
        assert transition(s, "00000000000000bb", {JobStatus.QUEUED}, JobStatus.RUNNING)
        s.commit()
        raw = s.connection().exec_driver_sql("SELECT status FROM jobs WHERE id = '00000000000000bb'").scalar()
        assert raw == "running"
        with pytest.raises(TransitionError):
            transition(s, "00000000000000bb", {"running"}, "finished")
        with pytest.raises(TransitionError):
            transition(s, "00000000000000bb", {"published"}, JobStatus.REVIEW)
