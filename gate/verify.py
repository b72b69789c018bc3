"""Verification for journalists and the public: C2PA, our watermark (and what it resolves to), and the
artifact detector, summed up in a verdict that says only what the evidence supports."""

from __future__ import annotations

import json
import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from gate import metrics
from gate.components import Components
from gate.jobs import get_job
from gate.uploads import UploadError, check_media

log = logging.getLogger(__name__)
INCONCLUSIVE_BAND = (0.35, 0.65)  # detector estimates inside this band are not reported as leaning
VERIFY_THREADS = 3  # the report's parts run side by side (see _verify_file)


def _c2pa(c: Components, path: Path) -> dict[str, Any]:
    from provenance.c2pa_read import read_credentials
    from provenance.c2pa_summary import summarise
    from provenance.errors import UnsupportedFormat

    try:
        out = read_credentials(path, c.trust_anchors_pem)
        out["summary"] = summarise(out)
        return out
    except UnsupportedFormat as exc:  # e.g. Matroska: no credentials can be there, so none are broken
        return {"state": "absent", "failures": [], "unsupported": True, "error": str(exc)}
    except Exception as exc:  # an unreadable manifest is evidence too, not a crash
        return {"state": "invalid", "failures": [], "error": f"{type(exc).__name__}: {exc}"}


def _record(c: Components, video_id: str) -> dict[str, Any] | None:
    """What our registry says about a clip id: no personal data (no user, no prompt)."""
    job = get_job(c, video_id)
    if job is None:
        return None
    models = {k: v for d in job.decisions for k, v in (d.get("models") or {}).items()}
    return {
        "video_id": job.id,
        "status": job.status,
        "created_at": job.created_at.isoformat(),
        "generator": models.get("generator"),
        "remix_of": job.request.get("remix"),
        "remixed_from_upload": bool(job.request.get("remix_key")),
    }


def _watermark(c: Components, path: Path, kind: str) -> dict[str, Any]:
    from provenance import watermark

    try:
        keys = c.watermark_keys.get()  # the installation's ring: a mark under any other key is not ours
        res = (watermark.detect_clip(path, keys=keys) if kind == "video"
               else watermark.detect_image(path, keys=keys))
    except Exception as exc:
        log.exception("watermark detection failed")
        return {"found": False, "payload": None, "error": f"{type(exc).__name__}: {exc}"}
    out = dict(res)
    out["video_id"] = None
    out["record"] = None
    if res.get("found") and res.get("payload"):
        out["video_id"] = res["payload"]
        out["record"] = _record(c, res["payload"])
    return out


def _foreign_marks(c: Components, path: Path) -> dict[str, Any]:
    """Other pipelines' public default marks (Stable Diffusion's invisible-watermark messages)."""
    from provenance.foreign_marks import detect_file

    try:
        return detect_file(path)
    except Exception as exc:  # an undecodable file is reported, not a crash
        return {"checked": False, "found": [], "error": f"{type(exc).__name__}: {exc}"}


def _banks(c: Components, path: Path) -> dict[str, Any]:
    """The hash banks (known and taken-down media): a match is reported with the bank's policy."""
    from gate.banks import check_file

    try:
        return check_file(c, path)
    except Exception as exc:  # an undecodable file is reported, not a crash
        log.exception("hash bank check failed")
        return {"matches": [], "error": f"{type(exc).__name__}: {exc}"}


def _banks_say(banks: dict[str, Any]) -> str:
    """The verdict's sentence on bank matches ('' when none)."""
    matches = banks.get("matches") or []
    if not matches:
        return ""
    m = matches[0]
    how = "the same file" if m.get("exact") else f"a near copy ({m['signal']}, {m['distance']} bits)"
    src = " of a clip taken down here" if m["bank"] == "removed" else ""
    more = f" and {len(matches) - 1} other bank match(es)" if len(matches) > 1 else ""
    return f"; it is {how}{src} in the hash bank '{m['bank']}' (policy {m['policy']}){more}"


