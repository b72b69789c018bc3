"""Features for the prompt heads: MiniLM sentence embedding + hashed word/char n-gram TF-IDF.

The embedding carries meaning; the n-grams carry the exact words that separate intent from topic
("kill a Python process" vs "kill a person") and survive garbled adversarial prompts. Hashing keeps the
model file free of a vocabulary: only the IDF weights and the head coefficients are stored.
"""

from __future__ import annotations

import re
from collections import Counter

import mmh3
import numpy as np
import scipy.sparse as sp

WORD_FEATURES = 2**15
CHAR_FEATURES = 2**15

# The hashing of scikit-learn's HashingVectorizer (word 1-2-grams on r"(?u)\b\w+\b" tokens; char_wb 3-5-grams;
# lowercase; signed 32-bit MurmurHash3, seed 0, index |h| mod n, counts), written out with mmh3: importing
# scikit-learn costs ~0.8 s of CPU, a third of a cold `reelgate classify-prompt`. The shipped heads were
# trained on scikit-learn's features; tests/test_prompt_features.py checks both give the same matrix.
_TOKEN = re.compile(r"(?u)\b\w+\b")
_WHITE = re.compile(r"\s\s+")


def _word_grams(text: str) -> list[str]:
    toks = _TOKEN.findall(text.lower())
    return toks + [" ".join(toks[i:i + 2]) for i in range(len(toks) - 1)]


def _char_wb_grams(text: str) -> list[str]:
    out: list[str] = []
    for w in _WHITE.sub(" ", text.lower()).split():
        w = f" {w} "
        for n in range(3, 6):
            out.extend(w[i:i + n] for i in range(max(1, len(w) - n + 1)))
            if len(w) <= n:
                break  # a word no longer than n counts once, whole (as scikit-learn)
    return out


def _hashed(grams: list[list[str]], n_features: int) -> sp.csr_matrix:
    indptr, indices, values = [0], [], []
    for doc in grams:
        counts_ = Counter(doc)
        for g, k in counts_.items():
            h = mmh3.hash(g, 0, signed=True)
            indices.append((2147483647 - (n_features - 1)) % n_features if h == -2147483648 else abs(h) % n_features)
            values.append(k)
        indptr.append(len(indices))
    m = sp.csr_matrix((np.array(values, dtype=np.float64), np.array(indices, dtype=np.int32),
                       np.array(indptr, dtype=np.int64)), shape=(len(grams), n_features))
    m.sum_duplicates()  # two n-grams may share a bucket; also sorts the indices
    return m


def l2_normalize(c: sp.csr_matrix, copy: bool = False) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm (empty rows stay empty), as sklearn.preprocessing.normalize."""
    c = c.copy() if copy else c
    per_row = np.diff(c.indptr)
    norms = np.sqrt(np.bincount(np.repeat(np.arange(c.shape[0]), per_row), weights=c.data.astype(np.float64) ** 2,
                                minlength=c.shape[0]))
    c.data /= np.repeat(np.where(norms > 0, norms, 1.0), per_row).astype(c.data.dtype)
    return c


def counts(texts: list[str]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    return (_hashed([_word_grams(t) for t in texts], WORD_FEATURES),
            _hashed([_char_wb_grams(t) for t in texts], CHAR_FEATURES))


def idf_from(counts_matrix: sp.csr_matrix) -> np.ndarray:
    """Smoothed IDF as in scikit-learn's TfidfTransformer(smooth_idf=True)."""
    n = counts_matrix.shape[0]
    df = np.bincount(counts_matrix.indices, minlength=counts_matrix.shape[1])
    return (np.log((1 + n) / (1 + df)) + 1.0).astype(np.float32)


def _tfidf(c: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    c = c.astype(np.float32)
    c.data = (1.0 + np.log(c.data)) * idf[c.indices]  # sublinear tf x idf, in place (no diagonal matmul)
    return l2_normalize(c)


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
    return tfidf_of(counts(texts), idf_word, idf_char)


def tfidf_of(cnt: tuple[sp.csr_matrix, sp.csr_matrix], idf_word: np.ndarray, idf_char: np.ndarray) -> sp.csr_matrix:
    """tfidf_block from counts already made (two heads with their own IDF share one counting pass)."""
    w, c = cnt
    return sp.hstack([_tfidf(w, idf_word), _tfidf(c, idf_char)], format="csr", dtype=np.float32)


def ngram_logits(texts: list[str], idf_word: np.ndarray, idf_char: np.ndarray, coef: np.ndarray,
                 intercept: np.ndarray) -> np.ndarray:
    """The v3 n-gram heads' raw logits (training and serving)."""
    return np.asarray(tfidf_block(texts, idf_word, idf_char) @ coef.T) + intercept[None, :]


def stacked_probability(enc: np.ndarray, ngram: np.ndarray, stack: np.ndarray) -> np.ndarray:
    """v3's calibrated probability per category: sigmoid(a * encoder logit + b * n-gram logit + c)."""
    z = enc * stack[None, :, 0] + ngram * stack[None, :, 1] + stack[None, :, 2]
    return 1.0 / (1.0 + np.exp(-z))
