"""The generation core runs behind the first two checks; its output is a draft nobody sees yet."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gate.components import Components
from gate.decision import Decision, Signal
from gate.pipeline import FrameSample, JobState

if TYPE_CHECKING:
    from generator import Clip


class GenerateStage:
    name = "generate"
    title = "Generation"
    description = "makes the clip"
    reads = frozenset({"request", "job_id", "cameos", "remix_source", "frame_progress", "workdir"})
    provides = frozenset({"draft", "clip_metadata", "frame_sample"})
    concurrent = False

    def __init__(self, c: Components) -> None:
        self.c = c

    def signals(self) -> list[Signal]:
        backend = self.c.generator()
        ok, why = backend.available()
        return [Signal(f"generator.{backend.name}", f"{backend.name} {backend.version}", ok, ok, why)]

    def run(self, ctx: JobState) -> Decision:
        from generator import CameoRef, GenerationSpec
        from generator.encode import write_mp4
        from safety.frames import FrameSampler

        r = ctx.request
        cameos = tuple(
            CameoRef(handle=g.handle, face_image=self.c.storage.path(g.reference_image)) for g in ctx.cameos
        )
        source = ctx.remix_source
        spec = GenerationSpec(
            prompt=r.prompt, style=r.style, seconds=r.seconds, resolution=r.resolution, fps=r.fps,
            seed=r.seed if r.seed is not None else int(ctx.job_id[:8], 16) % (2**31),
            cameos=cameos, source_clip=Path(source) if source else None,
        )
        backend = self.c.generator()
        clip = backend.generate(spec)
        draft = ctx.workdir / "draft.mp4"
        # the analysis stages' sample is taken from the frames as they are encoded: the draft is not decoded
        sampler = FrameSampler(FrameSample.EVERY_SECONDS, copy=True)
        write_mp4(replace(clip, frames=_sampled(clip, sampler)), draft, progress=ctx.frame_progress)
        ctx.draft = draft
        ctx.clip_metadata = clip.metadata
        ctx.frame_sample = FrameSample(draft, sampler.frames())
        return Decision(
            stage=self.name, decision="pass",
            reasons=[f"{clip.n_frames} frames at {clip.fps} fps, {clip.width}x{clip.height}"],
            models={"generator": f"{backend.name} {backend.version}"},
        )


def _sampled(clip: Clip, sampler: Any) -> Callable[[], Iterator[np.ndarray]]:
    """clip.frames, each frame also handed to `sampler` (at its time in the draft: index / fps); frames the
    encoder will refuse (wrong shape or type) are left to it to report."""

    def frames() -> Iterator[np.ndarray]:
        for i, rgb in enumerate(clip.frames()):
            arr = np.asarray(rgb)
            if arr.shape == (clip.height, clip.width, 3) and arr.dtype == np.uint8:
                sampler.add(i, i / clip.fps, arr)
            yield rgb

    return frames
