"""Watermark keys: the installation's secret that keys the mark's layout, sync pattern and decoys.

Whoever holds the key can stamp any payload, so the key belongs to one installation, never to the source:
configured by the operator or generated at first start into the keys directory (mode 0600, dir 0700).

Formats (see README, "Watermark key"):
- a key: `ID:HEX` or `HEX`; HEX is at least 32 bytes (64 hex digits); ID is 1-32 of [A-Za-z0-9._-]
  (default: the first 8 hex digits of the key's fingerprint).
- old keys (kept for detection after a rotation): a comma-separated list of keys; the word `legacy-v1` adds
  the 3.x source key, so 3.x clips still read, but anyone with the source can forge that one.

Rotation: the current key embeds; every key of the ring is tried when detecting, and the false-positive
bound is multiplied by the number of keys tried (a union bound), so the ring is capped at MAX_KEYS.

Limitation: the layout's RNG is seeded with 64 bits of SHA-256(key) (unchanged since 3.x so legacy clips
read); a brute-force search of 2^64 seeds is out of reach, but the mark is symmetric: anyone who can
detect can also embed. Never give the key to a verifier outside the installation.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from provenance.errors import ProvenanceError
from provenance.secret_files import create_once

MIN_KEY_BYTES = 32
MAX_KEYS = 8  # 8 keys x 2 orientations x the smallest video bound (1/256 x 2^-16) = 9.5e-7, still under 1e-6
KEYRING_FILE = "watermark_keys.json"
LEGACY_ID = "legacy-v1"
_LEGACY_TEXT = "reelgate-watermark-v1"  # 3.x's key, public in the source: accepted only when configured
_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,32}$")


@dataclass(frozen=True)
class WatermarkKey:
    key_id: str
    layout_key: str  # what keys the layout (provenance.wm_code.Layout) and the decoys
    legacy: bool = False

    @classmethod
    def from_secret(cls, key_id: str, secret: bytes) -> WatermarkKey:
        if len(secret) < MIN_KEY_BYTES:
            raise ProvenanceError(f"watermark key {key_id!r} is {len(secret)} bytes; at least {MIN_KEY_BYTES} needed")
        if not _ID_RE.match(key_id) or key_id == LEGACY_ID:
            raise ProvenanceError(f"watermark key id {key_id!r} must be 1-32 of A-Z a-z 0-9 . _ - (not {LEGACY_ID})")
        return cls(key_id, "reelgate-wm-key:" + secret.hex())

    @property
    def fingerprint(self) -> str:
        """Not secret: lets processes compare keys (health, job records) without showing them."""
        return hashlib.sha256(f"reelgate-wm-fingerprint|{self.layout_key}".encode()).hexdigest()[:16]

    def __repr__(self) -> str:  # never print the secret
        return f"WatermarkKey({self.key_id!r}, fingerprint={self.fingerprint}{', legacy' if self.legacy else ''})"


LEGACY_V1 = WatermarkKey(LEGACY_ID, _LEGACY_TEXT, legacy=True)


@dataclass(frozen=True)
class Keyring:
    current: WatermarkKey
    old: tuple[WatermarkKey, ...] = ()
    source: str = "configured"  # "configured" (operator) or "generated" (this data dir's file)

    def __post_init__(self) -> None:
        keys = self.all
        if self.current.legacy:
            raise ProvenanceError("the legacy 3.x key cannot be the current key (anyone can forge with it)")
        if len(keys) > MAX_KEYS:
            raise ProvenanceError(f"{len(keys)} watermark keys; at most {MAX_KEYS} (drop the oldest)")
        if len({k.key_id for k in keys}) != len(keys):
            raise ProvenanceError("watermark key ids must be unique")
        if len({k.layout_key for k in keys}) != len(keys):
            raise ProvenanceError("the same watermark key is listed twice")

    @property
    def all(self) -> tuple[WatermarkKey, ...]:
        return (self.current, *self.old)

    def describe(self) -> dict:
        """What may be shown to an operator: ids and fingerprints, never the keys."""
        return {"source": self.source, "current": self.current.key_id, "fingerprint": self.current.fingerprint,
                "old": [k.key_id for k in self.old], "legacy_v1_accepted": any(k.legacy for k in self.old)}


def as_keys(keys: WatermarkKey | Keyring | Iterable[WatermarkKey]) -> tuple[WatermarkKey, ...]:
    if isinstance(keys, WatermarkKey):
        return (keys,)
    if isinstance(keys, Keyring):
        return keys.all
    out = tuple(keys)
    if not out or not all(isinstance(k, WatermarkKey) for k in out):
        raise ProvenanceError("at least one watermark key is needed")
    return out


def new_key(key_id: str | None = None) -> tuple[WatermarkKey, str]:
    """A fresh random key and its `ID:HEX` text (for REELGATE_WATERMARK_KEY or the keyring file)."""
    secret = secrets.token_bytes(MIN_KEY_BYTES)
    key_id = key_id or WatermarkKey.from_secret("tmp", secret).fingerprint[:8]
    return WatermarkKey.from_secret(key_id, secret), f"{key_id}:{secret.hex()}"


def parse_key(text: str) -> WatermarkKey:
    text = text.strip()
    key_id, sep, hexpart = text.rpartition(":")
    try:
        secret = bytes.fromhex(hexpart)
    except ValueError:
        raise ProvenanceError("a watermark key must be ID:HEX or HEX (hex digits only)") from None
    if not sep:
        key_id = WatermarkKey.from_secret("tmp", secret).fingerprint[:8] if len(secret) >= MIN_KEY_BYTES else "?"
    return WatermarkKey.from_secret(key_id, secret)


def parse_old_keys(text: str | None) -> tuple[WatermarkKey, ...]:
    """A comma-separated list of keys; `legacy-v1` is the 3.x source key (explicit opt-in only)."""
    parts = [p.strip() for p in (text or "").split(",") if p.strip()]
    return tuple(LEGACY_V1 if p == LEGACY_ID else parse_key(p) for p in parts)


def parse_keyring(current: str, old: str | None = None, source: str = "configured") -> Keyring:
    """REELGATE_WATERMARK_KEY and REELGATE_WATERMARK_OLD_KEYS -> Keyring (ProvenanceError on bad input;
    messages never contain key material)."""
    return Keyring(parse_key(current), parse_old_keys(old), source)


# ---- the generated keyring file ----------------------------------------------------------------------
def _private_dir(keys_dir: Path) -> Path:
    keys_dir = Path(keys_dir)
    keys_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    return keys_dir


def _write_new(path: Path, body: dict) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # 0600 from the start
    with os.fdopen(fd, "w") as fh:
        json.dump(body, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())


def _entry(text: str) -> dict:
    key_id, _, hexpart = text.partition(":")
    return {"id": key_id, "key": hexpart, "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


def read_keyring_file(path: Path) -> Keyring:
    try:
        body = json.loads(Path(path).read_text())
        entries = {e["id"]: e["key"] for e in body["keys"]}
        current = body["current"]
        old = [WatermarkKey.from_secret(i, bytes.fromhex(k)) for i, k in entries.items() if i != current][::-1]
        return Keyring(WatermarkKey.from_secret(current, bytes.fromhex(entries[current])), tuple(old), "generated")
    except ProvenanceError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ProvenanceError(f"{path} is not a readable watermark keyring ({type(exc).__name__}); "
                              "restore it from backup (clips marked with its keys cannot be read without it)") from None


def ensure_keyring_file(keys_dir: Path) -> Keyring:
    """This data dir's keyring: created on first use (every process sharing the dir reads the same)."""
    keys_dir = _private_dir(keys_dir)
    path = keys_dir / KEYRING_FILE
    if not path.exists():
        entry = _entry(new_key()[1])
        # the first process wins; a concurrent one reads the winner's keyring
        create_once(path, json.dumps({"current": entry["id"], "keys": [entry]}, indent=1).encode())
    return read_keyring_file(path)


def rotate_keyring_file(keys_dir: Path, key_id: str | None = None) -> Keyring:
    """A new current key; the previous ones stay for detection (beyond MAX_KEYS - 1 the oldest go)."""
    keys_dir = _private_dir(keys_dir)
    path = keys_dir / KEYRING_FILE
    with os.fdopen(os.open(keys_dir / ".watermark_keys.lock", os.O_RDWR | os.O_CREAT, 0o600)) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one rotation at a time
        ensure_keyring_file(keys_dir)
        body = json.loads(path.read_text())
        if key_id is not None and any(e["id"] == key_id for e in body["keys"]):
            raise ProvenanceError(f"watermark key id {key_id!r} is already in the keyring")
        _, text = new_key(key_id)
        entry = _entry(text)
        keys = [*body["keys"], entry][-MAX_KEYS:]  # oldest first; the current key is the last added
        tmp = keys_dir / f".{KEYRING_FILE}.{os.getpid()}.rotate.tmp"
        tmp.unlink(missing_ok=True)
        _write_new(tmp, {"current": entry["id"], "keys": keys})
        os.replace(tmp, path)  # atomic: readers see the old ring or the new one
    return read_keyring_file(path)
