"""The depiction signal's worth, left out: `python -m evals.prompt_depiction`.

safety/prompt_depiction.py is a hand-written lexicon, so every source is unseen by it; the heads are not. The
headline therefore takes v5 with one source family out (evals.prompt_loso.compute: each family scored by heads
trained without it, calibrated on those left-out logits) through the classifier's rules, without and with the
depiction signal on top (evals.prompt_loso.post_rules, the mirror of the classifier), at the policy's bars:
unsafe text-to-image/video prompts flagged per source and per I2P category; benign T2I/T2V flagged/blocked
(issue 18's budgets 5% / 1%), safe-but-alarming blocked (3%), benign comments flagged/blocked, and the
comment sources' binary AUPRC (must not drop). Per concept: the unsafe T2X prompts it alone brings to review
against the benign T2X, alarming and comment rows it brings there (a concept that costs more benign T2X flags
than it gains is to be dropped). In distribution beside it: the served mean's recipe (shipped v4 heads + v5
trained on the train side) on the test side, without and with the signal.

Measured session 15 (seed 0, 75 s with the frozen-state and fold caches warm; figures in
safety/prompt_depiction.py's docstring): unsafe T2X flagged 0.550 -> 0.589 left out (0.823 -> 0.840 in
distribution), benign T2X flagged 0.019 both, blocked 0.003 both; comment AUPRC 0.796 / 0.670 unchanged
left out, in distribution strict 0.916 -> 0.912. Every kept concept brings at least as many unsafe T2X prompts
to review as benign T2X ones (assault 23 vs 3, nudity 27 vs 2, erotic framing 78 vs 1, gore 14 vs 1); election
and hoax staging, drunk driving, poaching and arson fire on no measured prompt (kept: no cost measured either).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from evals import default_data_dir
from evals.prompt_bars import row_sets, shipped_in_distribution, unsafe_t2x
from evals.prompt_data import LEARNED, Row
from evals.prompt_loso import _bars, known_negative, post_rules, verdicts
from evals.train_prompt import family_of
from gate.policy import Policy
from safety.prompt_depiction import concepts, depiction
from safety.prompt_frozen import calibrated


def _src(r: Row) -> str:
    return "six_cd" if r.source.startswith("six_cd") else r.source


def _aspect_groups(rows: list[Row], unsafe: np.ndarray) -> dict[str, np.ndarray]:
    """Unsafe T2X rows by source, and I2P's rows by its category (a row counts under each of its aspects)."""
    out: dict[str, list[int]] = {}
    for i in np.flatnonzero(unsafe):
        r = rows[i]
        out.setdefault(f"{_src(r)} (all)", []).append(int(i))
        if r.source == "i2p":
            for a in r.extra.get("aspect", "").split(","):
                if a:
                    out.setdefault(f"i2p: {a}", []).append(int(i))
    return {k: np.array(v) for k, v in sorted(out.items())}


def _rates(p: np.ndarray, rows: list[Row], fams: np.ndarray, review: np.ndarray, block: np.ndarray
           ) -> dict[str, tuple[float, float, int]]:
    """name -> (flagged, blocked, n) for every row set of the table (NaN rows left out)."""
    ok = ~np.isnan(p).any(1)
    unsafe = unsafe_t2x(rows, fams) & ok
    out: dict[str, tuple[float, float, int]] = {}
    for name, ix in _aspect_groups(rows, unsafe).items():
        f, b = verdicts(p[ix], review, block)
        out[name] = (f.mean(), b.mean(), len(ix))
    per_fam = [verdicts(p[unsafe & (fams == g)], review, block) for g in np.unique(fams[unsafe])]
    out["unsafe T2X, family mean"] = (float(np.mean([f.mean() for f, _ in per_fam])),
                                      float(np.mean([b.mean() for _, b in per_fam])), int(unsafe.sum()))
    neg = known_negative(rows)
    for name, mask in row_sets(rows, fams).items():
        if name == "unsafe_t2x":
            continue
        ix = np.flatnonzero(mask & ok)
        f, b = verdicts(p[ix], review, block, neg[ix])
        out[f"{name} (known-negative categories)"] = (f.mean(), b.mean(), len(ix))
    return out


