"""Hash banks: lists of known media with a policy each (block, review, log), matched at the frame gate, in the
verify report and by `reelgate banks check`. Every takedown adds the clip's hashes to the bank `removed`, so a
re-upload, a remix source or a generation that reproduces it is recognised (stay-down).

The takedown path calls, in this order:
    signals = clip_signals(path_of_the_clip)                  # outside the transaction: decodes the clip
    add_to_removed_bank(s, job_id, signals, actor, reason)    # inside the takedown's write transaction
and an appeal that restores a clip calls lift_from_removed_bank(s, job_id, actor).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from gate import audit
from gate.components import Components
from gate.db import session_scope
from gate.decision import Verdict
from safety.hashbank import exchange
from safety.hashbank import signals as sig
from safety.hashbank.index import Match, PdqIndex
from safety.hashbank.models import BankEntry, BankPolicy, HashBank

REMOVED = "removed"  # the bank every takedown feeds
FRAME_EVERY_SECONDS = 0.5  # what the frame gate samples, and what a checked file is sampled at
# A banked clip is hashed far more densely than a query: a re-upload's frames (an excerpt, another frame rate)
# fall between banked ones, and in a fast pan the next frame is already past 31 bits (bikes: 108 bits 0.04 s
# apart). Every frame of the whole picture up to 30 per second, each centred crop 10 per second.
BANK_EVERY_SECONDS = 1 / 30
BANK_CROP_EVERY_SECONDS = 0.1
BANK_MAX_SECONDS = 300.0  # longer clips are banked by their first 5 minutes
MAX_QUERY_FRAMES = 64
MAX_FILE_BYTES = 256 * 1024 * 1024
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-.")
ORDER = {BankPolicy.log.value: 0, BankPolicy.review.value: 1, BankPolicy.block.value: 2}


class BankError(ValueError):
    """Something the caller asked for that cannot be done (a 4xx): nothing was changed."""


class BankNotFound(LookupError):
    pass


@dataclass(frozen=True)
class BankSignal:
    signal_type: str
    signal: str  # normalised
    note: str = ""


# --- banks ---

def _check_name(name: str) -> str:
    name = name.strip().lower()
    if not name or len(name) > 64 or not set(name) <= NAME_CHARS:
        raise BankError("a bank name is 1-64 characters of a-z, 0-9, '_', '-', '.'")
    return name


def _check_policy(policy: str) -> str:
    if policy not in ORDER:
        raise BankError(f"policy must be one of {', '.join(p.value for p in BankPolicy)}")
    return policy


def _bank(s: Session, name: str) -> HashBank | None:
    return s.exec(select(HashBank).where(HashBank.name == name)).first()


def ensure_bank(s: Session, name: str, policy: str | None, actor: str, description: str = "") -> HashBank:
    """The bank, made if missing (policy block unless given); a given policy replaces the bank's."""
    name = _check_name(name)
    bank = _bank(s, name)
    if bank is None:
        bank = HashBank(name=name, policy=_check_policy(policy or BankPolicy.block.value), created_by=actor,
                        description=description or ("hashes of every clip taken down" if name == REMOVED else ""))
        s.add(bank)
        s.flush()
        audit.append_in(s, actor, "bank.created", name, {"policy": bank.policy})
    elif policy is not None and policy != bank.policy:
        audit.append_in(s, actor, "bank.policy", name, {"from": bank.policy, "to": _check_policy(policy)})
        bank.policy = policy
        s.add(bank)
    return bank


def list_banks(c: Components) -> list[dict[str, Any]]:
    with session_scope(c.engine) as s:
        banks = s.exec(select(HashBank).order_by(col(HashBank.name))).all()
        counts = s.exec(select(BankEntry.bank_id, BankEntry.signal_type, func.count())
                        .group_by(col(BankEntry.bank_id), col(BankEntry.signal_type))).all()
    per: dict[int, dict[str, int]] = {}
    for bank_id, stype, n in counts:
        per.setdefault(bank_id, {})[stype] = n
    return [{"name": b.name, "policy": b.policy, "description": b.description, "created_by": b.created_by,
             "created_at": b.created_at.isoformat(), "entries": sum(per.get(b.id or 0, {}).values()),
             "by_signal": per.get(b.id or 0, {})} for b in banks]


def set_policy(c: Components, name: str, policy: str, actor: str) -> dict[str, Any]:
    with session_scope(c.engine, write=True) as s:
        if _bank(s, _check_name(name)) is None:
            raise BankNotFound(f"no bank {name!r}")
        ensure_bank(s, name, policy, actor)
    return next(b for b in list_banks(c) if b["name"] == _check_name(name))


