"""Read and validate C2PA Content Credentials: state, failure codes, signer, actions, ingredient chain."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import c2pa

from provenance.errors import ProvenanceError, UnsupportedFormat

# by file suffix first; unknown suffixes fall back to sniffing the first bytes
_SUFFIX_MIME = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".m4a": "audio/mp4",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".avi": "video/avi",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".heic": "image/heic",
    ".avif": "image/avif",
    ".gif": "image/gif",
    ".pdf": "application/pdf",
    ".flac": "audio/flac",
    ".c2pa": "application/c2pa",
}
MAX_INGREDIENT_DEPTH = 32


def _sniff(head: bytes) -> str | None:
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def detect_mime(path: Path) -> str:
    """The MIME type c2pa should parse this file as; ProvenanceError if empty or unsupported."""
    if not path.is_file():
        raise ProvenanceError(f"no such file: {path}")
    size = path.stat().st_size
    if size == 0:
        raise ProvenanceError(f"file is empty: {path}")
    if size < 12:
        raise ProvenanceError(f"file is too small to be media ({size} bytes): {path}")
    with path.open("rb") as fh:
        head = fh.read(16)
    mime = _SUFFIX_MIME.get(path.suffix.lower()) or _sniff(head)
    if mime is None:
        raise UnsupportedFormat(
            f"unsupported file type for C2PA: {path.name} (MP4/MOV, JPEG, PNG, WebP, WAV, ... are supported)"
        )
    return mime


def _context_settings(trust_anchors_pem: bytes | None) -> dict:
    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if trust_anchors_pem:
        # user_anchors adds to (does not replace) the SDK's built-in anchors
        settings["trust"] = {"user_anchors": trust_anchors_pem.decode("ascii", "replace")}
    return settings


def _codes(results: dict | None, kind: str) -> list[str]:
    """Failure (or success) codes of the active manifest and of the ingredient deltas, deduplicated."""
    out: list[str] = []
    if not results:
        return out
    for entry in (results.get("activeManifest") or {}).get(kind, []) or []:
        out.append(entry.get("code", ""))
    for delta in results.get("ingredientDeltas", []) or []:
        for entry in (delta.get("validationDeltas") or {}).get(kind, []) or []:
            out.append(entry.get("code", ""))
    seen: list[str] = []
    for code in out:
        if code and code not in seen:
            seen.append(code)
    return seen


def _actions(manifest: dict) -> list[dict]:
    out = []
    for assertion in manifest.get("assertions", []) or []:
        data = assertion.get("data") if isinstance(assertion, dict) else None
        if str(assertion.get("label", "") if data is not None else "").startswith("c2pa.actions"):
            actions = data.get("actions") if isinstance(data, dict) else None
            for action in actions if isinstance(actions, list) else []:
                if not isinstance(action, dict):
                    continue
                agent = action.get("softwareAgent")
                out.append(
                    {
                        "action": action.get("action"),
                        "digitalSourceType": action.get("digitalSourceType"),
                        "softwareAgent": agent.get("name") if isinstance(agent, dict) else agent,
                        "description": action.get("description"),
                    }
                )
    return out


def _assertions(manifest: dict) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for assertion in manifest.get("assertions", []) or []:
        label = str(assertion.get("label", ""))
        if label:
            out[label] = assertion.get("data")
    return out


def _soft_binding(assertions: dict[str, Any]) -> dict | None:
    data = assertions.get("c2pa.soft-binding")
    if not isinstance(data, dict):
        return None
    payload = None
    blocks = data.get("blocks")
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict):
            continue
        try:
            payload = base64.b64decode(str(block.get("value", "")), validate=True).hex()
            break
        except (ValueError, TypeError):
            continue
    return {"alg": data.get("alg"), "payload": payload, "name": data.get("name")}


def _cameos(data: Any) -> list[dict]:
    """Our cameo assertion's rows; a signed but malformed one (anyone can sign anything) yields none."""
    rows = data.get("cameos") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        return []
    return [{k: str(r[k])[:200] for k in ("handle", "consent_ref", "scope") if r.get(k) is not None}
            for r in rows[:100] if isinstance(r, dict) and isinstance(r.get("handle"), str)]


def _ingredient_tree(manifests: dict, manifest: dict, depth: int, seen: set[str]) -> list[dict]:
    out = []
    for ing in manifest.get("ingredients", []) or []:
        label = ing.get("active_manifest")
        node: dict[str, Any] = {
            "title": ing.get("title"),
            "relationship": ing.get("relationship"),
            "format": ing.get("format"),
            "manifest_label": label,
            "validation_state": (
                ing.get("validation_results") and _state_from_results(ing["validation_results"])
            ),
            "failures": _codes(ing.get("validation_results"), "failure"),
            "ingredients": [],
        }
        sub = manifests.get(label) if label else None
        if sub is not None:
            node["claim_generator"] = _generator(sub)
            node["actions"] = _actions(sub)
            # guard against cycles and hostile nesting depth
            if depth < MAX_INGREDIENT_DEPTH and label not in seen:
                node["ingredients"] = _ingredient_tree(manifests, sub, depth + 1, seen | {label})
        out.append(node)
    return out


