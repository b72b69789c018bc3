"""The generation request, validated once for the API and the CLI alike."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

HANDLE = re.compile(r"^[a-z0-9_.]{2,32}$")
VIDEO_ID = re.compile(r"^[0-9a-f]{16}$")


def visible_text(text: str) -> str:
    """Text without format/control characters (zero-width, bidi) and surrounding space."""
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Cc", "Cs")).strip()


class GenerationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(max_length=4000, description=(
        "what to generate: 1-4,000 characters with visible text. The prompt gate reads English; a prompt in "
        "another language or script is not scored as safe but handled by policy `unread_language` "
        "(default: review)."))
    style: str | None = Field(default=None, max_length=64)
    seconds: float = Field(default=5.0, ge=1.0, le=60.0)
    resolution: Literal["480p", "720p", "1080p"] = "480p"
    fps: Literal[24, 30] = 24
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    cameos: list[str] = Field(default_factory=list, max_length=4, description="cameo handles")
    remix: str | None = Field(default=None, description="video id of a clip to remix")

    @field_validator("prompt")
    @classmethod
    def _prompt_has_text(cls, v: str) -> str:
        if not visible_text(v):
            raise ValueError("prompt is empty (after removing invisible characters)")
        return v

    @field_validator("style")
    @classmethod
    def _style(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = visible_text(v)
        if not re.fullmatch(r"[\w \-]{1,64}", v):
            raise ValueError("style must be a short word or phrase (letters, digits, spaces, hyphens)")
        return v.lower()

    @field_validator("cameos")
    @classmethod
    def _handles(cls, v: list[str]) -> list[str]:
        out = []
        for h in v:
            h = h.strip().lstrip("@").lower()
            if not HANDLE.match(h):
                raise ValueError(f"invalid cameo handle {h!r}: 2-32 of a-z 0-9 _ .")
            if h not in out:
                out.append(h)
        return out

    @field_validator("remix")
    @classmethod
    def _remix(cls, v: str | None) -> str | None:
        if v is not None and not VIDEO_ID.match(v):
            raise ValueError("remix must be a video id (16 hex characters)")
        return v

    def check_limits(self, max_seconds: float, max_prompt_chars: int) -> None:
        if self.seconds > max_seconds:
            raise ValueError(f"seconds must be at most {max_seconds:g} on this service")
        if len(self.prompt) > max_prompt_chars:
            raise ValueError(f"prompt is longer than {max_prompt_chars} characters")
