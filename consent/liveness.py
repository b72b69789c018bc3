"""Liveness for cameo enrollment: a random head-pose challenge checked on the uploaded selfie video.

The service issues a `Challenge` (e.g. turn_left, look_up, turn_right) with an expiry. The video must
show ONE consistent face performing the steps in order. The head's pose in every sampled frame comes
from points tracked on the face (consent.head_tracking: corners inside the face box lifted onto a generic
head and fitted with cv2.solvePnP), expressed as the direction the face points (yaw > 0: toward image
right, pitch > 0: up), relative to the first half-second. Only the five landmarks of dlib's public-domain
predictor (or SCRFD's keypoints) are used: the 68-point model's licence excludes commercial use.

Refusals (LivenessResult.ok False, with a reason a person can act on):
- no face / a second face / a different face mid-video;
- no head movement (a still photo, a frozen video);
- planar motion: a printed photo or a screen tilted in front of the camera fools a pose estimator (tilting
  a flat face by 40 degrees reads as a ~35 degree head turn), but it moves as a plane. Every tracked
  point of a flat picture moves by one homography; on a real head turning 15+ degrees the nose, brows
  and cheeks, at different depths, do not. The face parallax is how far the tracked points are from the
  best homography (80th percentile, in inter-ocular distances), median over the frames that show a step;
- the steps out of order, a step missing, the challenge expired.
Malformed input (not a video, too long, too short, huge frames) raises `VideoError`.

Direction convention: "turn_left" is the subject's own left. In an unmirrored recording (what phone
front cameras store by default) that is the image's right; pass mirrored=True for a mirrored stream.
"""

from __future__ import annotations

import contextlib
import random
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from consent.face_quality import FaceQuality, assess
from consent.faces import DLIB5, SCRFD5, Face, FaceBackend, eyes_and_nose, face_distance
from consent.head_tracking import FaceGeometry, track_face

STEPS = ("turn_left", "turn_right", "look_up", "look_down")


class VideoError(ValueError):
    """The upload is not a usable video (unreadable, too long, too short, frames too large)."""


class ChallengeError(ValueError):
    """A malformed challenge."""


@dataclass
class Challenge:
    id: str
    steps: list[str]
    issued_at: datetime
    expires_at: datetime

    def to_dict(self) -> dict:
        d = asdict(self)
        d["issued_at"] = self.issued_at.isoformat()
        d["expires_at"] = self.expires_at.isoformat()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Challenge:
        steps = list(d["steps"])
        bad = [s for s in steps if s not in STEPS]
        if not steps or bad:
            raise ChallengeError(f"invalid challenge steps {steps!r}")
        return cls(
            id=str(d["id"]),
            steps=steps,
            issued_at=datetime.fromisoformat(d["issued_at"]),
            expires_at=datetime.fromisoformat(d["expires_at"]),
        )

    def instructions(self) -> str:
        words = {"turn_left": "turn left", "turn_right": "turn right", "look_up": "look up",
                 "look_down": "look down"}  # fmt: skip
        return "Face the camera, then " + ", then ".join(words[s] for s in self.steps) + "."


def issue_challenge(rng: random.Random | None = None, n_steps: int = 3, ttl_seconds: int = 300) -> Challenge:
    """A random step sequence (no step twice in a row, at least one turn) valid for ttl_seconds."""
    if not 1 <= n_steps <= 6:
        raise ChallengeError("a challenge has 1 to 6 steps")
    if not 10 <= ttl_seconds <= 3600:
        raise ChallengeError("challenge lifetime must be 10 s to 1 h")
    rng = rng or random.SystemRandom()
    while True:
        steps: list[str] = []
        for _ in range(n_steps):
            steps.append(rng.choice([s for s in STEPS if not steps or s != steps[-1]]))
        if any(s.startswith("turn") for s in steps):
            break
    now = datetime.now(UTC)
    cid = secrets.token_hex(8) if isinstance(rng, random.SystemRandom) else f"{rng.getrandbits(64):016x}"
    return Challenge(id=cid, steps=steps, issued_at=now, expires_at=now + timedelta(seconds=ttl_seconds))


