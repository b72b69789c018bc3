"""Local features: OpenCV SIFT keypoints, a FAISS L2 index over reference descriptors, Lowe's ratio test
and a RANSAC homography. Finds a registered image inside a larger frame at another scale or position,
and survives crops that break a global hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import faiss
import numpy as np

from safety.copyright.images import fit_within
from safety.copyright.signals.base import Signal, SignalHit, SignalIndex, logistic

REF_MIN_SIDE = 384  # small references are upscaled first: SIFT finds few features on a 128 px drawing
REF_MAX_SIDE = 1024
REF_MAX_FEATURES = 800
QUERY_MAX_SIDE = 960
QUERY_MAX_FEATURES = 2000
K = 6
RATIO = 0.75  # Lowe's ratio, against the next-best keypoint of the SAME reference
MIN_MATCHES = 8  # below this no homography is attempted
RANSAC_PX = 5.0
# Inlier count at which the signal scores 0.5, and its slope. Measured by evals/copyright.py (unrelated
# frames stay well below; transformed references sit far above).
MATCH_INLIERS = 10
SLOPE = 1.5
FLAT_LIMIT = 250_000  # descriptors (~500 references) before switching to HNSW
HNSW_M = 32
HNSW_EF_SEARCH = 64
MAX_SIDE_RATIO = 1.5  # opposite sides of the mapped outline (perspective bound)
MAX_ASPECT_CHANGE = 1.5  # width/height of the mapped outline vs the reference


@dataclass
class KeypointSet:
    points: np.ndarray  # (n, 2) float32, in the ORIGINAL image's pixel coordinates
    descriptors: np.ndarray  # (n, 128) float32
    size: tuple[int, int]  # (w, h) of the original image


def _sift(nfeatures: int) -> cv2.SIFT:
    return cv2.SIFT_create(nfeatures=nfeatures)


def extract(img: np.ndarray, min_side: int, max_side: int, nfeatures: int) -> KeypointSet:
    h, w = img.shape[:2]
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    scale = 1.0
    if min(h, w) < min_side:
        scale = min(min_side / min(h, w), max_side / max(h, w))
    elif max(h, w) > max_side:
        scale = max_side / max(h, w)
    if scale != 1.0:
        interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
        gray = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=interp)
    kps, desc = _sift(nfeatures).detectAndCompute(gray, None)
    if desc is None or not kps:
        return KeypointSet(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32), (w, h))
    pts = np.array([kp.pt for kp in kps], dtype=np.float32) / scale
    return KeypointSet(pts, desc.astype(np.float32), (w, h))


def _plausible(hom: np.ndarray, ref_size: tuple[int, int], query_size: tuple[int, int]) -> tuple[bool, list]:
    """A copy maps the reference's outline to a convex quadrilateral close to a scaled/rotated rectangle:
    bounded size, aspect ratio and perspective. Random matches that RANSAC happens to fit rarely do, which
    is what lets a small inlier count count as evidence."""
    w, h = ref_size
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]]).reshape(-1, 1, 2)
    quad = cv2.perspectiveTransform(corners, hom).reshape(-1, 2)
    if not np.all(np.isfinite(quad)):
        return False, []
    q32 = quad.astype(np.float32)
    if not cv2.isContourConvex(q32):
        return False, []
    area = float(cv2.contourArea(q32))
    qw, qh = query_size
    if not (0.002 * qw * qh <= area <= 16 * qw * qh and 1e-3 <= area / max(1.0, float(w * h)) <= 1e3):
        return False, []
    sides = np.linalg.norm(np.roll(quad, -1, axis=0) - quad, axis=1)  # top, right, bottom, left
    if sides.min() < 4:
        return False, []
    opposite = max(sides[0] / sides[2], sides[2] / sides[0], sides[1] / sides[3], sides[3] / sides[1])
    aspect = ((sides[0] + sides[2]) / (sides[1] + sides[3])) / (w / h)
    if opposite > MAX_SIDE_RATIO or not (1 / MAX_ASPECT_CHANGE <= aspect <= MAX_ASPECT_CHANGE):
        return False, []
    return True, quad.round(1).tolist()


class KeypointIndex(SignalIndex):
    """Exact L2 search while small; past `flat_limit` descriptors it moves to an HNSW graph (approximate,
    no training, still incremental), because exact search grows linearly with the registry."""

    def __init__(self, flat_limit: int = FLAT_LIMIT) -> None:
        self._index: faiss.Index = faiss.IndexFlatL2(128)
        self._flat_limit = flat_limit
        self._owner_chunks: list[np.ndarray] = []
        self._owner_all = np.zeros(0, np.int64)
        self._points: dict[int, np.ndarray] = {}
        self._offset: dict[int, int] = {}
        self._sizes: dict[int, tuple[int, int]] = {}

    def __len__(self) -> int:
        return len(self._sizes)

    @property
    def kind(self) -> str:
        return "hnsw" if isinstance(self._index, faiss.IndexHNSWFlat) else "flat"

    def add(self, reference_id: int, descriptor: KeypointSet) -> None:
        self._sizes[reference_id] = descriptor.size
        if len(descriptor.descriptors) == 0:
            return
        self._offset[reference_id] = self._index.ntotal
        self._points[reference_id] = descriptor.points
        self._index.add(np.ascontiguousarray(descriptor.descriptors, dtype=np.float32))
        self._owner_chunks.append(np.full(len(descriptor.descriptors), reference_id, np.int64))
        if self.kind == "flat" and self._index.ntotal > self._flat_limit:
            self._to_hnsw()

    def _to_hnsw(self) -> None:
        vectors = self._index.reconstruct_n(0, self._index.ntotal)
        hnsw = faiss.IndexHNSWFlat(128, HNSW_M)
        hnsw.hnsw.efConstruction = 80
        hnsw.hnsw.efSearch = HNSW_EF_SEARCH
        hnsw.add(vectors)
        self._index = hnsw

    def _owners(self) -> np.ndarray:
        if self._owner_chunks:
            self._owner_all = np.concatenate([self._owner_all, *self._owner_chunks])
            self._owner_chunks = []
        return self._owner_all

    def search(self, descriptor: dict[str, Any]) -> list[SignalHit]:
        query: KeypointSet = descriptor["keypoints"]
        scale = float(descriptor.get("scale", 1.0))
        if self._index.ntotal < 2 or len(query.descriptors) == 0:
            return []
        k = min(K, self._index.ntotal)
        dist, ids = self._index.search(query.descriptors, k)
        dist = np.sqrt(np.maximum(dist, 0))
        qidx = np.nonzero(ids[:, 0] >= 0)[0]  # query rows with any neighbour (HNSW may return none)
        dist, ids = dist[qidx], ids[qidx]
        if len(ids) == 0:
            return []
        owners = self._owners()[np.maximum(ids, 0)]
        owners[ids < 0] = -1
        groups: dict[int, list[tuple[int, int]]] = {}
        for qi in range(len(ids)):
            ref = int(owners[qi, 0])
            same = np.nonzero(owners[qi, 1:] == ref)[0]
            # the next keypoint of the same reference; if none in the top k, the k-th is a lower bound
            d2 = dist[qi, same[0] + 1] if len(same) else dist[qi, -1]
            if d2 > 0 and dist[qi, 0] < RATIO * d2:
                groups.setdefault(ref, []).append((int(qidx[qi]), int(ids[qi, 0]) - self._offset[ref]))
        hits = []
        for ref, pairs in groups.items():
            if len(pairs) < MIN_MATCHES:
                continue
            src = self._points[ref][[p[1] for p in pairs]].reshape(-1, 1, 2)
            dst = query.points[[p[0] for p in pairs]].reshape(-1, 1, 2)
            hom, mask = cv2.findHomography(src, dst, cv2.RANSAC, RANSAC_PX, maxIters=2000, confidence=0.995)
            if hom is None or mask is None:
                continue
            inliers = int(mask.sum())
            ok, quad = _plausible(hom, self._sizes[ref], query.size)
            if not ok:
                continue
            hits.append(
                SignalHit(
                    ref,
                    logistic((inliers - MATCH_INLIERS) / SLOPE),
                    {
                        "inliers": inliers,
                        "matches": len(pairs),
                        "region": [[round(x * scale, 1), round(y * scale, 1)] for x, y in quad],
                    },
                )
            )
        return hits


class KeypointSignal(Signal):
    name = "keypoints"
    version = f"opencv-{cv2.__version__}/sift+ransac"
    index_type = "faiss.IndexFlatL2(128) over SIFT descriptors + RANSAC homography"

    def available(self) -> tuple[bool, str]:
        if not hasattr(cv2, "SIFT_create"):
            return False, "this OpenCV build has no SIFT"
        return True, "OpenCV SIFT + RANSAC homography, no weights needed"

    def describe_reference(self, img: np.ndarray) -> KeypointSet:
        return extract(img, REF_MIN_SIDE, REF_MAX_SIDE, REF_MAX_FEATURES)

    def describe_query(self, img: np.ndarray) -> dict[str, Any]:
        small = fit_within(img, QUERY_MAX_SIDE)
        # matching runs in the (possibly downscaled) frame; `scale` maps regions back to the original
        return {
            "keypoints": extract(small, 0, QUERY_MAX_SIDE, QUERY_MAX_FEATURES),
            "scale": img.shape[1] / small.shape[1],
        }

    def new_index(self) -> KeypointIndex:
        return KeypointIndex()
