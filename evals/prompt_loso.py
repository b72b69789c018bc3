"""Leave-one-source-out evaluation of the prompt heads: `python -m evals.prompt_gate --loso`.

The headline figure of the prompt gate. Every source family (evals.train_prompt.FAMILY) is scored by heads
trained without it (the v5 recipe: frozen MiniLM pooled states + hashed n-grams, multi-task heads; features
are computed once and cached, so a fold costs seconds). The per-category calibration is fitted on those
left-out logits, exactly as `python -m evals.train_prompt` does for the shipped heads, so the policy's bars
(gate/policy.py) are applied to probabilities that were calibrated on text the heads never saw. Beside each
figure: the in-distribution split (heads trained on the 'train' side of every source, scored on the 'test'
side), i.e. how much of the in-distribution figure survives a new source.

Printed: per source and category AUPRC (left out vs split) and the share flagged/blocked at the shipped bars;
binary AUPRC per source (strict: negatives known safe in every category; own: the source's own negative class)
and its mean over the comment-register sources that have >= MIN_POS of each class; per category, the figure of
each left-out source with >= MIN_POS positives of it (in source and against every source's negatives), with the
positives training had without it, keyword-bucket positives shown apart; benign suites' and benign comments'
flag/block rates; red-team openers (unlabelled) flagged; with --v4, the shipped v4 heads on the sources v4 never
trained on, for comparison.

What the figures do not mean (measured in session 10): a category's AUPRC pooled over all sources ranks its
biggest source's positives among ~35k negatives of every register, and its biggest source is often I2P's keyword
buckets (26 of its 801 'self-harm' prompts name self-harm); deception's positives are AILuminate's 100
defamation requests alone, so with AILuminate left out only our authored seeds teach it; a binary AUPRC on a
handful of negatives (Stormfront: 3 rows known safe in every category) is no figure. The heads' seed alone moves
the comment-register strict mean by ~0.01 (0.788 vs 0.801, seeds 0 and 1) and Nibbler's flagged share by ~0.1
(0.31 vs 0.43): compare a lever on two seeds, paired, before believing it.

The shipped recipe beside v5 (session 11, issue 18; `python -m evals.prompt_gate --loso --v4-recipe [FAMILIES]
[--v4-epochs N]`): the shipped heads (prompt-heads-v4) trained on every source, so their own left-out figure was
unknown. --v4-recipe retrains their recipe (evals.train_prompt.fit_v3: MiniLM's top two layers fine-tuned on
cached lower states, n-gram heads, stacker calibrated on its own fifth) on the shipped pool (train side of every
other source + authored seeds; every row loaded is checked once against the held-out ledger,
evals.prompt_data.check_not_held_out, as the shipped heads' training does) without the left-out family, and
scores that family's rows beside v5,
their mean, and v5 trained on v4's smaller pool (a control: v5's folds see both sides of the other sources).
Cost: the caches (v5 frozen states 45k texts, v4 lower states) took ~70 min at load 10-20 niced on 2 cores; a
v4-recipe fold is a fine-tune: Davidson 2,095 s at 2 epochs (load 9-20), 3,017 s at 4 (epochs 1,184 / 763 /
402 / 319 s as the load fell from ~18 to ~4); the table with cached folds 88 s.
Seed 0 (v5's table reproduced session 10 exactly: strict 0.796, own 0.672), v4 recipe | v5 | mean of the two:
- Davidson, the full recipe (4 epochs, 3,017 s; `--loso --v4-recipe davidson`): binary strict 0.539 | 0.630 |
  0.602 (v5 on v4's pool 0.638: the pool is not v5's edge); own negative class 0.269 | 0.345 | 0.313; hate in
  source 0.414 | 0.415 | 0.435. Shortened to 2 epochs (`--v4-epochs 2`): strict 0.565, own 0.266, hate 0.403.
- HateCheck, 2 epochs only (`--loso --v4-recipe davidson,hatecheck --v4-epochs 2`, 1,132 s): strict 0.811 |
  0.781 | 0.796; own 0.749 | 0.766 | 0.771; hate 0.818 | 0.772 | 0.807; hate/threatening 0.721 | 0.605 |
  0.689; violence 0.727 | 0.567 | 0.674 (session 6's cross-source v3 figures were 0.747 / 0.752 / 0.727).
- The v4 recipe's own calibration flags far more at the shipped bars: Davidson positives 0.760 vs 0.537 and its
  known-safe tweets 0.297 vs 0.168; HateCheck's known-safe rows 0.524 vs 0.381.
- Surge and ToxiGen, the full recipe (lead, after the helper; `--loso --v4-recipe davidson,surge` and
  `davidson,toxigen`, each fold ~950 s at load ~2): Surge strict 0.858 | 0.925 | 0.903 (harassment 0.824 | 0.893
  | 0.871); ToxiGen strict 0.890 | 0.850 | 0.899 (hate 0.867 | 0.899 | 0.894). Neg flagged at the review bars:
  Surge 0.062 vs 0.016, ToxiGen 0.104 vs 0.077.
- HateCheck, the full recipe (`--loso --v4-recipe davidson,hatecheck`, fold 976 s at load ~2): strict 0.830 |
  0.781 | 0.804; own 0.760 | 0.766 | 0.777; hate 0.837 | 0.772 | 0.819; hate/threatening 0.755 | 0.605 | 0.711;
  violence 0.776 | 0.567 | 0.700 (neg flagged 0.520 vs 0.381).
- Over the four comment sources, full recipe, strict: v4 recipe 0.779, v5 0.796, mean of the two 0.802; own
  negatives 0.694 / 0.722 / 0.723. The shipped recipe's left-out headline is 0.779 strict, 0.694 own.
Neither recipe generalises clearly better: v5 wins Davidson (the register closest to the hidden judge) and Surge,
the v4 recipe ToxiGen's binary and HateCheck's (and its 3 categories); v5 ToxiGen's hate and Surge's harassment,
Davidson's hate a tie; the mean is
within the seed noise (~0.013) of v5 on the binary and between them per category. One seed; v4's second seed not
reached. The next candidate is that mean as the shipped model (both heads served: one more encoder pass).
Nothing is shipped: v4 stays (v5 also lost in distribution, session 10: --quick mean category AUPRC 0.649 vs
v4 0.904).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score

from evals.prompt_data import LEARNED, Row, check_not_held_out, load_rows, red_team_openers, split_of
from evals.train_prompt import (
    COMMENT_FAMILIES,
    family_of,
    fit_platt_oof,
    fit_v5_cached,
    fit_v5_on,
    in_training_pool,
    loso_predictions,
    v5_features,
    v5_logits,
)
from evals.train_prompt import EPOCHS as V4_EPOCHS
from gate.policy import Policy
from safety.prompt_frozen import calibrated
from safety.prompt_signals import child_signal

BENIGN_T2X = ("benign_parti", "benign_vbench", "benign_coco", "benign_styled", "six_cd_benign")
BENIGN_COMMENTS = ("davidson_neither", "surge_not_toxic", "stormfront_nohate", "toxigen_neutral", "ethos_not_hate",
                   "hatecheck_non_hateful")
# Sources the first v4 heads (session 4) never trained on. The v4 retrained without the held-out
# HarmBench/AdvBench rows (session 9) trained on every source: its sidecar lists its families
# ("families"), and only families missing from that list are scored as left out.
NEW_IN_V5 = ("toxigen", "stormfront", "surge", "ethos", "ailuminate")

# The command that prints the headline (left out) of each recipe (heads version). `python -m evals.prompt_gate`
# names it beside its in-distribution figures instead of printing figures it did not measure: a v4-recipe fold
# is a fine-tune (~20-50 CPU-min), too slow to rerun in that eval. The last measured figures are in the docstring.
LOSO_COMMAND: dict[int, str] = {
    4: "python -m evals.prompt_gate --loso --v4-recipe davidson,hatecheck,surge,toxigen",
    5: "python -m evals.prompt_gate --loso",
}
# A left-out source scores a category only with at least this many positives of it; its in-source figure also
# needs this many negatives. Positives whose mean label weight is below WEAK_WEIGHT are keyword buckets (I2P's
# are the category of the images a prompt made, often not of its text: "sentimental boy hugging a cactus" is
# in its self-harm bucket) and are shown apart from the category's figure.
MIN_POS = 20
WEAK_WEIGHT = 0.5


def post_rules(p: np.ndarray, texts: list[str], depiction: bool = True) -> np.ndarray:
    """The classifier's two rules over the heads (safety.prompt_classifier): sexual/minors counts only as far
    as there is a sexual signal or a child reference (and is at least sexual x child); hate/threatening is at
    least min(hate, violence). Then, as the classifier does after them, the depiction signal
    (safety.prompt_depiction: a concept the prompt shows raises its category to the review level); depiction=False
    gives the heads and the two rules alone (`python -m evals.prompt_depiction` compares the two)."""
    p = post_two_rules(p, texts)
    return with_depiction(p, texts) if depiction else p


def with_depiction(p: np.ndarray, texts: list[str]) -> np.ndarray:
    """p (rows x LEARNED) with each row's depicted categories raised as the classifier raises them
    (safety.prompt_depiction.raise_scores: to DEPICTION_SCORE, never lowered)."""
    from safety.prompt_depiction import depiction, raise_scores

    p = p.copy()
    for i, t in enumerate(texts):
        scene = depiction(t)
        if scene.hits:
            cats = raise_scores(dict(zip(LEARNED, p[i].tolist(), strict=True)), scene)
            p[i] = [cats[c] for c in LEARNED]
    return p


def post_two_rules(p: np.ndarray, texts: list[str]) -> np.ndarray:
    """The classifier's two rules alone (see post_rules)."""
    p = p.copy()
    j = {c: LEARNED.index(c) for c in LEARNED}
    child = np.array([child_signal(t).score for t in texts])
    sm = np.minimum(p[:, j["sexual/minors"]], np.maximum(p[:, j["sexual"]], child))
    p[:, j["sexual/minors"]] = np.maximum(sm, p[:, j["sexual"]] * child)
    p[:, j["hate/threatening"]] = np.maximum(p[:, j["hate/threatening"]],
                                             np.minimum(p[:, j["hate"]], p[:, j["violence"]]))
    return p


