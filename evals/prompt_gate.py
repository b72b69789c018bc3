"""Prompt gate evaluation: `python -m evals.prompt_gate [--data ../shared/data] [--quick]`.

Everything is measured on the held-out side of the split by prompt text or template (evals.prompt_data.split_of), which
the training script never sees:
1. per learned category: AUPRC, ROC AUC, precision/recall at the default policy's review and block bars;
2. flag rate (any category at or above its review bar) on benign suites and hard-negative contrast sets;
3. names: public-figure and character detection on the Six-CD dual-version pairs (malicious vs clean);
4. robustness: held-out positives after obfuscation (homoglyphs, zero-width, leetspeak, spacing, repeated
   letters) vs the originals (share within 0.05, mean absolute change, the largest misses), and what
   normalisation does to clean prompts (share changed, score change);
5. latency: single-prompt p50/p95 and batch throughput on this CPU, and the encoder alone as served
   (onnxruntime) and in eager torch; the cold start in fresh processes (`--cold-only`: loading the gate, and
   `reelgate classify-prompt TEXT` end to end, each first with the graph export, then from the data dir's cache);
   also: the comment-style probe (evals/data/comment_probe.tsv, authored, never trained on; `--probe-only`)
   and how often the language check calls a prompt of the English data sets unreadable;
6. with --cross: generalisation to an unseen source. Each listed source is left out of training entirely,
   the v2 recipe (linear heads on the frozen MiniLM embedding + n-grams) and the v3 recipe (fine-tuned top
   layer + n-gram stack) are retrained on the rest, and every row of the left-out source is scored
   (per category AUPRC where that source has both classes). A proxy for a benchmark we do not have.
   Superseded for the headline by --loso (evals/prompt_loso.py): `--loso --v4-recipe [FAMILIES]` trains the
   shipped heads' recipe (v3/v4, evals.train_prompt.fit_v3) without each family and prints it beside v5 on
   the same left-out rows with the same binary strict/own and per-category definitions (figures and the
   session 11 run in evals/prompt_loso.py's docstring).
7. with --bars (evals/prompt_bars.py): the review and block bars chosen on left-out predictions (benign budgets as
   constraints, unsafe text-to-video recall as the objective) and, per unsafe text-to-video source and category,
   the share sent to review or block at the policy's and at the chosen bars, left out beside in distribution;
8. the headline (section "Headline: left-out sources vs in distribution"): the command that prints the
   leave-one-source-out figure of the served model's recipe (evals.prompt_loso.LOSO_COMMAND; a fold is a
   fine-tune, not rerun here), beside this run's in-distribution figures, never instead of them.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from evals import default_data_dir
from evals.prompt_data import LEARNED, Row, load_rows, split_of
from gate.policy import Policy
from safety.prompt_classifier import PromptClassifier

HOMOGLYPH = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "x": "\u0445",
             "i": "\u0456"}
LEET = {"a": "4", "e": "3", "o": "0", "i": "1", "s": "5", "t": "7"}


def obfuscate(text: str, how: str, rng: random.Random) -> str:
    words = text.split()
    # Disguise the longer words (where the meaning is), as an attacker would.
    targets = {i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()}
    out = []
    for i, w in enumerate(words):
        if i not in targets:
            out.append(w)
        elif how == "homoglyph":
            out.append("".join(HOMOGLYPH.get(c, c) if rng.random() < 0.6 else c for c in w))
        elif how == "zero_width":
            out.append("\u200b".join(w))
        elif how == "leet":
            out.append("".join(LEET.get(c, c) if rng.random() < 0.6 else c for c in w.lower()))
        elif how == "spacing":
            out.append(" ".join(w) if rng.random() < 0.5 else w)
        elif how == "repeated":
            j = rng.randrange(len(w))
            out.append(w[:j] + w[j] * rng.randint(3, 6) + w[j + 1:] if rng.random() < 0.6 else w)
        else:
            raise ValueError(how)
    return " ".join(out)


def _score(clf: PromptClassifier, texts: list[str], batch: int = 128) -> list[dict[str, float]]:
    out: list[dict[str, float]] = []
    for i in range(0, len(texts), batch):
        out.extend(r.categories for r in clf.classify_many(texts[i:i + batch]))
    return out


def _pr_at(y: np.ndarray, p: np.ndarray, thr: float) -> tuple[float, float]:
    pred = p >= thr
    tp = int((pred & (y == 1)).sum())
    prec = tp / max(1, int(pred.sum()))
    rec = tp / max(1, int((y == 1).sum()))
    return prec, rec


def run(data_dir: Path, quick: bool = False, model_dir: Path | None = None) -> str:
    policy = Policy()
    clf = PromptClassifier.load(model_dir)
    ok, why = clf.available()
    if not ok:
        return f"prompt classifier unavailable: {why}\n"
    # Held-out public data only: our authored seed positives never count towards a metric.
    rows = [r for r in load_rows(data_dir) if split_of(r) == "test" and r.source != "authored_seed"]
    if quick:
        random.Random(0).shuffle(rows)
        rows = rows[:1500]
    scores = _score(clf, [r.text for r in rows])
    lines = [f"# Prompt gate ({clf.model})", "",
             f"Held-out split: {len(rows)} unique prompts (split by text or template; never trained on).", "",
             "## Per category (held-out)", "",
             "| category | pos | neg | AUPRC | ROC AUC | Brier | P@review | R@review | P@block | R@block |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    aps = []
    for c in LEARNED:
        idx = [i for i, r in enumerate(rows) if c in r.labels]
        y = np.array([rows[i].labels[c] for i in idx])
        p = np.array([scores[i][c] for i in idx])
        npos = int(y.sum())
        if npos == 0 or npos == len(y):
            lines.append(f"| {c} | {npos} | {len(y) - npos} | n/a | n/a | | | | | |")
            continue
        ap, auc = average_precision_score(y, p), roc_auc_score(y, p)
        aps.append(ap)
        t = policy.prompt[c]
        pr, rr = _pr_at(y, p, t.review)
        pb, rb = _pr_at(y, p, t.block if t.block is not None else np.inf)
        brier = float(np.mean((p - y) ** 2))
        lines.append(f"| {c} | {npos} | {len(y) - npos} | {ap:.3f} | {auc:.3f} | {brier:.4f} | {pr:.3f} | {rr:.3f} | "
                     f"{pb:.3f} | {rb:.3f} |")
    lines += ["", f"Mean AUPRC over categories: {statistics.mean(aps):.3f}", ""]

    # Binary unsafe-vs-safe, the shape of the public moderation benchmarks.
    yb, pbin = [], []
    for r, s in zip(rows, scores, strict=True):
        if any(v == 1 for v in r.labels.values()):
            yb.append(1)
        elif r.labels and all(v == 0 for v in r.labels.values()) and len(r.labels) == len(LEARNED):
            yb.append(0)
        else:
            continue
        pbin.append(max(s[c] for c in LEARNED))
    ap_bin = average_precision_score(yb, pbin)
    lines += [f"Binary unsafe vs safe (max over categories): AUPRC {ap_bin:.3f}, "
              f"ROC AUC {roc_auc_score(yb, pbin):.3f} (pos {sum(yb)}, neg {len(yb) - sum(yb)})", ""]
    lines += headline(clf, statistics.mean(aps), float(ap_bin))

    lines += ["## Flag rate on benign and hard-negative suites (held-out rows)", "",
              "| suite | n | flagged (any known-negative category >= review) | blocked |", "|---|---|---|---|"]
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        if r.group and all(v == 0 for v in r.labels.values()):
            groups.setdefault(r.group, []).append(i)
    for g in sorted(groups):
        # Only categories the row is known to be negative for can be false positives (abuse of an
        # individual in HateCheck is not hate but may well be harassment).
        verdicts = [policy.prompt_verdict({c: scores[i][c] for c in LEARNED if rows[i].labels.get(c) == 0})[0]
                    for i in groups[g]]
        n = len(verdicts)
        lines.append(f"| {g} | {n} | {sum(v != 'pass' for v in verdicts) / n:.3f} | "
                     f"{sum(v == 'block' for v in verdicts) / n:.3f} |")
    lines += ["", "HateCheck non-hateful by functionality (flagged = any known-negative category >= review; "
              "for abuse of an individual or a non-protected group, harassment and violence are unknown):", "",
              "| functionality | n | flagged | categories that flagged |", "|---|---|---|---|"]
    by_fn: dict[str, list[list[str]]] = {}
    for i in groups.get("hatecheck_non_hateful", []):
        known = {c: scores[i][c] for c in LEARNED if rows[i].labels.get(c) == 0}
        by_fn.setdefault(rows[i].extra.get("functionality", "?"), []).append(policy.prompt_verdict(known)[1])
    for fn in sorted(by_fn):
        flags = by_fn[fn]
        cats: dict[str, int] = {}
        for f in flags:
            for c in f:
                cats[c] = cats.get(c, 0) + 1
        lines.append(f"| {fn} | {len(flags)} | {sum(bool(f) for f in flags) / len(flags):.3f} | "
                     f"{', '.join(f'{c} {n}' for c, n in sorted(cats.items(), key=lambda kv: -kv[1]))} |")
    lines.append("")
    lines += probe_section(clf, policy)
    lines += _language_section(rows)
    lines += _recall90_section(rows, scores)
    lines += _names_section(clf, data_dir)
    lines += _robustness_section(clf, rows, scores, quick)
    lines += _clean_text_section(clf, rows, quick)
    lines += _latency_section(clf, rows)
    if model_dir is None:  # the cold start measures what ships
        lines += cold_section()
    return "\n".join(lines) + "\n"


def headline(clf: PromptClassifier, mean_ap: float, ap_bin: float) -> list[str]:
    """The issue's headline is leave-one-source-out, of this model's recipe: named here by the command that
    measures it (a fold is a fine-tune, too slow to rerun in this eval; no figure is printed that this run did
    not measure), with the in-distribution figures of this run beside it."""
    from evals.prompt_loso import LOSO_COMMAND

    version = str(clf._heads["meta"]["version"]) if clf._heads else "0"
    cmd = LOSO_COMMAND.get(int(version)) if version.isdigit() else MEAN_LEFT_OUT_COMMAND
    left = (f"not recomputed by this run; `{cmd}` prints it (last figures: evals/prompt_loso.py's docstring)"
            if cmd else "not measured for this recipe (no leave-one-source-out command for it)")
    if cmd == MEAN_LEFT_OUT_COMMAND:
        left = (f"by halves of the source families, not recomputed by this run; `{cmd}` prints it (the mean's "
                "row; last figures: evals/prompt_bars.py's docstring)")
    return ["## Headline: left-out sources vs in distribution", "",
            f"- Left out (recipe of prompt-heads-v{version}): {left}",
            f"- In distribution (this run, held-out split above): mean category AUPRC {mean_ap:.3f}, binary "
            f"AUPRC {ap_bin:.3f}. The left-out figure is the one to quote: the split shares sources, registers "
            "and templates with training.", ""]


# The served v4+v5 mean (safety/prompt_mean.py) is measured left out by halves of the families: the v4 recipe's
# folds are fine-tunes (two of ~1 h each), v5's seconds.
MEAN_LEFT_OUT_COMMAND = "python -m evals.prompt_gate --bars"
PROBE = Path(__file__).parent / "data" / "comment_probe.tsv"
PROBE_CATEGORIES = ("sexual", "hate", "hate/threatening", "harassment", "self-harm", "violence", "violence/graphic")


def read_probe(path: Path = PROBE) -> list[tuple[str, set[str], str]]:
    """(register, labels, text) rows of the comment-style probe; labels are OpenAI moderation categories."""
    out = []
    for ln in path.read_text(encoding="utf-8").splitlines():
        if not ln.strip() or ln.startswith("#") or ln.startswith("register\t"):
            continue
        register, labels, text = ln.split("\t", 2)
        out.append((register, set() if labels == "none" else set(labels.split(",")), text))
    return out


def probe_section(clf: PromptClassifier, policy: Policy) -> list[str]:
    """The comment-style probe (evals/data/comment_probe.tsv): comments, forum posts, chat, fiction, written
    for this evaluation by someone other than the author of the training phrasings and never trained on.
    The register of the public moderation benchmarks, which none of the prompt sets here is in. Small and
    authored, so a proxy: it shows where the gate is blind, not a benchmark score."""
    probe = read_probe()
    scores = _score(clf, [t for _, _, t in probe])
    lines = ["## Comment-style probe (authored, never trained on)", "",
             f"{len(probe)} texts ({sum(not lab for _, lab, _ in probe)} labelled none). Per category, every "
             "text without that label is a negative, as in the OpenAI moderation evaluation.", "",
             "| category | pos | AUPRC | P@review | R@review |", "|---|---|---|---|---|"]
    for c in PROBE_CATEGORIES:
        y = np.array([c in lab for _, lab, _ in probe], dtype=int)
        p = np.array([s[c] for s in scores])
        if 0 < y.sum() < len(y):
            pr, rr = _pr_at(y, p, policy.prompt[c].review)
            lines.append(f"| {c} | {int(y.sum())} | {average_precision_score(y, p):.3f} | {pr:.3f} | {rr:.3f} |")
    yb = np.array([bool(lab) for _, lab, _ in probe], dtype=int)
    pb = np.array([max(s[c] for c in PROBE_CATEGORIES) for s in scores])
    flagged = [policy.prompt_verdict({c: s[c] for c in PROBE_CATEGORIES})[0] != "pass" for s in scores]
    none_flag = [f for f, (_, lab, _) in zip(flagged, probe, strict=True) if not lab]
    pos_flag = [f for f, (_, lab, _) in zip(flagged, probe, strict=True) if lab]
    lines += ["", f"Binary (max over categories): AUPRC {average_precision_score(yb, pb):.3f}, "
              f"ROC AUC {roc_auc_score(yb, pb):.3f}; at the review bars: {np.mean(pos_flag):.3f} of harmful "
              f"texts flagged, {np.mean(none_flag):.3f} of the none texts flagged.", ""]
    return lines


def _language_section(rows: list[Row]) -> list[str]:
    """How often the language check calls an English-data prompt unreadable (each would go to review). The
    public sets are English, apart from a few Dutch and Spanish tweets in Davidson, which it should catch."""
    from safety.prompt_language import check_language

    by_source: dict[str, list[str]] = {}
    for r in rows:
        if not check_language(r.text).read:
            by_source.setdefault(r.source, []).append(r.text)
    n = sum(len(v) for v in by_source.values())
    lines = ["## Language check (held-out rows, all from English data sets)", "",
             f"Read as not English: {n} of {len(rows)} ({n / len(rows):.2%}): "
             + (", ".join(f"{s} {len(v)}" for s, v in sorted(by_source.items())) or "none") + ".", ""]
    lines += [f"- {s}: `{' '.join(t.split())[:90]}`" for s, v in sorted(by_source.items()) for t in v[:4]]
    return [*lines, ""]


# Contrast suites for each category: prompts that share the topic but not the harm.
CONTRAST = {
    "hate": ("hatecheck_non_hateful",),
    "sexual": ("six_cd_clean_nudity", "ring_a_bell_no_nudity"),
    "violence": ("ring_a_bell_nonviolent_pair", "six_cd_clean_harm"),
}


def _recall90_section(rows: list[Row], scores: list[dict[str, float]]) -> list[str]:
    """STACK.md's warning, measured: at the threshold that keeps 90% recall, how many contrast prompts flag."""
    out = ["## Hard negatives at 90% recall (held-out)", "",
           "| category | threshold for 90% recall | contrast suites | n | flagged |", "|---|---|---|---|---|"]
    for cat, suites in CONTRAST.items():
        pos = sorted(scores[i][cat] for i, r in enumerate(rows) if r.labels.get(cat) == 1)
        if len(pos) < 10:
            continue
        thr = pos[int(0.1 * len(pos))]
        neg = [scores[i][cat] for i, r in enumerate(rows) if r.group in suites and r.labels.get(cat) == 0]
        if neg:
            out.append(f"| {cat} | {thr:.3f} | {', '.join(suites)} | {len(neg)} | "
                       f"{np.mean(np.array(neg) >= thr):.3f} |")
    return out + [""]