def _detector(c: Components, path: Path) -> dict[str, Any]:
    det, why = c.detector.get()
    if det is None:
        return {"available": False, "why": why, "ai_probability": None, "artifacts": {}}
    ok, why = det.available()
    if not ok:
        return {"available": False, "why": why, "ai_probability": None, "artifacts": {}}
    try:
        r = det.predict(path)
    except Exception as exc:
        return {"available": False, "why": f"{type(exc).__name__}: {exc}", "ai_probability": None, "artifacts": {}}
    return {"available": True, "ai_probability": round(float(r.ai_probability), 4), "artifacts": r.artifacts,
            "top_features": list(r.top_features),
            "informative": bool(getattr(r, "informative", True)),
            "evidence_frames": list(r.evidence_frames), "model_version": r.model_version, "notes": list(r.notes)}


def _manifest_says(summary: dict[str, Any]) -> str:
    """The signer's own account of how the content was made: reported as a claim, attributed to the manifest."""
    said = []
    if summary.get("claim_generator"):
        said.append(f"made with {summary['claim_generator']}")
    if summary.get("digital_source_types"):
        said.append(f"source type {', '.join(summary['digital_source_types'])}")
    names = [i["name"] for i in summary.get("cawg_identities") or [] if i.get("name")]
    if names:
        said.append(f"identity assertion for {', '.join(names[:3])}")
    return f"; the manifest says: {'; '.join(said)}" if said else ""


def verdict(report: dict[str, Any]) -> tuple[str, str]:
    """(code, sentence). Provenance signals speak first; the detector only where they are silent."""
    parts: list[str] = []
    code = "inconclusive"
    cp = report["c2pa"]
    sig = cp.get("signer") or {}
    signer = sig.get("common_name") or sig.get("issuer") or "an unknown signer"
    if cp.get("state") == "trusted":
        code = "signed"
        parts.append(f"signed by {signer} and unmodified since signing (trusted)")
    elif cp.get("state") == "valid":
        code = "signed"
        parts.append(f"signed by {signer} and unmodified since signing, "
                     "but the signer is not on a configured trust list")
    if code == "signed" and cp.get("summary"):
        parts[-1] += _manifest_says(cp["summary"])
    if cp.get("state") == "invalid":
        code = "tampered"
        why = ", ".join(cp.get("failures") or []) or cp.get("error") or "validation failed"
        parts.append(f"Content Credentials present but invalid ({why}): modified after signing or badly signed")
    wm = report["watermark"]
    if wm.get("found"):
        rec = wm.get("record")
        if code == "inconclusive":
            code = "ours"
        if rec:
            extra = f", status {rec['status']}" if rec["status"] != "published" else ""
            gen = f" by {rec['generator']}" if rec.get("generator") else ""
            remix = f", a remix of clip {rec['remix_of']}" if rec.get("remix_of") else (
                ", a remix of an uploaded clip" if rec.get("remixed_from_upload") else "")
            parts.append(f"our watermark found: clip {wm['video_id']}, generated {rec['created_at'][:10]}{gen}"
                         f"{remix}{extra}")
        else:
            parts.append(f"our watermark found with payload {wm['video_id']}, which is not in this registry")
        if wm.get("key_legacy"):
            parts[-1] += " (under the legacy 3.x key, which anyone with the source code can forge)"
    for label in (report.get("foreign_marks") or {}).get("found") or []:
        if code == "inconclusive":
            code = "foreign_mark"
        parts.append(f"the default watermark of {label} found: the file carries the public invisible mark "
                     "that pipeline embeds by default (anyone can add it, and re-encoding removes it)")
    if not parts:
        det = report["detector"]
        p = det.get("ai_probability")
        if p is None:
            parts.append(f"no provenance signal; the AI-video detector could not run ({det.get('why')})")
        elif not det.get("informative", False):
            parts.append("no provenance signal; inconclusive (the AI-video detector has no reliable signal "
                         "for this kind of file yet, so it does not lean either way)")
        elif INCONCLUSIVE_BAND[0] <= p <= INCONCLUSIVE_BAND[1]:
            parts.append(f"no provenance signal; inconclusive (detector p={p:.2f} is near chance)")
        else:
            groups = sorted(det.get("artifacts", {}).items(), key=lambda kv: -float(kv[1].get("score") or 0.0))
            top = " and ".join(name.replace("_", " ") for name, _ in groups[:2]) or "its features"
            code = "likely_ai" if p > INCONCLUSIVE_BAND[1] else "no_ai_evidence"
            parts.append(f"no provenance signal; the detector estimates p={p:.2f} that it is AI-generated, "
                         f"mainly from {top} evidence (an estimate, not proof)")
    text = "; ".join(parts)
    return code, text[0].upper() + text[1:]


