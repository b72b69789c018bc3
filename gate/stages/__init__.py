"""The gate's stages, in flow order. Each turns a domain package's findings into a Decision by policy."""

from __future__ import annotations

from gate.components import Components
from gate.pipeline import Stage


def build_stages(c: Components) -> list[Stage]:
    from gate.stages.consent import ConsentStage
    from gate.stages.copyright import CopyrightStage
    from gate.stages.frames import FrameStage
    from gate.stages.generate import GenerateStage
    from gate.stages.likeness import LikenessStage
    from gate.stages.prompt import PromptStage
    from gate.stages.publish import PublishStage
    from gate.stages.sign import SignStage
    from gate.stages.watermark import WatermarkStage

    return [
        PromptStage(c), ConsentStage(c), GenerateStage(c), FrameStage(c), LikenessStage(c),
        CopyrightStage(c), WatermarkStage(c), SignStage(c), PublishStage(c),
    ]
