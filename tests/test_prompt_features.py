"""The prompt heads' n-gram features, hashed without scikit-learn (safety/prompt_features.py): the same
matrices as scikit-learn's HashingVectorizer with the settings the shipped heads were trained with."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

from safety.prompt_features import CHAR_FEATURES, WORD_FEATURES, counts, l2_normalize

TEXTS = [
    "a cat", "I", "", "   ", "a naked woman having sex on a bed, explicit porn", "Kill   a Python\tprocess!!",
    "héllo wörld — ñandú über straße", "日本語のテキスト と 絵文字 🙂🙂", "x y z ab abc abcd abcde abcdef",
    "don't stop-believing 4ever_and_ever C3PO's", "a" * 300, "\u200bzero\u200bwidth", "Ünïcödé ÀÉÎ",
]


def test_counts_match_scikit_learn() -> None:
    word = HashingVectorizer(analyzer="word", ngram_range=(1, 2), n_features=WORD_FEATURES, alternate_sign=False,
                             norm=None, lowercase=True, token_pattern=r"(?u)\b\w+\b")
    char = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=CHAR_FEATURES,
                             alternate_sign=False, norm=None, lowercase=True)
    w, c = counts(TEXTS)
    for ours, ref in ((w, word.transform(TEXTS)), (c, char.transform(TEXTS))):
        assert ours.shape == ref.shape
        assert (abs(ours - ref)).max() == 0
        assert ours.nnz == ref.nnz


def test_l2_normalize_matches_scikit_learn() -> None:
    _, c = counts(TEXTS)
    c = c.astype(np.float32)
    ref = normalize(c, copy=True)
    ours = l2_normalize(c, copy=True)
    assert np.allclose(ours.toarray(), ref.toarray(), atol=1e-6)
    # empty rows stay empty, every other row has unit norm
    norms = np.sqrt(np.asarray(ours.multiply(ours).sum(1)).ravel())
    assert np.allclose(norms[np.diff(ours.indptr) > 0], 1.0, atol=1e-5)
    assert (norms[np.diff(ours.indptr) == 0] == 0).all()
