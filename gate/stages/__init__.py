"""The gate's stages, in flow order. Each turns a domain package's findings into a Decision by policy.

STAGES is the one place the order is written: the pipeline, the console's timeline, the CLI's progress and
the tests read it (with each stage's title and description) from here."""

from __future__ import annotations

from gate.components import Components
from gate.pipeline import Stage, check_flow
from gate.stages.consent import ConsentStage
from gate.stages.copyright import CopyrightStage
from gate.stages.frames import FrameStage
from gate.stages.generate import GenerateStage
from gate.stages.likeness import LikenessStage
from gate.stages.prompt import PromptStage
from gate.stages.publish import PublishStage
from gate.stages.sign import SignStage
from gate.stages.watermark import WatermarkStage

STAGES: tuple[type[Stage], ...] = (
    PromptStage, ConsentStage, GenerateStage, FrameStage, LikenessStage, CopyrightStage, WatermarkStage,
    SignStage, PublishStage,
)
STAGE_NAMES = tuple(s.name for s in STAGES)
STAGE_TITLES = {s.name: s.title for s in STAGES}
STAGE_DESCRIPTIONS = {s.name: s.description for s in STAGES}


check_flow(STAGES)  # type: ignore[arg-type]  # each stage reads only what an earlier one provides


def build_stages(c: Components) -> list[Stage]:
    return [cls(c) for cls in STAGES]  # type: ignore[call-arg]
