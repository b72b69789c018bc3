"""The prompt gate: normalise, embed, score every category, find names and @mentions.

Signals, each visible in the result:
- learned heads (evals/train_prompt.py), served as the mean of two (safety/prompt_mean.py, named by
  safety/models/prompt_gate.json): per category, (v4 + v5) / 2 of their calibrated probabilities, before the
  rules below, from one shared MiniLM pass. v4: MiniLM with its top two layers fine-tuned, stacked with n-gram
  heads; v5: frozen MiniLM (pooled states of layers 2, 4, 6) plus hashed n-grams, one multi-task MLP
  calibrated on leave-one-source-out predictions (a calibration slope that could invert a score is refused at
  load). Either file missing: the gate is unavailable and says which (fail closed). Why the mean: left out by
  halves of the source families it met every false-positive budget of issue 18 at the policy's bars, v4 alone
  did not (figures and what the mean gives up on single prompts: evals/prompt_bars.py; latency, load and cold
  CLI: safety/prompt_mean.py). `load(version=4)` (or 5, or 2: linear heads) serves one file alone;
  categories sexual, sexual/minors, hate, hate/threatening, harassment, self-harm, violence, violence/graphic,
  deception, illegal;
- a bar map beside a single heads file (prompt_bars-v<N>.json, safety/prompt_bars.py), when one ships: each learned
  category's score moved so that the bars chosen on left-out predictions (evals/prompt_bars.py) land on the
  policy's default bars; applied after the two rules below, before the name signals;
- sexual/minors is also the conjunction sexual x child-reference (labelled examples are scarce), with the
  words that triggered it in `notes`; hate/threatening is also min(hate, violence);
- public_figure / character: fuzzy name matching (score = match similarity, 1.0 exact);
- mentions: @handles for the cameo consent check;
- language (safety/prompt_language.py): whether the prompt is in English, the only language the heads read;
  policy decides what an unread prompt gets (default: review), never a silent pass.
Long prompts are scored in overlapping word windows and each category takes its maximum, so a harmful
phrase cannot hide behind a long benign preamble. Any length gets a decision: beyond MAX_SCORED_CHARS
(100,000) characters only the start is scored, and `signals["truncated"]` says so (policy: at least review).
Generation requests have their own, much lower limit (gate settings `max_prompt_chars`).
- names beyond people (safety/prompt_named.py): copyrighted characters and franchises (`character`), brands
  asked for as the subject (`trademark`), real events/places/people staged as news or evidence (raises
  `deception`; details in `signals["staged_news"]`).
- depiction (safety/prompt_depiction.py): what the video would show, from a curated concept lexicon (drug use,
  theft, corpses, animal cruelty, a protected group drawn as vermin, ballot stuffing ...): a match raises its
  category to the review level (0.6, never a block on its own), after every rule above; the concepts and words
  are in `signals["depiction"]` and `notes`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from safety.name_match import NameHit, NameMatcher
from safety.prompt_depiction import depiction, raise_scores
from safety.prompt_language import check_language
from safety.prompt_signals import child_signal, mentions
from safety.text_normalize import PromptError, normalize

CATEGORIES = (
    "sexual", "sexual/minors", "hate", "hate/threatening", "harassment", "self-harm", "violence",
    "violence/graphic", "public_figure", "character", "deception", "illegal", "trademark",
)
MAX_SCORED_CHARS = 100_000  # beyond this a prompt is scored on its start and marked truncated, never refused
MAX_PROMPT_CHARS = MAX_SCORED_CHARS  # the old name
WINDOW_WORDS = 64
WINDOW_STRIDE = 48

__all__ = ["CATEGORIES", "MAX_PROMPT_CHARS", "NameMatch", "PromptClassifier", "PromptError",
           "PromptModelUnavailable", "PromptResult"]


class PromptModelUnavailable(RuntimeError):
    """The trained heads or the embedder cannot be loaded; the gate must not pretend to have scored."""


@dataclass
class NameMatch:
    kind: str  # "public_figure" | "character"
    canonical: str
    alias: str
    score: float
    matched: str


@dataclass
class PromptResult:
    categories: dict[str, float]
    normalized: str
    notes: list[str]
    mentions: list[str]
    names: list[dict[str, Any]]  # NameMatch as a dict: kind, canonical, alias, score, matched
    model: str
    signals: dict[str, Any] = field(default_factory=dict)
    millis: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_SENTENCE = re.compile(r"(?<=[.!?;\n])\s+")
MAX_CHUNKS = 256


def _windows(text: str) -> list[str]:
    """The text itself when short; otherwise overlapping word windows. Multi-sentence prompts also score
    each distinct sentence alone, so one harmful sentence is not diluted by benign neighbours."""
    words = text.split()
    out: list[str] = []
    if len(words) <= WINDOW_WORDS + WINDOW_WORDS // 4:
        out.append(text)
    else:
        for start in range(0, len(words), WINDOW_STRIDE):
            out.append(" ".join(words[start:start + WINDOW_WORDS]))
            if start + WINDOW_WORDS >= len(words):
                break
    out = list(dict.fromkeys(out))  # repeated boilerplate costs nothing twice
    sentences = [s.strip() for s in _SENTENCE.split(text) if len(s.split()) >= 3]
    if len(sentences) > 1:
        # Sentences fill what is left of the budget; the windows are never cut, so every word is scored.
        out.extend(list(dict.fromkeys(s for s in sentences if s not in out))[:max(0, MAX_CHUNKS - len(out))])
    return out


def mask_names(text: str, matcher: NameMatcher, hits: list[NameHit] | None = None,
               placeholder: str = "a person") -> str:
    """The text with every mention of a matched real person replaced by a neutral placeholder.

    The heads judge the act, not who: trained on red-team prompts that name a few politicians, they learned
    the names themselves as harm (measured: "donald trump giving a speech at a podium" scored violence 0.93).
    Who is named is the public_figure signal, and policy blocks harms about a real person on its own.
    `hits` (the matcher's answer for `text`, if already known) saves one search; the matcher reports one
    mention per person, so the search repeats until no name is left."""
    hits = matcher.find(text) if hits is None else hits
    for _ in range(8):
        if not hits:
            break
        out, end = [], len(text)
        for h in sorted(hits, key=lambda h: h.span[0], reverse=True):
            start, stop = h.span
            if start < stop <= end:
                out += [text[stop:end], placeholder]
                end = start
        text = text[:end] + "".join(reversed(out))
        hits = matcher.find(text)
    return text


def _latest_heads(model_dir: Path, version: int | None = None) -> Path | None:
    files = sorted(model_dir.glob("prompt_heads-v*.npz"),
                   key=lambda p: int(re.search(r"v(\d+)", p.stem).group(1)))  # type: ignore[union-attr]
    if version is not None:
        files = [f for f in files if f.stem == f"prompt_heads-v{version}"]
    return files[-1] if files else None


class _Refused(Exception):
    """A heads file that cannot be served as it is (the message says which and why)."""


def _read_heads(path: Path) -> dict[str, Any]:
    """One heads file's arrays and metadata, checked (feature shapes, calibration direction); no encoder yet."""
    try:
        z = np.load(path, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        heads: dict[str, Any] = {
            "meta": meta, "path": path,
            "kind": "frozen" if "w1" in z.files else "stack" if "stack" in z.files else "linear",
            # Identifies the exact weights in decisions (the training fingerprint names the data only).
            "sha": hashlib.sha256(path.read_bytes()).hexdigest()[:12],
            "idf_word": z["idf_word"].astype(np.float32), "idf_char": z["idf_char"].astype(np.float32),
        }
        if heads["kind"] == "frozen":
            heads.update({k: z[k].astype(np.float32) for k in ("w1", "b1", "w2", "b2", "ws", "platt")},
                         layers=z["layers"].astype(np.int64))
        elif heads["kind"] == "stack":
            heads.update(ngram_coef=z["ngram_coef"].astype(np.float32),
                         ngram_intercept=z["ngram_intercept"].astype(np.float32),
                         stack=z["stack"].astype(np.float32),
                         top_arrays={k: z[k] for k in z.files if k.startswith("top.")})
        else:
            heads.update(coef=z["coef"].astype(np.float32), intercept=z["intercept"].astype(np.float32),
                         platt=z["platt"].astype(np.float32))
        meta["categories"]  # noqa: B018 - a file without its category list is unreadable
    except (OSError, KeyError, ValueError) as exc:
        raise _Refused(f"cannot read {path.name}: {exc}") from exc
    from safety.prompt_features import CHAR_FEATURES, WORD_FEATURES

    n_cat = len(meta["categories"])
    if heads["kind"] == "frozen":
        got, expected = heads["ws"].shape, (n_cat, WORD_FEATURES + CHAR_FEATURES)
    elif heads["kind"] == "stack":
        got, expected = heads["ngram_coef"].shape, (n_cat, WORD_FEATURES + CHAR_FEATURES)
    else:
        got, expected = heads["coef"].shape, (n_cat, 384 + WORD_FEATURES + CHAR_FEATURES)
    if got != expected:
        raise _Refused(f"{path.name}: coefficient shape {got} != {expected} (trained with other features; retrain)")
    if heads["kind"] == "stack" and not heads["top_arrays"]:
        raise _Refused(f"{path.name}: the fine-tuned encoder layers (top.*) are missing")
    if heads["kind"] == "frozen" and (heads["platt"][:, 0] < 0).any():
        # A negative calibration slope would turn a higher score into a lower probability.
        bad = [c for c, a in zip(meta["categories"], heads["platt"][:, 0], strict=True) if a < 0]
        raise _Refused(f"{path.name}: calibration inverts the score of {', '.join(bad)}; retrain")
    return heads


class PromptClassifier:
    def __init__(self, heads: dict[str, Any] | None, why: str, public_figures: dict[str, list[str]] | None,
                 cache_dir: Path | None = None) -> None:
        """public_figures None: the shipped list, its compiled matcher read from cache_dir (safety.name_cache)."""
        self._heads = heads
        self._why = why
        self._figure_list = public_figures
        self._cache_dir = cache_dir
        # Both matchers load at first use, after the operator's changes (configure_names) are known, so a
        # process compiles or reads each once: ~0.1 s from the cache dir, ~0.5 s compiled (safety.name_cache).
        self._figure_matcher: NameMatcher | None = None
        self._char_cache: tuple[int, NameMatcher] | None = None
        self._named: Any = None  # safety.prompt_named.NamedFinder
        self._overrides: dict[str, Any] = {}

    def configure_names(self, add: dict[str, dict[str, list[str]]] | None = None,
                        remove: dict[str, list[str]] | None = None) -> None:
        """The operator's changes to the shipped lists: kind ("public_figure" | "character" | "brand") ->
        names to add (with aliases) / names to remove (matched on the folded canonical name)."""
        from safety.name_match import fold

        add, remove = add or {}, remove or {}
        gone = {k: {fold(n) for n in v} for k, v in remove.items()}
        self._overrides = {"add": add, "remove": gone}
        self._figure_matcher = None
        self._named = None

    @property
    def _figures(self) -> NameMatcher:
        if self._figure_matcher is None:
            from safety import name_cache

            gone = self._overrides.get("remove", {}).get("public_figure", set())
            added = self._overrides.get("add", {}).get("public_figure", {})
            self._figure_matcher = name_cache.public_figures(gone, added, self._cache_dir, base=self._figure_list)
        return self._figure_matcher

    def _named_finder(self) -> Any:
        if self._named is None:
            from safety import name_cache

            self._named = name_cache.named_finder(self._overrides.get("remove"), self._overrides.get("add"),
                                                  self._cache_dir)
        return self._named

    @classmethod
    def load(cls, model_dir: Path | None = None,
             public_figures: dict[str, list[str]] | None = None, version: int | None = None,
             cache_dir: Path | None = None, bars: bool = True) -> PromptClassifier:
        """Load what model_dir serves (default: the heads shipped in safety/models): with a manifest beside the
        heads (prompt_gate.json, safety/prompt_mean.py) the mean of the heads it names, else the newest heads
        file; `version` loads that heads file alone (v4 alone stays loadable). cache_dir keeps the exported
        encoder graph (default safety.prompt_frozen.default_cache_dir: REELGATE_DATA_DIR/cache). A single
        heads file's bar map (prompt_bars-v<N>.json beside it, safety/prompt_bars.py) is applied unless
        bars=False (the evals that choose it read the heads' own scores); a map chosen for other heads makes
        the classifier unavailable. The process keeps its other derived tables (word frequencies, language
        lists, compiled name matchers) in cache_dir too (safety.local_cache.use_cache_dir)."""
        figures = public_figures
        if cache_dir is not None:
            from safety.local_cache import use_cache_dir

            use_cache_dir(cache_dir)
        if model_dir is None:
            with resources.as_file(resources.files("safety").joinpath("models")) as p:
                model_dir = Path(p)
        if version is None and model_dir.is_dir():
            from safety.prompt_mean import MANIFEST, read_manifest

            try:
                manifest = read_manifest(model_dir)
            except (OSError, ValueError) as exc:
                return cls(None, f"cannot read {MANIFEST} in {model_dir}: {exc}", figures)
            if manifest is not None:
                return cls._load_mean(model_dir, figures, cache_dir)
        path = _latest_heads(model_dir, version) if model_dir.is_dir() else None
        if path is None:
            return cls(None, f"no prompt_heads-v*.npz in {model_dir}; run python -m evals.train_prompt", figures)
        try:
            heads = _read_heads(path)
        except _Refused as exc:
            return cls(None, str(exc), figures)
        meta = heads["meta"]
        from safety.prompt_embed import EmbedderUnavailable, embedder_info

        n_cat = len(meta["categories"])
        bars_file = path.with_name(f"prompt_bars-v{meta['version']}.json")
        if bars and bars_file.exists():
            from safety.prompt_bars import BarMapError, load_bars

            try:
                heads["bars"] = load_bars(bars_file, heads["sha"])
            except BarMapError as exc:
                return cls(None, str(exc), figures)

        ok, info = embedder_info()
        if not ok:
            return cls(None, info, figures)
        if heads["kind"] == "frozen":
            from safety.prompt_frozen import FrozenEncoder, FrozenEncoderUnavailable

            try:
                heads["run"] = FrozenEncoder(cache_dir)
            except (FrozenEncoderUnavailable, OSError, RuntimeError) as exc:
                return cls(None, f"{path.name}: cannot build the frozen encoder: {exc}", figures)
            heads["runtime"] = "onnxruntime"
            info += (f", frozen, layers {','.join(map(str, heads['layers']))} pooled, served by onnxruntime "
                     f"({'exported now' if heads['run'].built else 'cached graph'} {heads['run'].graph.name})")
        elif heads["kind"] == "stack":
            from safety.prompt_encoder import cached_serving_runner
            from safety.prompt_frozen import FrozenEncoderUnavailable, default_cache_dir

            try:
                layers = int(meta["trained_layers"])
                # run: what serves the encoder, the cached ONNX graph when it checks out (no torch import);
                # top: the eager torch module (the reference), only when the graph had to be exported now.
                heads["run"], heads["runtime"], top = cached_serving_runner(
                    heads.pop("top_arrays"), n_cat, layers, heads["sha"], cache_dir or default_cache_dir())
                if top is not None:
                    heads["top"] = top
            except (EmbedderUnavailable, FrozenEncoderUnavailable, RuntimeError, KeyError, ValueError,
                    OSError) as exc:
                return cls(None, f"{path.name}: cannot build the fine-tuned encoder: {exc}", figures)
            info += f", top {layers} layer(s) fine-tuned, served by {heads['runtime']}"
        # The language word lists load on the first prompt (from the cache dir: a few ms after the first run).
        why = f"prompt-heads-v{meta['version']} ({heads['sha']}, data {meta['train_fingerprint']}) on {info}"
        if "bars" in heads:
            why += f"; bars v{heads['bars'].version} chosen left out ({bars_file.name})"
        return cls(heads, why, figures, cache_dir)

    @classmethod
    def _load_mean(cls, model_dir: Path, figures: dict[str, list[str]] | None,
                   cache_dir: Path | None) -> PromptClassifier:
        """The mean of prompt_heads-v4 and -v5 (safety/prompt_mean.py), one shared MiniLM pass. Either file
        missing or unreadable: unavailable, and the reason names it (never one head alone in the mean's place)."""
        from safety.prompt_embed import EmbedderUnavailable, embedder_info
        from safety.prompt_frozen import FrozenEncoderUnavailable, default_cache_dir
        from safety.prompt_mean import MANIFEST, JointEncoder, JointEncoderUnavailable

        parts: dict[int, dict[str, Any]] = {}
        for v, kind in ((4, "stack"), (5, "frozen")):
            path = model_dir / f"prompt_heads-v{v}.npz"
            if not path.exists():
                return cls(None, f"{MANIFEST} serves the mean of prompt-heads-v4 and -v5, but {path.name} is "
                                 f"missing in {model_dir}: the prompt gate fails closed (python -m "
                                 f"evals.train_prompt --version {v} writes it)", figures)
            try:
                parts[v] = _read_heads(path)
            except _Refused as exc:
                return cls(None, f"{MANIFEST}: {exc}", figures)
            if parts[v]["kind"] != kind:
                return cls(None, f"{MANIFEST}: {path.name} holds {parts[v]['kind']} heads, not {kind}", figures)
        h4, h5 = parts[4], parts[5]
        categories = list(h4["meta"]["categories"])
        if sorted(categories) != sorted(h5["meta"]["categories"]):
            return cls(None, f"{MANIFEST}: v4 and v5 score different categories", figures)
        ok, info = embedder_info()
        if not ok:
            return cls(None, info, figures)
        try:
            layers = int(h4["meta"]["trained_layers"])
            run = JointEncoder(h4.pop("top_arrays"), len(categories), layers, h4["sha"],
                               cache_dir or default_cache_dir())
        except (JointEncoderUnavailable, FrozenEncoderUnavailable, EmbedderUnavailable, RuntimeError, KeyError,
                ValueError, OSError) as exc:
            return cls(None, f"{MANIFEST}: cannot build the shared encoder of the v4+v5 mean: {exc}", figures)
        heads = {"kind": "mean", "parts": parts, "run": run, "runtime": "onnxruntime", "path": model_dir / MANIFEST,
                 "sha": f"{h4['sha']}+{h5['sha']}",
                 "meta": {"version": "4+5", "categories": categories, "trained_layers": layers,
                          "train_fingerprint": f"{h4['meta']['train_fingerprint']}+{h5['meta']['train_fingerprint']}"}}
        why = (f"prompt gate: mean of prompt-heads-v4 ({h4['sha']}, data {h4['meta']['train_fingerprint']}) and "
               f"prompt-heads-v5 ({h5['sha']}, data {h5['meta']['train_fingerprint']}) on {info}; one shared pass: "
               f"top {layers} layer(s) fine-tuned (v4) and frozen layers {','.join(map(str, h5['layers']))} "
               f"pooled (v5), served by onnxruntime ({'exported now' if run.built else 'cached graph'} "
               f"{run.graph.name})")
        return cls(heads, why, figures, cache_dir)

    def available(self) -> tuple[bool, str]:
        if self._heads is None:
            return False, self._why
        m = self._figures
        return True, f"{self._why}; {m.canonicals} public figures ({len(m)} names with their aliases)"

    @property
    def model(self) -> str:
        if self._heads is None:
            return "unavailable"
        m = self._heads["meta"]
        kind = self._heads["kind"]
        if kind == "mean":
            p4, p5 = self._heads["parts"][4], self._heads["parts"][5]
            return (f"prompt-heads-mean-v4+v5/{p4['sha']}+{p5['sha']}+all-MiniLM-L6-v2-ft{m['trained_layers']}"
                    f"+frozen+public-figures-{self._figures.canonicals}")
        enc = (f"all-MiniLM-L6-v2-ft{m['trained_layers']}" if kind == "stack" else
               "all-MiniLM-L6-v2-frozen" if kind == "frozen" else "all-MiniLM-L6-v2")
        bars = f"+{self._heads['bars'].name}" if "bars" in self._heads else ""
        people = self._figures.canonicals
        return f"prompt-heads-v{m['version']}/{self._heads['sha']}+{enc}{bars}+public-figures-{people}"

    def _characters(self, characters: dict[str, list[str]] | None) -> NameMatcher | None:
        if not characters:
            return None
        key = hash(tuple(sorted((k, tuple(v)) for k, v in characters.items())))
        if self._char_cache is None or self._char_cache[0] != key:
            self._char_cache = (key, NameMatcher(characters, capital_single=False))
        return self._char_cache[1]

    def _named_signals(self, text: str, real_person: bool, cats: dict[str, float], names: list[dict[str, Any]],
                       notes: list[str], signals: dict[str, Any]) -> None:
        """Shipped characters/franchises, brands and staged news (safety/prompt_named.py) into the result."""
        from safety.prompt_named import incidental_mention, staged_news, trademark_score

        found = self._named_finder().find(text)
        chars = [(h, w) for h, w in found["character"] if w.kind == "character"]
        # A franchise counts on its own only when none of its characters is named.
        named_franchises = {w.franchise for _, w in chars}
        for h, w in chars + [(h, w) for h, w in found["character"]
                             if w.kind == "franchise" and w.franchise not in named_franchises]:
            names.append({**asdict(NameMatch("character", h.canonical, h.alias, h.score, h.matched)),
                          "source": "default", "work": w.kind, "franchise": w.franchise, "holder": w.holder,
                          "subject": w.kind == "character" and not incidental_mention(text, h.span)})
            cats["character"] = max(cats["character"], h.score)
        brands = [h for h, _ in found["brand"]]
        if brands:
            score, why = trademark_score(text, brands, self._named.brand_info)
            cats["trademark"] = max(cats.get("trademark", 0.0), score)
            for h, w in found["brand"]:
                names.append({**asdict(NameMatch("brand", h.canonical, h.alias, h.score, h.matched)),
                              "brand": w.franchise})
            notes.append("trademark: " + "; ".join(why))
        staged = staged_news(text, real_person)
        if staged.score > 0:
            signals["staged_news"] = asdict(staged)
            if staged.score > cats["deception"]:
                cats["deception"] = staged.score
                notes.append(f"deception: {staged.why} (staged news rule {staged.score:.2f})")

    def _score(self, texts: list[str]) -> np.ndarray:
        h = self._heads
        assert h is not None
        if h["kind"] == "mean":
            from safety.prompt_mean import mean_probability

            return mean_probability(h["parts"][4], h["parts"][5], texts, h["run"], h["meta"]["categories"])
        if h["kind"] == "frozen":
            from safety.prompt_features import tfidf_block
            from safety.prompt_frozen import calibrated, head_logits

            z = head_logits(h["run"](texts), tfidf_block(texts, h["idf_word"], h["idf_char"]), h)
            return calibrated(z, h["platt"])
        if h["kind"] == "stack":
            from safety.prompt_encoder import encoder_logits
            from safety.prompt_features import ngram_logits, stacked_probability

            enc = encoder_logits(h["run"], texts)
            ngram = ngram_logits(texts, h["idf_word"], h["idf_char"], h["ngram_coef"], h["ngram_intercept"])
            return stacked_probability(enc, ngram, h["stack"])
        from safety.prompt_embed import embed
        from safety.prompt_features import logits

        raw = logits(embed(texts), texts, h["idf_word"], h["idf_char"], float(h["meta"]["emb_scale"]),
                     h["coef"], h["intercept"])
        z = raw * h["platt"][None, :, 0] + h["platt"][None, :, 1]
        return 1.0 / (1.0 + np.exp(-z))

    def classify(self, text: str, characters: dict[str, list[str]] | None = None) -> PromptResult:
        return self.classify_many([text], characters)[0]

    def classify_many(self, texts: list[str],
                      characters: dict[str, list[str]] | None = None) -> list[PromptResult]:
        """Score a batch (one embedding pass). Raises PromptError (with the index) for a bad prompt and
        PromptModelUnavailable when the heads cannot run."""
        if self._heads is None:
            raise PromptModelUnavailable(self._why)
        t0 = time.perf_counter()
        norms = []
        truncated: dict[int, int] = {}
        for i, text in enumerate(texts):
            if isinstance(text, str) and len(text) > MAX_SCORED_CHARS:
                truncated[i] = len(text)
                text = text[:MAX_SCORED_CHARS]
            try:
                norms.append(normalize(text))
            except PromptError as exc:
                raise PromptError(f"prompt {i}: {exc}") if len(texts) > 1 else exc from None
        chunks: list[str] = []
        owner: list[int] = []
        figure_hits = [self._figures.find(n.text) for n in norms]
        masked = [mask_names(n.text, self._figures, hits) for n, hits in zip(norms, figure_hits, strict=True)]
        for i, text in enumerate(masked):
            for w in _windows(text):
                chunks.append(w)
                owner.append(i)
        probs = self._score(chunks) if chunks else np.zeros((0, 10))
        learned = self._heads["meta"]["categories"]
        chars = self._characters(characters)
        per_prompt_ms = (time.perf_counter() - t0) * 1000 / max(1, len(texts))
        results = []
        owner_arr = np.array(owner)
        for i, n in enumerate(norms):
            p = probs[owner_arr == i].max(axis=0)
            cats = {c: 0.0 for c in CATEGORIES}
            for j, c in enumerate(learned):
                cats[c] = float(p[j])
            notes = list(n.notes)
            # Names are masked first: "vladimir putin in pokemon" is not Romanian.
            lang = check_language(masked[i])
            signals: dict[str, Any] = {"language": asdict(lang)}
            if not lang.read:
                notes.append(f"language: {lang.why}; the category scores are not informative")
            child = child_signal(n.text)
            # sexual/minors is sexual content involving a minor: its head (trained on a few dozen requests)
            # counts only as far as there is a sexual signal or a child reference. Alone it also fired on
            # misinformation requests (0.77); gated, held-out false flags at review fell 62 -> 25, recall same.
            cats["sexual/minors"] = min(cats["sexual/minors"], max(cats["sexual"], child.score))
            if child.score > 0:
                signals["child_terms"] = child.terms
                conj = cats["sexual"] * child.score
                if conj > cats["sexual/minors"]:
                    cats["sexual/minors"] = conj
                    if conj >= 0.1:
                        notes.append(f"sexual/minors: sexual {cats['sexual']:.2f} x child reference "
                                     f"{child.score:.2f} ({', '.join(child.terms)})")
            # Hate that also threatens violence is hate/threatening by definition (OpenAI taxonomy): the
            # conjunction backs up a head trained on ~200 examples.
            threat = min(cats["hate"], cats["violence"])
            if threat > cats["hate/threatening"]:
                cats["hate/threatening"] = threat
                if threat >= 0.1:
                    notes.append(f"hate/threatening: min(hate {cats['hate']:.2f}, violence {cats['violence']:.2f})")
            if "bars" in self._heads:
                # The left-out bars onto the policy's scale (safety/prompt_bars.py), after the two rules they
                # were chosen with and before the name signals, whose scores are on the policy's scale already.
                cats.update(self._heads["bars"].apply({c: cats[c] for c in learned}))
            if figure_hits[i]:
                who = ", ".join(h.matched for h in figure_hits[i])
                notes.append(f"names: the content heads read {who} as 'a person' (who it is: public_figure)")
            if i in truncated:
                signals["truncated"] = {"chars": truncated[i], "scored": MAX_SCORED_CHARS}
                notes.append(f"truncated: {truncated[i]} characters, the first {MAX_SCORED_CHARS} scored")
            names: list[dict[str, Any]] = []
            self._named_signals(n.text, bool(figure_hits[i]), cats, names, notes, signals)
            # What the video would show (safety/prompt_depiction.py): a concept matched raises its category to the
            # review level, never to block; read on the masked text ("punching a person", whoever it is).
            scene = depiction(masked[i])
            if scene.hits:
                signals["depiction"] = [asdict(h) for h in scene.hits]
                raise_scores(cats, scene, notes)
            for kind, matcher in (("public_figure", self._figures), ("character", chars)):
                if matcher is None:
                    continue
                hits: list[NameHit] = figure_hits[i] if kind == "public_figure" else matcher.find(n.text)
                for hit in hits:
                    names.append(asdict(NameMatch(kind, hit.canonical, hit.alias, hit.score, hit.matched)))
                if hits:
                    cats[kind] = max(cats[kind], max(hh.score for hh in hits))
            results.append(PromptResult(
                categories={c: round(v, 4) for c, v in cats.items()}, normalized=n.text, notes=notes,
                mentions=mentions(n.text), names=names,
                model=self.model, signals=signals, millis=round(per_prompt_ms, 2),
            ))
        return results
