"""The frames that made a stage refuse a clip, kept after the draft itself is deleted, so the creator and
the operators can see why. Frames flagged for sexual content are never kept: the decision and its words
are the record there, and no copy of such material is stored."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import av

from gate.components import Components

log = logging.getLogger(__name__)
NEVER_KEEP = frozenset({"nudity", "minor_sexual", "sexual", "sexual_clip"})
MAX_FRAMES = 6


def evidence_key(job_id: str, index: int) -> str:
    return f"evidence/{job_id}/{int(index)}.png"


def flagged_frames(decisions: list[dict[str, Any]]) -> list[int]:
    frames: list[int] = []
    for d in decisions:
        if d.get("decision") == "pass":
            continue
        evidence = [e for e in d.get("evidence") or [] if isinstance(e, dict) and isinstance(e.get("frame"), int)]
        if any(e.get("category") in NEVER_KEEP for e in evidence):
            continue  # one sexual-content finding in a stage: keep none of its frames
        frames += [e["frame"] for e in evidence if e.get("allowed") is not True]
    return sorted(set(frames))[:MAX_FRAMES]


def keep_evidence_frames(c: Components, job_id: str, draft: Path, decisions: list[dict[str, Any]]) -> list[int]:
    wanted = flagged_frames(decisions)
    if not wanted or not draft.exists():
        return []
    kept = []
    with av.open(str(draft)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                buf = io.BytesIO()
                frame.to_image().save(buf, format="PNG")
                c.storage.put_bytes(evidence_key(job_id, i), buf.getvalue())
                kept.append(i)
            if i >= wanted[-1]:
                break
    return kept
