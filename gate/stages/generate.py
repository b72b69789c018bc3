"""The generation core runs behind the first two checks; its output is a draft nobody sees yet.

The draft's one encode also carries the invisible watermark (the watermark stage's mark, same key, payload
and algorithm, embedded in the generator's frames and sound as they are encoded): marking a separate decode
of the draft cost a whole decode + encode of the clip. The watermark stage records the mark and fails
closed if it is not this job's; when the mark cannot be made here (a visible label is to go under it, or the
key is not at hand) the draft is encoded unmarked and the watermark stage marks it as before."""

from __future__ import annotations

import logging
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
    from provenance.watermark import ClipMarker

log = logging.getLogger(__name__)


class GenerateStage:
    name = "generate"
    title = "Generation"
    description = "makes the clip"
    reads = frozenset({"request", "job_id", "cameos", "remix_source", "frame_progress", "workdir"})
    provides = frozenset({"draft", "clip_metadata", "frame_sample", "draft_mark"})
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
        # the analysis stages' sample is taken from the frames as they are encoded (before the mark, as a
        # decode of an unmarked draft would give them): the draft is not decoded
        sampler = FrameSampler(FrameSample.EVERY_SECONDS, copy=True)
        marker = self._marker(ctx)
        hooks: dict[str, Any] = {}
        if marker is not None:
            from provenance.media import PUBLISHED_AAC_CODER

            # the published clip's AAC settings (the watermark's transcode wrote them before)
            hooks = {"yuv_fn": marker.mark_yuv, "audio_fn": marker.mark_audio, "audio_bitrate": None,
                     "aac_coder": PUBLISHED_AAC_CODER}
        write_mp4(replace(clip, frames=_sampled(clip, sampler)), draft, progress=ctx.frame_progress, **hooks)
        ctx.draft = draft
        ctx.clip_metadata = clip.metadata
        ctx.frame_sample = FrameSample(draft, sampler.frames())
        if marker is not None:
            # the time spent marking (picture and sound), not the render and encode around it
            ctx.draft_mark = marker.report(draft, clip.n_frames, clip.width, clip.height,
                                           marker.picture_seconds + marker.sound_seconds)
        return Decision(
            stage=self.name, decision="pass",
            reasons=[f"{clip.n_frames} frames at {clip.fps} fps, {clip.width}x{clip.height}"],
            models={"generator": f"{backend.name} {backend.version}"},
        )

    def _marker(self, ctx: JobState) -> ClipMarker | None:
        """The watermark for this job's draft, or None to leave the marking to the watermark stage."""
        if self.c.policy.visible_watermark:
            return None  # the visible label goes under the invisible mark: the watermark stage transcodes
        try:
            from provenance.watermark import ClipMarker

            return ClipMarker(bytes.fromhex(ctx.job_id), self.c.watermark_keys.get().current)
        except Exception as exc:  # the watermark stage tries again on the draft and reports it (fail closed)
            log.warning("job %s: the draft is encoded unmarked (%s); the watermark stage marks it", ctx.job_id, exc)
            return None


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