@dataclass
class LivenessConfig:
    sample_fps: float = 8.0  # frames analysed per second of video
    max_seconds: float = 20.0
    min_frames: int = 8  # sampled frames; a 1-frame "video" is a photo
    max_pixels: int = 4096 * 2304
    work_short_side: int = 432  # frames are rescaled to this (QCIF is upscaled so HOG finds the face)
    yaw_deg: float = 15.0  # a turn counts beyond this yaw from the start pose
    pitch_deg: float = 12.0  # a look up/down counts beyond this pitch
    hold_frames: int = 2  # consecutive sampled frames a pose must be held to count
    min_face_fraction: float = 0.6  # of sampled frames that must show the face
    second_face_fraction: float = 0.15  # of face frames with another face -> "second face"
    # Median face parallax (inter-ocular units) below this -> planar. evals.liveness: the real head-turn
    # clip 0.069, a photo tilted +-40 deg 0.014, the same filmed by a poor camera (QCIF, noise, H.264 crf
    # 30) 0.027.
    min_parallax: float = 0.04
    mirrored: bool = False
    template_size: int = 16  # embeddings kept for the enrollment template (frontal + steps + spread poses)
    template_min_deg: float = 4.0  # a template frame differs from those kept by at least this pose change


@dataclass
class FramePose:
    t: float
    yaw: float | None = None  # degrees, relative to the start pose once computed
    pitch: float | None = None
    faces: int = 0
    label: str | None = None  # which step this pose shows, if any
    parallax: float | None = None
    distance: float | None = None  # identity distance to the enrolled face


@dataclass
class LivenessResult:
    ok: bool
    reason: str
    embeddings: list[np.ndarray] = field(default_factory=list)
    embedding_labels: list[str] = field(default_factory=list)  # "frontal" + the step names
    reference_face: np.ndarray | None = None  # RGB crop of the most frontal face
    poses: list[FramePose] = field(default_factory=list)
    steps_seen: list[str] = field(default_factory=list)
    checks: dict = field(default_factory=dict)  # measured values behind the decision


# Five points, one image: yaw from how far the nose sits to one side of the eye midpoint, pitch from how
# far below the eye line it sits. dlib's nose point (the base of the nose) lies NOSE_DEPTH inter-ocular
# distances in front of the eye centres and NOSE_DROP below them: NOSE_DEPTH is set so that this yaw
# agrees with the head tracker on the carphone clip (both read the subject's turns at 15-30 degrees).
# The pitch is weak: a 10 degree nod moves the base of the nose ~0.04 eye distances, and NOSE_DROP
# differs from person to person by more than that (0.64-0.82 on the face photos here, mean 0.73), so one
# photo's pitch is off by up to ~20 degrees; liveness uses its change from the start of the video only
# (averaged with the tracked head's), face quality takes pitch from the face box instead.
NOSE_DEPTH = 0.235
NOSE_DROP = 0.73
# SCRFD's five keypoints (eye centres, nose tip, mouth corners) on a generic 3D face for solvePnP (mm, x
# right, y down, z away from the camera).
_MODEL5 = np.array(
    [(-165, -170, 135), (165, -170, 135), (0, 0, 0), (-150, 150, 125), (150, 150, 125)], dtype=np.float64
)