def _credentials_evidence(cp: dict[str, Any]) -> dict[str, Any]:
    sig = cp.get("signer") or {}
    signer = sig.get("common_name") or sig.get("issuer") or "an unknown signer"
    said = _manifest_says(cp.get("summary") or {})
    state = cp.get("state")
    if state == "trusted":
        return {"finding": "trusted", "counts": True,
                "says": f"Content Credentials signed by {signer}, a signer on the configured trust list, and "
                        f"unmodified since signing{said}"}
    if state == "valid":
        return {"finding": "untrusted", "counts": True,
                "says": f"Content Credentials signed as {signer} and unmodified since signing, but the signer is "
                        f"not on a configured trust list, so who signed is not confirmed{said}"}
    if state == "invalid":
        why = ", ".join(cp.get("failures") or []) or cp.get("error") or "validation failed"
        return {"finding": "tampered", "counts": True,
                "says": f"Content Credentials present but invalid ({why}): modified after signing or badly signed"}
    if cp.get("unsupported"):
        return {"finding": "absent", "counts": False,
                "says": "no Content Credentials: this format cannot carry them"}
    return {"finding": "absent", "counts": False,
            "says": "no Content Credentials in the file (most files have none: their absence says nothing of "
                    "where it came from)"}


def _watermark_evidence(wm: dict[str, Any]) -> list[dict[str, Any]]:
    if wm.get("error"):
        return [{"signal": "our_watermark", "finding": "error", "counts": False,
                 "says": f"our watermark could not be read ({wm['error']})"},
                {"signal": "registry", "finding": "not_consulted", "counts": False,
                 "says": "not consulted: no watermark of ours was read"}]
    if not wm.get("found"):
        return [{"signal": "our_watermark", "finding": "not_found", "counts": False,
                 "says": "no watermark of this installation (made elsewhere, or altered beyond what the mark "
                         "survives)"},
                {"signal": "registry", "finding": "not_consulted", "counts": False,
                 "says": "not consulted: no watermark of ours to look up"}]
    legacy = " under the legacy 3.x key, which anyone with the source code can forge" if wm.get("key_legacy") else ""
    out = [{"signal": "our_watermark", "finding": "found", "counts": True,
            "says": f"our watermark found, carrying clip id {wm.get('video_id')}{legacy}"}]
    rec = wm.get("record")
    if rec:
        gen = f" by {rec['generator']}" if rec.get("generator") else ""
        out.append({"signal": "registry", "finding": "record", "counts": True,
                    "says": f"clip {rec['video_id']} is in this registry: generated {str(rec['created_at'])[:10]}"
                            f"{gen}, status {rec['status']}"})
    else:
        out.append({"signal": "registry", "finding": "no_record", "counts": True,
                    "says": f"clip id {wm.get('video_id')} is not in this registry (another installation's, or "
                            "a deleted record)"})
    return out


def _foreign_evidence(fm: dict[str, Any]) -> dict[str, Any]:
    found = fm.get("found") or []
    if found:
        return {"finding": "found", "counts": True,
                "says": f"the public default watermark of {', '.join(found)} found (anyone can add it, and "
                        "re-encoding removes it)"}
    if fm.get("error") or not fm.get("checked"):
        why = fm.get("error") or "no frame large enough to read"
        return {"finding": "not_checked", "counts": False, "says": f"other pipelines' marks not checked ({why})"}
    return {"finding": "not_found", "counts": False,
            "says": "no known pipeline's public default watermark (their absence proves nothing: re-encoding "
                    "removes them, and most generators embed none)"}


