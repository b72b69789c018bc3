"""Features for the prompt heads: MiniLM sentence embedding + hashed word/char n-gram TF-IDF.

The embedding carries meaning; the n-grams carry the exact words that separate intent from topic
("kill a Python process" vs "kill a person") and survive garbled adversarial prompts. Hashing keeps the
model file free of a vocabulary: only the IDF weights and the head coefficients are stored.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize as l2_normalize

WORD_FEATURES = 2**15
CHAR_FEATURES = 2**15

_word = HashingVectorizer(analyzer="word", ngram_range=(1, 2), n_features=WORD_FEATURES, alternate_sign=False,
                          norm=None, lowercase=True, token_pattern=r"(?u)\b\w+\b")
_char = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=CHAR_FEATURES,
                          alternate_sign=False, norm=None, lowercase=True)


def counts(texts: list[str]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    return _word.transform(texts).tocsr(), _char.transform(texts).tocsr()


def idf_from(counts_matrix: sp.csr_matrix) -> np.ndarray:
    """Smoothed IDF as in scikit-learn's TfidfTransformer(smooth_idf=True)."""
    n = counts_matrix.shape[0]
    df = np.bincount(counts_matrix.indices, minlength=counts_matrix.shape[1])
    return (np.log((1 + n) / (1 + df)) + 1.0).astype(np.float32)


def _tfidf(c: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    c = c.astype(np.float32)
    c.data = (1.0 + np.log(c.data)) * idf[c.indices]  # sublinear tf x idf, in place (no diagonal matmul)
    return l2_normalize(c, copy=False)


def features(emb: np.ndarray, texts: list[str], idf_word: np.ndarray, idf_char: np.ndarray,
             emb_scale: float) -> sp.csr_matrix:
    return sp.hstack([sp.csr_matrix(emb * emb_scale), tfidf_block(texts, idf_word, idf_char)],
                     format="csr", dtype=np.float32)


def logits(emb: np.ndarray, texts: list[str], idf_word: np.ndarray, idf_char: np.ndarray, emb_scale: float,
           coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """Same value as features(...) @ coef.T + intercept, block by block (no sparse hstack): serving path."""
    w, c = counts(texts)
    d = emb.shape[1]
    out = (emb * emb_scale) @ coef[:, :d].T
    out += np.asarray(_tfidf(w, idf_word) @ coef[:, d:d + WORD_FEATURES].T)
    out += np.asarray(_tfidf(c, idf_char) @ coef[:, d + WORD_FEATURES:].T)
    return out + intercept[None, :]


def tfidf_block(texts: list[str], idf_word: np.ndarray, idf_char: np.ndarray) -> sp.csr_matrix:
    """Hashed word and char TF-IDF side by side (the v3 n-gram heads' features: no embedding block)."""
    w, c = counts(texts)
    return sp.hstack([_tfidf(w, idf_word), _tfidf(c, idf_char)], format="csr", dtype=np.float32)


def ngram_logits(texts: list[str], idf_word: np.ndarray, idf_char: np.ndarray, coef: np.ndarray,
                 intercept: np.ndarray) -> np.ndarray:
    """The v3 n-gram heads' raw logits (training and serving)."""
    return np.asarray(tfidf_block(texts, idf_word, idf_char) @ coef.T) + intercept[None, :]


def stacked_probability(enc: np.ndarray, ngram: np.ndarray, stack: np.ndarray) -> np.ndarray:
    """v3's calibrated probability per category: sigmoid(a * encoder logit + b * n-gram logit + c)."""
    z = enc * stack[None, :, 0] + ngram * stack[None, :, 1] + stack[None, :, 2]
    return 1.0 / (1.0 + np.exp(-z))
