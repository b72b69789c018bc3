"""Other generators' default marks: a file marked with a public message is named; unmarked files are not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gate.verify import verdict
from provenance import foreign_marks as fm
from tests.conftest import FIXTURES

SDXL = next(s for s in fm.SCHEMES if s.key == "stability_sgm_48bit")
SD1 = next(s for s in fm.SCHEMES if s.key == "sd_v1")
UNMARKED = [FIXTURES / "copyright" / "earth_apollo17_640.jpg", FIXTURES / "faces" / "paul_rudd_1.jpg",
            FIXTURES / "faces" / "two_people_composite.jpg", FIXTURES / "c2pa" / "adobe-20220124-A.jpg",
            FIXTURES / "watermark" / "bikes_3s.mp4", FIXTURES / "watermark" / "carphone_bw_2s.mp4"]


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def test_binomial_tail() -> None:
    assert fm.binom_tail(0, 48) == pytest.approx(2.0**-48)
    assert fm.binom_tail(48, 48) == pytest.approx(1.0)
    assert fm.binom_tail(1, 4) == pytest.approx(5 / 16)


def test_decoder_agrees_with_the_library() -> None:
    from imwatermark import WatermarkDecoder

    marked = fm.mark(_rgb(UNMARKED[0]), SD1, "bgr")
    lib = np.array(WatermarkDecoder("bits", len(SD1.bits)).decode(marked[:, :, ::-1].copy(), "dwtDct"), np.uint8)
    assert np.array_equal(fm.decode(fm.block_votes(marked, "bgr"), len(SD1.bits)), lib)


@pytest.mark.parametrize(("scheme", "order"), [(SDXL, "rgb"), (SDXL, "bgr"), (SD1, "bgr")])
def test_a_file_marked_with_the_public_message_is_found(tmp_path: Path, scheme: fm.Scheme, order: str) -> None:
    out = tmp_path / "marked.png"
    Image.fromarray(fm.mark(_rgb(UNMARKED[0]), scheme, order)).save(out)
    r = fm.detect_file(out)
    assert r["found"] == [scheme.label]
    m = r["matches"][0]
    assert m["scheme"] == scheme.key and m["channel_order"] == order and m["p_corrected"] < fm.ALPHA


def test_another_message_with_the_same_method_is_not_taken_for_a_known_one(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    other = fm.Scheme("other", "other", rng.integers(0, 2, 48).astype(np.uint8), "test")
    out = tmp_path / "other.png"
    Image.fromarray(fm.mark(_rgb(UNMARKED[0]), other, "rgb")).save(out)
    assert fm.detect_file(out)["found"] == []


@pytest.mark.parametrize("path", UNMARKED, ids=lambda p: p.name)
def test_unmarked_fixtures_are_not_matched(path: Path) -> None:
    r = fm.detect_file(path)
    assert r["checked"] and r["found"] == [] and r["tests"] >= len(fm.SCHEMES) * len(fm.ORDERS)


def test_small_images_are_skipped_not_guessed() -> None:
    r = fm.detect_frames([(None, np.zeros((200, 200, 3), np.uint8))])
    assert not r["checked"] and r["skipped_small"] == 1 and r["found"] == []


def test_verdict_names_the_pipeline_without_overclaiming() -> None:
    base = {"c2pa": {"state": "absent"}, "watermark": {"found": False},
            "detector": {"ai_probability": 0.9, "informative": True, "artifacts": {}}}
    code, text = verdict({**base, "foreign_marks": {"found": [SDXL.label]}})
    assert code == "foreign_mark"
    assert text.startswith(f"The default watermark of {SDXL.label} found")
    assert "anyone can add it" in text and "p=0.90" not in text
    signed = {**base, "c2pa": {"state": "trusted", "signer": {"common_name": "Newsroom CA"}},
              "foreign_marks": {"found": [SDXL.label]}}
    code, text = verdict(signed)
    assert code == "signed" and "Newsroom CA" in text and "default watermark of" in text
    assert verdict({**base, "foreign_marks": {"found": []}})[0] == "likely_ai"