def _detector_evidence(det: dict[str, Any], provenance_spoke: bool) -> dict[str, Any]:
    p = det.get("ai_probability")
    if p is None:
        return {"finding": "unavailable", "counts": False, "says": f"the AI-video detector did not run "
                f"({det.get('why') or 'unavailable'})"}
    if not det.get("informative", False):
        return {"finding": "not_informative", "counts": False,
                "says": f"the AI-video detector computed p={p:.2f}, which is not evidence: the model has not "
                        "validated on generators and real sources it never saw"}
    frames = det.get("evidence_frames") or []
    where = f"; most AI-like around frames {', '.join(map(str, frames))}" if frames else ""
    if provenance_spoke:
        return {"finding": "not_used", "counts": False,
                "says": f"the AI-video detector estimates p={p:.2f}{where}; not used: provenance signals speak "
                        "first"}
    if INCONCLUSIVE_BAND[0] <= p <= INCONCLUSIVE_BAND[1]:
        return {"finding": "near_chance", "counts": True, "says": f"the AI-video detector's p={p:.2f} is near "
                "chance"}
    return {"finding": "likely_ai" if p > INCONCLUSIVE_BAND[1] else "no_ai_evidence", "counts": True,
            "says": f"the AI-video detector estimates p={p:.2f} that it is AI-generated{where} (an estimate, "
                    "not proof)"}


def evidence(report: dict[str, Any]) -> list[dict[str, Any]]:
    """What each signal found, in the order the verdict weighs them, and whether it shaped the verdict."""
    out = [{"signal": "credentials", **_credentials_evidence(report["c2pa"])}]
    out += _watermark_evidence(report["watermark"])
    out.append({"signal": "foreign_marks", **_foreign_evidence(report.get("foreign_marks") or {})})
    spoke = any(e["counts"] for e in out)
    out.append({"signal": "detector", **_detector_evidence(report["detector"], spoke)})
    return out


def verify_file(c: Components, path: Path, name: str | None = None) -> dict[str, Any]:
    """Raises gate.uploads.UploadError for files we will not read (empty, oversized, bombs, truncated)."""
    t0 = time.perf_counter()
    code = "error"
    try:
        report = _verify_file(c, path, name)
        code = str(report["verdict_code"])
        return report
    except UploadError:
        code = "rejected"
        raise
    finally:  # every caller (API, console, CLI) counted here, once
        metrics.verify_done(code, time.perf_counter() - t0)


def _load_parts(c: Components) -> None:
    """Import what the parts import, and load the detector, before they run on threads: a package imported
    for the first time from two threads at once can fail (a cold `reelgate verify` in CI: KeyError 'scipy'
    in importlib, as the watermark's scipy.fft and another part's scipy imports met)."""
    import gate.banks  # noqa: F401
    import provenance.c2pa_read  # noqa: F401
    import provenance.c2pa_summary  # noqa: F401
    import provenance.foreign_marks  # noqa: F401
    import provenance.watermark  # noqa: F401

    c.detector.get()


