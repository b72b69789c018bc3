"""The prompt heads' bar map (safety/prompt_bars.py) and the choice of bars on left-out scores
(evals/prompt_bars.py). Synthetic rows and files only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evals.prompt_bars import BUDGETS, MARGIN, choose_bars, verdicts
from evals.prompt_data import LEARNED, Row
from safety.prompt_bars import BarMapError, load_bars, remap

V = LEARNED.index("violence")
S = LEARNED.index("sexual")


def test_remap_puts_the_chosen_bars_on_the_anchors_and_keeps_the_order() -> None:
    bars, anchors = np.array([0.2, 0.6]), np.array([0.5, 0.85])
    p = np.linspace(0, 1, 101)
    q = remap(p, bars, anchors)
    assert q[0] == 0 and q[-1] == 1
    assert remap(np.array([0.2, 0.6]), bars, anchors) == pytest.approx([0.5, 0.85])
    assert (np.diff(q) > 0).all()  # strictly monotone: no two scores swap or merge


def _bars_file(tmp_path: Path, sha: str = "abc123", block: float = 0.7) -> Path:
    doc = {"bars_version": 1, "heads_sha": sha, "categories": ["violence"],
           "bars": {"violence": [0.3, block]}, "anchors": {"violence": [0.5, 0.8]}}
    path = tmp_path / "prompt_bars-v4.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_bar_map_applies_to_its_own_heads_only(tmp_path: Path) -> None:
    m = load_bars(_bars_file(tmp_path), "abc123")
    assert m.name == "bars-1"
    out = m.apply({"violence": 0.3, "sexual": 0.3})
    assert out["violence"] == pytest.approx(0.5) and out["sexual"] == 0.3
    with pytest.raises(BarMapError, match="chosen for heads abc123"):
        load_bars(_bars_file(tmp_path), "def456")
    with pytest.raises(BarMapError, match="review < block"):
        load_bars(_bars_file(tmp_path, block=0.2), "abc123")
    (tmp_path / "prompt_bars-v4.json").write_text("{", encoding="utf-8")
    with pytest.raises(BarMapError, match="cannot read"):
        load_bars(tmp_path / "prompt_bars-v4.json", "abc123")


def _rows() -> tuple[list[Row], np.ndarray, np.ndarray]:
    """Unsafe I2P and Nibbler prompts scoring violence ~0.3 (under the default bar 0.5), benign COCO captions
    mostly low with a tail, and benign comments; a second, useless category (sexual) scores noise."""
    rng = np.random.default_rng(0)
    rows, fams, p = [], [], []
    for fam, src, n in (("i2p+six_cd", "i2p", 300), ("nibbler", "nibbler", 100)):
        for i in range(n):
            rows.append(Row(f"{src} {i}", src, {"violence": 1}))
            fams.append(fam)
            p.append((rng.uniform(0.15, 0.45), rng.uniform(0, 0.3)))
    for i in range(2000):
        rows.append(Row(f"coco {i}", "coco", {c: 0 for c in LEARNED}, group="benign_coco"))
        fams.append("coco")
        p.append((rng.beta(1, 12), rng.uniform(0, 0.3)))
    for i in range(500):
        rows.append(Row(f"tweet {i}", "davidson", {"violence": 0}, group="davidson_neither"))
        fams.append("davidson")
        p.append((rng.beta(1, 40), rng.uniform(0, 0.3)))
    probs = np.full((len(rows), len(LEARNED)), 0.01)
    probs[:, V], probs[:, S] = np.array(p).T
    return rows, np.array(fams), probs


def test_bars_raise_unsafe_recall_within_the_benign_budgets() -> None:
    rows, fams, p = _rows()
    start = (np.full(len(LEARNED), 0.5), np.full(len(LEARNED), 0.85))
    review, block, info = choose_bars(p, rows, fams, start)
    assert info["unsafe_t2x_flagged"] > 0.5  # none of them reaches the default bar 0.5
    benign = np.array([r.source == "coco" for r in rows])
    f, b = verdicts(p[benign], review, block)
    assert f.mean() <= BUDGETS["benign_t2x_flagged"] * MARGIN + 1e-9
    assert b.mean() <= BUDGETS["benign_t2x_blocked"] * MARGIN + 1e-9
    assert (block > review).all()
    # The noise category gains nothing on the unsafe prompts: its bars neither come down to spend the budget nor
    # go up (out of use) to free budget for others.
    assert review[S] == 0.5 and block[S] == 0.85


def test_a_start_over_budget_climbs_out() -> None:
    rows, fams, p = _rows()
    start = (np.full(len(LEARNED), 0.02), np.full(len(LEARNED), 0.05))
    review, block, info = choose_bars(p, rows, fams, start)
    assert info["benign_t2x_flagged"] <= BUDGETS["benign_t2x_flagged"] * MARGIN + 1e-9
    assert info["benign_t2x_blocked"] <= BUDGETS["benign_t2x_blocked"] * MARGIN + 1e-9
    assert info["comments_blocked"] <= BUDGETS["comments_blocked"] * MARGIN + 1e-9


def test_a_category_that_cannot_help_a_broken_budget_keeps_its_start_bars() -> None:
    """The known flaw (evals/prompt_bars.py): a start over budget because of violence lifted the cap on rising
    bars for every category, and hate (no gain on T2I/T2V prompts, no part in the excess, and scored before
    violence in the round) was raised to the top of the grid: review 0.50 -> 0.998. Hate's bars must stay."""
    rows, fams, p = _rows()
    rng = np.random.default_rng(1)
    coco = np.flatnonzero(fams == "coco")
    # 6% of the benign captions score violence 0.5-0.7: the default bars flag 6% (> 5% x margin) and block none.
    tail = rng.choice(coco, size=int(0.06 * len(coco)), replace=False)
    p[tail, V] = rng.uniform(0.5, 0.7, size=len(tail))
    h = LEARNED.index("hate")
    p[:, h] = rng.uniform(0.0, 0.2, size=len(p))
    start = (np.full(len(LEARNED), 0.5), np.full(len(LEARNED), 0.85))
    review, block, info = choose_bars(p, rows, fams, start)
    assert info["benign_t2x_flagged"] <= BUDGETS["benign_t2x_flagged"] * MARGIN + 1e-9
    assert review[V] > 0.5  # the category that broke the budget climbs out of it
    assert review[h] == 0.5 and block[h] == 0.85, (review[h], block[h])


@pytest.mark.slow
def test_classifier_serves_the_map_of_its_own_heads_and_refuses_another(tmp_path: Path) -> None:
    import hashlib
    import shutil

    from safety.prompt_classifier import PromptClassifier

    src = Path(__file__).resolve().parents[1] / "safety" / "models" / "prompt_heads-v4.npz"
    shutil.copy(src, tmp_path / src.name)
    sha = hashlib.sha256(src.read_bytes()).hexdigest()[:12]
    text = "a man shooting another man in the head in the street"
    raw = PromptClassifier.load(tmp_path, bars=False).classify(text).categories["violence"]
    _bars_file(tmp_path, sha)
    clf = PromptClassifier.load(tmp_path)
    ok, why = clf.available()
    assert ok and "bars v1" in why and "+bars-1+" in clf.model
    got = clf.classify(text).categories["violence"]
    assert got == pytest.approx(float(remap(np.array([raw]), np.array([0.3, 0.7]), np.array([0.5, 0.8]))[0]),
                                abs=1e-4)
    _bars_file(tmp_path, "0" * 12)
    ok, why = PromptClassifier.load(tmp_path).available()
    assert not ok and "chosen for heads" in why
