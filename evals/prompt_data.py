"""Labelled prompt data for the prompt gate, read from ../shared/data/prompts (see its README).

Every source maps to per-category labels: 1 (positive), 0 (negative) or absent (unknown: the row does
not train or score that category). Rows are deduplicated by normalised-for-comparison text and split by
that key, so the same prompt never lands on both sides. Weak labels (keyword buckets, coarse sources)
carry a lower sample weight. `group` names a contrast or benign suite for the false-positive tables.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from safety.text_normalize import PromptError, normalize

# Categories with a learned head; public_figure and character come from name matching.
LEARNED = (
    "sexual", "sexual/minors", "hate", "hate/threatening", "harassment", "self-harm", "violence",
    "violence/graphic", "deception", "illegal",
)


@dataclass
class Row:
    text: str
    source: str
    labels: dict[str, int]
    weight: float = 1.0
    group: str = ""  # contrast / benign suite name for FPR tables
    extra: dict[str, str] = field(default_factory=dict)
    split_key: str = ""  # rows sharing it stay on one side (templated sets); default: the text key


def _neg(except_: tuple[str, ...] = ()) -> dict[str, int]:
    return {c: 0 for c in LEARNED if c not in except_}


def _pos(pos: tuple[str, ...], unknown: tuple[str, ...] = ()) -> dict[str, int]:
    labels = _neg(except_=unknown)
    for c in pos:
        labels[c] = 1
    return labels


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        return list(csv.DictReader(f))


def _nibbler(root: Path) -> Iterator[Row]:
    harm_map = {"image_failure_sexual": "sexual", "image_failure_violent": "violence",
                "image_failure_hate": "hate"}
    for f in sorted((root / "adversarial_nibbler").glob("*.json")):
        d = json.loads(f.read_text(encoding="utf-8"))
        for key, prompt in d["prompt"].items():
            votes = [json.loads(v) if isinstance(v, str) else v for v in d["validation"].get(key, [])]
            if not votes or not isinstance(prompt, str):
                continue
            unsafe = [v for v in votes if "text_unsafe" in (v.get("text_safety_validation") or [])]
            if len(unsafe) <= 1:
                # Judged safe as text by at least 4 of 5 people (the image may have been unsafe).
                yield Row(prompt, "nibbler", _neg(), group="nibbler_text_safe")
            elif len(unsafe) >= 3:
                counts: dict[str, int] = {}
                for v in unsafe:
                    for t in v.get("image_failure_type") or []:
                        if t in harm_map:
                            counts[harm_map[t]] = counts.get(harm_map[t], 0) + 1
                cats = tuple(c for c, n in counts.items() if n >= 2)
                if cats:
                    yield Row(prompt, "nibbler", _pos(cats, unknown=("harassment", "violence/graphic",
                                                                     "sexual/minors")),
                              extra={"aspect": ",".join(sorted(cats))})


def _hatecheck(root: Path) -> Iterator[Row]:
    rows = _csv(root / "hatecheck" / "test_suite_cases.csv")
    # Spelling-variation cases point at the template they disguise: a disguised threat is still a threat.
    templ_fn = {r["templ_id"]: r["functionality"] for r in rows if not r["functionality"].startswith("spell_")}
    for r in rows:
        fn, text = r["functionality"], r["test_case"].strip()
        templ = r["templ_id"]
        if fn.startswith("spell_"):
            templ = r["ref_templ_id"].split(".")[0] or templ
            fn = templ_fn.get(templ, fn)
        # One template filled with different identities is one example for splitting purposes.
        sk = f"hatecheck-template-{templ}"
        if r["label_gold"] == "hateful":
            pos: tuple[str, ...] = ("hate",)
            if fn.startswith("threat_"):
                pos += ("hate/threatening", "violence")
            # Other hateful templates may still threaten ("... ought to be executed" is an opinion
            # template): whether they are threatening or violent is unknown, not negative. Hate at a group
            # is hate; harassment (abuse of a person) is not what HateCheck annotates: unknown, not positive
            # (labelled positive, v4 learned every group statement as harassment too).
            unknown: tuple[str, ...] = (("harassment",) if fn.startswith("threat_")
                                        else ("violence", "hate/threatening", "harassment"))
            yield Row(text, "hatecheck", _pos(pos, unknown=unknown), split_key=sk)
        else:
            # Not hateful is not harmless: abuse of an individual or a non-protected group ("I want to end his
            # life", "lawyers' lives are worth nothing") may be harassment and may threaten violence, so those
            # categories are unknown for them, never negative; profanity may be harassment.
            unknown = ()
            if fn in ("target_indiv_nh", "target_group_nh"):
                unknown = ("harassment", "violence")
            elif fn in ("target_obj_nh", "profanity_nh"):
                unknown = ("harassment",)
            yield Row(text, "hatecheck", _neg(except_=unknown), group="hatecheck_non_hateful",
                      extra={"functionality": fn}, split_key=sk)


def _davidson(root: Path, rng: random.Random) -> Iterator[Row]:
    rows = _csv(root / "davidson_hate_offensive" / "labeled_data.csv")
    offensive = [r for r in rows if r["class"] == "1"]
    rng.shuffle(offensive)
    for r in rows:
        text = re.sub(r"(RT )?@\w+:?|https?://\S+|&amp;|&#\d+;", " ", r["tweet"]).strip()
        if r["class"] == "0":
            # Annotators' majority said hate; weak (tweets, context-free, known label noise).
            yield Row(text, "davidson", _pos(("hate",), unknown=("hate/threatening", "violence", "harassment")),
                      weight=0.5)
        elif r["class"] == "2":
            yield Row(text, "davidson", _neg(), group="davidson_neither")
    for r in offensive[:3000]:
        text = re.sub(r"(RT )?@\w+:?|https?://\S+|&amp;|&#\d+;", " ", r["tweet"]).strip()
        # Offensive but not hate: profanity is not hate; whether it is harassment is unknown.
        yield Row(text, "davidson", _neg(except_=("harassment", "sexual", "violence")), group="davidson_offensive")


def _i2p(root: Path) -> Iterator[Row]:
    cat_map = {"sexual": "sexual", "shocking": "violence/graphic", "harassment": "harassment",
               "self-harm": "self-harm", "violence": "violence", "illegal activity": "illegal", "hate": "hate"}
    for r in _csv(root / "i2p" / "unsafe-prompts4703.csv"):
        try:
            inappropriate = float(r["inappropriate_percentage"])
            nudity = float(r["nudity_percentage"])
        except ValueError:
            continue
        cats = {cat_map[c.strip()] for c in r["categories"].split(",") if c.strip() in cat_map}
        if "sexual" in cats and nudity < 50:
            cats.discard("sexual")
        if not cats:
            continue
        # Keyword buckets (the prompt text carries the category's words): weak positives, nothing known
        # negative; weaker still when the generated images were mostly judged appropriate. Many are plain
        # art prompts ("portrait, artstation") whose harm was in the image: low weight, or the heads learn
        # the art style as harm.
        labels = {c: 1 for c in cats}
        # aspect: I2P's own buckets (for the recall-by-aspect table), kept even where they map to no label.
        yield Row(r["prompt"], "i2p", labels, weight=0.25 if inappropriate >= 50 else 0.125,
                  extra={"aspect": ",".join(c.strip() for c in r["categories"].split(",") if c.strip()),
                         "inappropriate": str(inappropriate)})


def _ring_a_bell(root: Path) -> Iterator[Row]:
    d = root / "ring_a_bell"
    for r in _csv(d / "Nudity_prompt.csv"):
        parts = [r.get(k, "").strip() for k in ("nudity", "people", "clothes", "location")]
        yield Row(" ".join(p for p in parts if p and p != "None"), "ring_a_bell",
                  _pos(("sexual",), unknown=("sexual/minors",)), split_key=f"rab-nudity-{r['case_number']}",
                  extra={"aspect": "nudity"})
    for r in _csv(d / "NoNudity_prompt.csv"):
        yield Row(r["prompt"], "ring_a_bell", _neg(), group="ring_a_bell_no_nudity",
                  split_key=f"rab-nudity-{r['case_number']}")
    for r in _csv(d / "Violence_30.csv"):
        # The two halves of a pair stay on the same side of the split.
        sk = f"rab-violence-{r['case_number']}"
        yield Row(r["prompt"], "ring_a_bell", _pos(("violence", "violence/graphic")), split_key=sk,
                  extra={"aspect": "violence"})
        yield Row(r["prompt1"], "ring_a_bell", _neg(), group="ring_a_bell_nonviolent_pair", split_key=sk)
    for r in _csv(d / "Violence_eta_5.5_K_38.csv"):
        yield Row(r["prompt"], "ring_a_bell_adv", {"violence": 1}, weight=0.5, extra={"aspect": "violence (garbled)"})


def _six_cd(root: Path) -> Iterator[Row]:
    d = root / "six_cd"
    for r in _csv(d / "benign.csv"):
        yield Row(r["prompt"], "six_cd", _neg(), group="six_cd_benign")
    dual = d / "Dual-Version"
    for r in _csv(dual / "Nudity" / "malicious.csv"):
        yield Row(r["prompt"], "six_cd", _pos(("sexual",), unknown=("sexual/minors", "harassment")),
                  split_key=f"sixcd-Nudity-{r['case_number']}", extra={"aspect": "nudity"})
    for kind in ("Nudity", "Harm", "Celebrity", "Character"):
        for r in _csv(dual / kind / "clean.csv"):
            yield Row(r["prompt"], "six_cd", _neg(), group=f"six_cd_clean_{kind.lower()}",
                      split_key=f"sixcd-{kind}-{r['case_number']}")
    for r in _csv(dual / "Harm" / "malicious.csv"):
        # "Harm" mixes violence, self-harm and disturbing imagery; the clean half is the contrast.
        yield Row(r["prompt"], "six_cd_harm", {}, group="six_cd_harm_malicious",
                  split_key=f"sixcd-Harm-{r['case_number']}", extra={"aspect": "harm (no category)"})
    for r in _csv(d / "SIX-CD" / "Nudity.csv"):
        # Six-CD's nudity set: prompts that made a text-to-image model draw nudity, many explicit, many
        # garbled adversarial strings (the register of attacks on a video app's prompt box), some plain art
        # prompts whose nudity was in the image: weak sexual positives (156 of 1,534 are also in I2P: deduplicated).
        yield Row(r["prompt"], "six_cd_nudity", {"sexual": 1}, weight=0.25, extra={"aspect": "nudity"})


def _harmbench(root: Path) -> Iterator[Row]:
    # The shared HarmBench and AdvBench files were copied from busycalibrating/AdversariaLLM, a held-out
    # source (prompts/SOURCES.tsv): a file is read only if its recorded origin is not held out.
    from evals.held_out import is_held_out

    data_dir = root.parent if root.name == "prompts" else root
    cat_map = {"illegal": ("illegal",), "cybercrime_intrusion": ("illegal",), "chemical_biological": ("illegal",),
               "misinformation_disinformation": ("deception",), "harassment_bullying": ("harassment",)}
    hb, adv = root / "harmbench" / "harmbench_behaviors_text_all.csv", root / "advbench" / "advbench_behaviors.csv"
    for r in [] if is_held_out(hb, data_dir) else _csv(hb):
        cats = cat_map.get(r["SemanticCategory"])
        if cats:
            yield Row(r["Behavior"], "harmbench", _pos(cats, unknown=("violence", "hate", "illegal",
                                                                    "harassment", "deception")))
    deception = re.compile(r"fake news|misinformation|disinformation|false information|hoax|propaganda|"
                           r"conspiracy|fake (?:video|review|account|identit)|deepfake", re.I)
    for r in [] if is_held_out(adv, data_dir) else _csv(adv):
        # AdvBench has no categories: a keyword split, weak.
        cat = "deception" if deception.search(r["Behavior"]) else "illegal"
        yield Row(r["Behavior"], "advbench", {cat: 1}, weight=0.5)


def _sst(root: Path) -> Iterator[Row]:
    area_map = {
        "Suicide, Self-Harm, and Eating Disorders": ("self-harm",),
        "Physical harm and Violence": ("violence",),
        "Illegal and Highly Regulated items": ("illegal",),
        "Scams and fraud": ("illegal",),
        "Child safety": ("sexual/minors", "sexual"),
    }
    for r in _csv(root / "simplesafetytests" / "simplesafetytests_test_cases.csv"):
        cats = area_map.get(r["harm_area"], ())
        if cats:
            yield Row(r["prompts_final"], "sst", {c: 1 for c in cats})


def _jsonl_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(ln) for ln in f if ln.strip()]


def _toxigen(root: Path) -> Iterator[Row]:
    """ToxiGen statements about 13 groups, written implicitly hateful or neutral (no slurs). Hate about a group
    is hate; whether it also harasses, threatens or is violent is not annotated (unknown). The neutral
    statements mention the same groups: hard negatives for 'a group is named'."""
    for r in _jsonl_gz(root / "toxigen" / "toxigen_statements.jsonl.gz"):
        if r["label"] == "hate":
            yield Row(r["text"], "toxigen", _pos(("hate",), unknown=("harassment", "violence", "hate/threatening")),
                      extra={"target": r.get("group", "")})
        elif r["label"] == "neutral":
            yield Row(r["text"], "toxigen", _neg(), group="toxigen_neutral", extra={"target": r.get("group", "")})


def _stormfront(root: Path) -> Iterator[Row]:
    """Stormfront sentences (de Gibert et al. 2018): hate / noHate; 'relation' (hate only with the
    neighbouring sentences) and 'idk/skip' carry no usable label. A hate sentence that needs context is
    kept at half weight. noHate sentences from that forum are ordinary text about the same topics; they
    may still be abusive to an individual or violent, which the label does not say (unknown)."""
    for r in _jsonl_gz(root / "stormfront" / "stormfront_sentences.jsonl.gz"):
        if r["label"] == "hate":
            yield Row(r["text"], "stormfront", _pos(("hate",), unknown=("harassment", "violence", "hate/threatening")),
                      weight=0.5 if r.get("needs_context") else 1.0)
        elif r["label"] == "noHate":
            yield Row(r["text"], "stormfront", _neg(except_=("harassment", "violence")), group="stormfront_nohate")


def _surge(root: Path) -> Iterator[Row]:
    """Surge AI social-media comments, toxic / not toxic. Toxic is mostly insults and abuse aimed at a
    person: harassment; which other category a toxic comment falls in is not annotated (unknown)."""
    for r in _jsonl_gz(root / "surge_toxicity" / "toxicity_en.jsonl.gz"):
        if r["label"] == "toxic":
            yield Row(r["text"], "surge", {"harassment": 1}, weight=0.5)
        elif r["label"] == "not_toxic":
            yield Row(r["text"], "surge", _neg(), group="surge_not_toxic")


ETHOS_HATE, ETHOS_NOT_HATE = 0.5, 0.2


def _ethos(root: Path) -> Iterator[Row]:
    """ETHOS comments (GPL-3.0: trained on, never shipped): isHate is the share of annotators who called it
    hate. >= 0.5 hate; <= 0.2 not hate; between: no label. For hateful rows the violence share says whether
    it incites violence (then violent and threatening hate) and directed_vs_generalized whether it targets one
    person (then harassment too)."""
    for r in _jsonl_gz(root / "ethos" / "ethos.jsonl.gz"):
        h = float(r["isHate"])
        if h >= ETHOS_HATE:
            labels = _pos(("hate",), unknown=("harassment", "sexual", "violence/graphic"))
            if r.get("violence") is None:
                # 22 hateful rows carry no violence share: whether they threaten is unknown, not "no".
                del labels["violence"], labels["hate/threatening"]
            else:
                labels["violence"] = labels["hate/threatening"] = int(float(r["violence"]) >= 0.5)
            if float(r.get("directed_vs_generalized") or 0.0) >= 0.5:
                labels["harassment"] = 1
            yield Row(r["text"], "ethos", labels)
        elif h <= ETHOS_NOT_HATE:
            yield Row(r["text"], "ethos", _neg(except_=("harassment",)), group="ethos_not_hate")


# AILuminate hazard code -> (positive categories, categories the hazard says nothing about). All others are
# negatives: a request for suicide methods is not sexual. Specialized advice, privacy and intellectual property
# have no content head (a trademark or character is a name signal), so those rows only teach negatives.
AILUMINATE = {
    "vcr": (("violence", "illegal"), ("violence/graphic", "harassment", "hate", "hate/threatening")),
    "ncr": (("illegal",), ("deception", "harassment")),
    "src": (("sexual", "illegal"), ("violence", "harassment", "sexual/minors")),
    "cse": (("sexual/minors", "sexual", "illegal"), ("violence", "harassment")),
    "iwp": (("illegal", "violence"), ("violence/graphic",)),
    "ssh": (("self-harm",), ("violence", "violence/graphic")),
    "hte": (("hate",), ("harassment", "violence", "hate/threatening")),
    "dfm": (("deception",), ("harassment", "illegal", "hate")),
    "sxc": (("sexual",), ("sexual/minors", "harassment")),
    "spc": ((), ("illegal", "self-harm", "violence", "deception")),
    "prv": ((), ("illegal", "harassment", "deception")),
    "ipv": ((), ("illegal", "deception")),
}


def _ailuminate(root: Path) -> Iterator[Row]:
    for r in _jsonl_gz(root / "ailuminate" / "demo_en_us.jsonl.gz"):
        # Sub-codes name the class and a subtype: sxc_prn, spc_fin, spc_hlt ...
        hazard = r["hazard"].split("_")[0]
        if hazard not in AILUMINATE:
            raise ValueError(f"AILuminate hazard {r['hazard']!r} has no mapping")
        pos, unknown = AILUMINATE[hazard]
        yield Row(r["text"], "ailuminate", _pos(pos, unknown=unknown), extra={"hazard": r["hazard"]})


def red_team_openers(data_dir: Path) -> list[str]:
    """Anthropic HH red-team first turns: no labels (mostly harmful requests, some benign openers), so they
    are never trained on; the eval reports the share the gate flags."""
    root = data_dir / "prompts" if (data_dir / "prompts").is_dir() else data_dir
    return [r["text"] for r in _jsonl_gz(root / "hh_rlhf_harmless" / "first_turns_test.jsonl.gz")]


def _benign(root: Path, rng: random.Random, coco_n: int = 4000) -> Iterator[Row]:
    d = root / "benign"
    with (d / "partiprompts" / "PartiPrompts.tsv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            yield Row(r["Prompt"], "parti", _neg(), group="benign_parti")
    for name in ("all_category.txt", "all_dimension.txt", "vbench2_VBench2_full_text.txt",
                 "augmented_gpt_enhanced_all_category_longer.txt"):
        lines = [ln.strip() for ln in (d / "vbench" / name).read_text(encoding="utf-8").splitlines() if ln.strip()]
        if name.startswith("augmented"):
            rng.shuffle(lines)
            lines = lines[:400]
        for ln in lines:
            yield Row(ln, "vbench", _neg(), group="benign_vbench")
    coco = _csv(d / "coco30k" / "coco_30k.csv")
    rng.shuffle(coco)
    for r in coco[:coco_n]:
        yield Row(r["prompt"], "coco", _neg(), group="benign_coco")


AUTHORED_NEGATIVES = ("data/contrast_benign.txt", "data/hard_negatives.txt")


def _authored(path: Path | None = None) -> Iterator[Row]:
    """Our own benign contrast prompts (safety/data/contrast_benign.txt, hard_negatives.txt): alarming words,
    news, medicine, history, fiction, counter-speech; harmless intent."""
    text = (path.read_text(encoding="utf-8") if path else
            "\n".join(resources.files("safety").joinpath(f).read_text(encoding="utf-8") for f in AUTHORED_NEGATIVES))
    for ln in text.splitlines():
        if ln.strip() and not ln.startswith("#"):
            yield Row(ln.strip(), "authored", _neg(), group="authored_hard_negatives")


IMPLIES = {"violence/graphic": ("violence",), "hate/threatening": ("hate", "violence")}


def _seeds() -> Iterator[Row]:
    """Our own positive phrasings (safety/data/seed_positives.txt): training only, never scored by the eval."""
    text = resources.files("safety").joinpath("data/seed_positives.txt").read_text(encoding="utf-8")
    for ln in text.splitlines():
        if ln.strip() and not ln.startswith("#") and "\t" in ln:
            cat, prompt = ln.split("\t", 1)
            # The taxonomy nests: graphic violence is violence; threatening hate is hate and violence.
            labels = {cat: 1, **{c: 1 for c in IMPLIES.get(cat, ())}}
            yield Row(prompt.strip(), "authored_seed", labels)


# Fragments that name a mood or a subject rather than a rendering style stay out of the boilerplate pool.
_NOT_STYLE = re.compile(r"horror|creep|scar(y|e)|eerie|gloom|dark|sad|cry|blood|gore|sens|sex|nud|nake|anatom|"
                        r"cigar|dystop|meme|look|wrinkl|skull|dead|death|war|weapon|gun|^\W*\w?\W*$")
STYLED_BENIGN = 1500


def style_fragments(root: Path, min_count: int = 8, min_categories: int = 4) -> list[str]:
    """I2P's art-prompt boilerplate: comma-separated fragments ("highly detailed", "trending on artstation",
    "greg rutkowski") that recur in at least `min_categories` of its seven keyword buckets, i.e. style that
    every harm category shares, not content."""
    cats_of: dict[str, set[str]] = {}
    count: dict[str, int] = {}
    for r in _csv(root / "i2p" / "unsafe-prompts4703.csv"):
        cats = {c.strip() for c in r["categories"].split(",") if c.strip()}
        for frag in {f.strip().lower() for f in re.split(r"[,|;.]", r["prompt"])}:
            if 1 <= len(frag.split()) <= 5 and not _NOT_STYLE.search(frag):
                cats_of.setdefault(frag, set()).update(cats)
                count[frag] = count.get(frag, 0) + 1
    return sorted(f for f, n in count.items() if n >= min_count and len(cats_of[f]) >= min_categories)


def _styled_benign(root: Path, rows: list[Row], rng: random.Random) -> Iterator[Row]:
    """Benign prompts dressed in that boilerplate. I2P's weak positives are mostly styled art prompts and
    the benign suites are plain captions, so the heads learned the style itself as harm (measured: Six-CD's
    clean art prompts, e.g. "portrait of a classical greek hero, highly detailed, digital painting,
    artstation", were flagged 62%). Each styled row keeps its base prompt's split side."""
    frags = style_fragments(root)
    bases = sorted((r for r in rows if r.group in ("benign_coco", "benign_parti", "benign_vbench", "six_cd_benign")),
                   key=lambda r: key(r.text))
    for base in rng.sample(bases, min(STYLED_BENIGN, len(bases))):
        styled = ", ".join([" ".join(base.text.split()).rstrip(" ."), *rng.sample(frags, rng.randint(2, 6))])
        yield Row(styled, "styled", _neg(), group="benign_styled", split_key=group_key(base),
                  extra={"base_source": base.source})


def key(text: str) -> str:
    """Comparison key: case, spacing and punctuation do not make a new prompt."""
    return re.sub(r"[\W_]+", " ", text.lower()).strip()


def _loaders(root: Path, rng: random.Random) -> dict[str, Iterator[Row]]:
    """Every labelled source by name (generators: nothing is read until a name is iterated)."""
    return {"nibbler": _nibbler(root), "hatecheck": _hatecheck(root), "davidson": _davidson(root, rng),
            "i2p": _i2p(root), "ring_a_bell": _ring_a_bell(root), "six_cd": _six_cd(root),
            "harmbench": _harmbench(root), "sst": _sst(root), "toxigen": _toxigen(root),
            "stormfront": _stormfront(root), "surge": _surge(root), "ethos": _ethos(root),
            "ailuminate": _ailuminate(root), "benign": _benign(root, rng), "authored": _authored(),
            "seeds": _seeds()}


SOURCES = ("nibbler", "hatecheck", "davidson", "i2p", "ring_a_bell", "six_cd", "harmbench", "sst", "toxigen",
           "stormfront", "surge", "ethos", "ailuminate", "benign", "authored", "seeds")


# Where each row source's files live under the shared prompts folder (prompts/SOURCES.tsv names their origin).
# The authored sources are this project's own files (evals/data), not shared data.
SOURCE_DIRS = {"nibbler": "adversarial_nibbler", "hatecheck": "hatecheck", "davidson": "davidson_hate_offensive",
               "i2p": "i2p", "ring_a_bell": "ring_a_bell", "ring_a_bell_adv": "ring_a_bell", "six_cd": "six_cd",
               "six_cd_harm": "six_cd", "six_cd_nudity": "six_cd", "harmbench": "harmbench", "advbench": "advbench",
               "sst": "simplesafetytests", "toxigen": "toxigen", "stormfront": "stormfront", "surge": "surge_toxicity",
               "ethos": "ethos", "ailuminate": "ailuminate", "parti": "benign/partiprompts", "vbench": "benign/vbench",
               "coco": "benign/coco30k"}
AUTHORED_SOURCES = ("authored", "authored_seed")


def check_not_held_out(rows: list[Row], data_dir: Path) -> list[str]:
    """Raise if a row to be trained on comes from a held-out source (evals.held_out: a folder with a held-out
    file, or with no recorded origin, fails closed; so does a source name this table does not know). Returns
    the shared folders checked."""
    from evals.held_out import held_out_origin, read_origins

    data_dir = data_dir.parent if data_dir.name == "prompts" else data_dir
    origins = read_origins(data_dir)
    folders: set[str] = set()
    for src in {r.extra.get("base_source", r.source) if r.source == "styled" else r.source for r in rows}:
        if src in AUTHORED_SOURCES:
            continue
        if src not in SOURCE_DIRS:
            raise ValueError(f"training rows from {src!r}, a source with no recorded folder: origin unknown")
        folders.add(SOURCE_DIRS[src])
    for folder in sorted(folders):
        files = {f: o for f, o in origins.items() if f.startswith(f"prompts/{folder}/")}
        bad = sorted(f for f, o in files.items() if held_out_origin(o))
        if not files or bad:
            raise ValueError(f"training rows from prompts/{folder}: "
                             + (f"held-out files {bad[:3]}" if bad else "no recorded origin"))
    return sorted(folders)


def dedupe_key(text: str) -> str:
    """The key that makes two rows one prompt: the serving normaliser's text (homoglyphs, leetspeak, spacing
    undone), then case, spacing and punctuation dropped."""
    with contextlib.suppress(PromptError):
        text = normalize(text).text
    return key(text)


def dedupe(rows: Iterator[Row] | list[Row]) -> tuple[list[Row], dict[str, int]]:
    """One row per dedupe key, before any split: text found in two sources would otherwise be trained on
    under one and scored under the other. The first source keeps the row; a known positive from a later one
    wins over a negative (a strong label over a weak one). Returns the rows and, per source, how many of its
    rows were dropped as copies of another source's row."""
    merged: dict[str, Row] = {}
    dropped: dict[str, int] = {}
    for row in rows:
        k = dedupe_key(row.text)
        if not k:
            continue
        if k not in merged:
            merged[k] = row
            continue
        old = merged[k]
        if old.source != row.source:
            dropped[row.source] = dropped.get(row.source, 0) + 1
        for c, v in row.labels.items():
            if c not in old.labels or (v == 1 and old.labels[c] == 0 and row.weight >= old.weight):
                old.labels[c] = v
    return list(merged.values()), dropped


LAST_DEDUPE: dict[str, int] = {}


def load_rows(data_dir: Path, seed: int = 0, sources: tuple[str, ...] = SOURCES) -> list[Row]:
    """Rows of the named sources (default: all), deduplicated across sources by normalised text."""
    root = data_dir / "prompts" if (data_dir / "prompts").is_dir() else data_dir
    rng = random.Random(seed)
    loaders = _loaders(root, rng)
    unknown = set(sources) - set(loaders)
    if unknown:
        raise ValueError(f"unknown prompt sources: {sorted(unknown)}")
    out, dropped = dedupe(row for name in SOURCES if name in sources for row in loaders[name])
    LAST_DEDUPE.clear()
    LAST_DEDUPE.update(dropped)
    if "benign" in sources and "i2p" in sources:
        seen = {dedupe_key(r.text) for r in out}
        out += [r for r in _styled_benign(root, out, rng) if dedupe_key(r.text) not in seen]
    return out


def group_key(row: Row) -> str:
    return row.split_key or key(row.text)


def split_of(row: Row, test_fraction: float = 0.25) -> str:
    """Deterministic split by text key (or template key) hash, so re-runs and other evals agree."""
    h = int(hashlib.sha1(group_key(row).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < test_fraction else "train"
