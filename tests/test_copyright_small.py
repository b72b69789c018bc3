"""Small copies: PDQ on thumbnails under 64 px, and the keypoint ratio test that ignores a reference
keypoint's twins (the same spot on another fill or at another scale)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pdqhash
import pytest

from safety.copyright.images import read_image_file
from safety.copyright.signals import keypoints
from safety.copyright.signals.keypoints import KeypointIndex, KeypointSet
from safety.copyright.signals.pdq import MATCH_DISTANCE, hamming, pdq_hash

FIX = Path(__file__).parent / "fixtures" / "copyright"
PHOTOS = ("rocket_400.jpg", "chelsea_cat_400.jpg", "coffee_400.jpg", "earth_apollo17_640.jpg")


def _raw(img: np.ndarray) -> bytes:
    return np.packbits(pdqhash.compute(np.ascontiguousarray(img))[0]).tobytes()


def test_pdq_thumbnail_of_a_small_image_lands_nearer() -> None:
    up, raw = [], []
    for name in PHOTOS:
        im = read_image_file(FIX / name)
        h, w = im.shape[:2]
        m = min(h, w)
        sq = im[(h - m) // 2 : (h - m) // 2 + m, (w - m) // 2 : (w - m) // 2 + m]
        s32 = cv2.resize(sq, (32, 32), interpolation=cv2.INTER_AREA)
        s16 = cv2.resize(s32, (16, 16), interpolation=cv2.INTER_AREA)
        up.append(hamming(pdq_hash(s32)[0], pdq_hash(s16)[0]))
        raw.append(hamming(_raw(s32), _raw(s16)))
        # an image of 64 px and more is hashed as it is
        assert pdq_hash(sq)[0] == _raw(sq)
    assert all(u <= r for u, r in zip(up, raw, strict=True)) and sum(up) < sum(raw), (up, raw)
    assert max(up) < MATCH_DISTANCE


def _desc(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 100, 128).astype(np.float32)


def test_ratio_test_ignores_twins_but_not_competitors(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    a, b = _desc(rng), _desc(rng)
    na, nb = (rng.normal(0, 3, 128).astype(np.float32) for _ in range(2))
    others = [_desc(rng) for _ in range(20)]
    index = KeypointIndex()
    # reference 1: keypoint `a` twice at one spot (a twin, descriptor a little off), and unrelated ones far away
    pts1 = np.array([[100, 100], [100.5, 100]] + [[300 + 10 * i, 500] for i in range(10)], np.float32)
    desc1 = np.stack([a, a + na] + others[:10])
    index.add(1, KeypointSet(pts1, desc1, (1000, 1000)))
    # reference 2: keypoint `b` and a look-alike of it elsewhere in the same picture (a real competitor)
    pts2 = np.array([[100, 100], [700, 700]] + [[300 + 10 * i, 500] for i in range(10)], np.float32)
    desc2 = np.stack([b, b + nb] + others[10:])
    index.add(2, KeypointSet(pts2, desc2, (1000, 1000)))
    # each query keypoint lies halfway between a reference keypoint and its twin / look-alike
    query = np.stack([a + na / 2, b + nb / 2]).astype(np.float32)
    rows, refs, _, _ = index._votes(query)
    assert list(zip(rows.tolist(), refs.tolist(), strict=True)) == [(0, 1)]  # `a` votes, `b` stays ambiguous
    monkeypatch.setattr(keypoints, "TWIN_RADIUS", 0.0)
    rows, _, _, _ = index._votes(query)
    assert len(rows) == 0  # the plain same-reference ratio test rejects `a` because of its own twin
    # the position lookup follows removals
    monkeypatch.setattr(keypoints, "TWIN_RADIUS", 0.03)
    index.remove(1)
    rows, refs, _, _ = index._votes(query)
    assert 1 not in refs.tolist()


def test_pdq_small_reference_is_also_hashed_as_its_thumbnail() -> None:
    """A 32 px reference also carries its 50% thumbnail's hash: its 16 px copies land nearer than to its
    crops and full size alone. A reference of 128 px and more needs none (PDQ reduces it to 64 itself)."""
    from safety.copyright.signals.pdq import THUMB_BELOW, PdqSignal

    sig = PdqSignal()
    with_thumb, without = [], []
    for name in PHOTOS:
        im = read_image_file(FIX / name)
        h, w = im.shape[:2]
        m = min(h, w)
        sq = np.ascontiguousarray(im[(h - m) // 2 : (h - m) // 2 + m, (w - m) // 2 : (w - m) // 2 + m])
        assert not [v for v, _, _ in sig.describe_reference(sq) if v.startswith("thumbnail")]
        s32 = cv2.resize(sq, (32, 32), interpolation=cv2.INTER_AREA)
        ref = sig.describe_reference(s32)
        assert [v for v, _, _ in ref if v.startswith("thumbnail")] == ["thumbnail 50%"] and THUMB_BELOW > 32
        s16 = cv2.resize(s32, (16, 16), interpolation=cv2.INTER_AREA)
        query = [hsh for _, hsh in sig.describe_query(s16)["hashes"]]
        with_thumb.append(min(hamming(q, r) for q in query for _, r, _ in ref))
        without.append(min(hamming(q, r) for q in query for v, r, _ in ref if not v.startswith("thumbnail")))
    assert all(a <= b for a, b in zip(with_thumb, without, strict=True)) and sum(with_thumb) < sum(without)
    assert max(with_thumb) < MATCH_DISTANCE
