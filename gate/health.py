"""The health report: every stage, its model, whether it runs on real weights, the verify path's detector, and
the installation's warnings. One report for the API, the console and the CLI."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from gate.components import Components
from gate.jobs import build_pipeline
from gate.watermark_keys import key_warnings


def health_report(c: Components) -> dict[str, Any]:
    try:
        with c.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        db = "ok"
    except Exception as exc:
        db = f"unavailable: {type(exc).__name__}"
    stages = build_pipeline(c).health()
    required_missing = [s["name"] for st in stages for s in st["signals"]
                        if s.get("required") and not s.get("available")]
    status = "ok" if db == "ok" and not required_missing else "degraded"
    queue = "embedded (SQLite)" if c.settings.embedded_queue else "broker"
    return {"status": status, "database": db, "queue": queue, "stages": stages,
            "required_signals_unavailable": required_missing, "verify": [_detector_health(c)],
            "warnings": key_warnings(c.engine, c.watermark_keys, "this API process") if db == "ok" else []}


def _detector_health(c: Components) -> dict[str, Any]:
    """The verify path's AI-video detector: loaded or not, and whether its training showed a signal."""
    det, why = c.detector.get()
    if det is None:
        return {"name": "verify.detector", "model": "unavailable", "available": False, "informative": False,
                "why": why}
    ok, why = det.available()
    informative, validation = det.validation()
    return {"name": "verify.detector", "model": det.model_version, "available": ok, "informative": informative,
            "why": why if not ok else validation}