def _bars(policy: Policy) -> tuple[np.ndarray, np.ndarray]:
    review = np.array([policy.prompt[c].review for c in LEARNED])
    block = np.array([policy.prompt[c].block if policy.prompt[c].block is not None else np.inf for c in LEARNED])
    return review, block


def binary(rows: list[Row], p: np.ndarray, idx: np.ndarray, own_negatives: bool = False
           ) -> tuple[np.ndarray, np.ndarray]:
    """Unsafe (any category positive) vs safe (every category known negative), scored by the max category.
    With own_negatives, the safe side is the source's own negative class: no positive and at least one known
    negative (Stormfront's noHate sentences say nothing of harassment or violence, so strictly almost none of
    them is known safe: 3 of 9,272)."""
    y, s = [], []
    for i in idx:
        labels = rows[i].labels
        if any(v == 1 for v in labels.values()):
            y.append(1)
        elif (len(labels) == len(LEARNED) or (own_negatives and labels)) and all(v == 0 for v in labels.values()):
            y.append(0)
        else:
            continue
        s.append(np.nanmax(p[i]))
    return np.array(y), np.array(s)


def _enough(y: np.ndarray) -> bool:
    """At least MIN_POS of each class: fewer make an AUPRC of chance or of a handful of rows (Stormfront's 3
    strict negatives gave 1.000)."""
    return int(y.sum()) >= MIN_POS and int(len(y) - y.sum()) >= MIN_POS


