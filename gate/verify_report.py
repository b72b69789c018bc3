"""The verify report's type: one verdict, and what each signal found, as a documented JSON schema.

`gate.verify.verify_file` returns a dict of this shape; the API declares it as its response model and
docs/verify-report.schema.json is generated from it (`python -m gate.verify_report`, checked current by
tests/test_verify_report.py). Each signal's own part keeps the fields its module reports (extra fields
allowed, so a module can add detail without breaking clients); the fields named here are the contract.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "verify-report.schema.json"

VerdictCode = Literal["signed", "tampered", "ours", "foreign_mark", "likely_ai", "no_ai_evidence", "inconclusive"]
Signal = Literal["credentials", "our_watermark", "registry", "foreign_marks", "detector"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")


class Signer(_Part):
    common_name: str | None = None
    issuer: str | None = Field(None, description="the signing certificate's organisation")
    time: str | None = Field(None, description="signing time the manifest states")


class CredentialsSummary(_Part):
    """What the signer's manifest says about how the content was made: claims, attributed to the signer."""

    signer: str | None = None
    signer_organisation: str | None = None
    claim_generator: str | None = None
    digital_source_types: list[str] = []
    ai_generated: bool = Field(False, description="a digitalSourceType of trained algorithmic media is stated")
    ingredients: int = 0


class Credentials(_Part):
    """C2PA Content Credentials, validated against the configured trust list."""

    state: Literal["trusted", "valid", "invalid", "absent"] = Field(
        description="trusted: intact, signer chains to a configured anchor; valid: intact, signer not trusted "
        "here; invalid: present but modified after signing or badly signed; absent: none in the file")
    failures: list[str] = Field([], description="C2PA validation failure codes")
    signer: Signer | None = None
    summary: CredentialsSummary | None = None
    error: str | None = None


class RegistryRecord(_Part):
    """What this installation's registry says about a clip id our watermark carries (no personal data)."""

    video_id: str
    status: str
    created_at: str
    generator: str | None = None
    remix_of: str | None = None
    remixed_from_upload: bool = False


class Watermark(_Part):
    """Our invisible watermark, read under every key of this installation's ring."""

    found: bool
    payload: str | None = None
    video_id: str | None = None
    record: RegistryRecord | None = Field(None, description="null: no mark, or its id is not in this registry")
    error: str | None = None


class ForeignMarks(_Part):
    """Other pipelines' public default invisible marks (e.g. the Stable Diffusion reference pipelines')."""

    checked: bool = False
    found: list[str] = Field([], description="names of the pipelines whose default mark was found")
    error: str | None = None


class ArtifactGroup(_Part):
    score: float | None = Field(None, description="0.5 neutral; above: this group's features point to AI")
    contribution: float | None = None
    features: dict[str, float | None] = {}
    applicable: bool = True


class Detector(_Part):
    """The AI-video artifact detector: an estimate, reported as evidence only when it has validated."""

    available: bool
    ai_probability: float | None = None
    informative: bool = Field(False, description="false: the model has not validated; its p is not evidence")
    why: str | None = None
    artifacts: dict[str, ArtifactGroup] = {}
    evidence_frames: list[int] = Field([], description="decoded frame indices of the windows scored most AI-like")
    top_features: list[dict[str, Any]] = Field([], description="the features that moved the score most: feature, "
                                               "group, value, contribution (calibrated logit; > 0 towards AI)")
    model_version: str | None = None
    notes: list[str] = []


class Evidence(BaseModel):
    """One signal's finding, in words, and whether it shaped the verdict."""

    signal: Signal
    finding: str = Field(description="a short code, e.g. trusted, untrusted, tampered, found, not_found, "
                         "not_informative, unavailable, not_consulted")
    counts: bool = Field(description="true when this finding shaped the verdict")
    says: str


class VerifyReport(BaseModel):
    """Provenance of an uploaded file: one verdict, the evidence for it, and each signal's own report."""

    model_config = ConfigDict(extra="allow", title="reelgate verify report")
    file: str
    kind: Literal["video", "image"]
    verdict_code: VerdictCode = Field(
        description="signed: valid Content Credentials (trusted or not: see evidence); tampered: credentials "
        "present but invalid; ours: our watermark; foreign_mark: another pipeline's public default mark; "
        "likely_ai / no_ai_evidence: only from a validated detector when no provenance signal exists; "
        "inconclusive: nothing above")
    verdict: str = Field(description="one sentence that claims no more than the evidence supports")
    evidence: list[Evidence] = Field(description="one entry per signal, in the order they are weighed")
    c2pa: Credentials
    watermark: Watermark
    foreign_marks: ForeignMarks
    detector: Detector
    timings: dict[str, float]
    seconds: float


def json_schema() -> dict[str, Any]:
    return VerifyReport.model_json_schema()


def schema_text() -> str:
    return json.dumps(json_schema(), indent=1, sort_keys=True) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description="Write the verify report's JSON schema (generated from its type).")
    ap.add_argument("--out", type=Path, default=SCHEMA_PATH)
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(schema_text())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
