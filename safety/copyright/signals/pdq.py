"""PDQ perceptual hash (Meta's 256-bit DCT hash, `pdqhash` binding) in a FAISS binary Hamming index.

References are hashed as registered plus a few crops of themselves, so a crop of a reference lands near
one of its stored hashes; queries are hashed in all 8 dihedral variants (mirror, rotations), so a mirrored
copy matches the unmirrored reference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np

from safety.copyright.signals.base import Signal, SignalHit, SignalIndex, logistic

try:
    import pdqhash
except ImportError:  # reported by available(); never silently skipped
    pdqhash = None

BITS = 256
# Hamming distance at which a hash pair scores 0.5. Meta's published PDQ match threshold is 31; unrelated
# content sits near 128. The slope keeps 31 at ~0.9 and 70 near 0.
MATCH_DISTANCE = 45
SLOPE = 6.0
SEARCH_RADIUS = 70  # nothing farther is returned at all
MIN_QUALITY = 50  # PDQ's own guidance: hashes of flat images (quality < 50) are not reliable
MIN_SIDE = 64  # smaller images are upscaled before hashing (_at_least)
# Crops added to each reference (fraction kept, anchor): covers the usual "cut the edges off" edits.
REFERENCE_CROPS: tuple[tuple[float, str], ...] = (
    (0.8, "center"),
    (0.8, "tl"),
    (0.8, "tr"),
    (0.8, "bl"),
    (0.8, "br"),
    (0.9, "center"),
    (0.65, "center"),
)

# A small reference (shorter side under THUMB_BELOW px) is also hashed as its thumbnail at these fractions of
# its size: hashed through _at_least, a 16 px thumbnail of a 32 px drawing is blown up from a quarter of the
# pixels the reference was, and lands farther than its crops do (see _thumbnails)
THUMB_BELOW = 2 * 64
THUMB_FRACTIONS = (0.5,)

# Backgrounds a figure (a reference with transparency) is hashed on; see images.figure_on
FIGURE_BACKGROUNDS = ("white", "black", "grey", "noise", "texture")


def _pack(bits: np.ndarray) -> np.ndarray:
    return np.packbits(np.asarray(bits, dtype=np.uint8)[:BITS])


def _at_least(img: np.ndarray, side: int = MIN_SIDE) -> np.ndarray:
    """The image upscaled (bicubic) so its shorter side is at least `side`: PDQ works on a 64 x 64
    reduction, and an image smaller than that is blown up blockily inside pdqhash. Done alike for
    references and queries, a half-size thumbnail of a small drawing lands nearer its reference (on the
    development figures of evals/copyright_small.py, 32 px drawings as references and their 16 px halves
    as queries: median distance 42 -> 36, 13 -> 16 of 19 within MATCH_DISTANCE, nearest other drawing
    84)."""
    h, w = img.shape[:2]
    if min(h, w) >= side:
        return np.ascontiguousarray(img)
    import cv2

    s = side / min(h, w)
    return cv2.resize(np.ascontiguousarray(img), (round(w * s), round(h * s)), interpolation=cv2.INTER_CUBIC)


def pdq_hash(img: np.ndarray) -> tuple[bytes, int]:
    """(32-byte hash, quality 0..100) of an RGB image."""
    if pdqhash is None:
        raise RuntimeError("pdqhash is not installed")
    bits, quality = pdqhash.compute(_at_least(img))
    return _pack(bits).tobytes(), int(quality)


def _crop(img: np.ndarray, keep: float, anchor: str) -> np.ndarray:
    h, w = img.shape[:2]
    ch, cw = max(1, round(h * keep)), max(1, round(w * keep))
    y = {"t": 0, "b": h - ch}.get(anchor[0], (h - ch) // 2) if anchor != "center" else (h - ch) // 2
    x = {"l": 0, "r": w - cw}.get(anchor[-1], (w - cw) // 2) if anchor != "center" else (w - cw) // 2
    return img[y : y + ch, x : x + cw]


def _thumbnails(img: np.ndarray) -> list[tuple[str, bytes, int]]:
    """Hashes of a small reference's thumbnails (INTER_AREA, as a browser or an uploader shrinks): on the
    development figures of evals/copyright_small.py (32 px drawings, their 16 px halves queried) 17 -> 18
    of 19 found, the nearest other drawing 88 -> 84 (match 45). Larger references need none: their
    halves are hashed from 64 px or more, as PDQ itself reduces them."""
    import cv2

    h, w = img.shape[:2]
    if min(h, w) >= THUMB_BELOW:
        return []
    out = []
    for f in THUMB_FRACTIONS:
        size = (max(1, round(w * f)), max(1, round(h * f)))
        out.append((f"thumbnail {f:.0%}", *pdq_hash(cv2.resize(img, size, interpolation=cv2.INTER_AREA))))
    return out


def hamming(a: bytes, b: bytes) -> int:
    return int(np.unpackbits(np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)).sum())


class PdqIndex(SignalIndex):
    def __init__(self) -> None:
        self._index: faiss.IndexBinary = faiss.IndexBinaryFlat(BITS)
        self._ref_ids: list[int] = []
        self._variant: list[str] = []
        self._refs: set[int] = set()

    def add(self, reference_id: int, descriptor: list[tuple[str, bytes, int]]) -> None:
        rows = [(v, h) for v, h, q in descriptor if q >= MIN_QUALITY]
        if not rows:
            return
        codes = np.stack([np.frombuffer(h, np.uint8) for _, h in rows])
        self._index.add(codes)
        self._ref_ids.extend([reference_id] * len(rows))
        self._variant.extend(v for v, _ in rows)
        self._refs.add(reference_id)

    def add_codes(self, reference_ids: np.ndarray, codes: np.ndarray) -> None:
        """Bulk add of raw 32-byte codes (used by the scale benchmark)."""
        self._index.add(np.ascontiguousarray(codes, dtype=np.uint8))
        self._ref_ids.extend(int(r) for r in reference_ids)
        self._variant.extend(["as registered"] * len(reference_ids))
        self._refs.update(int(r) for r in reference_ids)

    def __len__(self) -> int:
        return len(self._refs)

    def save(self, path: Path) -> None:
        path = Path(path)
        faiss.write_index_binary(self._index, str(path.with_suffix(".faissb")))
        np.savez(path.with_suffix(".npz"), ref_ids=np.array(self._ref_ids, np.int64), variant=np.array(self._variant))

    @classmethod
    def load(cls, path: Path) -> PdqIndex:
        path = Path(path)
        out = cls()
        out._index = faiss.read_index_binary(str(path.with_suffix(".faissb")))
        with np.load(path.with_suffix(".npz")) as z:
            out._ref_ids = [int(r) for r in z["ref_ids"]]
            out._variant = [str(v) for v in z["variant"]]
        out._refs = set(out._ref_ids)
        if len(out._ref_ids) != out._index.ntotal:
            raise ValueError(f"{path.name}: {len(out._ref_ids)} ids for {out._index.ntotal} hashes")
        return out

    def nearest_distance(self, descriptor: dict[str, Any]) -> int | None:
        """Smallest Hamming distance from any dihedral variant of the query to any stored hash (for
        calibration and margins; None when the index is empty)."""
        if self._index.ntotal == 0:
            return None
        queries = np.stack([np.frombuffer(h, np.uint8) for _, h in descriptor["hashes"]])
        dist, _ = self._index.search(queries, 1)
        return int(dist.min())

    def search(self, descriptor: dict[str, Any]) -> list[SignalHit]:
        if self._index.ntotal == 0 or descriptor["quality"] < MIN_QUALITY:
            return []
        queries = np.stack([np.frombuffer(h, np.uint8) for _, h in descriptor["hashes"]])
        lims, dist, ids = self._index.range_search(queries, SEARCH_RADIUS + 1)
        best: dict[int, tuple[int, str, str]] = {}
        for qi in range(len(queries)):
            for j in range(lims[qi], lims[qi + 1]):
                ref = self._ref_ids[ids[j]]
                d = int(dist[j])
                if ref not in best or d < best[ref][0]:
                    best[ref] = (d, descriptor["hashes"][qi][0], self._variant[ids[j]])
        return [
            SignalHit(
                ref,
                logistic((MATCH_DISTANCE - d) / SLOPE),
                {
                    "distance": d,
                    "query_transform": qt,
                    "reference_variant": rv,
                    "quality": descriptor["quality"],
                },
            )
            for ref, (d, qt, rv) in best.items()
        ]


class PdqSignal(Signal):
    name = "pdq"
    version = "pdqhash-0.2.8/256bit/figures-1/min64/thumbs-50"
    index_type = "faiss.IndexBinaryFlat(256), Hamming"

    def available(self) -> tuple[bool, str]:
        if pdqhash is None:
            return False, "the pdqhash package is not installed"
        return True, "PDQ (pdqhash) with dihedral queries, no weights needed"

    def describe_reference(self, img: np.ndarray) -> list[tuple[str, bytes, int]]:
        if img.shape[2] == 4:
            return self._describe_figure(img)
        out = [("as registered", *pdq_hash(img))]
        for keep, anchor in REFERENCE_CROPS:
            out.append((f"crop {keep:.0%} {anchor}", *pdq_hash(_crop(img, keep, anchor))))
        return out + _thumbnails(img)

    def _describe_figure(self, img: np.ndarray) -> list[tuple[str, bytes, int]]:
        """An RGBA figure: a global hash sees the background as much as the figure, so hash the figure on
        each background it is likely to be shown on, as registered (crops included, on white) and cropped
        tightly to its alpha bounding box (how it sits when pasted into another picture)."""
        from safety.copyright.images import alpha_bbox, figure_on

        out = [(f"{v} on white", h, q) for v, h, q in self.describe_reference(figure_on(img, "white"))]
        box = alpha_bbox(img[..., 3])
        for bg in FIGURE_BACKGROUNDS:
            flat = figure_on(img, bg)
            if bg != "white":
                out.append((f"on {bg}", *pdq_hash(flat)))
            if box is not None and min(box[2] - box[0], box[3] - box[1]) >= 16:
                x0, y0, x1, y1 = box
                out.append((f"alpha box on {bg}", *pdq_hash(flat[y0:y1, x0:x1])))
        return out

    def describe_query(self, img: np.ndarray) -> dict[str, Any]:
        if pdqhash is None:
            raise RuntimeError("pdqhash is not installed")
        hashes, quality = pdqhash.compute_dihedral(_at_least(img))
        # pdqhash's order: original, rot90, rot180, rot270, flipX (upside down), flipY (left-right mirror),
        # and the two diagonal flips (checked: an np.fliplr copy matches variant 5 at distance 0).
        names = [
            "as is",
            "rot90",
            "rot180",
            "rot270",
            "flip vertical",
            "mirror",
            "transpose",
            "anti-transpose",
        ]
        return {
            "hashes": [(n, _pack(h).tobytes()) for n, h in zip(names, hashes, strict=True)],
            "quality": int(quality),
        }

    def new_index(self) -> PdqIndex:
        return PdqIndex()
