"""Signed checkpoints of the audit chain, kept outside the database.

The hash chain shows an edit in the middle, but whoever can write the database can also delete the
newest rows or recompute every hash. So the chain head (entry count and hash) is signed with an Ed25519
key that is not in the database, and appended to a JSON-lines file in the data dir (and to the log):
verification then finds a chain shorter than a signed checkpoint (a cut tail) or a different hash at a
checkpointed entry (a rewritten chain).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gate.models import utcnow
from gate.settings import Settings
from provenance.secret_files import create_once

log = logging.getLogger(__name__)
CHECKPOINT_FILE = "audit_checkpoints.jsonl"
KEY_FILE = "audit_ed25519.pem"
PUBLIC_DIR = "audit_public_keys"  # every key this installation signed with: old checkpoints stay checkable


class AuditKeyError(ValueError):
    """REELGATE_AUDIT_SIGNING_KEY (or the key file) is not a usable Ed25519 private key."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int  # entries in the chain when signed
    head: str  # hash of entry `seq`
    time: str
    key_id: str
    sig: str  # base64 Ed25519 signature of message()

    def message(self) -> bytes:
        body = {"seq": self.seq, "head": self.head, "time": self.time, "key_id": self.key_id}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _parse_key(value: str) -> Ed25519PrivateKey:
    """A PEM file path, PEM text, or the base64 of a raw 32-byte seed."""
    text = value.strip()
    data: bytes | None = None
    if text.startswith("-----BEGIN"):
        data = text.encode()
    elif len(text) < 1024 and Path(text).expanduser().is_file():
        data = Path(text).expanduser().read_bytes()
    try:
        if data is not None:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            seed = base64.b64decode(text, validate=True)
            if len(seed) != 32:
                raise AuditKeyError(f"the base64 seed is {len(seed)} bytes, not 32")
            key = Ed25519PrivateKey.from_private_bytes(seed)
    except (ValueError, TypeError, binascii.Error) as exc:
        if isinstance(exc, AuditKeyError):
            raise AuditKeyError(f"REELGATE_AUDIT_SIGNING_KEY: {exc}") from exc
        raise AuditKeyError("REELGATE_AUDIT_SIGNING_KEY is not a PEM file, PEM text or base64 32-byte Ed25519 "
                            "seed") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError("REELGATE_AUDIT_SIGNING_KEY must be an Ed25519 key")
    return key


def _generated_key(keys_dir: Path) -> Ed25519PrivateKey:
    """The installation's key, made at first start (0600; the first of several starting processes wins)."""
    path = keys_dir / KEY_FILE
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        if create_once(path, pem):  # a process starting at the same moment reads the winner's key
            # info, not warning: a first start is normal, and one-shot CLI commands keep stderr for errors
            # (`serve` logs at INFO; /health and the README say where the key lives)
            log.info("generated the audit signing key %s (set REELGATE_AUDIT_SIGNING_KEY to keep it "
                     "outside the data dir)", path)
    try:
        return _parse_key(str(path))
    except AuditKeyError as exc:
        raise AuditKeyError(f"{path}: {exc}") from exc


class Checkpointer:
    """Signs chain heads and keeps them in an append-only JSON-lines file."""

    def __init__(self, key: Ed25519PrivateKey, keys_dir: Path, path: Path, every: int = 100) -> None:
        self.key = key
        self.key_id = key_id(key.public_key())
        self.path = path
        self.every = every
        self.public_dir = keys_dir / PUBLIC_DIR
        self.public_dir.mkdir(parents=True, exist_ok=True)
        pub = self.public_dir / f"{self.key_id}.pem"
        if not pub.exists():
            pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))

    @classmethod
    def from_settings(cls, settings: Settings) -> Checkpointer:
        secret = settings.audit_signing_key
        key = _parse_key(secret.get_secret_value()) if secret else _generated_key(settings.keys_dir)
        return cls(key, settings.keys_dir, settings.resolved_data_dir / CHECKPOINT_FILE,
                   settings.audit_checkpoint_every)

    def sign(self, seq: int, head: str) -> Checkpoint:
        unsigned = Checkpoint(seq, head, utcnow().isoformat(), self.key_id, "")
        return Checkpoint(**{**asdict(unsigned), "sig": base64.b64encode(self.key.sign(unsigned.message())).decode()})

    def write(self, seq: int, head: str) -> Checkpoint:
        """Append one signed checkpoint (one write() on an O_APPEND file: lines from several processes
        never interleave) and log it, so the operator's log holds a second copy."""
        cp = self.sign(seq, head)
        line = (json.dumps(asdict(cp), sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        log.info("audit checkpoint seq=%d head=%s key=%s sig=%s", cp.seq, cp.head, cp.key_id, cp.sig)
        return cp

    def trusted(self) -> dict[str, Ed25519PublicKey]:
        keys: dict[str, Ed25519PublicKey] = {self.key_id: self.key.public_key()}
        for p in sorted(self.public_dir.glob("*.pem")):
            try:
                pub = serialization.load_pem_public_key(p.read_bytes())
            except ValueError:
                continue
            if isinstance(pub, Ed25519PublicKey):
                keys[key_id(pub)] = pub
        return keys

    def read(self) -> tuple[list[Checkpoint], list[str]]:
        """Every checkpoint whose signature holds, and one problem per line that does not."""
        if not self.path.exists():
            return [], []
        keys = self.trusted()
        good: list[Checkpoint] = []
        problems: list[str] = []
        with self.path.open("rb") as f:
            for n, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                try:
                    d: dict[str, Any] = json.loads(raw)
                    cp = Checkpoint(seq=int(d["seq"]), head=str(d["head"]), time=str(d["time"]),
                                    key_id=str(d["key_id"]), sig=str(d["sig"]))
                    pub = keys.get(cp.key_id)
                    if pub is None:
                        problems.append(f"checkpoint line {n} is signed by key {cp.key_id}, which this "
                                        "installation never held")
                        continue
                    pub.verify(base64.b64decode(cp.sig, validate=True), cp.message())
                except InvalidSignature:
                    problems.append(f"checkpoint line {n} has an invalid signature (edited or forged)")
                    continue
                except (ValueError, KeyError, TypeError, binascii.Error):
                    problems.append(f"checkpoint line {n} is not a checkpoint")
                    continue
                good.append(cp)
        return good, problems