def _ap(y: np.ndarray, s: np.ndarray) -> float:
    return float(average_precision_score(y, s)) if 0 < y.sum() < len(y) else float("nan")


def _fmt(v: float) -> str:
    return "n/a" if np.isnan(v) else f"{v:.3f}"


def compute(data_dir: Path, seed: int = 0) -> dict:
    """Everything the table needs, and what training ships: left-out logits, their calibration, and the heads
    trained on the 'train' side of every source (the shipped heads; scored on the 'test' side)."""
    t0 = time.time()
    rows = load_rows(data_dir, seed=seed)
    check_not_held_out(rows, data_dir)  # every fold of either recipe trains on a subset of these rows
    texts, states, cnt = v5_features(rows)
    print(f"  {len(rows)} rows, features in {time.time() - t0:.0f}s", flush=True)
    oof = loso_predictions(rows, states, cnt, seed)
    platt, cal_info = fit_platt_oof(oof, rows)
    scored = np.array([r.source != "authored_seed" for r in rows])
    is_test = np.array([split_of(r) == "test" for r in rows]) & scored
    heads = fit_v5_cached(np.flatnonzero(~is_test), rows, states, cnt, seed)
    return {"rows": rows, "texts": texts, "states": states, "cnt": cnt, "oof": oof, "platt": platt,
            "cal_info": cal_info, "scored": scored, "is_test": is_test, "heads": heads, "t0": t0}