# --- import / export ---

def import_text(c: Components, bank: str, text: str, actor: str, fmt: str | None = None,
                policy: str | None = None) -> dict[str, Any]:
    """Parse the whole file first, then add every new signal in one transaction: a bad line (or any failure)
    leaves the banks as they were. Returns {"bank", "added", "already", "by_signal"}."""
    if len(text.encode()) > MAX_FILE_BYTES:
        raise BankError(f"bank file larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    name = _check_name(bank)
    if policy is not None:
        _check_policy(policy)
    try:
        rows = exchange.parse(text, fmt)
    except exchange.BankFileError as exc:
        raise BankError(str(exc)) from exc
    try:
        with session_scope(c.engine, write=True) as s:
            b = ensure_bank(s, name, policy, actor)
            added, already = _add_signals(s, b, [BankSignal(r.signal_type, r.signal, r.note) for r in rows], actor,
                                          "")
            audit.append_in(s, actor, "bank.imported", name, {"added": added, "already": already,
                                                               "lines": len(rows)})
    except IntegrityError as exc:  # PostgreSQL: another import added the same signal meanwhile
        raise BankError(f"bank {name} changed while importing; nothing imported, try again") from exc
    by_signal: dict[str, int] = {}
    for r in rows:
        by_signal[r.signal_type] = by_signal.get(r.signal_type, 0) + 1
    return {"bank": name, "added": added, "already": already, "by_signal": by_signal}


def import_file(c: Components, bank: str, path: Path, actor: str, fmt: str | None = None,
                policy: str | None = None) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise BankError(f"{path}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise BankError(f"{path.name}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BankError(f"{path.name}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from exc
    return import_text(c, bank, text, actor, fmt, policy)


def export_text(c: Components, bank: str, fmt: str = "te") -> str:
    name = _check_name(bank)
    if fmt not in exchange.FORMATS:
        raise BankError(f"format must be one of {', '.join(exchange.FORMATS)}")
    with session_scope(c.engine) as s:
        b = _bank(s, name)
        if b is None:
            raise BankNotFound(f"no bank {name!r}")
        rows = s.exec(select(BankEntry.signal_type, BankEntry.signal, BankEntry.note)
                      .where(BankEntry.bank_id == b.id).order_by(col(BankEntry.id))).all()
    return exchange.write(((t, v, n) for t, v, n in rows), fmt, collab=name)


def _add_signals(s: Session, bank: HashBank, signals: list[BankSignal], actor: str,
                 content_id: str) -> tuple[int, int]:
    """Add the signals not yet in the bank; (added, already there)."""
    digests = {sig.digest(x.signal_type, x.signal): x for x in signals}
    have: set[str] = set()
    keys = list(digests)
    for i in range(0, len(keys), 500):  # bounded IN lists
        have.update(s.exec(select(BankEntry.digest).where(BankEntry.bank_id == bank.id,
                                                          col(BankEntry.digest).in_(keys[i:i + 500]))).all())
    now = datetime.now(UTC)
    new = [{"bank_id": bank.id, "signal_type": x.signal_type, "signal": x.signal, "digest": d,
            "content_id": content_id, "note": x.note[:500], "added_by": actor, "created_at": now}
           for d, x in digests.items() if d not in have]
    table = BankEntry.__table__  # type: ignore[attr-defined]
    for i in range(0, len(new), 10_000):  # Core inserts: an industry list of a million rows, not a million objects
        s.connection().execute(table.insert(), new[i:i + 10_000])
    return len(new), len(signals) - len(new)


# --- the removed bank (takedowns) ---

def clip_signals(path: Path) -> list[BankSignal]:
    """What a taken-down clip (or picture) is banked as: its exact file hashes, its vPDQ (BANK_EVERY_SECONDS)
    and the vPDQ of centred crops of it (signals.CROP_KEEPS, BANK_CROP_EVERY_SECONDS), since PDQ does not
    survive cropping. Decodes the file: call it before the takedown's transaction."""
    out = [BankSignal(t, v, "file") for t, v in sig.file_digests(Path(path)).items()]
    hashed = sig.hash_video(Path(path), BANK_EVERY_SECONDS, BANK_CROP_EVERY_SECONDS, max_seconds=BANK_MAX_SECONDS)
    for keep, feats in hashed.items():
        if any(f.quality >= sig.MIN_QUALITY for f in feats):
            out.append(BankSignal(sig.VPDQ, sig.vpdq_dump(feats), "frames" if keep == 1.0 else f"crop {keep:.0%}"))
    return out


def add_to_removed_bank(s: Session, job_id: str, signals: list[BankSignal], actor: str, reason: str = "") -> int:
    """Bank a taken-down clip's signals (from clip_signals) in the caller's write transaction, each entry
    carrying the job id; returns how many were new. The bank `removed` is made on first use (policy block)."""
    bank = ensure_bank(s, REMOVED, None, actor)
    noted = [BankSignal(x.signal_type, x.signal, f"{x.note}; {reason}"[:500] if reason else x.note) for x in signals]
    added, _ = _add_signals(s, bank, noted, actor, job_id)
    audit.append_in(s, actor, "bank.removed_added", job_id, {"entries": added})
    return added


def add_clip_to_removed_bank(s: Session, job_id: str, path: Path, actor: str, reason: str = "") -> int:
    """clip_signals and add_to_removed_bank in one call (hashes inside the caller's transaction)."""
    return add_to_removed_bank(s, job_id, clip_signals(path), actor, reason)


def lift_from_removed_bank(s: Session, job_id: str, actor: str) -> int:
    """A reversed takedown (appeal upheld): the clip's entries leave the removed bank; returns how many."""
    bank = _bank(s, REMOVED)
    if bank is None:
        return 0
    ids = s.exec(select(BankEntry.id).where(BankEntry.bank_id == bank.id, BankEntry.content_id == job_id)).all()
    if ids:
        s.exec(delete(BankEntry).where(col(BankEntry.id).in_(ids)))
        audit.append_in(s, actor, "bank.removed_lifted", job_id, {"entries": len(ids)})
    return len(ids)


# --- matching ---

class BankIndex:
    """The process's PDQ index of every perceptual bank entry, caught up with the database before each use:
    entries added since (a takedown in another process) are added; a removal rebuilds it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index = PdqIndex()
        self._count = 0

    def fresh(self, s: Session) -> PdqIndex:
        with self._lock:
            count, max_id = s.exec(select(func.count(), func.max(BankEntry.id))
                                   .where(col(BankEntry.signal_type).in_(sig.PERCEPTUAL_TYPES))).one()
            max_id = -1 if max_id is None else int(max_id)
            if count == self._count and max_id == self._index.max_entry_id:
                return self._index
            new = s.exec(select(func.count()).where(col(BankEntry.signal_type).in_(sig.PERCEPTUAL_TYPES),
                                                    col(BankEntry.id) > self._index.max_entry_id)).one()
            if self._count + new != count:  # something was removed: start again
                self._index, self._count = PdqIndex(), 0
            self._count += _load_into(s, self._index, self._index.max_entry_id)
            return self._index


def warm_index(c: Components) -> int:
    """Load the index now (worker start); returns how many hashes it holds."""
    with session_scope(c.engine) as s:
        index: BankIndex = c.bank_index
        return len(index.fresh(s))


def _load_into(s: Session, index: PdqIndex, after_id: int, batch: int = 50_000) -> int:
    """Add the perceptual entries with id > after_id to the index, in batches; returns how many entries."""
    loaded = 0
    while True:
        rows = s.connection().execute(
            sa_select(col(BankEntry.id), col(BankEntry.signal_type), col(BankEntry.signal), col(BankEntry.bank_id),
                      col(BankEntry.content_id))
            .where(col(BankEntry.signal_type).in_(sig.PERCEPTUAL_TYPES), col(BankEntry.id) > after_id)
            .order_by(col(BankEntry.id)).limit(batch)).all()
        if not rows:
            return loaded
        ids: list[int] = []
        codes: list[bytes] = []
        times: list[float] = []
        entries: dict[int, tuple[str, str]] = {}
        for row_id, stype, value, bank_id, content_id in rows:
            eid = int(row_id or 0)
            group = f"{bank_id}:{content_id}" if content_id else ""
            entries[eid] = (stype, group)
            if stype == sig.PDQ:
                ids.append(eid)
                codes.append(bytes.fromhex(value))
                times.append(0.0)
            else:
                for f in sig.vpdq_parse(value):
                    if f.quality >= sig.MIN_QUALITY:
                        ids.append(eid)
                        codes.append(bytes.fromhex(f.pdq_hex))
                        times.append(f.timestamp)
        arr = np.frombuffer(b"".join(codes), np.uint8).reshape(-1, 32) if codes else np.empty((0, 32), np.uint8)
        index.add_many(np.asarray(ids, np.int64), arr, np.asarray(times, np.float32), entries)
        loaded += len(rows)
        after_id = int(rows[-1][0] or 0)


def query_frames(images: list[np.ndarray]) -> list[list[tuple[str, bytes]]]:
    """Each usable frame's query hashes (frames below PDQ's quality floor are left out)."""
    out = []
    for img in images:
        variants, quality = sig.query_variants(img)
        if quality >= sig.MIN_QUALITY:
            out.append(variants)
    return out


def _describe(s: Session, matches: list[Match], exact: list[BankEntry]) -> list[dict[str, Any]]:
    ids = {m.entry_id for m in matches} | {e.id for e in exact if e.id is not None}
    if not ids:
        return []
    entries = {e.id: e for e in s.exec(select(BankEntry).where(col(BankEntry.id).in_(ids))).all()}
    banks = {b.id: b for b in s.exec(select(HashBank)).all()}
    out: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()
    for e in exact:
        b = banks[e.bank_id]
        if e.content_id and (e.bank_id, e.content_id) in seen:  # its SHA-256 and MD5 name the same file
            continue
        seen.add((e.bank_id, e.content_id or f"#{e.id}"))
        out.append({"bank": b.name, "policy": b.policy, "signal": e.signal_type, "distance": 0, "exact": True,
                    "entry_id": e.id, "content_id": e.content_id, "note": e.note})
    for m in matches:
        entry = entries.get(m.entry_id)
        if entry is None:  # removed since the index was read
            continue
        e = entry
        b = banks[e.bank_id]
        if (e.bank_id, e.content_id or f"#{e.id}") in seen:  # the same file matched exactly already
            continue
        seen.add((e.bank_id, e.content_id or f"#{e.id}"))
        out.append({"bank": b.name, "policy": b.policy, "signal": e.signal_type, "distance": m.distance,
                    "exact": False, "entry_id": e.id, "content_id": e.content_id, "note": e.note,
                    "matched_frames": m.matched_frames, "query_frames": m.query_frames,
                    "query_match_percent": round(m.query_match_percent, 1), "via": m.via,
                    "threshold": sig.DISTANCE_THRESHOLD})
    return sorted(out, key=lambda d: (-ORDER[d["policy"]], d["distance"]))


def match_images(c: Components, images: list[np.ndarray], path: Path | None = None) -> list[dict[str, Any]]:
    """Bank matches of frames (and, given the file, of its exact hashes), most severe policy first."""
    index: BankIndex = c.bank_index
    with session_scope(c.engine) as s:
        banked = len(index.fresh(s))
    # nothing banked: the frames are not hashed (8 PDQ variants a frame, ~0.1 s CPU a 720p frame, for nothing)
    queries = query_frames(images) if banked else []
    exact: list[BankEntry] = []
    with session_scope(c.engine) as s:
        if path is not None:
            digests = [sig.digest(t, v) for t, v in sig.file_digests(path).items()]
            exact = list(s.exec(select(BankEntry).where(col(BankEntry.signal_type).in_(sig.EXACT_TYPES),
                                                        col(BankEntry.digest).in_(digests))).all())
        matches = index.fresh(s).match(queries) if queries else []
        return _describe(s, matches, exact)


def sample(path: Path) -> list[Any]:
    """The frames a file is checked by: those the frame gate would take (first, last, shot changes, every
    FRAME_EVERY_SECONDS), at most MAX_QUERY_FRAMES."""
    from safety.frames import decode_sample, thin_frames

    return thin_frames(decode_sample(Path(path), FRAME_EVERY_SECONDS), MAX_QUERY_FRAMES)


def check_file(c: Components, path: Path) -> dict[str, Any]:
    """`reelgate banks check FILE`, the API's and the verify report's bank section. A file that cannot be
    decoded raises BankError."""
    from safety.frames import FrameError

    try:
        images = [f.image for f in sample(path)]
    except FrameError as exc:
        raise BankError(str(exc)) from exc
    matches = match_images(c, images, Path(path))
    decision, _ = verdict(matches)
    return {"matches": matches, "frames": len(images), "usable_frames": len(query_frames(images)),
            "decision": decision}


def verdict(matches: list[dict[str, Any]], what: str = "the clip") -> tuple[Verdict, list[str]]:
    """(pass|review|block, reasons) by the most severe matched bank's policy; a `log` bank only records."""
    decision: Verdict = "pass"
    reasons = []
    for m in matches:
        how = "exactly (same file)" if m["exact"] else (
            f"at {m['distance']} bits ({m['matched_frames']}/{m['query_frames']} frames, {m['via']})")
        src = f", banked from clip {m['content_id']}" if m["content_id"] else ""
        reasons.append(f"{what} matches the {m['signal']} hash bank '{m['bank']}' ({m['policy']}) {how}{src}")
        if m["policy"] == BankPolicy.block.value:
            decision = "block"
        elif m["policy"] == BankPolicy.review.value and decision == "pass":
            decision = "review"
    return decision, reasons
