"""Face verification quality and speed on the real photos in <data>/faces (folder = identity).

Every image's largest face is embedded; all same-identity pairs are genuine, all others impostor.
Reports, per backend: failures to find a face, genuine/impostor distance ranges, TAR and FAR at the
threshold the gate uses, TAR at FAR <= 1e-3 (with the caveat that N impostor pairs cannot resolve a FAR
below 1/N), detection and embedding time, and detections on the multi-face and no-face photos.

    .venv/bin/python -m evals.faces [--data /work/shared/data]
"""

from __future__ import annotations

import itertools
import os
import re
import time
from pathlib import Path

import numpy as np

from consent.faces import DlibBackend, FaceBackend, FaceError, InsightFaceBackend, face_distance, load_image_rgb

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXT)


def identity_of(path: Path, faces_root: Path) -> str | None:
    """Folder name for photos in an identity folder; for loose photos, the file name without `_N`."""
    rel = path.relative_to(faces_root)
    if "multi" in rel.parts:
        return None  # group photos: used for detection counts only
    parent = path.parent.name
    if parent not in ("public_domain", "cc_licensed"):
        return parent
    return re.sub(r"_\d+$", "", path.stem)


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> tuple[float, float, float]:
    """(TAR, achieved FAR, threshold) for the largest threshold whose FAR <= far (accept: distance < t)."""
    imp = np.sort(impostor)
    allowed = int(np.floor(far * len(imp)))  # impostor pairs that may be accepted
    t = float(imp[allowed]) if allowed < len(imp) else float("inf")
    achieved = float(np.mean(impostor < t)) if len(imp) else 0.0
    return float(np.mean(genuine < t)) if len(genuine) else float("nan"), achieved, t


def evaluate_backend(backend: FaceBackend, data_dir: Path) -> tuple[list[str], list[str]]:
    faces_root = data_dir / "faces"
    rows: list[str] = []
    notes: list[str] = []
    embs: dict[Path, np.ndarray] = {}
    ident: dict[Path, str] = {}
    det_ms: list[float] = []
    emb_ms: list[float] = []
    no_face: list[str] = []
    multi_counts: list[str] = []
    for path in _images(faces_root):
        who = identity_of(path, faces_root)
        try:
            img = load_image_rgb(path)
        except FaceError as exc:
            notes.append(f"skipped {path.name}: {exc}")
            continue
        t0 = time.perf_counter()
        found = backend.analyze(img)
        total = (time.perf_counter() - t0) * 1000
        if isinstance(backend, DlibBackend):
            t0 = time.perf_counter()
            backend.detect(img)
            d = (time.perf_counter() - t0) * 1000
            det_ms.append(d)
            if found:
                emb_ms.append(max(0.0, total - d) / len(found))
        if who is None:
            multi_counts.append(f"{path.name}: {len(found)}")
            continue
        if not found:
            no_face.append(path.name)
            continue
        embs[path] = max(found, key=lambda f: f.area).embedding
        ident[path] = who
    false_det = 0
    nf = _images(data_dir / "no_faces")
    for path in nf:
        false_det += len(backend.analyze(load_image_rgb(path)))

    genuine, impostor = [], []
    for a, b in itertools.combinations(sorted(embs), 2):
        (genuine if ident[a] == ident[b] else impostor).append(face_distance(embs[a], embs[b]))
    g, i = np.array(genuine), np.array(impostor)
    thr = backend.threshold
    tar, far_achieved, t_far = tar_at_far(g, i, 1e-3)
    ids = sorted(set(ident.values()))
    rows.append(f"| {backend.name} | images with a face | {len(embs)} ({len(ids)} identities) |")
    rows.append(f"| {backend.name} | no face found (identity photos) | {len(no_face)}: {', '.join(no_face) or '-'} |")
    rows.append(f"| {backend.name} | genuine / impostor pairs | {len(g)} / {len(i)} |")
    rows.append(
        f"| {backend.name} | genuine distance min / median / max | "
        f"{g.min():.3f} / {np.median(g):.3f} / {g.max():.3f} |"
    )
    rows.append(
        f"| {backend.name} | impostor distance min / median / max | "
        f"{i.min():.3f} / {np.median(i):.3f} / {i.max():.3f} |"
    )
    rows.append(
        f"| {backend.name} | at gate threshold {thr}: TAR / FAR | "
        f"{np.mean(g < thr):.3f} / {np.mean(i < thr):.4f} |"
    )
    rows.append(
        f"| {backend.name} | TAR @ FAR<=1e-3 (threshold {t_far:.3f}, achieved FAR {far_achieved:.4f}) | "
        f"{tar:.3f} (only {len(i)} impostor pairs: smallest non-zero FAR measurable is {1 / len(i):.4f}) |"
    )
    acc = (np.sum(g < thr) + np.sum(i >= thr)) / (len(g) + len(i))
    rows.append(f"| {backend.name} | pair accuracy at threshold | {acc:.4f} |")
    if det_ms:
        rows.append(
            f"| {backend.name} | detection + 68 landmarks per image (ms, median; sizes vary to 2333 px) | "
            f"{np.median(det_ms):.0f} |"
        )
    if emb_ms:
        rows.append(f"| {backend.name} | embedding per face (ms, median) | {np.median(emb_ms):.0f} |")
    rows.append(f"| {backend.name} | faces found in group photos | {'; '.join(multi_counts)} |")
    rows.append(f"| {backend.name} | faces found in {len(nf)} no-face photos | {false_det} |")
    return rows, notes


def run(data_dir: Path) -> str:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    lines = ["| backend | measure | value |", "|---|---|---|"]
    notes: list[str] = []
    backends: list[FaceBackend] = [DlibBackend(upsample=0)]
    insight_dir = os.environ.get("REELGATE_INSIGHTFACE_DIR")
    backends.append(InsightFaceBackend(Path(insight_dir) if insight_dir else None))
    for b in backends:
        ok, why = b.available()
        if not ok:
            lines.append(f"| {b.name} | not run | {why} |")
            continue
        rows, n = evaluate_backend(b, data_dir)
        lines += rows
        notes += n
    lines.append("")
    lines.append(
        "Anchor: dlib reports 99.38% on LFW. This set is tiny (a few identities, some photos from one "
        "sitting), so it checks the wiring and the threshold, not the published accuracy."
    )
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines)


def main() -> None:
    from evals import main as run_main

    run_main(run, __doc__)


if __name__ == "__main__":
    main()
