"""The PDQ index every perceptual signal of every bank is matched through, and the rule that turns frame
hits into matches.

Multi-index hashing (faiss.IndexBinaryMultiHash, 16 maps of 16 bits, 1 bit flipped per probe): a hash within
31 bits of a stored one agrees with it to within 1 bit on at least one of the 16 chunks (16 x 2 > 31), so
every stored hash within the threshold is found, with no scan. It is the structure threatexchange's
PDQIndex uses; that class takes hex strings one Python object at a time and rebuilds a reverse map on every
add, so the index is built here from numpy arrays in one call (1,000,000 hashes: see evals/bank_index).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import faiss
import numpy as np

from safety.hashbank.signals import DISTANCE_THRESHOLD, PDQ

BITS = 256
NHASH = 16
# vPDQ: a clip matches a banked video when at least this share of its usable frames match frames of it
# (threatexchange's default is 80%; a crop of a banked clip lands a few frames past 31 bits, see CROP_KEEPS)
QUERY_MATCH_PERCENT = 50.0
MIN_MATCHED_FRAMES = 2  # and at least this many (one, for a single picture)


@dataclass
class Match:
    group: str  # the entries matched together: one signal, or every variant banked for one clip
    entry_id: int  # the group's entry with the best frame
    distance: int  # best frame distance
    matched_frames: int  # query frames within the threshold of this entry
    query_frames: int  # usable (quality) query frames
    entry_frames: int
    via: str  # which query variant matched best ("as is", "mirror")
    times: list[float] = field(default_factory=list)  # where in the banked video the matched frames are

    @property
    def query_match_percent(self) -> float:
        return 100.0 * self.matched_frames / max(1, self.query_frames)

    @property
    def compared_match_percent(self) -> float:
        return 100.0 * len(set(self.times)) / max(1, self.entry_frames)


class PdqIndex:
    """Stored hashes with, per row, the bank entry they belong to and the time of the frame in it."""

    def __init__(self) -> None:
        self._index = faiss.IndexBinaryMultiHash(BITS, NHASH, BITS // NHASH)
        self._index.nflip = DISTANCE_THRESHOLD // NHASH
        self._entry = np.empty(0, np.int64)
        self._time = np.empty(0, np.float32)
        self.entry_frames: dict[int, int] = {}
        self.entry_type: dict[int, str] = {}
        self.entry_group: dict[int, str] = {}
        self.max_entry_id = -1
        self.entries = 0

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, entry_id: int, signal_type: str, codes: np.ndarray, times: np.ndarray, group: str = "") -> None:
        self.add_many(np.full(len(codes), entry_id, np.int64), codes, times, {entry_id: (signal_type, group)})

    def add_many(self, entry_ids: np.ndarray, codes: np.ndarray, times: np.ndarray,
                 entries: dict[int, tuple[str, str]]) -> None:
        """Rows of (entry id, 32-byte code, frame time); `entries`: each new entry's signal type and group
        (entries of one group are matched as one: the crops banked beside a clip; "" = the entry alone)."""
        if len(codes):
            self._index.add(np.ascontiguousarray(codes, dtype=np.uint8).reshape(-1, BITS // 8))
            self._entry = np.concatenate([self._entry, np.asarray(entry_ids, np.int64)])
            self._time = np.concatenate([self._time, np.asarray(times, np.float32)])
            ids, counts = np.unique(entry_ids, return_counts=True)
            for i, n in zip(ids.tolist(), counts.tolist(), strict=True):
                self.entry_frames[i] = self.entry_frames.get(i, 0) + n
        for eid, (stype, group) in entries.items():
            self.entry_type[eid] = stype
            self.entry_group[eid] = group or f"entry:{eid}"
            self.max_entry_id = max(self.max_entry_id, eid)
        self.entries = len(self.entry_type)

    def search(self, codes: np.ndarray, radius: int = DISTANCE_THRESHOLD) -> list[tuple[int, int, int, float]]:
        """(query row, entry id, distance, frame time) of every stored hash within `radius` bits."""
        if self._index.ntotal == 0 or len(codes) == 0:
            return []
        lims, dist, ids = self._index.range_search(np.ascontiguousarray(codes, dtype=np.uint8), radius + 1)
        out = []
        for q in range(len(codes)):
            for j in range(lims[q], lims[q + 1]):
                out.append((q, int(self._entry[ids[j]]), int(dist[j]), float(self._time[ids[j]])))
        return out

    def match(self, frames: list[list[tuple[str, bytes]]], radius: int = DISTANCE_THRESHOLD) -> list[Match]:
        """Matches of a picture or a clip given as its usable frames, each as its query variants."""
        rows, names = [], []
        for fi, variants in enumerate(frames):
            for name, code in variants:
                rows.append((fi, name))
                names.append(code)
        if not rows:
            return []
        codes = np.frombuffer(b"".join(names), np.uint8).reshape(-1, BITS // 8)
        # group -> query frame -> (distance, variant, time in the banked video, entry)
        best: dict[str, dict[int, tuple[int, str, float, int]]] = defaultdict(dict)
        for q, entry, d, t in self.search(codes, radius):
            fi, name = rows[q]
            group = self.entry_group.get(entry, f"entry:{entry}")
            if fi not in best[group] or d < best[group][fi][0]:
                best[group][fi] = (d, name, t, entry)
        n = len(frames)
        out = []
        for group, per_frame in best.items():
            d, via, _, entry = min(per_frame.values())
            m = Match(group, entry, d, len(per_frame), n, self.entry_frames.get(entry, 1), via,
                      sorted(t for _, _, t, _ in per_frame.values()))
            picture = self.entry_type.get(entry) == PDQ  # a banked picture: one frame showing it is a match
            video = m.matched_frames >= min(MIN_MATCHED_FRAMES, n) and m.query_match_percent >= QUERY_MATCH_PERCENT
            if picture or video:
                out.append(m)
        return sorted(out, key=lambda m: (m.distance, -m.matched_frames))
