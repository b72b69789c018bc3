"""Database tables of the hash banks (SQLModel; the gate owns engines and migrations)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class BankPolicy(StrEnum):
    """What a match does: block the job (or flag the upload), send it to review, or only log it."""

    block = "block"
    review = "review"
    log = "log"


def _now() -> datetime:
    return datetime.now(UTC)


class HashBank(SQLModel, table=True):
    __tablename__ = "hash_banks"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, index=True)
    policy: str = Field(default=BankPolicy.block.value, max_length=16)
    description: str = Field(default="", max_length=500)
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=_now)


class BankEntry(SQLModel, table=True):
    """One signal in a bank. `signal` is the exchange format's own string (PDQ: 64 hex digits; vPDQ: the JSON
    list of "pdq,quality,timestamp" frames ThreatExchange uses); `digest` is sha256(type ":" signal), so a
    signal appears once per bank and exact hashes are looked up by index."""

    __tablename__ = "hash_bank_entries"
    __table_args__ = (UniqueConstraint("bank_id", "digest", name="uq_hash_bank_entries_bank_digest"),
                      Index("ix_hash_bank_entries_type_digest", "signal_type", "digest"))

    id: int | None = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="hash_banks.id", index=True)
    signal_type: str = Field(max_length=32)
    signal: str = Field(sa_column=Column(Text, nullable=False))
    digest: str = Field(max_length=64)
    content_id: str = Field(default="", max_length=64)  # where it came from: a job id, or the import's own id
    note: str = Field(default="", max_length=500)
    added_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=_now)
