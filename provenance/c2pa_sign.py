"""Sign a published MP4 with C2PA Content Credentials (c2pa-python, offline settings only)."""

from __future__ import annotations

import base64
import json
import os
import tempfile
import time
from importlib.metadata import version as _pkg_version
from pathlib import Path

import c2pa
from cryptography import x509

from provenance.certs import SignerMaterial, check_signing_cert
from provenance.errors import ProvenanceError
from provenance.wm_code import WATERMARK_ALG

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
COMPOSITE_WITH_TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
CAMEOS_LABEL = "com.reelgate.cameos"
SOFT_BINDING_LABEL = "c2pa.soft-binding"
C2PA_VERSION = f"c2pa-python {_pkg_version('c2pa-python')}"

MIME_BY_SUFFIX = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime"}

# Offline: no remote manifests, no OCSP; never any timestamp-authority URL.
OFFLINE_SETTINGS: dict = {
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False, "verify_after_sign": True},
    "builder": {"thumbnail": {"enabled": False}},
}


def available() -> tuple[bool, str]:
    try:
        return True, f"{C2PA_VERSION} (native {c2pa.sdk_version()})"
    except Exception as exc:  # the native library failed to load
        return False, f"c2pa native library unavailable: {exc}"


def _mime(path: Path) -> str:
    mime = MIME_BY_SUFFIX.get(path.suffix.lower())
    if not mime:
        raise ProvenanceError(f"unsupported file type for C2PA video signing: {path.suffix or 'no suffix'}")
    return mime


def _check_media(path: Path) -> None:
    if not path.is_file():
        raise ProvenanceError(f"no such file: {path}")
    if path.stat().st_size < 16:
        raise ProvenanceError(f"file is empty or truncated: {path}")
    with path.open("rb") as fh:
        head = fh.read(12)
    if head[4:8] not in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        raise ProvenanceError(f"not an ISO-BMFF (MP4/MOV) file: {path}")


def _make_signer(material: SignerMaterial) -> c2pa.Signer:
    chain = x509.load_pem_x509_certificates(material.cert_chain_pem)
    check_signing_cert(chain)
    try:
        if material.sign_callback is not None:
            alg = c2pa.C2paSigningAlg[material.alg.upper()]
            return c2pa.Signer.from_callback(
                material.sign_callback, alg, material.cert_chain_pem.decode("ascii"), None
            )
        info = c2pa.C2paSignerInfo(material.alg, material.cert_chain_pem, material.private_key_pem, None)
        return c2pa.Signer.from_info(info)
    except c2pa.C2paError as exc:
        raise ProvenanceError(f"cannot create C2PA signer: {exc}") from exc


def build_manifest(
    *,
    title: str,
    software_agent: str,
    model: str,
    cameos: list[dict],
    watermark: dict | None,
    mime: str,
    remix: bool,
) -> dict:
    """The manifest definition: actions, cameo consent records and the watermark soft binding."""
    agent = {"name": model}
    if remix:
        actions = [
            {"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}},
            {
                "action": "c2pa.edited",
                "digitalSourceType": COMPOSITE_WITH_TRAINED,
                "softwareAgent": agent,
                "description": "remix generated from the parent clip",
            },
        ]
    else:
        actions = [
            {"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA, "softwareAgent": agent}
        ]
    assertions: list[dict] = [{"label": "c2pa.actions.v2", "data": {"actions": actions}}]
    # only the handle and the consent reference: no names, faces or other personal data
    cameo_rows = []
    for c in cameos:
        if not isinstance(c, dict) or not c.get("handle"):
            raise ProvenanceError("each cameo needs at least a 'handle'")
        row = {
            "handle": str(c["handle"]),
            "consent_ref": str(c.get("consent_ref") or c.get("consent_id") or ""),
        }
        if c.get("scope"):
            row["scope"] = str(c["scope"])
        cameo_rows.append(row)
    assertions.append({"label": CAMEOS_LABEL, "data": {"version": 1, "cameos": cameo_rows}})
    if watermark:
        payload = watermark.get("payload")
        if not payload:
            raise ProvenanceError("watermark dict needs a 'payload' (hex)")
        try:
            raw = bytes.fromhex(str(payload))
        except ValueError as exc:
            raise ProvenanceError(f"watermark payload is not hex: {payload!r}") from exc
        assertions.append(
            {
                "label": SOFT_BINDING_LABEL,
                "data": {
                    "alg": str(watermark.get("alg") or WATERMARK_ALG),
                    "blocks": [{"scope": {}, "value": base64.b64encode(raw).decode("ascii")}],
                    "name": str(
                        watermark.get("name") or watermark.get("version") or "reelgate invisible video+audio watermark"
                    ),
                },
            }
        )
    return {
        "claim_generator_info": [{"name": software_agent, "version": "0.1.0"}],
        "title": title,
        "format": mime,
        "assertions": assertions,
    }


def sign_video(
    src: Path,
    dst: Path,
    signer: SignerMaterial,
    *,
    title: str,
    software_agent: str,
    model: str,
    cameos: list[dict],
    watermark: dict | None,
    parent: Path | None = None,
) -> dict:
    """Sign src into dst (atomic replace). A parent makes this a remix with a parentOf ingredient."""
    src, dst = Path(src), Path(dst)
    _check_media(src)
    mime = _mime(src)
    if parent is not None:
        parent = Path(parent)
        _check_media(parent)
    manifest = build_manifest(
        title=title,
        software_agent=software_agent,
        model=model,
        cameos=cameos,
        watermark=watermark,
        mime=mime,
        remix=parent is not None,
    )
    t0 = time.perf_counter()
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".sign-", suffix=src.suffix, dir=dst.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with c2pa.Context.from_dict(OFFLINE_SETTINGS) as ctx, c2pa.Builder(manifest, context=ctx) as builder:
            if parent is not None:
                ingredient = {"title": parent.name, "relationship": "parentOf", "label": "parent"}
                with parent.open("rb") as ph:
                    builder.add_ingredient(ingredient, _mime(parent), ph)
            with _make_signer(signer) as c2signer, src.open("rb") as fin, tmp.open("w+b") as fout:
                manifest_bytes = builder.sign(c2signer, mime, fin, fout)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; published media must be readable
        os.replace(tmp, dst)
    except c2pa.C2paError as exc:
        raise ProvenanceError(f"C2PA signing failed: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    label = None
    try:
        with (
            c2pa.Context.from_dict(OFFLINE_SETTINGS) as ctx,
            dst.open("rb") as fh,
            c2pa.Reader(mime, fh, context=ctx) as reader,
        ):
            label = json.loads(reader.json()).get("active_manifest")
    except c2pa.C2paError:
        label = None
    return {
        "manifest_label": label,
        "manifest_bytes": len(manifest_bytes),
        "dst": str(dst),
        "action": "c2pa.edited" if parent is not None else "c2pa.created",
        "parent": str(parent) if parent is not None else None,
        "signer": signer.summary(),
        "seconds": round(time.perf_counter() - t0, 4),
    }
