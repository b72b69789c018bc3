"""The pipeline's contract: in order, stop at the first block, fail closed, never pass on error."""

from __future__ import annotations

import time
from pathlib import Path

from gate.decision import Decision, Signal
from gate.pipeline import JobContext, Pipeline
from gate.policy import Policy
from gate.requests import JobRequest


class FakeStage:
    def __init__(self, name: str, verdict: str = "pass", *, raises: bool = False, sleep: float = 0.0,
                 signals: list[Signal] | None = None) -> None:
        self.name, self.verdict, self.raises, self.sleep = name, verdict, raises, sleep
        self._signals = signals or []
        self.calls = 0

    def signals(self) -> list[Signal]:
        return self._signals

    def run(self, ctx: JobContext) -> Decision:
        self.calls += 1
        if self.sleep:
            time.sleep(self.sleep)
        if self.raises:
            raise RuntimeError("model exploded")
        return Decision(self.name, self.verdict, reasons=[f"{self.name} said {self.verdict}"])


def ctx(tmp_path: Path) -> JobContext:
    return JobContext(job_id="00" * 8, user="u", request=JobRequest(prompt="x"), workdir=tmp_path)


def test_all_pass_publishes_and_times_each_stage(tmp_path: Path) -> None:
    stages = [FakeStage("a"), FakeStage("b", sleep=0.05)]
    result = Pipeline(stages, Policy()).run(ctx(tmp_path))
    assert result.status == "published"
    assert [d.stage for d in result.decisions] == ["a", "b"]
    assert result.decisions[1].seconds >= 0.05


def test_stops_at_first_block(tmp_path: Path) -> None:
    later = FakeStage("c")
    result = Pipeline([FakeStage("a"), FakeStage("b", "block"), later], Policy()).run(ctx(tmp_path))
    assert result.status == "blocked"
    assert later.calls == 0
    assert result.reasons == ["b: b said block"]


def test_review_continues_and_ends_in_review(tmp_path: Path) -> None:
    later = FakeStage("c")
    result = Pipeline([FakeStage("a", "review"), later], Policy()).run(ctx(tmp_path))
    assert result.status == "review" and later.calls == 1


def test_stage_that_raises_blocks(tmp_path: Path) -> None:
    later = FakeStage("c")
    result = Pipeline([FakeStage("a", raises=True), later], Policy()).run(ctx(tmp_path))
    assert result.status == "blocked"
    assert "failed closed" in result.decisions[0].reasons[0] and "model exploded" in result.decisions[0].reasons[0]
    assert later.calls == 0


def test_stage_that_times_out_blocks(tmp_path: Path) -> None:
    policy = Policy(stage_timeout_seconds={"slow": 0.2})
    t0 = time.perf_counter()
    result = Pipeline([FakeStage("slow", sleep=3.0), FakeStage("c")], policy).run(ctx(tmp_path))
    assert time.perf_counter() - t0 < 2.0  # did not wait for the hung stage
    assert result.status == "blocked"
    assert "timed out" in result.decisions[0].reasons[0]


def test_an_overrunning_stage_thread_is_tracked_until_it_ends(tmp_path: Path) -> None:
    from gate.pipeline import HungStages

    hung = HungStages()
    policy = Policy(stage_timeout_seconds={"dawdle": 0.1})
    assert Pipeline([FakeStage("dawdle", sleep=1.0)], policy, hung=hung).run(ctx(tmp_path)).status == "blocked"
    assert hung.names() == ["stage-dawdle"]  # what makes a worker restart itself (gate.queue)
    time.sleep(1.5)
    assert hung.names() == []


def test_operator_may_send_errors_to_review_but_never_pass(tmp_path: Path) -> None:
    result = Pipeline([FakeStage("a", raises=True)], Policy(on_stage_error="review")).run(ctx(tmp_path))
    assert result.status == "review"


def test_invalid_decision_fails_closed(tmp_path: Path) -> None:
    stage = FakeStage("weird", verdict="maybe")
    result = Pipeline([stage], Policy()).run(ctx(tmp_path))
    assert result.status == "blocked"


def test_required_signal_missing_blocks_without_running(tmp_path: Path) -> None:
    sig = Signal("frames.nudenet", "nudenet", available=False, real_weights=False, why="weights missing")
    stage = FakeStage("frames", signals=[sig])
    result = Pipeline([stage], Policy()).run(ctx(tmp_path))
    assert result.status == "blocked" and stage.calls == 0
    assert "required signal frames.nudenet" in result.decisions[0].reasons[0]


def test_optional_signal_missing_is_recorded_not_dropped(tmp_path: Path) -> None:
    sig = Signal("frames.clip", "open_clip ViT-B-32", available=False, real_weights=False, why="no CLIP weights")
    stage = FakeStage("frames", signals=[sig])
    result = Pipeline([stage], Policy()).run(ctx(tmp_path))
    assert result.status == "published" and stage.calls == 1
    d = result.decisions[0]
    assert d.not_run == {"frames.clip": "no CLIP weights"}
    assert any("frames.clip not run: no CLIP weights" in r for r in d.reasons)


def test_health_lists_required_flags() -> None:
    sig = Signal("frames.clip", "m", available=False, real_weights=False, why="x")
    health = Pipeline([FakeStage("frames", signals=[sig])], Policy()).health()
    assert health[0]["signals"][0]["required"] is False


def test_policy_thresholds_must_be_ordered_and_block_may_be_off() -> None:
    import pytest
    from pydantic import ValidationError

    from gate.policy import Threshold

    with pytest.raises(ValidationError):
        Threshold(review=0.9, block=0.5)
    never = Threshold(review=0.5, block=None)
    assert never.verdict(1.0) == "review" and never.verdict(0.1) == "pass"
    assert Policy().prompt_verdict({"public_figure": 1.0}) == ("review", ["public_figure"])
