"""The prompt heads' calibration (evals.train_prompt.fit_platt_oof) on left-out logits: it never inverts a
score. Two sources: one ranks its own positives above its negatives, the other's negatives all score higher
than anyone's positives (a register the heads read differently). Pooled, the ranking is inverted; the slope
is taken within each source, so it stays positive."""

from __future__ import annotations

import numpy as np

from evals.prompt_data import LEARNED, Row
from evals.train_prompt import fit_platt_oof


def _rows_and_logits() -> tuple[list[Row], np.ndarray]:
    rng = np.random.default_rng(0)
    rows, z = [], []
    for i in range(200):  # source A: positives score higher than A's negatives
        pos = i < 40
        rows.append(Row(f"a{i}", "surge", {"self-harm": int(pos)}))
        z.append(rng.normal(1.0 if pos else -1.0, 0.5))
    for i in range(400):  # source B: negatives only, all scoring above every positive
        rows.append(Row(f"b{i}", "toxigen", {"self-harm": 0}))
        z.append(rng.normal(4.0, 0.5))
    logits = np.full((len(rows), len(LEARNED)), np.nan, dtype=np.float32)
    logits[:, LEARNED.index("self-harm")] = z
    return rows, logits


def test_slope_is_positive_where_the_pooled_ranking_is_inverted() -> None:
    rows, logits = _rows_and_logits()
    j = LEARNED.index("self-harm")
    z, y = logits[:, j], np.array([r.labels["self-harm"] for r in rows])
    assert np.corrcoef(z, y)[0, 1] < 0  # pooled, a higher logit means less likely positive
    platt, info = fit_platt_oof(logits, rows)
    a, b = platt[j]
    assert a > 0.5, info["self-harm"]
    p = 1 / (1 + np.exp(-(a * z + b)))
    # Monotone by construction: order of probabilities = order of logits.
    assert (np.diff(p[np.argsort(z)]) >= 0).all()
    # Categories without labels keep the identity map rather than a fitted one.
    assert tuple(platt[LEARNED.index("sexual")]) == (1.0, 0.0)
