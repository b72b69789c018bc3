"""Local features: OpenCV SIFT keypoints, one FAISS index over all reference descriptors, Lowe's ratio
test and per-reference votes, a RANSAC homography on the few best-voted references. Finds a registered
image inside a larger frame at another scale or position, mirrored or not, and survives crops that break a
global hash. A copy too small for that (a figure 64 px tall in a 720p frame) gets a second, zoomed look
where its few votes gather (zoom.py). A figure (a reference with transparency) is described on grey, black
and white fills: a small copy's keypoints see whatever background it was pasted on.

What still misses a small copy is the proposal, not the zoomed match: of 8 figures missed 64 px tall in
720p bike frames, a zoomed look forced at the right window found 7 (15-36 inliers), but the first pass had
given them 0-3 votes, fewer than zoom.MIN_VOTES. On a busy frame (the earth photo's clouds) the strongest
QUERY_MAX_FEATURES keypoints are mostly the background's: 11-16 of the figure's survive (22-32 on a
calmer photo); keeping them all costs +50% SIFT time on such a frame (7,265 keypoints, 245 vs 160 ms).
Since session 11 a reference is also described at 64 and 128 px (SMALL_VIEWS), where a small copy's
keypoints look like its own, and the ratio test takes as competitor the next keypoint of the same reference
ELSEWHERE (TWIN_RADIUS): without that, a view's keypoint and its full-size twin reject each other.
Measured on figures that are not the gophers (evals/copyright_small.py), not tuned on the gopher eval.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import faiss
import numpy as np

from safety.copyright.images import fit_within
from safety.copyright.signals import zoom
from safety.copyright.signals.base import Signal, SignalHit, SignalIndex, logistic

REF_MIN_SIDE = 384  # small references are upscaled first: SIFT finds few features on a 128 px drawing
REF_MAX_SIDE = 1024
QUERY_MIN_SIDE = 256  # a small query (a half-size thumbnail of a small drawing) is upscaled to this
# what a figure's transparent pixels read as around its keypoints: each fill is one view (_figure_views)
FIGURE_FILLS: tuple[tuple[int, int, int], ...] = ((128, 128, 128), (0, 0, 0), (255, 255, 255))
FILL_NEAR_PX = 2.0  # a keypoint of another fill this close (reference pixels) to a kept one ...
FILL_SAME = 250.0  # ... with a descriptor this close (SIFT descriptors have norm ~512) is its twin
FIGURE_BUDGET = 2  # a figure keeps at most this many times REF_MAX_FEATURES keypoints over its fills
FIGURE_EDGE = 0.02  # no keypoint within this fraction of the figure's short side from its alpha edge
REF_MAX_FEATURES = 800
# A reference is also described shrunk to these longer sides (px), at most SMALL_VIEW_FEATURES keypoints
# each (per fill for a figure): a copy 64 px tall in a 720p frame is ~48 px in the matching frame, and its
# keypoints look like those of a small rendering far more than like the 384-1024 px reference's. With the
# twin-aware ratio test (a view's keypoint is a twin of the full-size one at the same spot, not its
# competitor), on the development figures of evals/copyright_small.py: 64 px copies found 7 -> 10 of 38,
# 96 px 13 -> 23 of 38, at no extra query work (the index holds ~30% more descriptors for such references).
# Views at 48 and 96 px too (session 12; with zoom.MIN_VOTES 3): 64 px 10 -> 17 of 38, 96 px 24 -> 27
SMALL_VIEWS = (48, 64, 96, 128)
SMALL_VIEW_FEATURES = 200
QUERY_MAX_SIDE = 960
QUERY_MAX_FEATURES = 2000
K = 10  # neighbours per query descriptor (room for the same reference's next keypoint)
# Lowe's ratio, against the next-best keypoint of the SAME reference; when the top K holds none (a crowded
# index), against the K-th neighbour, which makes it the classic global ratio test
RATIO = 0.75
# ... and a keypoint of the same reference within this fraction of the reference's longer side from the
# nearest one is not its competitor but its twin (the same spot on another fill, at another scale or a
# second orientation): testing against it rejects the best correspondences a small copy has
TWIN_RADIUS = 0.03
MIN_MATCHES = 8  # below this no homography is attempted
RANSAC_PX = 5.0
# Inlier count at which the signal scores 0.5, and its slope. Measured by evals/copyright.py (unrelated
# frames stay well below; transformed references sit far above).
MATCH_INLIERS = 10
SLOPE = 1.5
CANDIDATES = 8  # best-voted references that get the RANSAC check
ID_SHIFT = 16  # faiss id = reference id << 16 | keypoint number
FLAT_LIMIT = 200_000  # descriptors (~250 references) held exactly before training IVF-PQ
IVF_NLIST = 2048
IVF_NPROBE = 4
PQ_M = 32  # 32 sub-quantizers x 4 bits = 16 bytes per descriptor (FastScan)
MAX_SIDE_RATIO = 1.5  # opposite sides of the mapped outline (perspective bound)
MAX_ASPECT_CHANGE = 1.5  # width/height of the mapped outline vs the reference
# The zoomed second look (zoom.py): a proposed window of the full-resolution frame is upscaled so its
# shorter side is at least this, and keeps at most this many keypoints
ZOOM_SIDE = 384
ZOOM_FEATURES = 800
# a reference the first pass found with less than this still gets the zoomed look (a small copy found on 10
# inliers, score 0.5, is confirmed by 30 when zoomed); only references found at this or above are skipped
ZOOM_CONFIDENT = 0.9


@dataclass
class KeypointSet:
    points: np.ndarray  # (n, 2) float32, in the ORIGINAL image's pixel coordinates
    descriptors: np.ndarray  # (n, 128) float32
    size: tuple[int, int]  # (w, h) of the original image


def _sift(nfeatures: int) -> cv2.SIFT:
    return cv2.SIFT.create(nfeatures=nfeatures)


def extract(img: np.ndarray, min_side: int, max_side: int, nfeatures: int) -> KeypointSet:
    """SIFT keypoints of an RGB image, or of an RGBA figure: then alpha is the detection mask (shrunk, so
    the outline against whatever fill is not a keypoint) and the figure is described on each of
    FIGURE_FILLS (see _figure_views)."""
    if img.shape[2] == 4:
        return _figure_views(img, min_side, max_side, nfeatures)
    return _extract_rgb(img, None, min_side, max_side, nfeatures)


def _extract_rgb(img: np.ndarray, mask: np.ndarray | None, min_side: int, max_side: int, nfeatures: int) -> KeypointSet:
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
    if mask is not None:
        if scale != 1.0:
            mask = cv2.resize(mask, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_NEAREST)
        r = max(1, round(FIGURE_EDGE * min(gray.shape[:2])))
        mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    kps, desc = _sift(nfeatures).detectAndCompute(gray, mask)
    if desc is None or not kps:
        return KeypointSet(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32), (w, h))
    pts = np.array([kp.pt for kp in kps], dtype=np.float32) / scale
    return KeypointSet(pts, desc.astype(np.float32), (w, h))


def _figure_views(img: np.ndarray, min_side: int, max_side: int, nfeatures: int) -> KeypointSet:
    """A figure's keypoints on each fill of FIGURE_FILLS, merged. A keypoint near the outline has the
    background inside its descriptor window, and a small copy (64 px tall in a 720p frame) is nearly all
    such keypoints: described on grey alone, the king gopher pasted 64 px tall on plain black got 4 votes
    and was missed, on black + white + grey 14 and found. The first fill's keypoints are all kept; a later
    fill adds only those that differ (no keypoint of the kept ones within FILL_NEAR_PX with a descriptor
    within FILL_SAME), so the ratio test is not spoilt by twins of one keypoint. At most FIGURE_BUDGET x
    nfeatures keypoints in all."""
    from scipy.spatial import cKDTree

    from safety.copyright.images import FIGURE_ALPHA, figure_on

    mask = np.where(img[..., 3] >= FIGURE_ALPHA, 255, 0).astype(np.uint8)
    views = [_extract_rgb(figure_on(img, fill), mask, min_side, max_side, nfeatures) for fill in FIGURE_FILLS]
    pts, desc = [views[0].points], [views[0].descriptors]
    for v in views[1:]:
        kept_p, kept_d = np.concatenate(pts), np.concatenate(desc)
        if len(v.points) == 0:
            continue
        if len(kept_p):
            near = cKDTree(kept_p).query_ball_point(v.points, FILL_NEAR_PX)
            twin = np.array(
                [
                    bool(n) and float(np.min(np.linalg.norm(kept_d[n] - d, axis=1))) < FILL_SAME
                    for n, d in zip(near, v.descriptors, strict=True)
                ]
            )
        else:
            twin = np.zeros(len(v.points), bool)
        pts.append(v.points[~twin])
        desc.append(v.descriptors[~twin])
    cap = FIGURE_BUDGET * nfeatures
    return KeypointSet(np.concatenate(pts)[:cap], np.concatenate(desc)[:cap], views[0].size)


def _shrink(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """INTER_AREA downscale to (w, h); an RGBA figure with premultiplied alpha, so what lies under its
    transparent pixels never bleeds into the edge."""
    if img.shape[2] != 4:
        return cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    a = img[..., 3:].astype(np.float32) / 255.0
    rgb = cv2.resize(img[..., :3].astype(np.float32) * a, size, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(a[..., 0], size, interpolation=cv2.INTER_AREA)[..., None]
    rgb = np.where(alpha > 0, rgb / np.maximum(alpha, 1e-6), 0.0)
    return np.dstack([np.clip(rgb + 0.5, 0, 255), np.clip(alpha * 255 + 0.5, 0, 255)]).astype(np.uint8)


def _mirror_permutation() -> np.ndarray:
    """Index permutation turning the SIFT descriptor of a keypoint into that of the same keypoint in the
    left-right mirrored image: OpenCV lays the 128 values out as 4 x 4 spatial cells x 8 orientation bins;
    a mirror reverses one spatial axis and negates the angle (checked on real images: exact, distance 0)."""
    idx = np.arange(128).reshape(4, 4, 8)
    return np.ascontiguousarray(idx[::-1][:, :, (-np.arange(8)) % 8].reshape(-1))


MIRROR_PERMUTATION = _mirror_permutation()


def _plausible(
    hom: np.ndarray, ref_size: tuple[int, int], query_size: tuple[int, int], mirrored: bool = False
) -> tuple[bool, list]:
    """A copy maps the reference's outline to a convex quadrilateral close to a scaled/rotated rectangle:
    bounded size, aspect ratio and perspective. Random matches that RANSAC happens to fit rarely do, which
    is what lets a small inlier count count as evidence."""
    w, h = ref_size
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32).reshape(-1, 1, 2)
    quad = cv2.perspectiveTransform(corners, hom).reshape(-1, 2)
    if not np.all(np.isfinite(quad)):
        return False, []
    q32 = quad.astype(np.float32)
    if not cv2.isContourConvex(q32):
        return False, []
    # a copy keeps the outline's winding; a mirrored copy (found through mirrored descriptors) reverses it
    if (cv2.contourArea(q32, oriented=True) < 0) != mirrored:
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
    """Every reference keypoint's descriptor in one FAISS index, its id = reference id << 16 | keypoint.

    A query runs ONE k-NN search for all its descriptors (and their mirror images), votes per reference
    with a ratio test, and only the `CANDIDATES` best-voted references get the RANSAC check, so the
    geometric work does not grow with the registry. Exact (flat L2) while small; past `flat_limit`
    descriptors the index is trained once into IVF + 4-bit PQ (FastScan): approximate, ~16 bytes per
    descriptor, with a search cost that grows with nprobe/nlist instead of the registry size.
    """

    def __init__(self, flat_limit: int = FLAT_LIMIT, nlist: int = IVF_NLIST, nprobe: int = IVF_NPROBE) -> None:
        # an IndexIDMap2 over a flat index until it grows, then an IVF-PQ index (_to_ivf): typed as either
        self._index: Any = faiss.IndexIDMap2(faiss.IndexFlatL2(128))
        self._flat_limit = flat_limit
        self._nlist = nlist
        self._nprobe = nprobe
        self._points: dict[int, np.ndarray] = {}
        self._sizes: dict[int, tuple[int, int]] = {}
        self._flat: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None  # see _positions

    def __len__(self) -> int:
        return len(self._sizes)

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    @property
    def kind(self) -> str:
        return "flat" if isinstance(self._index, faiss.IndexIDMap2) else "ivf-pq"

    def add(self, reference_id: int, descriptor: KeypointSet) -> None:
        if not 0 <= reference_id < 1 << 46:
            raise ValueError(f"reference id {reference_id} out of range")
        if reference_id in self._sizes:
            self.remove(reference_id)
        self._sizes[reference_id] = descriptor.size
        self._flat = None
        n = min(len(descriptor.descriptors), 1 << ID_SHIFT)
        if n == 0:
            return
        self._points[reference_id] = np.ascontiguousarray(descriptor.points[:n], dtype=np.float32)
        ids = (np.int64(reference_id) << ID_SHIFT) | np.arange(n, dtype=np.int64)
        self._index.add_with_ids(np.ascontiguousarray(descriptor.descriptors[:n], dtype=np.float32), ids)
        if self.kind == "flat" and self._index.ntotal > self._flat_limit:
            self._to_ivf()

    def remove(self, reference_id: int) -> bool:
        """Delete a reference's descriptors from the index (unregister)."""
        if self._sizes.pop(reference_id, None) is None:
            return False
        self._flat = None
        self._points.pop(reference_id, None)
        lo = int(reference_id) << ID_SHIFT
        self._index.remove_ids(faiss.IDSelectorRange(lo, lo + (1 << ID_SHIFT)))
        return True

    def _to_ivf(self) -> None:
        flat: Any = faiss.downcast_index(self._index.index)  # an IndexFlatL2: get_xb is not on Index
        vectors = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * 128).reshape(-1, 128).copy()
        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        nlist = max(1, min(self._nlist, len(vectors) // 39))  # FAISS wants >= 39 training points per list
        # an HNSW graph over the centroids assigns each added/queried descriptor to its list cheaply
        ivf: Any = faiss.index_factory(128, f"IVF{nlist}_HNSW32,PQ{PQ_M}x4fs")
        faiss.extract_index_ivf(ivf).cp.max_points_per_centroid = 64  # bounds the one-off k-means
        ivf.train(vectors)
        ivf.nprobe = self._nprobe
        ivf.add_with_ids(vectors, ids)
        self._index = ivf

    def stats(self) -> dict[str, Any]:
        """Size and layout, for /health and the scale benchmark (serialising costs a copy of the index)."""
        return {
            "kind": self.kind,
            "references": len(self._sizes),
            "descriptors": self.ntotal,
            "nlist": self._nlist if self.kind != "flat" else None,
            "nprobe": self._nprobe if self.kind != "flat" else None,
            "faiss_bytes": int(faiss.serialize_index(self._index).nbytes),
            "points_bytes": int(sum(p.nbytes for p in self._points.values())),
        }

    def set_nprobe(self, nprobe: int) -> None:
        self._nprobe = nprobe
        if self.kind != "flat":
            self._index.nprobe = nprobe

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the FAISS index and the keypoint positions (two files beside `path`)."""
        path = Path(path)
        faiss.write_index(self._index, str(path.with_suffix(".faiss")))
        refs = np.array(sorted(self._sizes), dtype=np.int64)
        counts = np.array([len(self._points.get(int(r), ())) for r in refs], dtype=np.int64)
        pts = [self._points[int(r)] for r in refs if int(r) in self._points]
        np.savez(
            path.with_suffix(".npz"),
            refs=refs,
            counts=counts,
            sizes=np.array([self._sizes[int(r)] for r in refs], dtype=np.int64).reshape(-1, 2),
            points=np.concatenate(pts) if pts else np.zeros((0, 2), np.float32),
            config=np.array([self._flat_limit, self._nlist, self._nprobe], dtype=np.int64),
        )

    @classmethod
    def load(cls, path: Path) -> KeypointIndex:
        path = Path(path)
        with np.load(path.with_suffix(".npz")) as z:
            flat_limit, nlist, nprobe = (int(x) for x in z["config"])
            out = cls(flat_limit, nlist, nprobe)
            out._index = faiss.read_index(str(path.with_suffix(".faiss")))
            if out.kind != "flat":
                out._index.nprobe = nprobe
            starts = np.concatenate([[0], np.cumsum(z["counts"])])
            points = z["points"]
            for i, r in enumerate(z["refs"]):
                out._sizes[int(r)] = (int(z["sizes"][i, 0]), int(z["sizes"][i, 1]))
                if z["counts"][i]:
                    out._points[int(r)] = points[starts[i] : starts[i + 1]]
        return out

    # -- searching ------------------------------------------------------------------------------
    def _positions(self, refs: np.ndarray, kps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Reference-pixel positions of keypoints (ref, kp), and each one's reference longer side, by one
        vectorised lookup in all positions laid end to end (rebuilt after the index changes)."""
        if self._flat is None:
            ids = np.array(sorted(self._points), dtype=np.int64)
            counts = np.array([len(self._points[int(r)]) for r in ids], dtype=np.int64)
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
            pts = np.concatenate([self._points[int(r)] for r in ids]) if len(ids) else np.zeros((0, 2), np.float32)
            side = np.array([max(self._sizes[int(r)]) for r in ids], dtype=np.float32)
            self._flat = (ids, starts, pts, side)
        ids, starts, pts, side = self._flat
        at = np.clip(np.searchsorted(ids, refs), 0, max(0, len(ids) - 1))
        return pts[starts[at] + kps], side[at]

    def _votes(self, desc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(query row, reference id, reference keypoint, mirrored) of every descriptor pair passing the
        ratio test. Rows >= len(desc) are the mirrored descriptors."""
        n = len(desc)
        both = np.concatenate([desc, desc[:, MIRROR_PERMUTATION]])
        k = min(K, self._index.ntotal)
        dist, ids = self._index.search(both, k)
        dist = np.sqrt(np.maximum(dist, 0))
        refs = np.where(ids >= 0, ids >> ID_SHIFT, -1)
        first = refs[:, :1]
        same = (refs[:, 1:] == first) & (ids[:, 1:] >= 0)
        if TWIN_RADIUS > 0 and same.any():
            r, j = np.nonzero(same)
            kp = ids & ((1 << ID_SHIFT) - 1)
            p0, side = self._positions(refs[r, 0], kp[r, 0])
            pj, _ = self._positions(refs[r, j + 1], kp[r, j + 1])
            twin = np.linalg.norm(pj - p0, axis=1) <= TWIN_RADIUS * side
            same[r[twin], j[twin]] = False
        has = same.any(axis=1)
        nxt = same.argmax(axis=1) + 1
        # the next keypoint of the SAME reference; if none in the top k, the k-th is a lower bound
        # (fewer than k neighbours returned and none of the same reference: nothing else nearby)
        d2 = np.where(has, dist[np.arange(len(both)), nxt], np.where(ids[:, -1] < 0, np.inf, dist[:, -1]))
        ok = (ids[:, 0] >= 0) & (d2 > 0) & (dist[:, 0] < RATIO * d2)
        rows = np.nonzero(ok)[0]
        return rows % n, refs[rows, 0], ids[rows, 0] & ((1 << ID_SHIFT) - 1), rows >= n

    def search(self, descriptor: dict[str, Any]) -> list[SignalHit]:
        """Match the frame's keypoints; then, when the descriptor carries the full-resolution `image`,
        look again at the few windows where one reference's votes gather (zoom.propose), cut from the
        full frame and upscaled: a small copy that had too few keypoints for a homography."""
        query: KeypointSet = descriptor["keypoints"]
        scale = float(descriptor.get("scale", 1.0))
        if self._index.ntotal < 2 or len(query.descriptors) == 0:
            return []
        qrow, ref, rkp, mirrored = self._votes(np.ascontiguousarray(query.descriptors, dtype=np.float32))
        hits: dict[int, SignalHit] = {}
        self._verify(query, qrow, ref, rkp, mirrored, scale, hits)
        image = descriptor.get("image")
        if image is None:
            return list(hits.values())
        found = {r for r, h in hits.items() if h.score >= ZOOM_CONFIDENT}
        for (x0, y0, x1, y1), r in zoom.propose(query.points[qrow], ref * 2 + mirrored, query.size, found):
            if r in found:
                continue
            # the window in the full-resolution frame, grown by half a cell each side (a figure on its edge)
            pad = zoom.CELL / 2
            fx0, fy0 = max(0, round((x0 - pad) * scale)), max(0, round((y0 - pad) * scale))
            fx1, fy1 = min(image.shape[1], round((x1 + pad) * scale)), min(image.shape[0], round((y1 + pad) * scale))
            crop = np.ascontiguousarray(image[fy0:fy1, fx0:fx1])
            if min(crop.shape[:2]) < 16:
                continue
            near = extract(crop, ZOOM_SIDE, 2 * ZOOM_SIDE, ZOOM_FEATURES)
            if len(near.descriptors) == 0:
                continue
            # positions back in the matching frame, so the geometry check sees the copy's size in the frame
            pts = (near.points + np.array([fx0, fy0], np.float32)) / np.float32(scale)
            zq = KeypointSet(pts, near.descriptors, query.size)
            zr, zref, zkp, zmir = self._votes(np.ascontiguousarray(near.descriptors, dtype=np.float32))
            keep = zref == r  # the zoomed view may only confirm the reference whose votes proposed it
            self._verify(zq, zr[keep], zref[keep], zkp[keep], zmir[keep], scale, hits, zoomed=True)
            found |= {k for k, h in hits.items() if h.score >= ZOOM_CONFIDENT}
        return list(hits.values())

    def _verify(
        self,
        query: KeypointSet,
        qrow: np.ndarray,
        ref: np.ndarray,
        rkp: np.ndarray,
        mirrored: np.ndarray,
        scale: float,
        hits: dict[int, SignalHit],
        zoomed: bool = False,
    ) -> None:
        """RANSAC on the `CANDIDATES` best-voted (reference, mirrored) pairs; plausible ones into `hits`."""
        if len(qrow) == 0:
            return
        key = ref * 2 + mirrored
        keys, counts = np.unique(key, return_counts=True)
        order = np.argsort(-counts, kind="stable")
        for ki in order[:CANDIDATES]:
            if counts[ki] < MIN_MATCHES:
                break
            sel = key == keys[ki]
            r, mir = int(keys[ki] // 2), bool(keys[ki] % 2)
            if r not in self._points:
                continue
            src = self._points[r][rkp[sel]].reshape(-1, 1, 2)
            dst = query.points[qrow[sel]].reshape(-1, 1, 2)
            hom, mask = cv2.findHomography(src, dst, cv2.RANSAC, RANSAC_PX, maxIters=2000, confidence=0.995)
            if hom is None or mask is None:
                continue
            inliers = int(mask.sum())
            ok, quad = _plausible(hom, self._sizes[r], query.size, mirrored=mir)
            if not ok:
                continue
            evidence = {
                "inliers": inliers,
                "matches": int(sel.sum()),
                "mirrored": mir,
                "region": [[round(x * scale, 1), round(y * scale, 1)] for x, y in quad],
            }
            if zoomed:
                evidence["zoomed"] = True
            hit = SignalHit(r, logistic((inliers - MATCH_INLIERS) / SLOPE), evidence)
            if r not in hits or hit.score > hits[r].score:
                hits[r] = hit


class KeypointSignal(Signal):
    name = "keypoints"
    version = f"opencv-{cv2.__version__}/sift+ransac/figures-2/views-48-64-96-128/twins"
    index_type = "SIFT descriptors in faiss (flat L2, then IVF-PQ FastScan), votes + RANSAC on top candidates"

    def available(self) -> tuple[bool, str]:
        if not hasattr(cv2, "SIFT_create"):
            return False, "this OpenCV build has no SIFT"
        return True, "OpenCV SIFT + RANSAC homography, no weights needed"

    def describe_reference(self, img: np.ndarray) -> KeypointSet:
        full = extract(img, REF_MIN_SIDE, REF_MAX_SIDE, REF_MAX_FEATURES)
        pts, desc = [full.points], [full.descriptors]
        for side in SMALL_VIEWS:
            s = side / max(img.shape[:2])
            if s > 0.8:  # the reference itself is about this small: the full view is this view
                continue
            small = _shrink(img, (max(8, round(img.shape[1] * s)), max(8, round(img.shape[0] * s))))
            view = extract(small, 0, max(small.shape[:2]), SMALL_VIEW_FEATURES)  # as it is: no upscaling
            pts.append(view.points / np.float32(s))
            desc.append(view.descriptors)
        return KeypointSet(np.concatenate(pts), np.concatenate(desc), full.size)

    def describe_query(self, img: np.ndarray) -> dict[str, Any]:
        small = fit_within(img, QUERY_MAX_SIDE)
        # matching runs in the (possibly downscaled) frame; `scale` maps regions back to the original
        return {
            "keypoints": extract(small, QUERY_MIN_SIDE, QUERY_MAX_SIDE, QUERY_MAX_FEATURES),
            "scale": img.shape[1] / small.shape[1],
            "image": img,  # the full-resolution frame, for the zoomed second look (search)
        }

    def new_index(self) -> KeypointIndex:
        return KeypointIndex()
