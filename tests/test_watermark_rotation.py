"""A rotated copy (an editor's "rotate + fill": turned a few degrees, then cropped to hide the corners) still
carries our mark: the detector finds the tile lattice's angle in the residual's spectrum (no key) and reads
the residual derotated too. The decoys see both angles, so an unmarked rotated clip stays unmarked."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

import provenance.watermark_video as wv
from provenance.media import iter_luma, transcode
from provenance.watermark import detect_clip, embed_clip
from provenance.wm_keys import Keyring, WatermarkKey

PAYLOAD = bytes.fromhex("07a7ed0c11d52026")
KEY = WatermarkKey.from_secret("r1", hashlib.sha256(b"rotation installation").digest())
REAL = Path(__file__).parent / "fixtures" / "watermark" / "bikes_3s.mp4"


def _rotate_crop(rgb: np.ndarray, _i: int, degrees: float, keep: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    rot = cv2.warpAffine(rgb, cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0), (w, h))
    ch, cw = int(h * keep), int(w * keep)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    return cv2.resize(rot[y0 : y0 + ch, x0 : x0 + cw], (w, h), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Real footage marked under KEY, then rotated -4 deg and cropped to 88% (CRF 23, no sound: only the
    picture answers); the unmarked source given the same edit."""
    d = tmp_path_factory.mktemp("wmrot")
    embed_clip(REAL, d / "marked.mp4", PAYLOAD, key=KEY)
    edit = functools.partial(_rotate_crop, degrees=-4.0, keep=0.88)
    out = {"marked": d / "marked.mp4"}
    for name, path in (("rotated", d / "marked.mp4"), ("plain_rotated", REAL)):
        out[name] = d / f"{name}.mp4"
        transcode(path, out[name], rgb_fn=edit, crf=23, audio=False)
    return out


def test_rotated_marked_clip_is_found(clips) -> None:
    out = detect_clip(clips["rotated"], keys=Keyring(KEY))
    assert out["found"] and out["payload"] == PAYLOAD.hex(), out["video"]
    assert out["video"]["rotation_deg"] == pytest.approx(4.0, abs=0.3)  # the edit turned it by -4
    assert out["p_value"] <= 1e-6


def test_rotation_search_is_what_finds_it(clips, monkeypatch) -> None:
    monkeypatch.setattr(wv, "ROTATION", False)
    out = detect_clip(clips["rotated"], keys=Keyring(KEY))
    assert not out["found"]


def test_lattice_angle_from_the_spectrum(clips) -> None:
    vm = wv.VideoMark(KEY.layout_key)
    acc, _ = vm.accumulate(y for _, y in iter_luma(clips["rotated"]))
    assert acc is not None
    assert wv.estimate_rotation(acc.astype(np.float32)) == pytest.approx(4.0, abs=0.3)
    acc0, _ = vm.accumulate(y for _, y in iter_luma(clips["marked"]))
    assert acc0 is not None
    assert abs(wv.estimate_rotation(acc0.astype(np.float32))) < wv.ROT_MIN_DEG  # unrotated: one reading


def test_rotated_unmarked_clip_is_not_ours(clips) -> None:
    out = detect_clip(clips["plain_rotated"], keys=Keyring(KEY))
    assert not out["found"] and out["payload"] is None
    assert out["video"]["p_sync"] >= 2 / 256 - 1e-12  # a decoy rank (x2 orientations), never below the floor