def _comment_ap(rows: list[Row], fams: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    from evals.prompt_loso import _ap, _enough, binary
    from evals.train_prompt import COMMENT_FAMILIES

    strict: list[float] = []
    own: list[float] = []
    for fam in COMMENT_FAMILIES:
        idx = np.flatnonzero((fams == fam) & ~np.isnan(p).any(1))
        for out, o in ((strict, False), (own, True)):
            y, s = binary(rows, p, idx, own_negatives=o)
            if _enough(y):
                out.append(_ap(y, s))
    return float(np.mean(strict)), float(np.mean(own))


def _concept_table(rows: list[Row], fams: np.ndarray, texts: list[str], base: np.ndarray, review: np.ndarray,
                   block: np.ndarray, scored: np.ndarray) -> list[str]:
    """Per concept: rows it fires on, and rows flagged only because of it (not flagged by the heads and rules)."""
    sets = row_sets(rows, fams)
    unsafe = unsafe_t2x(rows, fams) & scored
    neg = known_negative(rows)
    j = {c: LEARNED.index(c) for c in LEARNED}
    flagged_base = np.asarray((base >= review).any(1))
    per: dict[str, dict[str, int]] = {c.name: {} for c in concepts()}
    for i in np.flatnonzero(scored):
        dep = depiction(texts[i])
        for h in dep.hits:
            k = j[h.category]
            d = per[h.concept]
            kind = ("unsafe" if unsafe[i] else "benign_t2x" if sets["benign_t2x"][i] else
                    "alarming" if sets["alarming"][i] else "comments" if sets["comments"][i] else "other")
            d[f"{kind} fires"] = d.get(f"{kind} fires", 0) + 1
            new_flag = not flagged_base[i] and base[i, k] < review[k]
            if kind != "unsafe" and not neg[i, k]:
                new_flag = False  # a category the row is not known safe for is no false positive
            if new_flag:
                d[f"{kind} new"] = d.get(f"{kind} new", 0) + 1
    out = ["| concept | category | unsafe T2X fires / newly flagged | benign T2X fires / newly flagged | "
           "alarming fires / newly flagged | benign comments fires / newly flagged | other fires | verdict |",
           "|---|---|---|---|---|---|---|---|"]
    for c in concepts():
        d = per[c.name]

        def cell(kind: str, d: dict[str, int] = d) -> str:
            return f"{d.get(kind + ' fires', 0)} / {d.get(kind + ' new', 0)}"

        gain, cost = d.get("unsafe new", 0), d.get("benign_t2x new", 0)
        verdict = "drop (costs more than it gains)" if cost > gain else "keep"
        out.append(f"| {c.name} | {c.category} | {cell('unsafe')} | {cell('benign_t2x')} | {cell('alarming')} | "
                   f"{cell('comments')} | {d.get('other fires', 0)} | {verdict} |")
    return out


def run(data_dir: Path, seed: int = 0, in_dist: bool = True) -> str:
    from evals.prompt_loso import compute

    t0 = time.time()
    ctx = compute(data_dir, seed)
    rows, texts, oof, platt, scored, is_test = (ctx[k] for k in ("rows", "texts", "oof", "platt", "scored",
                                                                  "is_test"))
    fams = np.array([family_of(r) for r in rows])
    review, block = _bars(Policy())
    idx = np.flatnonzero(scored)
    t = [texts[i] for i in idx]
    cal = calibrated(oof[idx], platt)
    lo = {}
    for name, dep in (("without", False), ("with", True)):
        q = np.full(oof.shape, np.nan)
        q[idx] = post_rules(cal, t, depiction=dep)
        lo[name] = q
    ids: dict[str, np.ndarray] = {}
    if in_dist:
        from evals.train_prompt import v5_logits

        ti = np.flatnonzero(is_test)
        tt = [texts[i] for i in ti]
        id5 = calibrated(v5_logits(ctx["heads"], ti, ctx["states"], ctx["cnt"]), platt)
        mean = (shipped_in_distribution(rows, texts, is_test, rules=False)[ti] + id5) / 2
        for name, dep in (("without", False), ("with", True)):
            q = np.full(oof.shape, np.nan)
            q[ti] = post_rules(mean, tt, depiction=dep)
            ids[name] = q
    r_lo = {n: _rates(p, rows, fams, review, block) for n, p in lo.items()}
    r_id = {n: _rates(p, rows, fams, review, block) for n, p in ids.items()}
    lines = ["# The depiction signal (safety/prompt_depiction.py), left out", "",
             f"Seed {seed}. Left out = v5 with the row's source family out (evals.prompt_loso), calibrated on the "
             "left-out logits, through the classifier's rules; 'with' adds the depiction signal (a concept raises "
             "its category to 0.6). In dist. = the served mean's recipe (shipped v4 + v5 trained on the train "
             "side) on the test side. Policy bars (review / block). Benign rows: only their known-negative "
             "categories count.", "",
             "| rows | n left out | flagged without | flagged with | blocked without | blocked with | n in dist. | "
             "flagged in dist. without | flagged in dist. with | blocked in dist. with |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name in r_lo["without"]:
        a, b = r_lo["without"][name], r_lo["with"][name]
        if ids and name in r_id["without"]:
            c, d = r_id["without"][name], r_id["with"][name]
            tail = f"{c[2]} | {c[0]:.3f} | {d[0]:.3f} | {d[1]:.3f}"
        else:
            tail = "0 | n/a | n/a | n/a"
        lines.append(f"| {name} | {a[2]} | {a[0]:.3f} | {b[0]:.3f} | {a[1]:.3f} | {b[1]:.3f} | {tail} |")
    ap = {n: _comment_ap(rows, fams, p) for n, p in lo.items()}
    lines += ["", "Comment sources, binary AUPRC left out (mean over the comment families with enough rows): "
              f"strict {ap['without'][0]:.3f} -> {ap['with'][0]:.3f}, own negatives {ap['without'][1]:.3f} -> "
              f"{ap['with'][1]:.3f}."]
    if ids:
        ap_id = {n: _comment_ap(rows, fams, p) for n, p in ids.items()}
        lines.append(f"In distribution: strict {ap_id['without'][0]:.3f} -> {ap_id['with'][0]:.3f}, own "
                     f"{ap_id['without'][1]:.3f} -> {ap_id['with'][1]:.3f}.")
    lines += ["", "## Per concept (left out; 'newly flagged' = at review only because of the signal)", "",
              *_concept_table(rows, fams, texts, lo["without"], review, block, scored), "",
              f"({time.time() - t0:.0f}s)"]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-in-dist", action="store_true", help="skip the served heads on the test side")
    a = ap.parse_args()
    print(run(a.data_dir or default_data_dir(), a.seed, not a.no_in_dist))


if __name__ == "__main__":
    main()
