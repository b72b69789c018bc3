"""What a validated manifest says about who signed and how the content was made, in a few fields a reader can
take in at once (the full manifest stays in the report beside it)."""

from __future__ import annotations

from typing import Any

# IPTC digital source types that say generative AI made or helped make the content
AI_SOURCE_TYPES = {"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "algorithmicallyEnhanced",
                   "compositeSynthetic", "algorithmicMedia"}


def _short(uri: Any) -> str | None:
    """'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia' -> 'trainedAlgorithmicMedia'."""
    if not isinstance(uri, str) or not uri.strip():
        return None
    return uri.strip().rstrip("/").rsplit("/", 1)[-1][:100]


def _identities(data: Any) -> list[dict[str, Any]]:
    """CAWG identity assertions: an X.509 (COSE) signer, or an identity claims aggregation credential."""
    out: list[dict[str, Any]] = []
    for item in data if isinstance(data, list) else [data]:
        if not isinstance(item, dict):
            continue
        sig = item.get("signature_info")
        if isinstance(sig, dict):
            out.append({"type": "x509", "name": sig.get("common_name"), "issuer": sig.get("issuer")})
        for v in item.get("verifiedIdentities") or []:
            if isinstance(v, dict):
                prov = v.get("provider")
                prov = prov if isinstance(prov, dict) else {}
                out.append({"type": str(v.get("type") or "")[:60], "name": v.get("name") or v.get("username"),
                            "provider": prov.get("name"), "verified_at": v.get("verifiedAt")})
    return out[:20]


def summarise(cred: dict[str, Any]) -> dict[str, Any] | None:
    """None when there is no manifest to speak of."""
    if cred.get("state") not in {"trusted", "valid", "invalid"} or not cred.get("manifest_label"):
        return None
    sig = cred.get("signer") or {}
    types = []
    for a in cred.get("actions") or []:
        t = _short(a.get("digitalSourceType"))
        if t and t not in types:
            types.append(t)
    assertions = cred.get("assertions") or {}
    ids = [i for k, v in assertions.items() if k.startswith("cawg.identity") for i in _identities(v)]
    return {"signer": sig.get("common_name"), "signer_organisation": sig.get("issuer"), "signed_at": sig.get("time"),
            "claim_generator": cred.get("claim_generator"), "digital_source_types": types,
            "ai_generated": any(t in AI_SOURCE_TYPES for t in types), "cawg_identities": ids,
            "ingredients": len(cred.get("ingredients") or [])}
