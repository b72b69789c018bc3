"""100,000 distractor references for the keypoint signal, built from REAL SIFT descriptors.

Running SIFT on 100,000 separate images takes hours on this machine (~30-200 ms each), so each distractor
reference is a random TILE of a real frame or photo: SIFT runs once per source frame (at up to 960 px,
many features) and a tile's descriptor set is the frame's keypoints inside the tile window (the strongest
`per_ref`). This is the reference set a registry of crops of real footage would hold; descriptors near tile
borders differ slightly from SIFT run on the crop itself. Sources: frames of videos_real/ and
ai_generated_video/ every 0.5 s, and the photos in no_faces/ and faces/, each also at half size. c2pa/ is
left out so that its frames stay fully independent queries; every tile records its source file so that a
query frame matching a tile of ANOTHER file can be counted as a false match.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from evals.held_out import is_held_out

SOURCE_DIRS = ("videos_real", "ai_generated_video")
STILL_DIRS = ("no_faces", "faces")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".webm", ".gif", ".mkv"}
FRAME_FEATURES = 6000
FRAME_EVERY = 0.25  # seconds between source frames


@dataclass
class SourceFrame:
    source: str  # file path relative to the data dir
    points: np.ndarray  # (n, 2) float32
    descriptors: np.ndarray  # (n, 128) float32
    response: np.ndarray  # (n,) float32
    size: tuple[int, int]  # (w, h)


def _frames(data: Path):
    from safety.copyright.images import fit_within, read_image_file
    from safety.copyright.video import sample_frames

    for d in SOURCE_DIRS:
        for p in sorted((data / d).rglob("*")):
            if p.suffix.lower() in VIDEO_SUFFIXES and not is_held_out(p, data):
                try:
                    for _, _, f in sample_frames(p, FRAME_EVERY):
                        yield str(p.relative_to(data)), fit_within(f, 960)
                except ValueError as exc:
                    print(f"  skip {p.name}: {exc}", file=sys.stderr)
    for d in STILL_DIRS:
        for p in sorted((data / d).rglob("*")):
            if p.suffix.lower() in IMAGE_SUFFIXES and not is_held_out(p, data):
                try:
                    img = fit_within(read_image_file(p), 960)
                except ValueError:
                    continue
                yield str(p.relative_to(data)), img
                h, w = img.shape[:2]
                yield str(p.relative_to(data)), cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA)


def source_frames(data: Path) -> list[SourceFrame]:
    sift = cv2.SIFT_create(nfeatures=FRAME_FEATURES)
    out = []
    for src, img in _frames(data):
        gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        kps, desc = sift.detectAndCompute(gray, None)
        if desc is None or len(kps) < 50:
            continue
        out.append(
            SourceFrame(
                src,
                np.array([k.pt for k in kps], np.float32),
                desc.astype(np.float32),
                np.array([k.response for k in kps], np.float32),
                (img.shape[1], img.shape[0]),
            )
        )
    return out


def tiles(frames: list[SourceFrame], n: int, per_ref: int, seed: int = 7):
    """Yield n (source, KeypointSet) distractor references: random windows covering 10-50% of a frame."""
    from safety.copyright.signals.keypoints import KeypointSet

    rng = np.random.default_rng(seed)
    made = 0
    while made < n:
        f = frames[int(rng.integers(len(frames)))]
        w, h = f.size
        tw, th = int(w * rng.uniform(0.3, 0.7)), int(h * rng.uniform(0.3, 0.7))
        x, y = int(rng.integers(0, w - tw + 1)), int(rng.integers(0, h - th + 1))
        inside = np.nonzero(
            (f.points[:, 0] >= x) & (f.points[:, 0] < x + tw) & (f.points[:, 1] >= y) & (f.points[:, 1] < y + th)
        )[0]
        if len(inside) < 30:
            continue
        keep = inside[np.argsort(-f.response[inside])[:per_ref]]
        yield f.source, KeypointSet(f.points[keep] - [x, y], f.descriptors[keep], (tw, th))
        made += 1


if __name__ == "__main__":
    from evals import default_data_dir

    t0 = time.perf_counter()
    fr = source_frames(default_data_dir())
    print(len(fr), "frames", sum(len(f.points) for f in fr), "descriptors", f"{time.perf_counter() - t0:.0f} s")
