"""Signing material for C2PA: a local development CA, operator-supplied chains, or an HSM/KMS callback.

c2pa-rs (0.38) refuses self-signed end-entity certificates and, with default settings, wants the
emailProtection EKU on the signing certificate (documentSigning alone fails to sign), KeyUsage
digitalSignature, and an issuing CA with BasicConstraints ca=True + keyCertSign (see STACK.md).
We check those rules ourselves before signing so an operator gets a clear error, not a native one.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from provenance.errors import ProvenanceError

DOCUMENT_SIGNING_EKU = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
SUPPORTED_ALGS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")

DEV_CA_CERT = "dev-ca.pem"
DEV_CA_KEY = "dev-ca.key"
DEV_SIGNER_CERT = "dev-signer-chain.pem"
DEV_SIGNER_KEY = "dev-signer.key"


@dataclass
class SignerMaterial:
    """What the C2PA signer needs. `sign_callback` (HSM/KMS) replaces `private_key_pem` when set."""

    cert_chain_pem: bytes
    private_key_pem: bytes
    ca_pem: bytes | None
    alg: str = "es256"
    # callback(data_to_sign) -> signature bytes; for ECDSA return DER or raw r||s (c2pa-rs accepts DER)
    sign_callback: Callable[[bytes], bytes] | None = field(default=None, repr=False)

    def end_entity(self) -> x509.Certificate:
        return _load_chain(self.cert_chain_pem)[0]

    def summary(self) -> dict:
        cert = self.end_entity()
        return {
            "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "not_after": cert.not_valid_after_utc.isoformat(),
            "alg": self.alg,
            "callback": self.sign_callback is not None,
        }


def _load_chain(pem: bytes) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise ProvenanceError(f"certificate chain is not valid PEM: {exc}") from exc
    if not certs:
        raise ProvenanceError("certificate chain is empty")
    return certs


def _alg_for_key(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}.get(key.curve.name, "")
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "ps256"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "ed25519"
    return ""


def check_signing_cert(chain: list[x509.Certificate], now: dt.datetime | None = None) -> None:
    """Raise ProvenanceError if the end-entity certificate cannot sign C2PA claims here."""
    now = now or dt.datetime.now(dt.UTC)
    ee = chain[0]
    if ee.not_valid_after_utc < now:
        raise ProvenanceError(f"signing certificate expired on {ee.not_valid_after_utc.isoformat()}")
    if ee.not_valid_before_utc > now:
        raise ProvenanceError("signing certificate is not valid yet")
    if ee.issuer == ee.subject:
        raise ProvenanceError("signing certificate is self-signed; C2PA needs one issued by a CA")
    try:
        bc = ee.extensions.get_extension_for_class(x509.BasicConstraints).value
        if bc.ca:
            raise ProvenanceError("signing certificate is a CA certificate; use an end-entity certificate")
    except x509.ExtensionNotFound:
        pass
    try:
        ku = ee.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise ProvenanceError("signing certificate lacks KeyUsage digitalSignature") from exc
    if not ku.digital_signature:
        raise ProvenanceError("signing certificate lacks KeyUsage digitalSignature")
    try:
        eku = list(ee.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound as exc:
        raise ProvenanceError(
            "signing certificate lacks an ExtendedKeyUsage (needs emailProtection)"
        ) from exc
    if ExtendedKeyUsageOID.EMAIL_PROTECTION not in eku:
        raise ProvenanceError(
            "signing certificate lacks the emailProtection EKU that c2pa-rs requires by default"
        )


def _write_private(path: Path, data: bytes) -> None:
    # create with 0600 from the start so the key is never world-readable, even briefly
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def create_dev_pki(org: str = "reelgate development", days: int = 825) -> tuple[bytes, bytes, bytes, bytes]:
    """A fresh P-256 CA and an ES256 end-entity signer. Returns (ca_pem, ca_key, chain_pem, ee_key)."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{org} root CA"),
        ]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days * 4))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ee_key = ec.generate_private_key(ec.SECP256R1())
    ee_cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"{org} C2PA signer"),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(ee_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING_EKU]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ee_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    # the chain carries the end-entity and its issuer; the reader is given the CA as a trust anchor
    chain_pem = ee_cert.public_bytes(serialization.Encoding.PEM) + ca_pem
    return ca_pem, _key_pem(ca_key), chain_pem, _key_pem(ee_key)


def ensure_dev_signer(keys_dir: Path) -> SignerMaterial:
    """Create (first use) or reuse the development CA + signer in keys_dir. Keys are mode 0600."""
    keys_dir = Path(keys_dir)
    keys_dir.mkdir(parents=True, exist_ok=True)
    chain_p, key_p, ca_p = keys_dir / DEV_SIGNER_CERT, keys_dir / DEV_SIGNER_KEY, keys_dir / DEV_CA_CERT
    if chain_p.exists() and key_p.exists() and ca_p.exists():
        try:
            material = load_signer(chain_p, key_p)
            material.ca_pem = ca_p.read_bytes()
            return material
        except ProvenanceError:
            # an expired or damaged development signer is replaced (old files kept as *.old)
            for f in (chain_p, key_p, ca_p, keys_dir / DEV_CA_KEY):
                if f.exists():
                    f.replace(f.with_name(f.name + ".old"))
    ca_pem, ca_key, chain_pem, ee_key = create_dev_pki()
    _write_private(keys_dir / DEV_CA_KEY, ca_key)
    _write_private(key_p, ee_key)
    ca_p.write_bytes(ca_pem)
    chain_p.write_bytes(chain_pem)
    return SignerMaterial(cert_chain_pem=chain_pem, private_key_pem=ee_key, ca_pem=ca_pem, alg="es256")


def load_signer(cert_chain: Path, private_key: Path, ca: Path | None = None) -> SignerMaterial:
    """Load an operator chain (end-entity first) + PEM key; validate usage, expiry and key match."""
    try:
        chain_pem = Path(cert_chain).read_bytes()
        key_pem = Path(private_key).read_bytes()
    except OSError as exc:
        raise ProvenanceError(f"cannot read signer files: {exc}") from exc
    chain = _load_chain(chain_pem)
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ProvenanceError(f"private key is not an unencrypted PEM key: {exc}") from exc
    pub = (
        chain[0]
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    if (
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        != pub
    ):
        raise ProvenanceError("private key does not match the signing certificate")
    alg = _alg_for_key(key)
    if not alg:
        raise ProvenanceError(f"unsupported key type {type(key).__name__}")
    check_signing_cert(chain)
    ca_pem = Path(ca).read_bytes() if ca else None
    return SignerMaterial(cert_chain_pem=chain_pem, private_key_pem=key_pem, ca_pem=ca_pem, alg=alg)


def callback_signer(
    cert_chain_pem: bytes, sign: Callable[[bytes], bytes], alg: str = "es256", ca_pem: bytes | None = None
) -> SignerMaterial:
    """Signer material for a key held in an HSM/KMS: `sign(data) -> signature` does the private-key work."""
    if alg not in SUPPORTED_ALGS:
        raise ProvenanceError(f"unsupported algorithm {alg!r}; one of {', '.join(SUPPORTED_ALGS)}")
    chain = _load_chain(cert_chain_pem)
    check_signing_cert(chain)
    return SignerMaterial(
        cert_chain_pem=cert_chain_pem, private_key_pem=b"", ca_pem=ca_pem, alg=alg, sign_callback=sign
    )