def _state_from_results(results: dict) -> str:
    failures = (results.get("activeManifest") or {}).get("failure") or []
    codes = {f.get("code") for f in failures}
    if not codes:
        return "valid"
    return "valid" if codes <= {"signingCredential.untrusted"} else "invalid"


def _generator(manifest: dict) -> str | None:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info:
        parts = []
        for item in info:
            if isinstance(item, dict) and item.get("name"):
                parts.append(
                    f"{item['name']}/{item['version']}" if item.get("version") else str(item["name"])
                )
        if parts:
            return " ".join(parts)
    return manifest.get("claim_generator")


def _parent_chain(manifests: dict, active: str | None) -> list[dict]:
    """Follow parentOf links from the active manifest down to the origin: the remix lineage."""
    chain: list[dict] = []
    label, seen = active, set()
    while label and label in manifests and label not in seen and len(chain) <= MAX_INGREDIENT_DEPTH:
        seen.add(label)
        m = manifests[label]
        chain.append(
            {
                "manifest_label": label,
                "title": m.get("title"),
                "claim_generator": _generator(m),
                "actions": [a["action"] for a in _actions(m)],
            }
        )
        label = next(
            (
                i.get("active_manifest")
                for i in m.get("ingredients", []) or []
                if i.get("relationship") == "parentOf"
            ),
            None,
        )
    return chain


def _empty(state: str, mime: str, error: str | None = None) -> dict:
    return {
        "state": state,
        "failures": [],
        "signer": None,
        "claim_generator": None,
        "actions": [],
        "ingredients": [],
        "chain": [],
        "assertions": {},
        "soft_binding": None,
        "cameos": [],
        "manifest_label": None,
        "manifests": 0,
        "format": mime,
        "error": error,
    }


def read_credentials(path: Path, trust_anchors_pem: bytes | None = None) -> dict:
    """Validate the file's C2PA manifest store. Never raises on absent or broken manifests.

    state: "trusted" (chain to a configured anchor), "valid" (intact but signer not trusted),
    "invalid" (any other failure, or an unreadable manifest: see "error"), "absent" (none found).
    Raises ProvenanceError only for empty or unsupported files.
    """
    path = Path(path)
    mime = detect_mime(path)
    try:
        with (
            c2pa.Context.from_dict(_context_settings(trust_anchors_pem)) as ctx,
            path.open("rb") as fh,
            c2pa.Reader(mime, fh, context=ctx) as reader,
        ):
            store = json.loads(reader.json())
            native_state = reader.get_validation_state()
            results = reader.get_validation_results() or store.get("validation_results")
    except c2pa.C2paError.ManifestNotFound:
        return _empty("absent", mime)
    except c2pa.C2paError.NotSupported as exc:
        raise UnsupportedFormat(f"unsupported file for C2PA: {path.name}: {exc}") from exc
    except c2pa.C2paError as exc:
        msg = str(exc)
        if msg.startswith("Remote"):
            # the manifest lives at a URL; we never fetch offline, so nothing here can be validated
            out = _empty("absent", mime, msg)
            out["remote_manifest"] = True
            return out
        return _empty("invalid", mime, msg)
    except (OSError, json.JSONDecodeError) as exc:
        return _empty("invalid", mime, f"{type(exc).__name__}: {exc}")

    manifests: dict = store.get("manifests") or {}
    active_label = store.get("active_manifest")
    active = manifests.get(active_label) or {}
    state = {"Trusted": "trusted", "Valid": "valid", "Invalid": "invalid"}.get(str(native_state), "invalid")
    failures = _codes(results, "failure")
    sig = active.get("signature_info") or {}
    assertions = _assertions(active)
    cameos = _cameos(assertions.get("com.reelgate.cameos"))
    return {
        "state": state,
        "failures": failures,
        "signer": {
            "issuer": sig.get("issuer"),
            "common_name": sig.get("common_name"),
            "alg": sig.get("alg"),
            "time": sig.get("time"),
            "cert_serial_number": sig.get("cert_serial_number"),
        }
        if sig
        else None,
        "claim_generator": _generator(active),
        "title": active.get("title"),
        "actions": _actions(active),
        "ingredients": _ingredient_tree(manifests, active, 0, {active_label} if active_label else set()),
        "chain": _parent_chain(manifests, active_label),
        "assertions": assertions,
        "soft_binding": _soft_binding(assertions),
        "cameos": cameos,
        "manifest_label": active_label,
        "manifests": len(manifests),
        "format": mime,
        "error": None,
    }
