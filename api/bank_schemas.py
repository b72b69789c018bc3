"""Request and response models of the hash bank routes (api/routes/banks.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Policy = Literal["block", "review", "log"]


class BankOut(BaseModel):
    name: str
    policy: Policy
    description: str
    created_by: str
    created_at: str
    entries: int
    by_signal: dict[str, int] = Field(description="signals per type: pdq, vpdq, video_sha256, video_md5")


class BankList(BaseModel):
    banks: list[BankOut]


class BankImported(BaseModel):
    bank: str
    added: int = Field(description="signals new to the bank")
    already: int = Field(description="signals the bank held already")
    by_signal: dict[str, int]


class PolicyIn(BaseModel):
    policy: Policy


class BankMatch(BaseModel):
    bank: str
    policy: Policy
    signal: str = Field(description="pdq, vpdq, video_sha256 or video_md5")
    distance: int = Field(description="PDQ bits between the best matching frames (0 for an exact hash)")
    exact: bool
    entry_id: int
    content_id: str = Field(description="the job id of a taken-down clip, else the import's own id (or empty)")
    note: str
    matched_frames: int | None = None
    query_frames: int | None = None
    query_match_percent: float | None = None
    via: str | None = Field(None, description="the query variant that matched: 'as is' or 'mirror'")
    threshold: int | None = None


class BankCheck(BaseModel):
    matches: list[BankMatch]
    frames: int
    usable_frames: int = Field(description="frames with PDQ quality >= 50 (flat frames are not matched)")
    decision: Literal["pass", "review", "block"] = Field(description="what the most severe matched policy does")