def _verify_file(c: Components, path: Path, name: str | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    kind = check_media(path, c.settings.max_upload_bytes)
    report: dict[str, Any] = {"file": name or path.name, "kind": kind}
    timings = {"checks": time.perf_counter() - t0}

    def run(fn: Any) -> tuple[dict[str, Any], float]:
        t = time.perf_counter()
        return fn(c, path), time.perf_counter() - t

    # the parts are independent reads of the same file (each catches its own errors): run side by side, the
    # slowest (the watermark) first. Their decoding, OpenCV and numpy release the GIL, so on a free second
    # core the report takes about its slowest part instead of their sum
    parts = {"watermark": lambda c, p: _watermark(c, p, kind), "banks": _banks, "detector": _detector,
             "foreign_marks": _foreign_marks, "c2pa": _c2pa}
    _load_parts(c)
    with ThreadPoolExecutor(max_workers=VERIFY_THREADS) as pool:
        running = {part: pool.submit(run, fn) for part, fn in parts.items()}
        for part in ("c2pa", "watermark", "foreign_marks", "detector", "banks"):  # the report's order
            report[part], timings[part] = running[part].result()
    report["verdict_code"], report["verdict"] = verdict(report)
    report["verdict"] += _banks_say(report["banks"])
    report["evidence"] = evidence(report)
    report["timings"] = {k: round(v, 3) for k, v in timings.items()}
    report["seconds"] = round(time.perf_counter() - t0, 3)
    return report


# --- stored reports (the console's permalinks): screened thumbnails, expiry, purge ---

REPORTS = "verify"
ORPHAN_AGE = timedelta(hours=1)  # a folder without report.json this old is a write that never finished


def report_ttl(c: Components) -> timedelta:
    return timedelta(days=c.settings.verify_report_ttl_days)


def screen_thumbnails(c: Components, images: dict[str, Image.Image]) -> tuple[dict[str, Image.Image], str | None]:
    """Anyone can upload anything here, and a report is public to whoever has its link: every picture goes
    through the frame gate's nudity detector (NudeNet) first, and one with any exposed-part evidence is not
    stored at all (none blurred either). Without the detector no picture is stored. Returns what may be
    stored and, if any was left out, why (said on the report)."""
    from safety.frames import nudity_score

    if not images:
        return {}, None
    gate, why = c.frame_gate.get()
    ok, why = gate.available() if gate is not None else (False, why)
    if gate is None or not ok:
        return {}, f"no thumbnails stored: the nudity check could not run ({why})"
    kept = {}
    for name, img in images.items():
        score, _ = nudity_score(gate.detect_nudity(np.asarray(img.convert("RGB"))))
        if score <= 0.0:
            kept[name] = img
    withheld = len(images) - len(kept)
    return kept, (f"{withheld} thumbnail(s) not stored: the nudity check flagged them" if withheld else None)


def store_report(c: Components, report: dict[str, Any], thumbnails: dict[str, bytes]) -> str:
    """Store a report and its (already screened) JPEG thumbnails under a fresh 128-bit id."""
    rid = secrets.token_hex(16)  # the permalink is the only way to find a report
    for name, data in thumbnails.items():
        c.storage.put_bytes(f"{REPORTS}/{rid}/{name}.jpg", data)
    now = datetime.now(UTC)
    body = report | {"thumbnails": list(thumbnails), "stored_at": now.isoformat(),
                     "expires_at": (now + report_ttl(c)).isoformat()}
    c.storage.put_bytes(f"{REPORTS}/{rid}/report.json", json.dumps(body, default=str).encode())
    return rid


def _stored_at(c: Components, rid: str, report: dict[str, Any] | None) -> datetime:
    try:
        when = datetime.fromisoformat(str((report or {})["stored_at"]))
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    except (KeyError, ValueError):  # a report from before expiry existed: its file's age
        files = [c.storage.path(k) for k in c.storage.keys(f"{REPORTS}/{rid}")]
        mtimes = [p.stat().st_mtime for p in files if p.exists()]
        return datetime.fromtimestamp(max(mtimes), UTC) if mtimes else datetime.fromtimestamp(0, UTC)


def _read(c: Components, rid: str) -> dict[str, Any] | None:
    key = f"{REPORTS}/{rid}/report.json"
    if not c.storage.exists(key):
        return None
    try:
        body = json.loads(c.storage.path(key).read_text())
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def load_report(c: Components, rid: str, now: datetime | None = None) -> dict[str, Any] | None:
    """The report, or None if there is none or it expired (an expired one is deleted on the spot).
    `rid` must already be checked as 32 hex digits by the caller."""
    report = _read(c, rid)
    if report is None:
        return None
    if _stored_at(c, rid, report) + report_ttl(c) <= (now or datetime.now(UTC)):
        c.storage.delete_prefix(f"{REPORTS}/{rid}")
        return None
    return report


def purge_expired_reports(c: Components, now: datetime | None = None) -> int:
    """Delete every expired report (and every half-written one): run at start and periodically."""
    now = now or datetime.now(UTC)
    rids = sorted({k.split("/")[1] for k in c.storage.keys(REPORTS) if k.count("/") == 2})
    purged = 0
    for rid in rids:
        report = _read(c, rid)
        age_limit = report_ttl(c) if report is not None else ORPHAN_AGE
        if _stored_at(c, rid, report) + age_limit <= now:
            c.storage.delete_prefix(f"{REPORTS}/{rid}")
            purged += 1
    if purged:
        log.info("purged %d expired verification report(s)", purged)
    return purged
