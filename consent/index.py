"""Exact nearest-neighbour search over enrolled face embeddings (FAISS).

Every vector gets its own FAISS id (the CameoEmbedding row id when known) inside an IndexIDMap2 over
IndexFlatL2, so results are plain Euclidean distances, the same metric as `face_distance` and the
backend thresholds. Several vectors (poses) map to one owner key (the cameo id); search returns the
best distance per owner. The index records a checkpoint of what it covers, so the composition root can
tell whether a rebuild from the database is due.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import faiss
import numpy as np

VECTORS_PER_OWNER = 64  # registry.MAX_EMBEDDINGS (not imported: the registry imports this module)


class FaceIndexError(ValueError):
    """Wrong embedding shape or type for this index."""


@dataclass(frozen=True)
class IndexCheckpoint:
    vectors: int  # vectors in the index
    owners: int  # distinct owner keys
    max_row_id: int  # highest database row id loaded (-1: none)


class FaceIndex:
    def __init__(self, dim: int) -> None:
        if dim <= 0:
            raise FaceIndexError(f"dimension must be positive, got {dim}")
        self.dim = dim
        self._lock = threading.RLock()
        self._reset()

    def _reset(self) -> None:
        self._index = faiss.IndexIDMap2(faiss.IndexFlatL2(self.dim))
        self._owner_of: dict[int, int] = {}  # faiss id -> owner key
        self._ids_of: dict[int, list[int]] = {}  # owner key -> faiss ids
        self._next_id = 1 << 40  # ids for vectors without a row id stay clear of database row ids
        self._max_row_id = -1

    def _as_matrix(self, embeddings: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        mat = np.asarray(embeddings, dtype=np.float32)
        if mat.ndim == 1:
            mat = mat[None, :]
        if mat.ndim != 2 or mat.shape[1] != self.dim:
            raise FaceIndexError(f"expected embeddings of dimension {self.dim}, got shape {mat.shape}")
        if not np.all(np.isfinite(mat)):
            raise FaceIndexError("embeddings contain NaN or infinity")
        return np.ascontiguousarray(mat)

    def add(
        self,
        owner_key: int,
        embeddings: np.ndarray | Sequence[np.ndarray],
        row_ids: Sequence[int] | None = None,
    ) -> int:
        """Add one owner's vectors (optionally with their database row ids); returns how many."""
        mat = self._as_matrix(embeddings)
        with self._lock:
            if row_ids is None:
                ids = list(range(self._next_id, self._next_id + len(mat)))
                self._next_id += len(mat)
            else:
                ids = [int(r) for r in row_ids]
                if len(ids) != len(mat):
                    raise FaceIndexError(f"{len(mat)} embeddings but {len(ids)} row ids")
                dup = [i for i in ids if i in self._owner_of]
                if dup:
                    raise FaceIndexError(f"row ids already indexed: {dup[:5]}")
                self._max_row_id = max([self._max_row_id, *ids])
            self._index.add_with_ids(mat, np.asarray(ids, dtype=np.int64))
            for i in ids:
                self._owner_of[i] = int(owner_key)
            self._ids_of.setdefault(int(owner_key), []).extend(ids)
            return len(ids)

    def remove(self, owner_key: int) -> int:
        """Drop every vector of one owner; returns how many were removed (0 if unknown)."""
        with self._lock:
            ids = self._ids_of.pop(int(owner_key), [])
            if ids:
                self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))
                for i in ids:
                    self._owner_of.pop(i, None)
            return len(ids)

    def search(self, embedding: np.ndarray, k: int = 5) -> list[tuple[int, float]]:
        """Up to k nearest owners as (owner_key, Euclidean distance), nearest first."""
        q = self._as_matrix(embedding)[:1]
        with self._lock:
            n = self._index.ntotal
            if n == 0 or k <= 0:
                return []
            # An owner has several vectors (an enrollment template keeps up to 16, the registry allows 64):
            # fetch enough neighbours that k distinct owners survive even behind full templates. A flat
            # index computes every distance anyway; the larger k costs only the heap.
            fetch = min(n, k * VECTORS_PER_OWNER)
            dist2, ids = self._index.search(q, fetch)
            best: dict[int, float] = {}
            for d2, i in zip(dist2[0], ids[0], strict=True):
                if i < 0:
                    continue
                owner = self._owner_of.get(int(i))
                if owner is None:
                    continue
                d = float(np.sqrt(max(float(d2), 0.0)))
                if owner not in best or d < best[owner]:
                    best[owner] = d
        return sorted(best.items(), key=lambda kv: kv[1])[:k]

    def rebuild(self, rows: Iterable[tuple[int, int, np.ndarray]]) -> IndexCheckpoint:
        """Replace the contents with (row_id, owner_key, vector) rows, e.g. `registry.all_embeddings`."""
        rows = list(rows)
        with self._lock:
            self._reset()
            by_owner: dict[int, tuple[list[int], list[np.ndarray]]] = {}
            for row_id, owner, vec in rows:
                ids, vecs = by_owner.setdefault(int(owner), ([], []))
                ids.append(int(row_id))
                vecs.append(np.asarray(vec, dtype=np.float32).ravel())
            for owner, (ids, vecs) in by_owner.items():
                self.add(owner, np.stack(vecs), row_ids=ids)
            return self.checkpoint()

    def checkpoint(self) -> IndexCheckpoint:
        with self._lock:
            return IndexCheckpoint(
                vectors=int(self._index.ntotal), owners=len(self._ids_of), max_row_id=self._max_row_id
            )

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def __contains__(self, owner_key: object) -> bool:
        return owner_key in self._ids_of
