"""The generation request, validated once for the API and the CLI alike."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from generator.validate import MAX_PROMPT_CHARS
from generator.validate import STYLES as STYLES  # re-exported: the console offers the generator's styles

HANDLE = re.compile(r"^[a-z0-9_.]{2,32}$")
VIDEO_ID = re.compile(r"^[0-9a-f]{16}$")
# The request's rules as JSON Schema patterns (ECMA syntax, ASCII classes), so the published schema says
# exactly what is accepted; the validators below apply the same patterns with re.fullmatch.
HANDLE_PATTERN = r"^@?[A-Za-z0-9_.]{2,32}$"  # a cameo handle as written: an optional @, any case
STYLE_PATTERN = r"^[A-Za-z0-9_ -]*[A-Za-z0-9_-][A-Za-z0-9_ -]*$"  # words, digits, hyphens; not only spaces
VIDEO_ID_PATTERN = r"^[0-9a-f]{16}$"


def visible_text(text: str) -> str:
    """Text without format/control characters (zero-width, bidi) and surrounding space."""
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Cc", "Cs")).strip()


def _is_invisible(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cf", "Cc", "Cs") or ch.isspace()


@functools.cache
def visible_pattern() -> str:
    """A pattern that matches exactly the strings `visible_text` leaves non-empty: it finds one character
    that is neither whitespace nor a format/control character. Built from this Python's Unicode tables, so
    it never disagrees with the validator. Surrogates are left out (no regex engine or UTF-8 JSON document
    can carry one), so a prompt of lone surrogate escapes alone is the one invalid prompt it lets pass."""
    ranges: list[tuple[int, int]] = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF or not _is_invisible(chr(cp)):
            continue
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))

    def char(cp: int) -> str:  # BMP as \uXXXX; astral characters literally (ECMA has no portable escape)
        return f"\\u{cp:04X}" if cp <= 0xFFFF else chr(cp)

    return "[^" + "".join(char(a) if a == b else f"{char(a)}-{char(b)}" for a, b in ranges) + "]"


def _visible_schema(schema: dict) -> None:
    schema["pattern"] = visible_pattern()  # built when a schema is asked for: ~0.5 s, not at import


class GenerationRequest(BaseModel):
    # strict: the API's JSON is held to its published schema ("5" is not a number of seconds, true not a
    # seed); the console's form, whose fields are all text, validates with strict=False.
    model_config = ConfigDict(extra="forbid", strict=True)

    # The one prompt limit for generation requests (API, CLI, console): the generator's own ceiling, which an
    # installation may lower with REELGATE_MAX_PROMPT_CHARS (gate.settings), never raise.
    prompt: str = Field(max_length=MAX_PROMPT_CHARS, json_schema_extra=_visible_schema, description=(
        f"what to generate: 1-{MAX_PROMPT_CHARS:,} characters with visible text (an installation may set a lower "
        "limit, REELGATE_MAX_PROMPT_CHARS). The prompt gate reads English; a prompt in "
        "another language or script is not scored as safe but handled by policy `unread_language` "
        "(default: review)."))
    style: str | None = Field(default=None, max_length=64, json_schema_extra={"pattern": STYLE_PATTERN})
    seconds: float = Field(default=5.0, ge=1.0, le=60.0)
    resolution: Literal["480p", "720p", "1080p"] = "480p"
    fps: Literal[24, 30] = 24
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    cameos: list[str] = Field(default_factory=list, max_length=4, description="cameo handles",
                              json_schema_extra={"items": {"type": "string", "pattern": HANDLE_PATTERN}})
    remix: str | None = Field(default=None, description="video id of a clip to remix",
                              json_schema_extra={"pattern": VIDEO_ID_PATTERN})

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
        if not re.fullmatch(STYLE_PATTERN, v):
            raise ValueError("style must be a short word or phrase (letters, digits, spaces, hyphens)")
        return v.strip().lower()

    @field_validator("cameos")
    @classmethod
    def _handles(cls, v: list[str]) -> list[str]:
        out = []
        for h in v:
            if not re.fullmatch(HANDLE_PATTERN, h):
                raise ValueError(f"invalid cameo handle {h!r}: 2-32 of a-z 0-9 _ .")
            h = h.removeprefix("@").lower()
            if h not in out:
                out.append(h)
        return out

    @field_validator("seed", mode="before")
    @classmethod
    def _integral(cls, v: object) -> object:
        # JSON Schema's integer includes 850.0 (strict mode alone would refuse it); a string or a boolean
        # still is not one.
        return int(v) if isinstance(v, float) and v.is_integer() else v

    @field_validator("remix")
    @classmethod
    def _remix(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(VIDEO_ID_PATTERN, v):
            raise ValueError("remix must be a video id (16 hex characters)")
        return v

    def check_limits(self, max_seconds: float, max_prompt_chars: int) -> None:
        if self.seconds > max_seconds:
            raise ValueError(f"seconds must be at most {max_seconds:g} on this service")
        if len(self.prompt) > max_prompt_chars:
            raise ValueError(f"prompt is longer than {max_prompt_chars} characters")


_GATE_FIELDS = ("remix_key", "recheck")  # what the gate adds to a stored request (never from a client)


class JobRequest(BaseModel):
    """A job's request as the pipeline reads it: the GenerationRequest it was created from plus the gate's own
    fields, frozen (no stage changes what was asked). Built from the stored Job.request when a worker starts
    the job, under the front door's rules (GenerationRequest validates every field it has), so a stored request
    that no longer holds to them fails the job closed before any stage reads it. Lax: a stored request has
    been through JSON (2 for 2.0 s)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str
    style: str | None = None
    seconds: float = 5.0
    resolution: Literal["480p", "720p", "1080p"] = "480p"
    fps: Literal[24, 30] = 24
    seed: int | None = None
    cameos: tuple[str, ...] = ()
    remix: str | None = None
    remix_key: str | None = None  # media key of an uploaded clip to remix (the CLI's --remix-file)
    recheck: Mapping[str, Any] | None = None  # why a published clip is checked again (gate.recheck)

    @model_validator(mode="before")
    @classmethod
    def _front_door_rules(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data  # pydantic refuses it
        front = {k: v for k, v in data.items() if k not in _GATE_FIELDS}
        own = {k: v for k, v in data.items() if k in _GATE_FIELDS}
        return GenerationRequest.model_validate(front, strict=False).model_dump() | own

    @classmethod
    def stored(cls, request: Mapping[str, Any]) -> JobRequest:
        """The request of a stored job (Job.request); raises pydantic.ValidationError (a ValueError)."""
        return cls.model_validate(request)
