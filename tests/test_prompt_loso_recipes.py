"""The v4-recipe comparison of the leave-one-source-out table (evals.prompt_loso.recipe_comparison) and the check
that no training row comes from a held-out source (evals.prompt_data.check_not_held_out). Synthetic rows only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evals.prompt_data import LEARNED, Row, _neg, check_not_held_out
from evals.prompt_loso import recipe_comparison, v4_recipe_pool

H = LEARNED.index("hate")


def _ledger(tmp_path: Path) -> Path:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "SOURCES.tsv").write_text(
        "file\trepo\n"
        "davidson_hate_offensive/labeled_data.csv\tt-davidson/hate-speech-and-offensive-language\n"
        "harmbench/harmbench_behaviors_text_all.csv\tbusycalibrating/AdversariaLLM (copy of HarmBench data)\n"
        "ethos/ethos.csv\tsomeone/xstest-copy\n", encoding="utf-8")
    return tmp_path


def test_training_sources_checked_against_held_out_list(tmp_path: Path) -> None:
    data = _ledger(tmp_path)
    ok = [Row("a", "davidson", {}), Row("b", "authored_seed", {"hate": 1}),
          Row("c", "styled", _neg(), extra={"base_source": "davidson"})]
    assert check_not_held_out(ok, data) == ["davidson_hate_offensive"]
    assert check_not_held_out(ok, data / "prompts") == ["davidson_hate_offensive"]
    with pytest.raises(ValueError, match="held-out"):
        check_not_held_out([*ok, Row("d", "harmbench", {"illegal": 1})], data)
    with pytest.raises(ValueError, match="held-out"):  # a held-out data set copied under another repository
        check_not_held_out([Row("e", "ethos", {"hate": 0})], data)
    with pytest.raises(ValueError, match="no recorded origin"):  # a folder the ledger does not list
        check_not_held_out([Row("f", "toxigen", {"hate": 1})], data)
    with pytest.raises(ValueError, match="no recorded folder"):  # a source name nobody mapped: fail closed
        check_not_held_out([Row("g", "newsource", {})], data)


def _rows() -> tuple[list[Row], np.ndarray]:
    rows = [Row(f"hate {i}", "forum", {"hate": 1}) for i in range(25)]
    rows += [Row(f"fine {i}", "forum", _neg()) for i in range(30)]
    rows += [Row(f"caption {i}", "art", _neg()) for i in range(10)]
    return rows, np.array([r.source for r in rows])


def test_recipe_comparison_scores_each_recipe_and_their_mean() -> None:
    rows, fams = _rows()
    p5 = np.full((len(rows), len(LEARNED)), 0.05)
    p4 = np.full_like(p5, np.nan)  # the v4 recipe scored only the left-out family
    p4[:55] = 0.05
    rng = np.random.default_rng(0)
    p5[:55, H] = rng.random(55)  # v5 ranks at random
    p4[:25, H], p4[25:55, H] = 0.9, 0.1  # the v4 recipe ranks the forum's hate first
    review, block = np.full(len(LEARNED), 0.5), np.full(len(LEARNED), 0.8)
    lines = recipe_comparison(rows, [r.text for r in rows], fams, p5, p4, ("forum",), review, block)
    row = next(ln for ln in lines if ln.startswith("| forum |")).split("|")
    # pos 25, strict negatives 30; strict AUPRC v4 recipe 1.000, the mean between it and v5's.
    assert row[2].strip() == "25" and row[3].strip() == "30"
    assert row[5].strip() == "1.000" and float(row[4]) < float(row[6]) < 1.0
    assert "v4 recipe 1.000" in next(ln for ln in lines if ln.startswith("**Mean binary"))
    hate = next(ln for ln in lines if ln.startswith("| hate | forum |")).split("|")
    assert hate[6].strip() == "1.000" and hate[-2].strip() == "1.000"  # every positive at the review bar


def test_v4_pool_is_the_shipped_pool_without_the_family() -> None:
    rows, fams = _rows()
    rows.append(Row("seed", "authored_seed", {"hate": 1}))
    fams = np.append(fams, "authored_seed")
    pool = v4_recipe_pool(rows, fams, "forum")
    assert all(fams[i] != "forum" for i in pool) and len(rows) - 1 in pool


def test_eval_headline_puts_left_out_beside_in_distribution() -> None:
    from evals.prompt_gate import headline
    from evals.prompt_loso import LOSO_COMMAND
    from safety.prompt_classifier import PromptClassifier

    lines = headline(PromptClassifier({"meta": {"version": 4}}, "", {}), 0.904, 0.95)
    text = "\n".join(lines)
    assert LOSO_COMMAND[4] in text and "mean category AUPRC 0.904" in text and "binary AUPRC 0.950" in text
    assert text.index("Left out") < text.index("In distribution")
    assert "not measured" in "\n".join(headline(PromptClassifier(None, "", {}), 0.5, 0.5))
    # The served v4+v5 mean: its left-out figure is by halves of the families (evals/prompt_bars.py).
    from evals.prompt_gate import MEAN_LEFT_OUT_COMMAND

    mean = "\n".join(headline(PromptClassifier({"meta": {"version": "4+5"}}, "", {}), 0.9, 0.9))
    assert MEAN_LEFT_OUT_COMMAND in mean and "halves" in mean
