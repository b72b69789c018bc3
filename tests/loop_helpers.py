"""Helpers for the tests of the loop after publication: published clips (tiny real MP4s) seeded in the store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlmodel import Session

from gate.models import Job, JobStatus, utcnow

PASSED = [{"name": "prompt", "decision": "pass", "reasons": [], "scores": {"sexual": 0.01}},
          {"name": "frames", "decision": "pass", "reasons": [], "scores": {"nudity": 0.0}}]


def tiny_mp4(path: Path, frames: int = 8, size: int = 96, colour: tuple[int, int, int] = (240, 200, 40),
             variant: int = 0) -> Path:
    """A small H.264 clip of a square moving over a background (no face, no nudity); each `variant` draws a
    different background (blocks of colour), so perceptual hashes tell variants apart."""
    import av

    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=8)
        st.width = st.height = size
        st.pix_fmt = "yuv420p"
        for i in range(frames):
            img = np.zeros((size, size, 3), dtype=np.uint8)
            img[:, :, 2] = 120
            if variant:  # blocks of colour, fixed by the variant: a picture of its own
                cells = np.random.default_rng(variant).integers(0, 256, (6, 6, 3), dtype=np.uint8)
                img = np.kron(cells, np.ones((size // 6, size // 6, 1), dtype=np.uint8))
            img[10 + i * 4:40 + i * 4, 20:60] = colour
            for p in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    return path


def seed_clip(c: Any, job_id: str, user: str, remix: str | None = None, prompt: str = "a yellow square",
              status: str = JobStatus.PUBLISHED, age_minutes: float = 0.0, variant: int = 0) -> str:
    """A published clip (or one in `status`), created `age_minutes` ago, its video stored as if published."""
    key = f"videos/{job_id}.mp4"
    video = tiny_mp4(c.settings.resolved_data_dir / f"{job_id}.src.mp4", variant=variant)
    c.storage.put_file(key, video)
    request: dict[str, Any] = {"prompt": prompt, "seconds": 1.0, "resolution": "480p", "remix": remix}
    with Session(c.engine) as s:
        s.add(Job(id=job_id, user=user, status=status, request=request, decisions=list(PASSED),
                  video_key=key if status == JobStatus.PUBLISHED else None,
                  created_at=utcnow() - timedelta(minutes=age_minutes), attempts=1))
        s.commit()
    return job_id
