"""A horizontally mirrored copy (the commonest re-upload evasion) still carries our mark; the mirrored
reading is one more hypothesis, so it must not make an unmarked or foreign-key clip look marked."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from provenance.media import transcode
from provenance.synthetic import make_test_clip
from provenance.watermark import detect_clip, embed_clip
from provenance.wm_keys import Keyring, WatermarkKey

PAYLOAD = bytes.fromhex("0ddba11cafe52026")
KEY_A = WatermarkKey.from_secret("a1", hashlib.sha256(b"mirror installation A").digest())
KEY_B = WatermarkKey.from_secret("b1", hashlib.sha256(b"mirror installation B").digest())


def _mirror(rgb: np.ndarray, _i: int) -> np.ndarray:
    return rgb[:, ::-1]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Mirrored (numpy) and re-encoded (PyAV/x264, CRF 23, sound dropped so only the picture can answer)
    copies of a clip marked under A, of one marked under B, and of the unmarked source."""
    d = tmp_path_factory.mktemp("wmmirror")
    src = make_test_clip(d / "src.mp4", seconds=3.0, width=320, height=240, seed=11)
    embed_clip(src, d / "a.mp4", PAYLOAD, key=KEY_A)
    embed_clip(src, d / "b.mp4", PAYLOAD, key=KEY_B)
    out = {}
    for name, path in (("a", d / "a.mp4"), ("b", d / "b.mp4"), ("plain", src)):
        out[name] = d / f"{name}_mirrored.mp4"
        transcode(path, out[name], rgb_fn=_mirror, crf=23, audio=False)
    return out


def test_mirrored_marked_clip_is_found_with_its_payload(clips) -> None:
    out = detect_clip(clips["a"], keys=Keyring(KEY_A))
    assert out["audio"] is None  # the picture alone answers
    assert out["found"] and out["payload"] == PAYLOAD.hex() and out["key_id"] == "a1"
    assert out["video"]["mirrored"] is True
    assert out["p_value"] <= 1e-6


def test_mirrored_unmarked_and_foreign_key_clips_are_not_ours(clips) -> None:
    for name in ("plain", "b"):
        out = detect_clip(clips[name], keys=Keyring(KEY_A))
        assert not out["found"] and out["payload"] is None, name
        assert out["p_value"] > 1e-6, name


def test_mirror_hypothesis_is_paid_for_in_the_p_value(clips) -> None:
    """Two orientations tried: the reported sync p-value is at least 2 x the decoy floor 1/256."""
    out = detect_clip(clips["a"], keys=Keyring(KEY_A))
    assert out["video"]["p_sync"] >= 2 / 256 - 1e-12
    assert out["video"]["orientations"] == 2