def head_pose(landmarks: np.ndarray, width: int, height: int, scheme: str = DLIB5) -> tuple[float, float]:
    """(yaw, pitch) in degrees from one image's five landmarks; yaw > 0 toward image right, pitch > 0 up."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if scheme == SCRFD5 and lm.shape == (5, 2):
        f = float(max(width, height))  # a typical phone camera: focal length ~ image width
        cam = np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], dtype=np.float64)
        ok, rvec, _ = cv2.solvePnP(_MODEL5, lm, cam, np.zeros(4), flags=cv2.SOLVEPNP_SQPNP)
        if not ok:
            raise ValueError("solvePnP failed")
        rot, _ = cv2.Rodrigues(rvec)
        d = rot @ np.array([0.0, 0.0, -1.0])  # the model faces -z (toward the camera)
        return float(np.degrees(np.arctan2(d[0], -d[2]))), float(np.degrees(np.arctan2(-d[1], np.hypot(d[0], d[2]))))
    if scheme != DLIB5 or lm.shape != (5, 2):
        raise ValueError(f"head pose needs five {DLIB5} or {SCRFD5} landmarks, got {lm.shape} {scheme}")
    left, right, nose = eyes_and_nose(lm, scheme)
    iod = float(np.linalg.norm(right - left))
    if iod < 1e-6:
        raise ValueError("the eyes coincide")
    ex = (right - left) / iod  # along the eye line (roll removed), and down the face
    ey = np.array([-ex[1], ex[0]])
    v = nose - (left + right) / 2
    yaw = float(np.degrees(np.arctan((v @ ex / iod) / NOSE_DEPTH)))
    # The drop below the eye line in true eye distances (the eye line is foreshortened by the yaw): a nod
    # of p (down) moves the base of the nose, NOSE_DEPTH in front of the eyes, by ~NOSE_DEPTH p (radians).
    # Linear, so that a change of pitch reads the same whatever this person's NOSE_DROP is.
    drop = (v @ ey / iod) * np.cos(np.radians(yaw))
    return yaw, float(-np.degrees((drop - NOSE_DROP) / NOSE_DEPTH))


def _geometry(face: Face, yaw_hint: float | None) -> FaceGeometry:
    left, right, nose = eyes_and_nose(face.landmarks, face.scheme)
    return FaceGeometry(face.box, (left + right) / 2, float(np.linalg.norm(right - left)), float(nose[1]), yaw_hint)


def _read_frames(video_path: Path, cfg: LivenessConfig) -> tuple[list[tuple[float, np.ndarray]], float]:
    import av

    path = Path(video_path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise VideoError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    if size == 0:
        raise VideoError(f"{path.name}: empty file (0 bytes)")
    frames: list[tuple[float, np.ndarray]] = []
    step = 1.0 / cfg.sample_fps
    next_t = 0.0
    last_t = 0.0
    try:
        with av.open(str(path), mode="r") as container:
            if not container.streams.video:
                raise VideoError(f"{path.name}: no video stream")
            stream = container.streams.video[0]
            if container.duration is not None and container.duration / 1e6 > cfg.max_seconds + 0.5:
                raise VideoError(
                    f"video is {container.duration / 1e6:.1f} s long; the limit is {cfg.max_seconds:.0f} s"
                )
            w, h = stream.codec_context.width, stream.codec_context.height
            if w and h and w * h > cfg.max_pixels:
                raise VideoError(f"video frames too large ({w}x{h})")
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else last_t + 1.0 / 30
                last_t = t
                if t > cfg.max_seconds + 0.5:  # do not trust the header: stop decoding a long video
                    raise VideoError(f"video is longer than {cfg.max_seconds:.0f} s")
                if frame.width * frame.height > cfg.max_pixels:
                    raise VideoError(f"video frames too large ({frame.width}x{frame.height})")
                if t + 1e-6 >= next_t:
                    frames.append((t, frame.to_ndarray(format="rgb24")))
                    next_t = t + step
    except VideoError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise VideoError(f"{path.name}: not a readable video ({type(exc).__name__})") from None
    if len(frames) < cfg.min_frames:
        raise VideoError(
            f"video too short: {len(frames)} usable frames at {cfg.sample_fps:g} fps (need {cfg.min_frames})"
        )
    return frames, last_t


def _label(yaw: float, pitch: float, cfg: LivenessConfig) -> str | None:
    if abs(yaw) >= cfg.yaw_deg and abs(yaw) / cfg.yaw_deg >= abs(pitch) / cfg.pitch_deg:
        toward_image_right = yaw > 0
        # The subject's left appears on the image's right in an unmirrored recording.
        return "turn_left" if toward_image_right != cfg.mirrored else "turn_right"
    if abs(pitch) >= cfg.pitch_deg:
        return "look_up" if pitch > 0 else "look_down"
    return None


def _thumb(rgb: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)


def _crop(image: np.ndarray, box: tuple[int, int, int, int], margin: float = 0.3) -> np.ndarray:
    x0, y0, x1, y1 = box
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    h, w = image.shape[:2]
    xa, ya = max(0, int(x0 - mx)), max(0, int(y0 - my))
    xb, yb = min(w, int(x1 + mx)), min(h, int(y1 + my))
    return np.ascontiguousarray(image[ya:yb, xa:xb])


def _template_frames(
    poses: list[FramePose],
    face_frames: list[tuple[int, Face, float]],
    quality: dict[int, FaceQuality],
    used: set[int],
    threshold: float,
    size: int,
    min_deg: float = 4.0,
) -> list[int]:
    """More frames for the enrollment template, spread over the poses the video shows.

    The gate compares a face in a clip with the nearest vector of the template, so a template that
    covers turned and tilted heads matches a turned head in a clip. Only frames of good size and
    sharpness (the pose may be anything) whose identity distance to the start is well inside the
    threshold qualify; they are taken farthest-pose-first from those already kept."""
    def pose(i: int) -> np.ndarray:
        return np.array([poses[i].yaw or 0.0, poses[i].pitch or 0.0])

    cands = []
    for idx, _, _ in face_frames:
        q = quality.get(idx)
        dist = poses[idx].distance
        if idx in used or q is None or poses[idx].yaw is None or dist is None or dist >= 0.9 * threshold:
            continue
        if any(not p.startswith("turned") and not p.startswith("head pose") for p in q.problems):
            continue  # small or blurred: a poor template vector
        cands.append(idx)
    kept = [pose(i) for i in used if poses[i].yaw is not None]
    out: list[int] = []
    while cands and len(used) + len(out) < size:
        gaps = [min((float(np.linalg.norm(pose(c) - k)) for k in kept), default=1e9) for c in cands]
        j = int(np.argmax(gaps))
        if gaps[j] < min_deg:
            break
        out.append(cands.pop(j))
        kept.append(pose(out[-1]))
    return out


def check_liveness(
    video_path: Path,
    challenge: Challenge,
    backend: FaceBackend,
    now: datetime | None = None,
    config: LivenessConfig | None = None,
) -> LivenessResult:
    cfg = config or LivenessConfig()
    now = now or datetime.now(UTC)
    if now > challenge.expires_at:
        return LivenessResult(False, "the challenge expired; request a new one and record again")
    if not challenge.steps or any(s not in STEPS for s in challenge.steps):
        raise ChallengeError(f"invalid challenge steps {challenge.steps!r}")

    frames, duration = _read_frames(video_path, cfg)

    # 1. Faces per sampled frame (on a rescaled copy; boxes are mapped back for the reference crop).
    poses: list[FramePose] = []
    main: list[tuple[int, Face, float] | None] = []  # (frame index, face, scale)
    quality: dict[int, FaceQuality] = {}
    grays: list[np.ndarray] = []  # every sampled frame, for the head tracker
    geometry: dict[int, FaceGeometry] = {}
    marks: dict[int, tuple[float, float]] = {}  # the five landmarks' (yaw, pitch) per frame
    multi = 0
    for i, (t, rgb) in enumerate(frames):
        scale = cfg.work_short_side / min(rgb.shape[:2])
        work = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else
                          cv2.INTER_CUBIC)  # fmt: skip
        grays.append(cv2.cvtColor(work, cv2.COLOR_RGB2GRAY))
        faces = backend.analyze(work)
        fp = FramePose(t=t, faces=len(faces))
        poses.append(fp)
        if not faces:
            main.append(None)
            continue
        faces.sort(key=lambda f: f.area, reverse=True)
        if len(faces) > 1 and faces[1].area >= 0.25 * faces[0].area:
            multi += 1  # a second face of comparable size (tiny background detections are ignored)
        face = faces[0]
        quality[i] = assess(work, face)
        with contextlib.suppress(ValueError):  # degenerate points: no landmark pose for this frame
            marks[i] = head_pose(face.landmarks, work.shape[1], work.shape[0], face.scheme)
        geometry[i] = _geometry(face, marks[i][0] if i in marks else None)
        main.append((i, face, scale))
    # Pose from points tracked on the face (five landmarks alone cannot tell a nod from jitter).
    tracks = track_face(grays, geometry)

    face_frames = [m for m in main if m is not None]
    checks: dict = {"frames": len(frames), "face_frames": len(face_frames), "seconds": round(duration, 2)}
    res = LivenessResult(False, "", poses=poses, checks=checks)
    if not face_frames:
        res.reason = "no face found in the video"
        return res
    if len(face_frames) < cfg.min_face_fraction * len(frames):
        res.reason = f"the face is visible in only {len(face_frames)} of {len(frames)} sampled frames"
        return res
    checks["second_face_frames"] = multi
    if multi >= max(2, cfg.second_face_fraction * len(face_frames)):
        res.reason = f"a second face appears in {multi} frames; record alone"
        return res

    # 2. One consistent identity: every frame against the start frames. A frame far from all of them
    #    in two consecutive samples means another person (a single bad frame is detector noise).
    start = [f.embedding for _, f, _ in face_frames[: max(3, len(face_frames) // 8)]]
    run = 0
    worst = 0.0
    for idx, face, _ in face_frames:
        d = min(face_distance(face.embedding, s) for s in start)
        poses[idx].distance = round(d, 4)
        worst = max(worst, d)
        run = run + 1 if d >= backend.threshold else 0
        if run >= 2:
            checks["max_identity_distance"] = round(worst, 4)
            res.reason = f"a different face appears at {poses[idx].t:.1f} s"
            return res
    checks["max_identity_distance"] = round(worst, 4)

    # 3. Poses relative to the start (the first half second, or first 3 face frames), from two estimates
    #    whose errors differ: the tracked head (steady, but after a grimace or a blur it resumes from a
    #    guessed pose) and the five landmarks (no memory, but jittery: a 10 degree nod moves the base of
    #    the nose by ~1 px in a QCIF face, and so does opening the mouth). Yaw is their mean; a nod counts
    #    only as far as both see it (the smaller of two pitches of one sign, else 0): on the carphone clip
    #    each alone reads a 15-35 degree nod the subject never makes. Frames need both estimates.
    def relative(est: dict[int, tuple[float, float]]) -> dict[int, tuple[float, float]]:
        first = sorted(est)[: max(3, int(cfg.sample_fps / 2))]
        y0, p0 = (float(np.median([est[i][k] for i in first])) for k in (0, 1))
        return {i: (y - y0, p - p0) for i, (y, p) in est.items()}

    tracked = {i: (tracks.yaw[i], tracks.pitch[i]) for i in tracks.yaw if i in quality}
    both = sorted(set(tracked) & set(marks))
    if len(both) < 3:
        res.reason = "the face could not be followed through the video; record again in better light"
        return res
    tracked, marks = relative({i: tracked[i] for i in both}), relative({i: marks[i] for i in both})
    for i in both:
        p = poses[i]
        p.yaw = round((tracked[i][0] + marks[i][0]) / 2, 2)
        p.pitch = round(float(np.median([tracked[i][1], marks[i][1], 0.0])), 2)
        p.label = _label(p.yaw, p.pitch, cfg)
    moved = [p for p in poses if p.label is not None]
    checks["max_abs_yaw"] = round(max(abs(p.yaw) for p in poses if p.yaw is not None), 1)
    checks["max_abs_pitch"] = round(max(abs(p.pitch) for p in poses if p.pitch is not None), 1)
    if not moved:
        # Tell a still image (only codec noise moves) from a person who moved too little.
        thumbs = [_thumb(frames[i][1]) for i, _, _ in face_frames]
        change = max(float(np.abs(t - thumbs[0]).mean()) for t in thumbs)
        lm0 = face_frames[0][1].landmarks
        iod0 = geometry[face_frames[0][0]].iod
        drift = max(float(np.linalg.norm(f.landmarks - lm0, axis=1).mean()) for _, f, _ in face_frames)
        checks["max_thumbnail_change"] = round(change, 2)
        checks["max_landmark_drift"] = round(drift / max(iod0, 1e-6), 3)
        res.reason = (
            "no head movement: the video looks like a still photo"
            if change < 1.0 or checks["max_landmark_drift"] < 0.03
            else "the head never turned or tilted far enough; follow the instructions"
        )
        return res

    # 4. Planarity: does the face move like a 3D head or like a flat picture?
    posed = [m for m in face_frames if poses[m[0]].yaw is not None]
    ref_i = min(posed, key=lambda m: abs(poses[m[0]].yaw or 0.0) + abs(poses[m[0]].pitch or 0.0))
    par: list[float] = []
    for idx, _, _ in face_frames:
        if poses[idx].label is not None:
            par.append(round(tracks.parallax(idx), 4))
            poses[idx].parallax = par[-1]
    checks["median_face_parallax"] = round(float(np.nanmedian(par)), 4) if np.isfinite(par).any() else None
    if checks["median_face_parallax"] is None or not checks["median_face_parallax"] >= cfg.min_parallax:
        res.reason = (
            "the face moves like a flat picture (face parallax "
            f"{checks['median_face_parallax']} < {cfg.min_parallax}): a photo or screen held to the camera?"
        )
        return res

    # 5. The steps, in order. A pose counts once held for hold_frames consecutive samples.
    events: list[tuple[str, int]] = []
    run_label, run_len = None, 0
    for i, p in enumerate(poses):
        if p.label is not None and p.label == run_label:
            run_len += 1
        else:
            run_label, run_len = p.label, 1 if p.label else 0
        if run_label and run_len == cfg.hold_frames and (not events or events[-1][0] != run_label):
            events.append((run_label, i))
    res.steps_seen = [e for e, _ in events]
    k = 0
    peaks: dict[str, int] = {}
    for label, i in events:
        if k < len(challenge.steps) and label == challenge.steps[k]:
            peaks[f"{k}:{label}"] = i
            k += 1
        elif k > 0 and label == challenge.steps[k - 1]:
            continue
        elif k == len(challenge.steps):
            break  # extra movement after the challenge is done is fine
        else:
            want = challenge.steps[k].replace("_", " ")
            res.reason = f"wrong order: expected '{want}' but saw '{label.replace('_', ' ')}' at {poses[i].t:.1f} s"
            return res
    if k < len(challenge.steps):
        res.reason = f"step {k + 1} ('{challenge.steps[k].replace('_', ' ')}') was not performed"
        return res

    # Accepted: embeddings of the frontal frame and of each step's most extreme frame.
    by_index = {idx: (face, scale) for idx, face, scale in face_frames}
    _peak_frames: list[int] = []
    face0, scale0 = ref_i[1], ref_i[2]
    res.embeddings.append(face0.embedding)
    res.embedding_labels.append("frontal")
    for key, start_i in peaks.items():
        label = key.split(":", 1)[1]
        j = start_i
        axis = "yaw" if label.startswith("turn") else "pitch"
        while j + 1 < len(poses) and poses[j + 1].label == label:
            j += 1
        best = max(range(start_i - cfg.hold_frames + 1, j + 1),
                   key=lambda n: abs(getattr(poses[n], axis) or 0))  # fmt: skip
        if best in by_index:
            res.embeddings.append(by_index[best][0].embedding)
            res.embedding_labels.append(label)
            _peak_frames.append(best)
    used = {ref_i[0]} | {best_i for best_i in _peak_frames}
    template = _template_frames(poses, face_frames, quality, used, backend.threshold, cfg.template_size,
                                cfg.template_min_deg)
    for idx in template:
        res.embeddings.append(by_index[idx][0].embedding)
        res.embedding_labels.append(f"frame_{poses[idx].t:.2f}s")
    x0, y0, x1, y1 = face0.box
    box = tuple(int(round(v / scale0)) for v in (x0, y0, x1, y1))
    res.reference_face = _crop(frames[ref_i[0]][1], box)  # type: ignore[arg-type]
    res.ok = True
    res.reason = "live: one face performed " + ", ".join(s.replace("_", " ") for s in challenge.steps)
    return res