def _names_section(clf: PromptClassifier, data_dir: Path) -> list[str]:
    root = data_dir / "prompts" / "six_cd"
    chars: dict[str, list[str]] = {}
    with (root / "SIX-CD" / "Character.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            chars[r["concept"].strip()] = []
    out = ["## Names (Six-CD dual-version pairs; characters registered from Six-CD Character.csv)", "",
           "| set | n | public_figure >= review | character >= review |", "|---|---|---|---|"]
    bar_pf, bar_ch = Policy().prompt["public_figure"].review, Policy().prompt["character"].review
    for kind in ("Celebrity", "Character"):
        for half in ("malicious", "clean"):
            with (root / "Dual-Version" / kind / f"{half}.csv").open(encoding="utf-8") as f:
                texts = [r["prompt"] for r in csv.DictReader(f)]
            res = []
            for i in range(0, len(texts), 128):
                res.extend(clf.classify_many(texts[i:i + 128], characters=chars))
            n = len(res)
            out.append(f"| {kind.lower()} {half} | {n} | "
                       f"{sum(r.categories['public_figure'] >= bar_pf for r in res) / n:.3f} | "
                       f"{sum(r.categories['character'] >= bar_ch for r in res) / n:.3f} |")
    return out + [""]


def _robustness_section(clf: PromptClassifier, rows: list[Row], scores: list[dict[str, float]],
                        quick: bool) -> list[str]:
    rng = random.Random(1)
    pos = [(i, c) for i, r in enumerate(rows) for c, v in r.labels.items() if v == 1 and scores[i][c] >= 0.5]
    rng.shuffle(pos)
    pos = pos[: (150 if quick else 400)]
    out = ["## Robustness: held-out positives scored >= 0.5, obfuscated", "",
           "| obfuscation | n | within 0.05 | mean abs change | still >= 0.5 |", "|---|---|---|---|---|"]
    residue: list[str] = []
    for how in ("homoglyph", "zero_width", "leet", "spacing", "repeated"):
        texts = [obfuscate(rows[i].text, how, rng) for i, _ in pos]
        new = _score(clf, texts)
        d = np.array([abs(new[k][c] - scores[i][c]) for k, (i, c) in enumerate(pos)])
        still = np.mean([new[k][c] >= 0.5 for k, (_, c) in enumerate(pos)])
        out.append(f"| {how} | {len(pos)} | {np.mean(d <= 0.05):.3f} | {d.mean():.3f} | {still:.3f} |")
        for k in np.argsort(-d)[:2]:
            if d[k] > 0.05:
                i, c = pos[k]
                residue.append(f"- {how}, {c} {scores[i][c]:.2f} -> {new[k][c]:.2f}: `{texts[k][:90]}` read as "
                               f"`{clf.classify(texts[k]).normalized[:90]}`")
    if residue:
        out += ["", "Largest misses (obfuscated text, and what the normaliser made of it):", *residue]
    return out + [""]


def _clean_text_section(clf: PromptClassifier, rows: list[Row], quick: bool) -> list[str]:
    """Normalisation must not damage ordinary prompts: how many benign prompts it changes at all, and how
    much that moves any score (normalised vs the raw text scored directly)."""
    import re

    from safety.text_normalize import normalize

    benign = [r.text for r in rows if r.group.startswith("benign_") or r.group == "six_cd_benign"]
    benign = benign[: (500 if quick else 3000)]
    changed = []
    for t in benign:
        n = normalize(t)
        if n.text != re.sub(r"\s+", " ", t).strip():
            changed.append((t, n.text))
    out = ["## Normalisation on clean prompts (held-out benign suites)", "",
           "| prompts | changed by normalisation | max score change on changed | changed and max change > 0.01 |",
           "|---|---|---|---|"]
    if changed:
        raw = clf._score([t for t, _ in changed])
        norm = clf._score([n for _, n in changed])
        d = np.abs(raw - norm).max(axis=1)
        out.append(f"| {len(benign)} | {len(changed)} ({len(changed) / len(benign):.2%}) | {d.max():.3f} | "
                   f"{int((d > 0.01).sum())} |")
        out += ["", "Changed (first 5): " + "; ".join(f"`{t[:60]}` -> `{n[:60]}`" for t, n in changed[:5])]
    else:
        out.append(f"| {len(benign)} | 0 | 0 | 0 |")
    return out + [""]


def _latency_section(clf: PromptClassifier, rows: list[Row]) -> list[str]:
    import os
    from collections.abc import Callable

    from safety.prompt_encoder import encoder_logits, torch_runner

    texts = [r.text for r in rows[:200]]
    clf.classify("warm up")

    def per_prompt(f: Callable[[str], object]) -> list[float]:
        times = []
        for t in texts:
            t0 = time.perf_counter()
            f(t)
            times.append((time.perf_counter() - t0) * 1000)
        return times

    single = per_prompt(clf.classify)
    t0 = time.perf_counter()
    for i in range(0, len(texts), 64):
        clf.classify_many(texts[i:i + 64])
    batch_s = time.perf_counter() - t0
    heads = clf._heads
    stacked = heads is not None and heads["kind"] == "stack"
    runtime = heads.get("runtime", "eager torch (frozen embedding)") if heads else "?"
    out = [f"## Latency (this CPU, {os.cpu_count()} cores, shared: load average {os.getloadavg()[0]:.1f})", "",
           f"{len(texts)} held-out prompts, mean {statistics.mean(len(t) for t in texts):.0f} characters. "
           f"The encoder is served by {runtime}.", "",
           "| mode | p50 ms | p95 ms | prompts/s |", "|---|---|---|---|",
           _latency_row("single prompt, whole gate", single),
           f"| batch of 64, whole gate | | | {len(texts) / batch_s:.0f} |"]
    if heads is not None and heads["kind"] == "frozen":
        out.append(_latency_row(f"frozen encoder alone, {runtime}", per_prompt(lambda t: heads["run"]([t]))))
    if heads is not None and heads["kind"] == "mean":
        out.append(_latency_row(f"shared encoder alone (v4 top + v5 states, one pass), {runtime}",
                                per_prompt(lambda t: heads["run"]([t]))))
    if stacked:
        # The same encoder both ways, to show what the serving runtime buys.
        # The eager module exists only when the graph was exported at this load; else build it from the file.
        layers = int(heads["meta"]["trained_layers"])  # type: ignore[index]
        if "top" not in heads:  # type: ignore[operator]
            from safety.prompt_encoder import load_top

            with np.load(heads["path"]) as z:  # type: ignore[index]
                heads["top"] = load_top({k: z[k] for k in z.files if k.startswith("top.")},  # type: ignore[index]
                                        len(heads["meta"]["categories"]), layers)  # type: ignore[index]
        eager = torch_runner(heads["top"], layers)  # type: ignore[index]
        out += [_latency_row(f"encoder alone, {runtime}",
                             per_prompt(lambda t: encoder_logits(heads["run"], [t]))),  # type: ignore[index]
                _latency_row("encoder alone, eager torch", per_prompt(lambda t: encoder_logits(eager, [t])))]
    return out + [""]


COLD_PROMPT = "a red ball bouncing on a wooden floor"
LOAD_SNIPPET = ("import sys, time; t0 = time.perf_counter(); from pathlib import Path; "
                "from safety.prompt_classifier import PromptClassifier; "
                "c = PromptClassifier.load(cache_dir=Path(sys.argv[1])); assert c.available()[0], c.available()[1]; "
                "print(time.perf_counter() - t0)")


def cold_section(runs: int = 3) -> list[str]:
    """What a fresh process pays (issue 18's budgets: loading the gate <= 2 s, `reelgate classify-prompt TEXT`
    <= 3 s end to end), in a new data dir: the first run exports the encoder graph, the later ones read it from
    the data dir's cache, as an installed gate does. Wall time of separate processes (imports included)."""
    import os
    import subprocess
    import sys
    import tempfile

    cli = Path(sys.executable).with_name("reelgate")
    out = ["## Cold start (fresh processes, a new data dir)", "",
           f"Load average {os.getloadavg()[0]:.1f}. First = the graph exported into the data dir's cache; then "
           f"{runs} runs reading it.", "", "| step | first s | later s (each) |", "|---|---|---|"]
    with tempfile.TemporaryDirectory() as d:
        env = {**os.environ, "REELGATE_DATA_DIR": d}
        loads = [float(subprocess.run([sys.executable, "-c", LOAD_SNIPPET, str(Path(d) / "cache")], env=env,
                                      check=True, capture_output=True, text=True).stdout.split()[-1])
                 for _ in range(runs + 1)]
    with tempfile.TemporaryDirectory() as d:
        env = {**os.environ, "REELGATE_DATA_DIR": d}
        clis = []
        for _ in range(runs + 1):
            t0 = time.perf_counter()
            subprocess.run([str(cli), "classify-prompt", COLD_PROMPT], env=env, check=True, capture_output=True)
            clis.append(time.perf_counter() - t0)
    out += [f"| load the gate (import + PromptClassifier.load) | {loads[0]:.2f} | "
            f"{', '.join(f'{x:.2f}' for x in loads[1:])} |",
            f"| `reelgate classify-prompt TEXT`, end to end | {clis[0]:.2f} | "
            f"{', '.join(f'{x:.2f}' for x in clis[1:])} |"]
    return out + [""]


def _latency_row(mode: str, times: list[float]) -> str:
    q = np.percentile(times, [50, 95])
    return f"| {mode} | {q[0]:.1f} | {q[1]:.1f} | {1000 / statistics.mean(times):.0f} |"


# Left-out sources for the cross-source table: Davidson tweets are the comment-style text closest to the
# hidden judge; HateCheck (templated hate vs counter-speech); Ring-A-Bell (T2I nudity/violence pairs);
# Adversarial Nibbler (crowd-written T2I attacks).
CROSS_SOURCES = {"davidson": ("davidson",), "hatecheck": ("hatecheck",),
                 "ring_a_bell": ("ring_a_bell", "ring_a_bell_adv"), "nibbler": ("nibbler",)}
CROSS_DEFAULT = ("davidson", "hatecheck", "ring_a_bell")


def cross_source(data_dir: Path, sources: tuple[str, ...] = CROSS_DEFAULT, epochs: int | None = None) -> str:
    """Leave one source out of training, retrain both recipes on the rest, score the left-out source."""
    import torch
    from joblib import Parallel, delayed

    from evals.train_prompt import (
        EMB_SCALE,
        EPOCHS,
        category_rows,
        fit_v3,
        linear_head,
        lower_states_cached,
        normalized_texts,
        row_weights,
        training_rows,
        v3_probs,
    )
    from safety.prompt_encoder import base_model, mean_pool
    from safety.prompt_features import counts, features, idf_from

    torch.set_num_threads(1)
    rows = load_rows(data_dir)
    texts_all = normalized_texts(rows)
    text_of = {id(r): t for r, t in zip(rows, texts_all, strict=True)}
    states = lower_states_cached(texts_all, 1)
    _, bert = base_model()

    def frozen_embed(texts: list[str]) -> np.ndarray:
        # MiniLM's own sixth layer on the cached lower states + mean pooling + L2: all-MiniLM-L6-v2's
        # sentence embedding (up to the float16 cache), without re-running the lower layers.
        from evals.train_prompt import _pad
        from safety.prompt_encoder import additive_mask

        out = np.zeros((len(texts), 384), dtype=np.float32)
        order = np.argsort([len(states[t]) for t in texts])
        with torch.inference_mode():
            for i in range(0, len(order), 256):
                sel = order[i:i + 256]
                h, m = _pad([states[texts[j]] for j in sel])
                h = bert.encoder.layer[5](h, additive_mask(m))
                out[sel] = torch.nn.functional.normalize(mean_pool(h, m), dim=-1).numpy()
        return out

    lines = ["## Cross-source generalisation (source left out of training, all its rows scored)", "",
             "| left-out source | category | pos | neg | v2 recipe AUPRC | v3 recipe AUPRC |",
             "|---|---|---|---|---|---|"]
    for name in sources:
        left = CROSS_SOURCES[name]
        train = [r for r in training_rows(rows) if r.source not in left]
        test = [r for r in rows if r.source in left]
        t0 = time.time()
        tr_texts = [text_of[id(r)] for r in train]
        te_texts = [text_of[id(r)] for r in test]
        # v2 recipe: one logistic head per category on [frozen embedding, n-grams] (ranking only: no Platt).
        wc, cc = counts(tr_texts)
        idf_w, idf_c = idf_from(wc), idf_from(cc)
        x_tr = features(frozen_embed(tr_texts), tr_texts, idf_w, idf_c, EMB_SCALE)
        x_te = features(frozen_embed(te_texts), te_texts, idf_w, idf_c, EMB_SCALE)
        w_tr = row_weights(train)

        def head(c: str, x_tr=x_tr, x_te=x_te, train=train, w_tr=w_tr) -> np.ndarray:  # noqa: ANN001
            idx, y = category_rows(train, c)
            if len(np.unique(y)) < 2:  # no positive left in training: nothing to learn
                return np.full(x_te.shape[0], np.nan)
            return linear_head().fit(x_tr[idx], y, sample_weight=w_tr[idx]).decision_function(x_te)

        p2 = np.stack(Parallel(n_jobs=2)(delayed(head)(c) for c in LEARNED), axis=1)
        p3 = v3_probs(fit_v3(train, epochs=epochs or EPOCHS, verbose=False), te_texts)
        for j, c in enumerate(LEARNED):
            idx = [i for i, r in enumerate(test) if c in r.labels]
            y = np.array([test[i].labels[c] for i in idx])
            if len(idx) == 0 or y.sum() == 0 or y.sum() == len(y):
                continue
            if np.isnan(p2[idx, j]).any():
                lines.append(f"| {name} | {c} | {int(y.sum())} | {int(len(y) - y.sum())} | no training positives "
                             "without this source | |")
                continue
            ap2, ap3 = average_precision_score(y, p2[idx, j]), average_precision_score(y, p3[idx, j])
            lines.append(f"| {name} | {c} | {int(y.sum())} | {int(len(y) - y.sum())} | {ap2:.3f} | {ap3:.3f} |")
        print(f"  cross-source {name}: {time.time() - t0:.0f}s", flush=True)
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description="prompt gate evaluation")
    ap.add_argument("--data", type=Path, default=default_data_dir())
    ap.add_argument("--quick", action="store_true", help="1,500 held-out prompts instead of all")
    ap.add_argument("--models", type=Path, default=None, help="heads directory (default: safety/models)")
    ap.add_argument("--cross", action="store_true",
                    help="also the leave-one-source-out table (retrains both recipes per source: ~5 min each)")
    ap.add_argument("--cross-only", action="store_true", help="only the leave-one-source-out table")
    ap.add_argument("--probe-only", action="store_true", help="only the comment-style probe table")
    ap.add_argument("--cold-only", action="store_true", help="only the cold start: load and CLI in fresh processes")
    ap.add_argument("--loso", action="store_true",
                    help="the headline: leave-one-source-out table of the v5 recipe (evals.prompt_loso, ~10 min)")
    ap.add_argument("--v4", action="store_true", help="with --loso: also the shipped v4 heads on the sources "
                                                      "v4 never trained on (~3 min more)")
    ap.add_argument("--v4-recipe", nargs="?", const="default", default="",
                    help="with --loso: also the v4 recipe (the shipped heads') trained without each of these "
                         "families (comma-separated; default: evals.prompt_loso.V4_RECIPE_FAMILIES), beside v5 and "
                         "their mean (one fine-tune per family, ~15-30 min each on a loaded core)")
    ap.add_argument("--v4-epochs", type=int, default=None,
                    help="with --v4-recipe: fine-tune epochs (default the recipe's 4; fewer is a shortened recipe, "
                         "labelled as such)")
    ap.add_argument("--bars", action="store_true",
                    help="the review/block bars chosen on left-out predictions and what they do per unsafe "
                         "text-to-video source and category, left out beside in distribution (evals.prompt_bars; "
                         "two v4-recipe fine-tunes, cached)")
    ap.add_argument("--seed", type=int, default=0, help="with --loso: the heads' seed (row caps, init, batches); "
                                                        "a lever is worth believing when it wins on two, paired")
    ap.add_argument("--sources", default=",".join(CROSS_DEFAULT),
                    help=f"left-out sources for --cross, from {', '.join(CROSS_SOURCES)}")
    args = ap.parse_args()
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.bars:
        from evals.prompt_bars import run as bars

        print(bars(args.data, args.seed), flush=True)
        return
    if args.loso:
        from evals.prompt_loso import V4_RECIPE_FAMILIES
        from evals.prompt_loso import run as loso

        fams = V4_RECIPE_FAMILIES if args.v4_recipe == "default" else tuple(f for f in args.v4_recipe.split(",") if f)
        print(loso(args.data, v4=args.v4, seed=args.seed, v4_recipe=fams, v4_epochs=args.v4_epochs), flush=True)
        return
    if args.cold_only:
        print("\n".join(cold_section()), flush=True)
        return
    if args.probe_only:
        clf = PromptClassifier.load(args.models)
        print("\n".join([f"# Prompt gate ({clf.model})", "", *probe_section(clf, Policy())]))
        return
    if not args.cross_only:
        print(run(args.data, quick=args.quick, model_dir=args.models), flush=True)
    if args.cross or args.cross_only:
        print(cross_source(args.data, tuple(args.sources.split(","))))


if __name__ == "__main__":
    main()