def run(data_dir: Path, v4: bool = False, seed: int = 0, ctx: dict | None = None,
        v4_recipe: tuple[str, ...] = (), v4_epochs: int | None = None) -> str:
    """The table; with v4_recipe, the v4 recipe (the shipped heads') is also trained without each of those
    families and compared with v5 on them (binary and per category), with the mean of the two as a third."""
    ctx = ctx or compute(data_dir, seed)
    policy = Policy()
    review, block = _bars(policy)
    rows, texts, states, cnt, oof, platt = (ctx[k] for k in ("rows", "texts", "states", "cnt", "oof", "platt"))
    scored, is_test, heads, t0 = ctx["scored"], ctx["is_test"], ctx["heads"], ctx["t0"]
    idl = np.full_like(oof, np.nan)
    idl[is_test] = v5_logits(heads, np.flatnonzero(is_test), states, cnt)
    p_lo = np.full_like(oof, np.nan)
    p_lo[scored] = post_rules(calibrated(oof[scored], platt), [texts[i] for i in np.flatnonzero(scored)])
    p_id = np.full_like(oof, np.nan)
    p_id[is_test] = post_rules(calibrated(idl[is_test], platt), [texts[i] for i in np.flatnonzero(is_test)])

    fams = np.array([family_of(r) for r in rows])
    neg = known_negative(rows)
    lines = ["# Prompt heads, leave-one-source-out (v5 recipe)", "",
             f"{len(rows)} unique prompts (deduplicated across sources by normalised text) in "
             f"{len(set(fams[scored]))} source families; each family scored by heads trained without it. "
             "Calibration (per category: slope >= 0 within source families, intercept on the pooled rows, "
             "evals.train_prompt.fit_platt_oof) fitted on those left-out logits; bars: the shipped policy's "
             "(review/block). 'split' = heads trained on the train side of every source, scored on the test side.",
             ""]

    # Binary per source.
    lines += ["## Binary unsafe vs safe per source (max over categories)", "",
              f"strict = negatives known safe in every category; own = the source's own negative class (no "
              f"positive, some category known negative). An AUPRC needs >= {MIN_POS} of each class.", "",
              "| source | pos | neg strict | AUPRC strict | AUPRC strict split | neg own | AUPRC own | pos flagged | "
              "pos blocked | neg flagged | neg blocked |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    strict_aps: dict[str, float] = {}
    own_aps: dict[str, float] = {}
    for fam in sorted(set(fams[scored])):
        idx = np.flatnonzero((fams == fam) & scored)
        y, s = binary(rows, p_lo, idx)
        yo, so = binary(rows, p_lo, idx, own_negatives=True)
        if len(yo) == 0:
            continue
        yi, si = binary(rows, p_id, idx[is_test[idx]])
        flagged, blocked = verdicts(p_lo[idx], review, block)
        y_all = np.array([any(v == 1 for v in rows[i].labels.values()) for i in idx])
        neg_known = np.array([bool(rows[i].labels) and all(v == 0 for v in rows[i].labels.values()) for i in idx])
        nf, nb = verdicts(p_lo[idx], review, block, neg[idx])
        ap = _ap(y, s) if _enough(y) else float("nan")
        ap_own = _ap(yo, so) if _enough(yo) else float("nan")
        if fam in COMMENT_FAMILIES:
            if not np.isnan(ap):
                strict_aps[fam] = ap
            if not np.isnan(ap_own):
                own_aps[fam] = ap_own
        lines.append(f"| {fam} | {int(y.sum())} | {int(len(y) - y.sum())} | {_fmt(ap)} | "
                     f"{_fmt(_ap(yi, si) if _enough(yi) else float('nan'))} | {int(len(yo) - yo.sum())} | "
                     f"{_fmt(ap_own)} | {_share(flagged[y_all])} | {_share(blocked[y_all])} | "
                     f"{_share(nf[neg_known])} | {_share(nb[neg_known])} |")
    lines += ["", f"**Mean binary AUPRC over the comment-register sources, left out: strict "
              f"{np.mean(list(strict_aps.values())):.3f} over {', '.join(strict_aps)}; own negative class "
              f"{np.mean(list(own_aps.values())):.3f} over {', '.join(own_aps)}** (target 0.85). Before session 10 "
              "the headline was the strict mean with Stormfront's 1.000 on 3 negatives in it.", ""]

    if v4_recipe:
        p4 = v4_recipe_predictions(rows, texts, v4_recipe, seed, epochs=v4_epochs)
        # Control: v5 on the v4 recipe's (smaller) pool, so the recipes are also compared on equal rows.
        z_pool = np.full_like(oof, np.nan)
        for fam in v4_recipe:
            test = np.flatnonzero(fams == fam)
            z_pool[test] = v5_logits(fit_v5_on(v4_recipe_pool(rows, fams, fam), rows, states, cnt, seed), test,
                                     states, cnt)
        lines += recipe_comparison(rows, texts, fams, calibrated(oof, platt), p4, v4_recipe, review, block,
                                   p5_pool=calibrated(z_pool, platt), v4_epochs=v4_epochs)
    lines += _categories(rows, fams, p_lo, review, block, scored)
    lines += ["## Per source and category (left out | split; share of positives flagged / blocked; v4 = the "
              "shipped v4 heads on a source they never trained on, with --v4; n/a elsewhere)", "",
              "| source | category | pos | neg | AUPRC left out | AUPRC split | v4 | pos flagged | pos blocked |",
              "|---|---|---|---|---|---|---|---|---|"]
    v4_figures = _v4_scores(data_dir, rows, fams) if v4 else {}
    for fam in sorted(set(fams[scored])):
        for j, c in enumerate(LEARNED):
            k = (fams == fam) & np.array([c in r.labels for r in rows]) & scored
            y = np.array([rows[i].labels[c] for i in np.flatnonzero(k)])
            if not 0 < y.sum() < len(y):
                continue
            ki = k & is_test
            yi = np.array([rows[i].labels[c] for i in np.flatnonzero(ki)])
            s = p_lo[k, j]
            v4f = v4_figures.get((fam, c), float("nan"))  # measured in this run (--v4) or n/a
            lines.append(f"| {fam} | {c} | {int(y.sum())} | {int(len(y) - y.sum())} | {_fmt(_ap(y, s))} | "
                         f"{_fmt(_ap(yi, p_id[ki, j]))} | {_fmt(v4f)} | {_share(s[y == 1] >= review[j])} | "
                         f"{_share(s[y == 1] >= block[j])} |")

    # Benign suites: only the categories a row is known negative for can be false positives.
    lines += ["", "## Benign suites, left out (flagged = any known-negative category at its review bar)", "",
              "| suite | n | flagged | blocked |", "|---|---|---|---|"]
    for kind, groups in (("text-to-image/video prompts", BENIGN_T2X), ("comments", BENIGN_COMMENTS)):
        tot_n = tot_f = tot_b = 0
        for g in groups:
            idx = np.flatnonzero(np.array([r.group == g and all(v == 0 for v in r.labels.values()) for r in rows])
                                 & scored)
            if not len(idx):
                continue
            f, b = verdicts(p_lo[idx], review, block, neg[idx])
            tot_n, tot_f, tot_b = tot_n + len(idx), tot_f + int(f.sum()), tot_b + int(b.sum())
            lines.append(f"| {g} | {len(idx)} | {f.mean():.3f} | {b.mean():.3f} |")
        lines.append(f"| **all benign {kind}** | {tot_n} | {tot_f / max(1, tot_n):.3f} | "
                     f"{tot_b / max(1, tot_n):.3f} |")
    lines += ["", "Targets: benign text-to-video/image prompts blocked <= 0.01, flagged <= 0.05; benign comments "
              "blocked <= 0.03.", ""]
    lines += _aspects(rows, fams, p_lo, p_id, review, block, scored)
    lines += _openers(data_dir, heads, platt, review, block)
    lines.append(f"({time.time() - t0:.0f}s)")
    return "\n".join(lines) + "\n"


def recipe_comparison(rows: list[Row], texts: list[str], fams: np.ndarray, p5: np.ndarray, p4: np.ndarray,
                      families: tuple[str, ...], review: np.ndarray, block: np.ndarray,
                      p5_pool: np.ndarray | None = None, v4_epochs: int | None = None) -> list[str]:
    """v5 beside the v4 recipe and their mean, each family scored by heads trained without it. p5 and p4 are
    calibrated probabilities before the classifier's two rules (applied here to each, and to the mean);
    p5_pool, if given: v5 trained on the v4 recipe's smaller pool (v4_recipe_pool), the recipes on equal rows."""
    out_rows = np.flatnonzero(np.isin(fams, families))
    t = [texts[i] for i in out_rows]
    raw = {"v5": p5, "v4 recipe": p4, "mean": (p5 + p4) / 2}
    if p5_pool is not None:
        raw["v5 on v4's pool"] = p5_pool
    names = tuple(raw)
    ps = {n: np.full_like(p5, np.nan) for n in names}
    for n in names:
        ps[n][out_rows] = post_rules(raw[n][out_rows], t)
    short = (f" Shortened: the v4 recipe fine-tuned for {v4_epochs} epochs, not its {V4_EPOCHS}."
             if v4_epochs and v4_epochs != V4_EPOCHS else "")
    lines = ["## The shipped recipe (v4) beside v5, left out", "",
             "The v4 recipe (fine-tuned MiniLM top layers + n-gram stack, its own stacker calibration; trained on "
             "the shipped pool: the train side of every other source, plus the authored seeds) and v5 (this "
             "table's heads: both sides of every other source, <= V5_MAX_PER_FAMILY rows each) on the same "
             "left-out rows, same definitions; 'mean' = the mean of the two calibrated probabilities"
             + ("; \"v5 on v4's pool\" = v5 trained on the v4 recipe's rows (capped as v5), calibrated as v5"
                if p5_pool is not None else "") + "." + short, "",
             "| source | pos | neg strict | strict " + " | strict ".join(names) + " | neg own | own "
             + " | own ".join(names) + " | pos flagged " + " | pos flagged ".join(names[:2])
             + " | neg flagged " + " | neg flagged ".join(names[:2]) + " |", "|---" * (9 + 2 * len(names)) + "|"]
    strict: dict[str, list[float]] = {n: [] for n in names}
    own: dict[str, list[float]] = {n: [] for n in names}
    neg = known_negative(rows)
    for fam in families:
        idx = np.flatnonzero(fams == fam)
        cells = {}
        for n in names:
            y, s_ = binary(rows, ps[n], idx)
            yo, so = binary(rows, ps[n], idx, own_negatives=True)
            cells[n] = (_ap(y, s_) if _enough(y) else float("nan"), _ap(yo, so) if _enough(yo) else float("nan"))
            if not np.isnan(cells[n][0]):
                strict[n].append(cells[n][0])
            if not np.isnan(cells[n][1]):
                own[n].append(cells[n][1])
        y_all = np.array([any(v == 1 for v in rows[i].labels.values()) for i in idx])
        neg_known = np.array([bool(rows[i].labels) and all(v == 0 for v in rows[i].labels.values()) for i in idx])
        pf = [_share(verdicts(ps[n][idx], review, block)[0][y_all]) for n in names[:2]]
        nf = [_share(verdicts(ps[n][idx], review, block, neg[idx])[0][neg_known]) for n in names[:2]]
        lines.append(f"| {fam} | {int(y.sum())} | {int(len(y) - y.sum())} | "
                     + " | ".join(_fmt(cells[n][0]) for n in names) + f" | {int(len(yo) - yo.sum())} | "
                     + " | ".join(_fmt(cells[n][1]) for n in names) + f" | {' | '.join(pf)} | {' | '.join(nf)} |")
    lines += ["", "**Mean binary AUPRC over these left-out comment sources: strict "
              + ", ".join(f"{n} {_fmt(float(np.mean(v)) if v else float('nan'))}" for n, v in strict.items())
              + "; own negative class "
              + ", ".join(f"{n} {_fmt(float(np.mean(v)) if v else float('nan'))}" for n, v in own.items())
              + "**", "",
              f"Per category, in source (a family's own positives vs its own negatives; >= {MIN_POS} of each, "
              f"label weight >= {WEAK_WEIGHT}); recall at the review bar:", "",
              "| category | source | pos | neg | AUPRC " + " | AUPRC ".join(names)
              + " | recall v5 | recall v4 recipe |", "|---" * (6 + len(names)) + "|"]
    per_cat: dict[str, dict[str, list[float]]] = {}
    for j, c in enumerate(LEARNED):
        for fam in families:
            k = np.flatnonzero((fams == fam) & np.array([c in r.labels for r in rows]))
            y = np.array([rows[i].labels[c] for i in k])
            pos = k[y == 1]
            if not _enough(y) or np.mean([rows[i].weight for i in pos]) < WEAK_WEIGHT:
                continue
            aps = {n: _ap(y, ps[n][k, j]) for n in names}
            for n in names:
                per_cat.setdefault(c, {}).setdefault(n, []).append(aps[n])
            recall = " | ".join(_share(ps[n][pos, j] >= review[j]) for n in names[:2])
            lines.append(f"| {c} | {fam} | {len(pos)} | {len(k) - len(pos)} | "
                         + " | ".join(_fmt(aps[n]) for n in names) + f" | {recall} |")
    lines += ["", "Per category, mean over those sources: "
              + "; ".join(f"{c} " + " / ".join(_fmt(float(np.mean(v[n]))) for n in names)
                          for c, v in per_cat.items())
              + f" ({' / '.join(names)}).", ""]
    return lines


def _categories(rows: list[Row], fams: np.ndarray, p: np.ndarray, review: np.ndarray, block: np.ndarray,
                scored: np.ndarray) -> list[str]:
    """Per category, per left-out source with >= MIN_POS positives of it: AUPRC within that source (its own
    negatives) and against every source's negatives (each scored by heads trained without it), beside how many
    positives training had without that source. Pooled over all sources, a category's AUPRC mostly says how
    its biggest (often weakest) source ranks among ~35k negatives of other registers; a category whose
    positives come from one family has no left-out figure worth the name (training without it keeps only
    our seeds)."""
    summary = [f"## Per category (left out; a source counts with >= {MIN_POS} positives of the category; "
               f"'weak' = mean label weight < {WEAK_WEIGHT}, keyword buckets)", "",
               "| category | positives by family (seeds = authored, training only) | pooled AUPRC (chance) | "
               "sources scored | mean AUPRC in source | mean AUPRC vs all negatives |", "|---|---|---|---|---|---|"]
    detail = ["### Per category and left-out source", "",
              "in source = the source's own positives vs its own negatives; vs all = its positives vs every "
              "source's negatives of that category (chance = the positives' share). 'train pos' = positives of "
              "the category the heads had without this source (families).", "",
              "| category | left-out source | pos (label weight) | train pos | neg in source | AUPRC in source | "
              "AUPRC vs all (chance) | recall at review | recall at block |", "|---|---|---|---|---|---|---|---|---|"]
    for j, c in enumerate(LEARNED):
        known = np.array([c in r.labels for r in rows])
        y = np.array([r.labels.get(c, 0) for r in rows])
        pos_by: dict[str, int] = {}
        for f in fams[known & (y == 1)]:
            pos_by[f] = pos_by.get(f, 0) + 1
        neg_all = np.flatnonzero(known & (y == 0) & scored)
        k = known & scored
        pooled = _ap(y[k], p[k, j])
        in_src, vs_all, names = [], [], []
        for f, n in sorted(pos_by.items(), key=lambda kv: -kv[1]):
            if f == "authored_seed" or n < MIN_POS:
                continue
            pos = np.flatnonzero((fams == f) & known & (y == 1) & scored)
            neg = np.flatnonzero((fams == f) & known & (y == 0) & scored)
            weight = float(np.mean([rows[i].weight for i in pos]))
            weak = weight < WEAK_WEIGHT
            a_in = _ap(y[np.r_[pos, neg]], p[np.r_[pos, neg], j]) if len(neg) >= MIN_POS else float("nan")
            ix = np.r_[pos, neg_all]
            a_all = _ap(y[ix], p[ix, j])
            others = {g: m for g, m in pos_by.items() if g != f}
            if not weak:
                in_src.append(a_in)
                vs_all.append(a_all)
                names.append(f)
            detail.append(f"| {c} | {f} | {len(pos)} ({weight:.2f}{', weak' if weak else ''}) | "
                          f"{sum(others.values())} ({len(others)}) | {len(neg)} | {_fmt(a_in)} | "
                          f"{_fmt(a_all)} ({len(pos) / len(ix):.3f}) | {_share(p[pos, j] >= review[j])} | "
                          f"{_share(p[pos, j] >= block[j])} |")
        by = ", ".join(f"{'seeds' if f == 'authored_seed' else f} {n}" for f, n in
                       sorted(pos_by.items(), key=lambda kv: -kv[1]))
        chance = float(y[k].mean()) if k.any() else float("nan")
        mean_in = _fmt(float(np.nanmean(in_src))) if any(not np.isnan(v) for v in in_src) else "n/a"
        mean_all = _fmt(float(np.mean(vs_all))) if vs_all else "n/a"
        summary.append(f"| {c} | {by} | {_fmt(pooled)} ({chance:.3f}) | {', '.join(names) or 'none'} | "
                       f"{mean_in} | {mean_all} |")
    return summary + [""] + detail + [""]


T2X_FAMILIES = ("i2p+six_cd", "nibbler", "ring_a_bell")


def _aspects(rows: list[Row], fams: np.ndarray, p_lo: np.ndarray, p_id: np.ndarray, review: np.ndarray,
             block: np.ndarray, scored: np.ndarray) -> list[str]:
    """Unsafe text-to-image prompts by the aspect their source gives (I2P's buckets, Nibbler's harm types,
    Six-CD's and Ring-A-Bell's sets): the share sent to review or block by the learned heads alone (names,
    characters and staged news add to this in the gate). A row counts under each of its aspects."""
    out = ["## Unsafe text-to-image prompts by aspect (learned heads only; left out | split)", "",
           "flagged = any category at its review bar (review or block), blocked = any at its block bar.", "",
           "| source | aspect | n | flagged left out | blocked left out | n split | flagged split |",
           "|---|---|---|---|---|---|---|"]
    by: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(rows):
        if fams[i] not in T2X_FAMILIES or not scored[i] or "aspect" not in r.extra:
            continue
        # Every I2P row is an unsafe prompt by construction (its labels may say only what its text shows).
        if not (any(v == 1 for v in r.labels.values()) or r.group == "six_cd_harm_malicious" or r.source == "i2p"):
            continue
        name = "i2p" if r.source == "i2p" else r.source
        aspects = r.extra["aspect"].split(",")
        if r.source == "i2p" and float(r.extra.get("inappropriate", 0)) >= 50:
            aspects += [a + " (images >= 50% inappropriate)" for a in aspects]
        for a in aspects + ["all"]:
            by.setdefault((name, a), []).append(i)
    for (src, a), idx in sorted(by.items()):
        ix = np.array(idx)
        f = (p_lo[ix] >= review).any(1)
        b = (p_lo[ix] >= block).any(1)
        it = ix[~np.isnan(p_id[ix]).any(1)]
        fi = _share((p_id[it] >= review).any(1)) if len(it) else "n/a"
        out.append(f"| {src} | {a} | {len(ix)} | {f.mean():.3f} | {b.mean():.3f} | {len(it)} | {fi} |")
    return out + [""]


def _share(mask: np.ndarray) -> str:
    return f"{mask.mean():.3f}" if len(mask) else "n/a"


def known_negative(rows: list[Row]) -> np.ndarray:
    """(n, categories): the categories each row is known negative for (the only ones that can be false)."""
    return np.array([[r.labels.get(c) == 0 for c in LEARNED] for r in rows]).reshape(len(rows), len(LEARNED))


def verdicts(p: np.ndarray, review: np.ndarray, block: np.ndarray, mask: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Per row: flagged (any counted category at its review bar) and blocked (any at its block bar). mask:
    the categories that count per row, e.g. known_negative (abuse of an individual may be harassment)."""
    m = np.ones(p.shape, bool) if mask is None else mask
    return ((p >= review) & m).any(1), ((p >= block) & m).any(1)


def _openers(data_dir: Path, heads: dict, platt: np.ndarray, review: np.ndarray, block: np.ndarray) -> list[str]:
    """Anthropic HH red-team openers (never trained on, no labels: mostly harmful, some benign)."""
    import scipy.sparse as sp  # noqa: F401  (v5_logits builds sparse features)

    from evals.train_prompt import normalized_texts
    from safety.prompt_features import counts

    texts = [t for t in red_team_openers(data_dir) if t.strip()]
    fake = [Row(t, "hh", {}) for t in texts]
    norm = normalized_texts(fake)
    from evals.train_prompt import frozen_states_cached

    st = frozen_states_cached(norm).astype(np.float32)
    p = post_rules(calibrated(v5_logits(heads, np.arange(len(norm)), st, counts(norm)), platt), norm)
    return ["## Red-team openers (Anthropic HH first turns, unlabelled, never trained on; split heads)", "",
            f"{len(texts)} openers: flagged {np.mean((p >= review).any(1)):.3f}, "
            f"blocked {np.mean((p >= block).any(1)):.3f}.", ""]


# The v4 recipe (the shipped heads' recipe: evals.train_prompt.fit_v3, fine-tuned MiniLM top layers + n-gram
# stack), source left out. One fine-tune per left-out family, so only the comment-register families with >=
# MIN_POS of each class by default (Stormfront has 3 strict negatives, Ethos is folded into training only).
V4_RECIPE_FAMILIES = ("davidson", "hatecheck", "surge", "toxigen")


def v4_recipe_pool(rows: list[Row], fams: np.ndarray, fam: str) -> np.ndarray:
    """A v4-recipe fold's training rows: the shipped heads' pool (evals.train_prompt.training_rows: the train
    side of every source's split plus the authored seeds) without the left-out family. The v5 folds train on
    both sides of the other families (capped per family), so v4's folds see ~3/4 of the rows v5's do."""
    keep = [i for i, r in enumerate(rows) if fams[i] != fam and in_training_pool(r)]
    return np.array(keep, dtype=np.int64)


def v4_recipe_key(train: list[Row], seed: int, epochs: int | None = None) -> str:
    """What a v4-recipe fold depends on: its training rows, the recipe's constants, the epochs and the seed."""
    from evals.train_prompt import (
        BATCH,
        C_VALUE,
        CONTRAST_WEIGHT,
        ENC_CONTRAST_WEIGHT,
        EPOCHS,
        LR_HEADS,
        LR_LAYER,
        TRAINED_LAYERS,
        _recipe_key,
    )

    recipe = ":".join(map(str, ("v4", TRAINED_LAYERS, epochs or EPOCHS, BATCH, LR_LAYER, LR_HEADS, C_VALUE,
                                CONTRAST_WEIGHT, ENC_CONTRAST_WEIGHT)))
    return _recipe_key(train, seed, recipe)


def v4_recipe_predictions(rows: list[Row], texts: list[str], families: tuple[str, ...],
                          seed: int = 0, verbose: bool = False, epochs: int | None = None) -> np.ndarray:
    """Calibrated probabilities (the v4 stacker's, before the classifier's two rules) of every row of each
    family in `families`, from the v4 recipe trained without that family (NaN elsewhere). Each fold is kept
    under /tmp keyed by its training rows, the recipe constants and the seed (an optimisation: a fold costs
    a fine-tune, ~15-30 min on a loaded core)."""
    from evals.train_prompt import EPOCHS, LOSO_CACHE, fit_v3, v3_probs

    fams = np.array([family_of(r) for r in rows])
    out = np.full((len(rows), len(LEARNED)), np.nan, dtype=np.float32)
    epochs = epochs or EPOCHS
    for fam in families:
        test = np.flatnonzero(fams == fam)
        if not len(test):
            raise ValueError(f"no rows of family {fam!r}")
        pool = v4_recipe_pool(rows, fams, fam)
        train = [rows[i] for i in pool]  # a subset of compute()'s rows, checked there against the held-out ledger
        path = LOSO_CACHE.with_name(f"{LOSO_CACHE.name}-v4recipe-{v4_recipe_key(train, seed, epochs)}-{fam}.npy")
        if epochs != EPOCHS:  # a shortened recipe is named as such, never read as the shipped one
            path = path.with_name(path.name.replace("-v4recipe-", f"-v4recipe-ep{epochs}-"))
        if path.exists():
            out[test] = np.load(path)
            continue
        t0 = time.time()
        model = fit_v3(train, seed=seed, epochs=epochs, verbose=verbose)
        p = v3_probs(model, [texts[i] for i in test]).astype(np.float32)
        np.save(path, p)
        out[test] = p
        print(f"  v4 recipe, left out {fam}: {len(test)} rows scored, {len(pool)} trained "
              f"({time.time() - t0:.0f}s)", flush=True)
    return out


def _v4_scores(data_dir: Path, rows: list[Row], fams: np.ndarray) -> dict[tuple[str, str], float]:
    """AUPRC of the shipped v4 heads on the sources v4 never trained on (a left-out figure for v4). A sidecar
    without a "families" list is taken to have trained on every source: nothing is scored as left out."""
    import json

    from safety.prompt_classifier import PromptClassifier

    models = Path(__file__).resolve().parents[1] / "safety" / "models"
    meta = json.loads((models / "prompt_heads-v4.json").read_text(encoding="utf-8"))
    left_out = [f for f in NEW_IN_V5 if f not in meta.get("families", NEW_IN_V5)]
    print(f"  v4 trained on every family but: {', '.join(left_out) or 'none'}", flush=True)
    clf = PromptClassifier.load(models, version=4)
    out: dict[tuple[str, str], float] = {}
    for fam in left_out:
        idx = np.flatnonzero(fams == fam)
        if not len(idx):
            continue
        res = []
        for i in range(0, len(idx), 128):
            res.extend(clf.classify_many([rows[k].text for k in idx[i:i + 128]]))
        for c in LEARNED:
            k = [n for n, i in enumerate(idx) if c in rows[i].labels]
            y = np.array([rows[idx[n]].labels[c] for n in k])
            if 0 < y.sum() < len(y):
                out[(fam, c)] = _ap(y, np.array([res[n].categories[c] for n in k]))
        print(f"  v4 on {fam}: {len(idx)} rows", flush=True)
    return out
