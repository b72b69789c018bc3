"""The public C2PA trust list (claim-signing anchors of the C2PA conformance program), shipped as data and
replaceable per installation with `reelgate trust update FILE`.

The installation's copy (DATA_DIR/trust/C2PA-TRUST-LIST.pem) wins over the bundled snapshot, so an operator
can follow the list's quarterly updates without a release. Anchors only widen what is called "trusted":
validation itself (hashes, signatures, timestamps) is unchanged."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from provenance.errors import ProvenanceError

BUNDLED = Path(__file__).resolve().parent / "data" / "trust" / "C2PA-TRUST-LIST.pem"
FILE_NAME = "C2PA-TRUST-LIST.pem"
MAX_BYTES = 2_000_000  # the published list is ~22 kB; a multi-megabyte "list" is a wrong file


def installed_path(data_dir: Path) -> Path:
    return Path(data_dir) / "trust" / FILE_NAME


def active_path(data_dir: Path | None) -> Path:
    """The installation's copy when there is one, else the snapshot shipped with the code."""
    if data_dir is not None and installed_path(data_dir).is_file():
        return installed_path(data_dir)
    return BUNDLED


def inspect(pem: bytes) -> list[dict[str, Any]]:
    """Each certificate's subject, validity and whether it is a CA; raises ProvenanceError for anything that is
    not a non-empty bundle of PEM X.509 certificates (a key, DER, a truncated block, a leaf)."""
    if len(pem) > MAX_BYTES:
        raise ProvenanceError(f"trust list is {len(pem):,} bytes; refusing anything over {MAX_BYTES:,}")
    if b"PRIVATE KEY" in pem:
        raise ProvenanceError("the file contains a private key; a trust list holds certificates only")
    if pem.count(b"-----BEGIN CERTIFICATE-----") == 0:
        raise ProvenanceError("no PEM certificate found (expected -----BEGIN CERTIFICATE----- blocks)")
    if pem.count(b"-----BEGIN CERTIFICATE-----") != pem.count(b"-----END CERTIFICATE-----"):
        raise ProvenanceError("a PEM certificate block is not closed (truncated file?)")
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise ProvenanceError(f"not a valid PEM certificate bundle: {exc}") from exc
    out = []
    for c in certs:
        try:
            is_ca = bool(c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            raise ProvenanceError(f"{c.subject.rfc4514_string()} is not a CA certificate; a trust list holds "
                                  "anchors (root or issuing CAs)")
        out.append({"subject": c.subject.rfc4514_string(), "not_before": c.not_valid_before_utc.isoformat(),
                    "not_after": c.not_valid_after_utc.isoformat(),
                    "expired": c.not_valid_after_utc < datetime.now(UTC)})
    return out


def load(data_dir: Path | None) -> bytes:
    return active_path(data_dir).read_bytes()


def install(data_dir: Path, source: Path) -> dict[str, Any]:
    """Validate SOURCE and atomically replace the installation's copy with it (nothing changes on error)."""
    pem = Path(source).read_bytes()
    certs = inspect(pem)
    dest = installed_path(data_dir)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".trust-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        os.chmod(tmp, 0o644)  # public certificates, not secrets
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"path": str(dest), "certificates": len(certs), "subjects": [c["subject"] for c in certs]}
