"""The leave-one-source-out table's honesty rules (evals.prompt_loso): a binary AUPRC needs MIN_POS rows of each
class; a source's own negative class (no positive, some category known negative) is scored apart from the strict
one (known safe in every category); per category, keyword-bucket positives stay out of the category's mean and
each left-out source shows how many positives training had without it."""

from __future__ import annotations

import numpy as np

from evals.prompt_data import LEARNED, Row, _neg
from evals.prompt_loso import MIN_POS, _categories, _enough, binary

H = LEARNED.index("hate")


def _rows() -> tuple[list[Row], np.ndarray]:
    assert MIN_POS <= 25  # the sources below are sized for it
    rows = [Row(f"hate {i}", "forum", {"hate": 1}) for i in range(30)]
    # The forum's own negatives say nothing of harassment: not known safe in every category.
    rows += [Row(f"nohate {i}", "forum", _neg(except_=("harassment",))) for i in range(40)]
    rows += [Row(f"safe {i}", "forum", _neg()) for i in range(3)]
    rows += [Row(f"bucket {i}", "art", {"hate": 1}, weight=0.25) for i in range(25)]
    rows += [Row(f"caption {i}", "art", _neg()) for i in range(30)]
    p = np.full((len(rows), len(LEARNED)), 0.1)
    p[:30, H] = 0.9  # the forum's hate ranks first
    return rows, p


def test_binary_strict_and_own_negatives() -> None:
    rows, p = _rows()
    idx = np.arange(73)
    y, _ = binary(rows, p, idx)
    assert int(y.sum()) == 30 and len(y) - int(y.sum()) == 3
    assert not _enough(y)  # 3 strict negatives: no figure
    yo, so = binary(rows, p, idx, own_negatives=True)
    assert len(yo) - int(yo.sum()) == 43 and _enough(yo)
    assert so[yo == 1].min() > so[yo == 0].max()


def test_categories_keep_keyword_buckets_apart() -> None:
    rows, p = _rows()
    fams = np.array([r.source for r in rows])
    review, block = np.full(len(LEARNED), 0.5), np.full(len(LEARNED), 0.8)
    lines = _categories(rows, fams, p, review, block, np.ones(len(rows), bool))
    summary = next(ln for ln in lines if ln.startswith("| hate |"))
    # Only the forum counts towards the mean (the art bucket is weak); it ranks its own hate perfectly.
    assert "| forum |" in summary and "art" not in summary.split("|")[4]
    assert summary.split("|")[5].strip() == "1.000"
    detail = [ln for ln in lines if ln.startswith("| hate | art |")]
    assert detail and "weak" in detail[0]
    # Without the forum, training had the art bucket's 25 positives, from one family.
    forum = next(ln for ln in lines if ln.startswith("| hate | forum |"))
    assert forum.split("|")[4].strip() == "25 (1)"
