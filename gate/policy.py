"""Operator policy: per-category thresholds, required signals, what a failing stage does.

Loaded from JSON (REELGATE_POLICY_FILE, or data_dir/policy.json); the built-in default applies otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Verdict = Literal["pass", "review", "block"]

PROMPT_CATEGORIES = (
    "sexual", "sexual/minors", "hate", "hate/threatening", "harassment", "self-harm", "violence",
    "violence/graphic", "public_figure", "character", "deception", "illegal", "trademark",
)


class Threshold(BaseModel):
    # strict: the API's published schema is the contract; 0 is not false and "0.5" is not a number
    model_config = ConfigDict(extra="forbid", strict=True)
    review: float = Field(0.5, ge=0.0, le=1.0)
    block: float | None = Field(0.85, ge=0.0, le=1.0,
                                description="at least `review`; null: this category alone never blocks")

    @model_validator(mode="after")
    def _ordered(self) -> Threshold:
        if self.block is not None and self.block < self.review:
            raise ValueError("the block threshold must not be below the review threshold")
        return self

    def verdict(self, score: float) -> Verdict:
        if self.block is not None and score >= self.block:
            return "block"
        if score >= self.review:
            return "review"
        return "pass"


def _prompt_defaults() -> dict[str, Threshold]:
    t = {c: Threshold() for c in PROMPT_CATEGORIES}
    # Zero tolerance where the harm is gravest: lower bars, review early.
    t["sexual/minors"] = Threshold(review=0.15, block=0.4)
    t["hate/threatening"] = Threshold(review=0.35, block=0.7)
    t["violence/graphic"] = Threshold(review=0.5, block=0.8)
    # A name match says who, not what: alone it goes to a person; with sexual, deceptive or violent
    # content it blocks (PromptStage: REAL_PERSON_HARMS).
    t["public_figure"] = Threshold(review=0.85, block=None)
    # A registered character's owner chose block, review or allow for it; a character on the shipped list
    # gets `character_action`, a franchise named alone `franchise_action` (PromptStage applies them).
    t["character"] = Threshold(review=0.85, block=None)
    # A brand's logo, ad, packaging or product as the subject (safety/prompt_named.py): a person looks.
    t["trademark"] = Threshold(review=0.5, block=None)
    return t


# Categories that, about a real person named in the prompt, make a deepfake harm: always blocked.
REAL_PERSON_HARMS = ("sexual", "deception", "violence", "violence/graphic", "harassment", "hate")


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    version: int = 1
    prompt: dict[str, Threshold] = Field(default_factory=_prompt_defaults)
    frames: dict[str, Threshold] = Field(
        default_factory=lambda: {
            "nudity": Threshold(review=0.45, block=0.75),
            "minor_sexual": Threshold(review=0.2, block=0.4),
            "violence": Threshold(review=0.5, block=0.8),
            "gore": Threshold(review=0.5, block=0.8),
        }
    )
    # A real person named together with one of REAL_PERSON_HARMS at or above this bar is blocked: a
    # deepfake of a real person is graver than the same content about nobody, so the bar is lower than
    # the categories' own review bars (the heads see the name masked, so it costs no false blocks by name).
    real_person_harm_bar: float = Field(0.3, ge=0.0, le=1.0)
    # A prompt (or spoken dialogue) in a language the learned heads do not read (they read English): its
    # scores mean nothing, so it cannot pass on them.
    unread_language: Verdict = "review"
    likeness_action: Verdict = "block"  # a registered face the requester may not use
    # A character on the shipped opt-out list (safety/data/characters.txt) named in the prompt, and a
    # franchise named without any of its characters. Registered works follow their owner's policy instead.
    character_action: Verdict = "block"
    franchise_action: Verdict = "review"
    # A prompt longer than the classifier scores (safety.prompt_classifier.MAX_SCORED_CHARS): its tail is unread.
    truncated_prompt: Verdict = "review"
    copyright_action_default: Verdict = "block"
    # Signals that must run. A required signal that cannot run blocks; an optional one is recorded
    # as "not run: why". Default: every signal whose weights ship with the install, and the
    # copyright signals that need no weights at all.
    required_signals: list[str] = Field(
        default_factory=lambda: [
            "prompt.classifier",
            "frames.nudenet",
            "likeness.faces",
            "copyright.pdq",
            "copyright.keypoints",
            "provenance.watermark",
            "provenance.c2pa",
        ]
    )
    on_stage_error: Literal["review", "block"] = "block"  # a stage that raises or times out; never pass
    stage_timeout_seconds: dict[str, float] = Field(default_factory=dict)
    visible_watermark: bool = False

    @field_validator("version", mode="before")
    @classmethod
    def _integral(cls, v: object) -> object:
        # JSON Schema's integer includes 1.0, which strict mode alone would refuse
        return int(v) if isinstance(v, float) and v.is_integer() else v

    @model_validator(mode="after")
    def _all_prompt_categories(self) -> Policy:
        # A policy saved before a category existed gets that category's default bars, not the generic ones.
        for name, threshold in _prompt_defaults().items():
            self.prompt.setdefault(name, threshold)
        return self

    def prompt_verdict(self, categories: dict[str, float]) -> tuple[Verdict, list[str]]:
        """The strictest per-category verdict and the categories that reached review or block."""
        order = {"pass": 0, "review": 1, "block": 2}
        worst: Verdict = "pass"
        flagged: list[str] = []
        for name, score in categories.items():
            v = self.prompt.get(name, Threshold()).verdict(score)
            if v != "pass":
                flagged.append(name)
            if order[v] > order[worst]:
                worst = v
        return worst, flagged

    def is_required(self, signal: str) -> bool:
        return signal in self.required_signals

    @classmethod
    def load(cls, path: Path | None) -> Policy:
        if path is None or not path.exists():
            return cls()
        return cls.model_validate(json.loads(path.read_text()))

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2))
        tmp.replace(path)
