"""The gate: stages run in order, the first block stops the job, and nothing ever fails open.

A stage that raises or overruns its time limit gets the policy's `on_stage_error` verdict (block by
default, review if the operator says so; never pass). A required signal that cannot run blocks before
the stage starts; an optional one is recorded as "not run: why" in the decision.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gate.decision import Decision, Signal, worst
from gate.policy import Policy

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


def _run_with_timeout(stage: Stage, ctx: JobContext, timeout: float, hung: HungStages) -> Any:
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


@dataclass
class JobContext:
    """Everything the stages share for one job. Stages add to `facts` and `files`; nothing flows back."""

    job_id: str
    user: str
    request: dict[str, Any]
    workdir: Path
    facts: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


class Stage(Protocol):
    name: str

    def signals(self) -> list[Signal]: ...

    def run(self, ctx: JobContext) -> Decision: ...


@dataclass
class PipelineResult:
    status: str  # "published" | "review" | "blocked"
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
        on_decision: Callable[[JobContext, Decision], None] | None = None,
        on_stage_start: Callable[[JobContext, str], None] | None = None,
        hung: HungStages | None = None,
    ) -> None:
        self.stages = list(stages)
        self.hung = hung if hung is not None else HungStages()
        self.policy = policy
        self.default_timeout = default_timeout
        self.on_decision = on_decision
        self.on_stage_start = on_stage_start

    def run(self, ctx: JobContext) -> PipelineResult:
        decisions: list[Decision] = []
        for stage in self.stages:
            if self.on_stage_start:
                self.on_stage_start(ctx, stage.name)
            d = self._run_stage(stage, ctx)
            decisions.append(d)
            ctx.facts.setdefault("verdicts", []).append(d.decision)
            if self.on_decision:
                self.on_decision(ctx, d)
            if d.decision == "block":
                return PipelineResult("blocked", decisions)
        final = worst(*(d.decision for d in decisions))
        return PipelineResult("review" if final == "review" else "published", decisions)

    def _run_stage(self, stage: Stage, ctx: JobContext) -> Decision:
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
