"""The gate: stages run in order, the first block stops the job, and nothing ever fails open.

Each stage declares what it reads from and provides to the job's typed state (JobState). Consecutive stages
marked `concurrent` (the analysis of the draft, and the watermark, which needs only the draft) run at once on
one shared decode of the draft; their decisions are taken in declared order, so the outcome is the one a
sequential run would give.

A stage that raises or overruns its time limit gets the policy's `on_stage_error` verdict (block by
default, review if the operator says so; never pass). A required signal that cannot run blocks before
the stage starts; an optional one is recorded as "not run: why" in the decision.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from gate.decision import Decision, Signal, worst
from gate.job_status import JobStatus
from gate.policy import Policy
from gate.requests import JobRequest

if TYPE_CHECKING:
    from safety.frames import SampledFrame

log = logging.getLogger(__name__)

class HungStages:
    """Threads of stages that overran their time limit. Python cannot kill a thread, so the job is decided
    without it and the thread is left behind (a daemon: it never holds up the process's exit); a worker
    restarts itself when one is still running after its job (gate.queue). One per process, kept by the
    composition root."""

    def __init__(self) -> None:
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def add(self, thread: threading.Thread) -> None:
        with self._lock:
            self._threads.add(thread)

    def names(self) -> list[str]:
        """Names of the abandoned stage threads still running."""
        with self._lock:
            self._threads = {t for t in self._threads if t.is_alive()}
            return sorted(t.name for t in self._threads)


class StageTimeout(Exception):
    pass


def _run_with_timeout(stage: Stage, ctx: JobState, timeout: float, hung: HungStages) -> Any:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = stage.run(ctx)
        except Exception as exc:  # handed to the caller, which fails the stage closed
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"stage-{stage.name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        hung.add(thread)
        raise StageTimeout(f"timed out after {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("result")


@dataclass(frozen=True)
class GrantedCameo:
    """A cameo the requester may use (consent on record when the consent stage ran)."""

    handle: str
    cameo_id: int
    reference_image: str  # media key of the owner's reference photo


class FrameSample:
    """The draft's frames, sampled once and shared by the analysis stages (frames, likeness, copyright): taken
    from the generator's frames as they are encoded (no decode at all), else from one decode of the draft.

    Decoded on first use under a lock, so stages running at once wait for one decode instead of each opening
    the file again; a decode failure is remembered and raised to every reader (each stage fails closed)."""

    EVERY_SECONDS = 0.5  # what each analysis stage sampled on its own before

    def __init__(self, path: Path, frames: list[SampledFrame] | None = None) -> None:
        """`frames`: the sample already taken (by the generate stage, as the encoder wrote the draft)."""
        self.path = path
        self._lock = threading.Lock()
        self._frames: list[SampledFrame] | None = frames or None
        self._error: Exception | None = None

    def _decoded(self) -> list[SampledFrame]:
        from safety.frames import decode_sample

        with self._lock:
            if self._frames is None and self._error is None:
                try:
                    self._frames = decode_sample(self.path, self.EVERY_SECONDS, strict=True)
                except Exception as exc:  # every reader gets it, not only the first
                    self._error = exc
            if self._error is not None:
                raise RuntimeError(f"the draft's frames could not be decoded: {self._error}") from self._error
            assert self._frames is not None
            return self._frames

    def thinned(self, max_frames: int) -> list[SampledFrame]:
        """First, last, shot-change and interval frames, interval ones thinned to max_frames in all."""
        from safety.frames import thin_frames

        return thin_frames(self._decoded(), max_frames)

    def at_interval(self, max_frames: int) -> list[SampledFrame]:
        """Only the frames taken every EVERY_SECONDS (the first included), at most max_frames."""
        return [f for f in self._decoded() if "interval" in f.reasons][:max_frames]


_SAMPLE_LOCK = threading.Lock()


@dataclass
class JobState:
    """What flows through the pipeline for one job. Stages declare the fields they read and provide (class
    attributes `reads` / `provides`, checked when a Pipeline is built); nothing flows back."""

    job_id: str
    user: str
    request: JobRequest
    workdir: Path
    attempt: int | None = None  # only this attempt may publish or finish the job
    frame_progress: Callable[[int, int], None] | None = None  # encoder progress (frames done, total)
    remix_source: Path | None = None  # the clip being remixed, when there is one
    mentions: list[str] = field(default_factory=list)  # @handles named in the prompt
    cameos: list[GrantedCameo] = field(default_factory=list)
    draft: Path | None = None  # the generated clip (already marked when draft_mark is set)
    # the watermark's report when the generate stage marked the frames as it encoded them (the draft is then
    # the marked clip and is never decoded again); None: the watermark stage marks the draft itself
    draft_mark: dict[str, Any] | None = None
    clip_metadata: dict[str, Any] = field(default_factory=dict)
    frame_sample: FrameSample | None = None  # the draft's frames, decoded once
    appearances: list[int] = field(default_factory=list)  # consenting cameos whose faces are in the clip
    marked: Path | None = None  # watermarked
    watermark: dict[str, str] | None = None  # what the credentials say about the mark (name, payload, key id)
    signed: Path | None = None  # watermarked and signed: what is published
    verdicts: list[str] = field(default_factory=list)  # each decided stage's verdict, in order

    def need(self, name: str) -> Any:
        """A field an earlier stage must have provided; a missing one is a bug that fails the stage closed."""
        value = getattr(self, name)
        if value is None:
            raise RuntimeError(f"job state has no {name}: the stage that provides it did not run")
        return value

    def frames(self) -> FrameSample:
        with _SAMPLE_LOCK:  # concurrent readers of a draft set directly (evals, tests) share one sample too
            if self.frame_sample is None and self.draft is not None:
                self.frame_sample = FrameSample(self.draft)
        return self.need("frame_sample")


JobContext = JobState  # the name stages and tests used before the state was typed

# fields set before the first stage runs, and the verdicts the pipeline itself keeps
INITIAL_FIELDS = frozenset({"job_id", "user", "request", "workdir", "attempt", "frame_progress", "remix_source",
                            "verdicts"})
STATE_FIELDS = frozenset(f.name for f in fields(JobState))


class Stage(Protocol):
    name: str
    title: str  # what a person reads (console, CLI progress)
    description: str  # one line: what it checks or does
    reads: frozenset[str]  # JobState fields it needs
    provides: frozenset[str]  # JobState fields it sets
    # an analysis stage that only reads what earlier stages provided: runs at once with its neighbours
    concurrent: bool

    def signals(self) -> list[Signal]: ...

    def run(self, ctx: JobState) -> Decision: ...


def _decl(stage: Stage, attr: str, default: Any) -> Any:
    return getattr(stage, attr, default)  # wrappers (fault injection) may not declare


def stage_groups(stages: Sequence[Stage]) -> list[list[Stage]]:
    """Stages in flow order, consecutive concurrent ones grouped (a group of one runs alone)."""
    groups: list[list[Stage]] = []
    for st in stages:
        if groups and _decl(st, "concurrent", False) and _decl(groups[-1][-1], "concurrent", False):
            groups[-1].append(st)
        else:
            groups.append([st])
    return groups


def check_flow(stages: Sequence[Stage]) -> None:
    """Every field a stage reads is set before the job starts or by an earlier stage outside its group."""
    have = set(INITIAL_FIELDS)
    for group in stage_groups(stages):
        for st in group:
            reads, provides = _decl(st, "reads", frozenset()), _decl(st, "provides", frozenset())
            unknown = (set(reads) | set(provides)) - STATE_FIELDS
            if unknown:
                raise ValueError(f"stage {st.name} declares unknown job state fields {sorted(unknown)}")
            missing = set(reads) - have
            if missing:
                raise ValueError(f"stage {st.name} reads {sorted(missing)}, which no earlier stage provides")
        provided: set[str] = set()
        for st in group:
            mine = set(_decl(st, "provides", frozenset()))
            if mine & provided:  # two stages running at once must not write the same field
                raise ValueError(f"stage {st.name} provides {sorted(mine & provided)} as another stage beside it")
            provided |= mine
        have |= provided


@dataclass
class PipelineResult:
    status: JobStatus  # published | review | blocked
    decisions: list[Decision]

    @property
    def reasons(self) -> list[str]:
        return [f"{d.stage}: {r}" for d in self.decisions if d.decision != "pass" for r in d.reasons]


class Pipeline:
    def __init__(
        self,
        stages: Sequence[Stage],
        policy: Policy,
        default_timeout: float = 300.0,
        on_decision: Callable[[JobState, Decision], None] | None = None,
        on_stage_start: Callable[[JobState, str], None] | None = None,
        hung: HungStages | None = None,
    ) -> None:
        self.stages = list(stages)
        self.hung = hung if hung is not None else HungStages()
        self.policy = policy
        self.default_timeout = default_timeout
        self.on_decision = on_decision
        self.on_stage_start = on_stage_start

    def run(self, ctx: JobState) -> PipelineResult:
        """Stages in flow order; a group of concurrent analysis stages runs at once, each under its own time
        limit, and its decisions are taken in the declared order, so the first block in that order stops
        the job exactly as if they had run one by one (decisions after it are dropped, as never needed)."""
        decisions: list[Decision] = []
        groups = stage_groups(self.stages)
        for k, group in enumerate(groups):
            for stage in group:
                if self.on_stage_start:
                    self.on_stage_start(ctx, stage.name)
            for d in self._run_group(group, ctx):
                decisions.append(d)
                ctx.verdicts.append(d.decision)
                if self.on_decision:
                    self.on_decision(ctx, d)
                if d.decision == "block":
                    return PipelineResult(JobStatus.BLOCKED, decisions)
            if not any("frame_sample" in _decl(st, "reads", ()) for g in groups[k + 1:] for st in g):
                ctx.frame_sample = None  # the decoded frames (hundreds of MB at 1080p) are not needed again
        final = worst(*(d.decision for d in decisions))
        return PipelineResult(JobStatus.REVIEW if final == "review" else JobStatus.PUBLISHED, decisions)

    def _run_group(self, group: list[Stage], ctx: JobState) -> list[Decision]:
        if len(group) == 1:
            return [self._run_stage(group[0], ctx)]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(group), thread_name_prefix="stages") as pool:
            futures = [pool.submit(self._run_stage, st, ctx) for st in group]
        out = []
        for st, fut in zip(group, futures, strict=True):
            try:
                out.append(fut.result())
            except Exception as exc:  # _run_stage catches everything; should it not, still fail closed
                out.append(self._failed(st.name, f"raised {type(exc).__name__}: {exc}", t0))
        return out

    def _run_stage(self, stage: Stage, ctx: JobState) -> Decision:
        t0 = time.perf_counter()
        not_run: dict[str, str] = {}
        try:
            signals = stage.signals()
        except Exception as exc:  # a stage that cannot even describe itself cannot be trusted
            return self._failed(stage.name, f"could not report its signals: {exc!r}", t0)
        for sig in signals:
            if sig.available:
                continue
            if self.policy.is_required(sig.name):
                return Decision(
                    stage=stage.name, decision="block", seconds=round(time.perf_counter() - t0, 4),
                    reasons=[f"required signal {sig.name} ({sig.model}) cannot run: {sig.why}"],
                    models={sig.name: sig.model}, not_run={sig.name: sig.why},
                )
            not_run[sig.name] = sig.why
        timeout = self.policy.stage_timeout_seconds.get(stage.name, self.default_timeout)
        try:
            d = _run_with_timeout(stage, ctx, timeout, self.hung)
        except StageTimeout as exc:
            d = self._failed(stage.name, str(exc), t0)
        except Exception as exc:
            log.exception("stage %s raised", stage.name)
            d = self._failed(stage.name, f"raised {type(exc).__name__}: {exc}", t0)
        if not isinstance(d, Decision) or d.decision not in ("pass", "review", "block"):
            d = self._failed(stage.name, f"returned an invalid decision {d!r}", t0)
        d.seconds = round(time.perf_counter() - t0, 4)
        d.not_run = {**not_run, **d.not_run}
        for name, why in not_run.items():
            d.reasons.append(f"optional signal {name} not run: {why}")
        return d

    def _failed(self, name: str, why: str, t0: float) -> Decision:
        verdict = self.policy.on_stage_error if self.policy.on_stage_error != "pass" else "block"
        return Decision(stage=name, decision=verdict, reasons=[f"stage failed closed: {why}"],
                        seconds=time.perf_counter() - t0)

    def health(self) -> list[dict[str, Any]]:
        out = []
        for stage in self.stages:
            try:
                sigs = [s.as_dict() | {"required": self.policy.is_required(s.name)} for s in stage.signals()]
            except Exception as exc:
                sigs = [{"name": stage.name, "available": False, "why": repr(exc)}]
            out.append({"stage": stage.name, "signals": sigs})
        return out
