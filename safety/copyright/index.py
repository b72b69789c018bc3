"""The copyright similarity index: every available signal's index over the registered references,
rebuilt from the database, updated on register, with a checkpoint of what it covers.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func
from sqlmodel import Session, col, select

from safety.copyright.errors import CopyrightError
from safety.copyright.fusion import MATCH_SCORE, Match, WorkEvidence
from safety.copyright.images import read_image_file, validate_array
from safety.copyright.models import Work, WorkReference, row_id
from safety.copyright.signals import ClipSignal, KeypointSignal, PdqSignal, Signal, SignalIndex
from safety.copyright.video import sample_frames

# media key -> decoded RGB array, or -> path of the stored file
ImageLoader = Callable[[str], "np.ndarray | Path | str"]
STORE_FORMAT = 1  # bump when the saved layout changes: an old store is then rebuilt, never misread
VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".gif", ".mpg", ".mpeg", ".ts"}


@dataclass
class IndexCheckpoint:
    """What the index covers; compare with the database to know whether it is stale."""

    works: int = 0
    references: int = 0
    max_reference_id: int = 0
    built_at: str = ""
    per_signal: dict[str, int] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)  # reference id -> why it is not indexed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _WorkInfo:
    name: str
    owner: str
    policy: str


class CopyrightIndex:
    def __init__(
        self,
        clip_weights: Path | None = None,
        clip_model: str = "ViT-B-32",
        signals: Iterable[Signal] | None = None,
    ) -> None:
        self.signals: list[Signal] = (
            list(signals)
            if signals is not None
            else [PdqSignal(), KeypointSignal(), ClipSignal(clip_weights, clip_model)]
        )
        self._lock = threading.RLock()
        self.last_timings: dict[str, tuple[float, float]] = {}
        self.save_error = ""
        self._reset()

    # -- building -------------------------------------------------------------------------------
    def _reset(self) -> None:
        self._status = {s.name: s.status() for s in self.signals}
        self._active = [s for s in self.signals if self._status[s.name]["ran"]]
        self._indexes: dict[str, SignalIndex] = {s.name: s.new_index() for s in self._active}
        self._works: dict[int, _WorkInfo] = {}
        self._ref_work: dict[int, int] = {}
        self.checkpoint = IndexCheckpoint(built_at=datetime.now(UTC).isoformat())

    def signals_status(self) -> dict[str, dict[str, Any]]:
        return {name: dict(st) for name, st in self._status.items()}

    def rebuild(self, session: Session, load_image: ImageLoader) -> IndexCheckpoint:
        """Index every reference in the database from scratch. `load_image(media_key) -> RGB array | path`."""
        with self._lock:
            self._reset()
            works = {row_id(w): w for w in session.exec(select(Work))}
            refs = list(session.exec(select(WorkReference).order_by(col(WorkReference.id))))
            for wid, w in works.items():
                self._works[wid] = _WorkInfo(w.name, w.owner, w.policy)
            for ref in refs:
                if ref.work_id in works:
                    self._add_reference(ref, load_image)
            self.checkpoint.works = len(self._works)
            self.checkpoint.built_at = datetime.now(UTC).isoformat()
            return self.checkpoint

    def add_work(self, work: Work, refs: list[WorkReference], load_image: ImageLoader) -> None:
        """Index a just-registered work (call after register_work commits)."""
        with self._lock:
            self._works[row_id(work)] = _WorkInfo(work.name, work.owner, work.policy)
            for ref in refs:
                self._add_reference(ref, load_image)
            self.checkpoint.works = len(self._works)

    def remove_work(self, work_id: int) -> None:
        """Stop matching a deleted work at once and delete its references from the indexes that support
        deletion (keypoints); the others only stop reporting it until the next rebuild."""
        with self._lock:
            self._works.pop(work_id, None)
            for ref_id in [r for r, w in self._ref_work.items() if w == work_id]:
                del self._ref_work[ref_id]
                for index in self._indexes.values():
                    index.remove(ref_id)
            self.checkpoint.works = len(self._works)

    def add_descriptors(
        self, work_id: int, name: str, owner: str, policy: str, reference_id: int, descriptors: dict[str, Any]
    ) -> None:
        """Index descriptors computed elsewhere (bulk loads, the scale benchmark): signal name -> descriptor
        as that signal's describe_reference returns it. Signals not given are not indexed for it."""
        with self._lock:
            self._works.setdefault(work_id, _WorkInfo(name, owner, policy))
            self._ref_work[reference_id] = work_id
            for sig in self._active:
                if sig.name in descriptors:
                    self._indexes[sig.name].add(reference_id, descriptors[sig.name])
            self.checkpoint.works = len(self._works)

    def index_of(self, signal: str) -> SignalIndex | None:
        return self._indexes.get(signal)

    def update_work(self, work: Work) -> None:
        with self._lock:
            if work.id in self._works:
                self._works[work.id] = _WorkInfo(work.name, work.owner, work.policy)

    def _add_reference(self, ref: WorkReference, load_image: ImageLoader) -> None:
        try:
            loaded = load_image(ref.media)
            # a reference with transparency stays RGBA: each signal describes it as a figure
            if isinstance(loaded, np.ndarray):
                img = validate_array(loaded, f"reference {ref.id}", allow_alpha=True)
            else:  # a path to the stored file
                img = read_image_file(loaded, f"reference {ref.id}", keep_alpha=True)
        except (CopyrightError, OSError) as exc:
            self.checkpoint.skipped[row_id(ref)] = str(exc)[:200]
            return
        rid = row_id(ref)
        self._ref_work[rid] = ref.work_id
        for sig in self._active:
            self._indexes[sig.name].add(rid, sig.describe_reference(img))
            self.checkpoint.per_signal[sig.name] = len(self._indexes[sig.name])
        self.checkpoint.references += 1
        self.checkpoint.max_reference_id = max(self.checkpoint.max_reference_id, rid)

    # -- persistence and catching up with the database -----------------------------------------------
    def save(self, store_dir: Path) -> None:
        """Write every signal's index and the reference -> work map; `restore` reads them back. Written
        to a temporary folder first and swapped in, so a crash never leaves a half-written index."""
        with self._lock:
            store_dir = Path(store_dir)
            tmp = store_dir.with_name(f"{store_dir.name}.tmp{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            for sig in self._active:
                self._indexes[sig.name].save(tmp / sig.name)
            meta = {
                "format": STORE_FORMAT,
                "signals": {s.name: s.version for s in self._active},
                "ref_work": {str(r): w for r, w in self._ref_work.items()},
                "checkpoint": self.checkpoint.to_dict(),
            }
            (tmp / "meta.json").write_text(json.dumps(meta))
            old = store_dir.with_name(f"{store_dir.name}.old{os.getpid()}")
            shutil.rmtree(old, ignore_errors=True)
            if store_dir.exists():
                store_dir.rename(old)
            tmp.rename(store_dir)
            shutil.rmtree(old, ignore_errors=True)

    def restore(self, store_dir: Path) -> tuple[bool, str]:
        """Load a saved index made by the same signals (same versions); (False, why) when it cannot."""
        store_dir = Path(store_dir)
        try:
            meta = json.loads((store_dir / "meta.json").read_text())
            if meta.get("format") != STORE_FORMAT:
                return False, f"format {meta.get('format')} is not {STORE_FORMAT}"
            want = {s.name: s.version for s in self._active}
            if meta["signals"] != want:
                return False, f"saved with signals {meta['signals']}, running {want}"
            indexes = {s.name: s.load_index(store_dir / s.name) for s in self._active}
        except FileNotFoundError:
            return False, "no saved index"
        except (OSError, ValueError, KeyError, RuntimeError, NotImplementedError) as exc:
            return False, f"unreadable saved index: {type(exc).__name__}: {exc}"[:300]
        with self._lock:
            self._reset()
            self._indexes = indexes
            self._ref_work = {int(r): int(w) for r, w in meta["ref_work"].items()}
            cp = dict(meta["checkpoint"])
            cp["skipped"] = {int(k): v for k, v in cp.get("skipped", {}).items()}
            self.checkpoint = IndexCheckpoint(**cp)
        return True, ""

    def refresh(self, session: Session, load_image: ImageLoader) -> tuple[int, int]:
        """Catch up with the database without re-describing what is indexed: index references this index
        has not seen, delete those no longer there, reload work names and policies. (added, removed)."""
        with self._lock:
            works = {row_id(w): w for w in session.exec(select(Work))}
            self._works = {wid: _WorkInfo(w.name, w.owner, w.policy) for wid, w in works.items()}
            db_ids = {i for i in session.exec(select(WorkReference.id)) if i is not None}
            gone = [r for r in self._ref_work if r not in db_ids]
            for r in gone:
                del self._ref_work[r]
                for index in self._indexes.values():
                    index.remove(r)
            for r in [r for r in self.checkpoint.skipped if r not in db_ids]:
                del self.checkpoint.skipped[r]
            known = set(self._ref_work) | set(self.checkpoint.skipped)
            new = sorted(r for r in db_ids if r not in known)
            for i in range(0, len(new), 500):  # bounded IN lists (SQLite's variable limit)
                chunk = new[i : i + 500]
                for ref in session.exec(select(WorkReference).where(col(WorkReference.id).in_(chunk))):
                    if ref.work_id in works:
                        self._add_reference(ref, load_image)
            cp = self.checkpoint
            cp.works, cp.references = len(self._works), len(self._ref_work)
            cp.max_reference_id = max(self._ref_work, default=0)
            for sig in self._active:
                cp.per_signal[sig.name] = len(self._indexes[sig.name])
            return len(new), len(gone)

    def open(self, store_dir: Path, session: Session, load_image: ImageLoader) -> IndexCheckpoint:
        """Restore the saved index (else rebuild from the database), catch up, save when anything changed."""
        ok, _ = self.restore(store_dir)
        if ok:
            added, removed = self.refresh(session, load_image)
            changed = bool(added or removed)
        else:
            self.rebuild(session, load_image)
            changed = True
        if changed:
            self.try_save(store_dir)
        return self.checkpoint

    def try_save(self, store_dir: Path) -> str:
        """save(), but a read-only or full disk costs the next start a rebuild instead of failing this
        request: returns the error ('' when saved), also kept in `save_error`."""
        try:
            self.save(store_dir)
            self.save_error = ""
        except OSError as exc:
            self.save_error = f"copyright index not saved to {store_dir}: {exc}"[:300]
        return self.save_error

    def is_stale(self, session: Session) -> bool:
        """True when the database holds references this index has not seen (another worker registered)."""
        n, mx = session.exec(select(func.count(col(WorkReference.id)), func.max(col(WorkReference.id)))).one()
        covered = self.checkpoint.references + len(self.checkpoint.skipped)
        return int(n or 0) != covered or int(mx or 0) > max(
            self.checkpoint.max_reference_id, max(self.checkpoint.skipped, default=0)
        )

    # -- querying -------------------------------------------------------------------------------
    def _collect(self, img: np.ndarray, frame: int | None, t: float | None, evidence: dict[int, WorkEvidence]) -> None:
        img = validate_array(img, "frame" if frame is not None else "image")
        for sig in self._active:
            if len(self._indexes[sig.name]) == 0:
                continue  # nothing registered for this signal: no need to describe the frame (SIFT: ~0.1 s)
            t0 = time.perf_counter()
            desc = sig.describe_query(img)
            t1 = time.perf_counter()
            found = self._indexes[sig.name].search(desc)
            # seconds spent per signal on the last image: describing it, searching the index
            self.last_timings[sig.name] = (t1 - t0, time.perf_counter() - t1)
            for hit in found:
                wid = self._ref_work.get(hit.reference_id)
                if wid is None or wid not in self._works:
                    continue
                evidence.setdefault(wid, WorkEvidence()).offer(
                    sig.name, hit.score, hit.reference_id, frame, t, hit.evidence
                )

    def _matches(self, evidence: dict[int, WorkEvidence], min_score: float) -> list[Match]:
        off = {n: {"ran": False, "why": st["why"]} for n, st in self._status.items() if not st["ran"]}
        out = []
        for wid, ev in evidence.items():
            score = ev.fused()
            if score < min_score:
                continue
            info = self._works[wid]
            lead = ev.lead()
            out.append(
                Match(
                    work_id=wid,
                    work=info.name,
                    score=score,
                    signals={**ev.best, **off},
                    frame=lead["frame"],
                    reference_id=lead["reference_id"],
                    owner=info.owner,
                    policy=info.policy,
                    time=lead["time"],
                )
            )
        return sorted(out, key=lambda m: -m.score)

    def check_image(self, img: np.ndarray, min_score: float = MATCH_SCORE) -> list[Match]:
        with self._lock:
            evidence: dict[int, WorkEvidence] = {}
            self._collect(img, None, None, evidence)
            return self._matches(evidence, min_score)

    def check_frames(
        self, frames: Iterable[tuple[int, float | None, np.ndarray]], min_score: float = MATCH_SCORE
    ) -> list[Match]:
        with self._lock:
            evidence: dict[int, WorkEvidence] = {}
            for i, t, frame in frames:
                self._collect(frame, i, t, evidence)
            return self._matches(evidence, min_score)

    def check_video(self, path: Path, sample_every: float = 0.5, min_score: float = MATCH_SCORE) -> list[Match]:
        return self.check_frames(sample_frames(Path(path), sample_every), min_score)

    def check_path(self, path: Path, sample_every: float = 0.5, min_score: float = MATCH_SCORE) -> list[Match]:
        """An image or a video file (by suffix; GIFs are treated as video)."""
        path = Path(path)
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return self.check_video(path, sample_every, min_score)
        return self.check_image(read_image_file(path), min_score)
