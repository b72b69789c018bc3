"""Verification: verdicts never overclaim, uploads are checked, the public endpoint is rate-limited."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from gate.users import create_user
from gate.verify import verdict
from tests.conftest import FIXTURES

REAL = FIXTURES / "detector" / "realshort_office.mp4"


def report(c2pa=None, wm=None, det=None) -> dict:
    return {"c2pa": c2pa or {"state": "absent"}, "watermark": wm or {"found": False},
            "detector": det or {"ai_probability": None, "why": "not run"}}


def test_signed_and_trusted() -> None:
    code, text = verdict(report(c2pa={"state": "trusted", "signer": {"common_name": "Newsroom CA"}}))
    assert code == "signed" and "Newsroom CA" in text and "unmodified" in text


def test_tampered_says_so_with_the_codes() -> None:
    code, text = verdict(report(c2pa={"state": "invalid", "failures": ["assertion.bmffHash.mismatch"]}))
    assert code == "tampered" and "assertion.bmffHash.mismatch" in text


def test_watermark_without_record_does_not_invent_one() -> None:
    code, text = verdict(report(wm={"found": True, "video_id": "00112233445566ff", "record": None}))
    assert code == "ours" and "not in this registry" in text


def test_detector_is_only_an_estimate_and_near_chance_is_inconclusive() -> None:
    det = {"ai_probability": 0.83, "informative": True,
           "artifacts": {"texture_noise": {"score": 0.9}, "motion": {"score": 0.7}, "boundary": {"score": 0.2}}}
    code, text = verdict(report(det=det))
    assert code == "likely_ai" and "p=0.83" in text and "texture noise and motion" in text and "not proof" in text
    code, _ = verdict(report(det={"ai_probability": 0.55, "informative": True, "artifacts": {}}))
    assert code == "inconclusive"
    code, text = verdict(report(det={"ai_probability": 0.9, "informative": False, "artifacts": {}}))
    assert code == "inconclusive" and "no reliable signal" in text


@pytest.fixture
def client(components):
    from api.app import create_app

    return TestClient(create_app(components=components, dispatch=lambda j: None)), components


@pytest.mark.slow
def test_unsigned_real_clip_has_no_provenance(client) -> None:
    c, comp = client
    r = c.post("/v1/verify", files={"file": ("office.mp4", REAL.read_bytes(), "video/mp4")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["c2pa"]["state"] == "absent" and body["watermark"]["found"] is False
    assert body["verdict"].startswith("No provenance signal")


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("empty.mp4", b""),
        ("truncated.mp4", REAL.read_bytes()[:3000]),
        ("text.mp4", b"hello, this is not a video" * 10),
    ],
)
def test_bad_uploads_are_422(client, name: str, payload: bytes) -> None:
    c, _ = client
    r = c.post("/v1/verify", files={"file": (name, payload, "video/mp4")})
    assert r.status_code == 422, r.text


def test_png_bomb_is_refused_from_its_header(client) -> None:
    c, _ = client
    buf = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buf, format="PNG")  # ~50 kB on disk, 400 M pixels decoded
    r = c.post("/v1/verify", files={"file": ("bomb.png", buf.getvalue(), "image/png")})
    assert r.status_code == 422 and "pixel" in r.json()["detail"]


def test_anonymous_rate_limit_and_journalists_get_more(client) -> None:
    c, comp = client
    statuses = [c.post("/v1/verify", files={"file": ("e.mp4", b"", "video/mp4")}).status_code for _ in range(12)]
    assert statuses[:10] == [422] * 10 and statuses[10:] == [429, 429]
    _, key = create_user(comp.engine, "jo", "journalist")
    r = c.post("/v1/verify", files={"file": ("e.mp4", b"", "video/mp4")}, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 422  # same client address, but a journalist's key has its own, higher limit
