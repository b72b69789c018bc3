"""CLIP image embeddings (open_clip) in a FAISS inner-product index: the same character in a new pose.

Runs ONLY with real weights from a configured local file. Random-init CLIP would produce confident
nonsense, so without weights this signal reports itself off and never contributes a score.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np

from safety.copyright.signals.base import Signal, SignalHit, SignalIndex, logistic

# Cosine similarity at which CLIP alone calls it the same character, and the slope. NOT measured here:
# no real CLIP weights exist on this machine; operators must calibrate with evals/copyright.py.
MATCH_COSINE = 0.85
SLOPE = 0.03
MIN_COSINE = 0.7  # below this nothing is reported


class ClipIndex(SignalIndex):
    def __init__(self, dim: int) -> None:
        self._index: faiss.Index = faiss.IndexFlatIP(dim)
        self._ref_ids: list[int] = []

    def __len__(self) -> int:
        return len(set(self._ref_ids))

    def save(self, path: Path) -> None:
        path = Path(path)
        faiss.write_index(self._index, str(path.with_suffix(".faiss")))
        np.save(path.with_suffix(".npy"), np.array(self._ref_ids, np.int64))

    @classmethod
    def load(cls, path: Path) -> ClipIndex:
        path = Path(path)
        index = faiss.read_index(str(path.with_suffix(".faiss")))
        out = cls(index.d)
        out._index = index
        out._ref_ids = [int(r) for r in np.load(path.with_suffix(".npy"))]
        return out

    def add(self, reference_id: int, descriptor: np.ndarray) -> None:
        self._index.add(descriptor.reshape(1, -1).astype(np.float32))
        self._ref_ids.append(reference_id)

    def add_vectors(self, reference_ids: np.ndarray, vectors: np.ndarray) -> None:
        self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self._ref_ids.extend(int(r) for r in reference_ids)

    def search(self, descriptor: np.ndarray) -> list[SignalHit]:
        if self._index.ntotal == 0:
            return []
        k = min(20, self._index.ntotal)
        sims, ids = self._index.search(descriptor.reshape(1, -1).astype(np.float32), k)
        best: dict[int, float] = {}
        for s, i in zip(sims[0], ids[0], strict=True):
            if i < 0 or s < MIN_COSINE:
                continue
            ref = self._ref_ids[i]
            best[ref] = max(best.get(ref, -1.0), float(s))
        return [SignalHit(r, logistic((s - MATCH_COSINE) / SLOPE), {"cosine": round(s, 4)}) for r, s in best.items()]


class ClipSignal(Signal):
    name = "clip"
    index_type = "faiss.IndexFlatIP over L2-normalised CLIP image embeddings"

    def __init__(self, weights: Path | None, model_name: str = "ViT-B-32") -> None:
        self.weights = Path(weights) if weights else None
        self.model_name = model_name
        self.version = f"open_clip/{model_name}"
        self._model: Any = None
        self._preprocess: Any = None
        self._error: str | None = None

    def available(self) -> tuple[bool, str]:
        if self.weights is None:
            return False, "semantic signal off: no CLIP weights configured (set REELGATE_CLIP_WEIGHTS)"
        if not self.weights.is_file():
            return False, f"semantic signal off: CLIP weights file {self.weights} does not exist"
        if self._error is None and self._model is None:
            self._load()
        if self._error:
            return False, f"semantic signal off: {self._error}"
        return True, f"open_clip {self.model_name} from {self.weights}"

    def status(self) -> dict[str, Any]:
        ok, why = self.available()
        return {"ran": ok, "why": why, "model": self.version, "real_weights": ok}

    def _load(self) -> None:
        try:
            import importlib

            import torch

            # torch_compat must run before open_clip imports torchvision (missing op schemas)
            importlib.import_module("safety.torch_compat")
            open_clip = importlib.import_module("open_clip")

            model, _, preprocess = open_clip.create_model_and_transforms(self.model_name, pretrained=str(self.weights))
            model.eval()
            self._model, self._preprocess, self._torch = model, preprocess, torch
        except Exception as exc:  # a bad weights file must not take the gate down: report it
            self._error = f"could not load {self.weights}: {type(exc).__name__}: {exc}"[:300]

    def _embed(self, img: np.ndarray) -> np.ndarray:
        from PIL import Image

        if self._model is None:
            raise RuntimeError("CLIP signal is not available")
        with self._torch.no_grad():
            x = self._preprocess(Image.fromarray(img)).unsqueeze(0)
            v = self._model.encode_image(x).float().numpy()[0]
        return v / max(1e-12, float(np.linalg.norm(v)))

    def describe_reference(self, img: np.ndarray) -> np.ndarray:
        from safety.copyright.images import figure_on

        return self._embed(figure_on(img, "white"))  # a figure (RGBA) as it is usually drawn

    def describe_query(self, img: np.ndarray) -> np.ndarray:
        return self._embed(img)

    def new_index(self) -> ClipIndex:
        dim = int(getattr(getattr(self._model, "visual", None), "output_dim", 512) or 512)
        return ClipIndex(dim)
