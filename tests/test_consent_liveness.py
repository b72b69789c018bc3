"""Liveness checks on a real moving head and on honest attacks built from real photos.

What these tests can prove: the checks refuse the attacks we can build here (a still photo, a flat
photo tilted in 3D, a second face, a different face, the wrong order, no face, bad files) and accept
the one real head-turn clip we have (carphone: the subject turns to his right ~1.0-1.3 s, 15-19 deg,
then to his left ~2.9-3.9 s, 20-30 deg; he never looks up or down far enough). What they cannot prove:
that a person recording a challenge on a phone passes (no such video exists here), that a printed photo
that bends, a screen replaying a real video, a mask or a real-time deepfake is refused.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from consent.faces import DlibBackend, Face, eyes_and_nose, load_image_rgb
from consent.head_tracking import FaceGeometry, FaceTracks, track_face
from consent.liveness import (
    STEPS,
    Challenge,
    ChallengeError,
    LivenessConfig,
    VideoError,
    check_liveness,
    head_pose,
    issue_challenge,
)
from consent.liveness import _read_frames as read_sampled
from evals.liveness import poor_camera, read_video, replaced_by, side_by_side, tilt_plane, write_video

FIX = Path(__file__).parent / "fixtures"
CARPHONE = FIX / "liveness" / "carphone_face_qcif.mp4"


class CachingBackend:
    """The real dlib backend, memoised by frame content so several challenges on one video stay fast."""

    def __init__(self) -> None:
        self.inner = DlibBackend()
        self.name, self.version, self.threshold = self.inner.name, self.inner.version, self.inner.threshold
        self.cache: dict[str, list[Face]] = {}

    def available(self) -> tuple[bool, str]:
        return self.inner.available()

    def analyze(self, image_rgb: np.ndarray) -> list[Face]:
        key = hashlib.sha1(image_rgb.tobytes() + str(image_rgb.shape).encode()).hexdigest()
        if key not in self.cache:
            self.cache[key] = self.inner.analyze(image_rgb)
        return self.cache[key]


@pytest.fixture(scope="module")
def backend() -> CachingBackend:
    return CachingBackend()


def challenge(*steps: str, ttl: int = 300) -> Challenge:
    now = datetime.now(UTC)
    return Challenge("t", list(steps), now, now + timedelta(seconds=ttl))


def carphone_frames() -> list[np.ndarray]:
    return read_video(CARPHONE)


def test_issue_challenge() -> None:
    a = issue_challenge(random.Random(1))
    b = issue_challenge(random.Random(1))
    assert a.steps == b.steps and len(a.steps) == 3 and all(s in STEPS for s in a.steps)
    assert all(x != y for x, y in zip(a.steps, a.steps[1:], strict=False))
    assert (a.expires_at - a.issued_at) == timedelta(seconds=300)
    seqs = {tuple(issue_challenge(n_steps=3).steps) for _ in range(30)}
    assert len(seqs) > 5  # random, not a fixed script
    assert Challenge.from_dict(a.to_dict()) == a
    with pytest.raises(ChallengeError):
        issue_challenge(n_steps=0)
    with pytest.raises(ChallengeError):
        Challenge.from_dict({**a.to_dict(), "steps": ["dance"]})


def test_head_pose_from_five_points() -> None:
    be = DlibBackend()
    img = load_image_rgb(FIX / "faces" / "luciano_small.jpg")
    face = be.analyze(img)[0]
    assert face.landmarks.shape == (5, 2)  # dlib's public-domain 5-point model; the 68-point one is never loaded
    yaw, pitch = head_pose(face.landmarks, img.shape[1], img.shape[0])
    # A frontal portrait. One photo's landmark pitch depends on the person's nose (this one reads ~20
    # degrees up); liveness uses only its change through the video, face quality the face box.
    assert abs(yaw) < 12
    # Moving the base of the nose sideways by a quarter of the eye distance turns the face ~45 degrees
    # toward that side of the image; moving it up is a look up.
    iod = float(np.linalg.norm(face.landmarks[0:2].mean(0) - face.landmarks[2:4].mean(0)))
    right, up = face.landmarks.copy(), face.landmarks.copy()
    right[4, 0] += 0.25 * iod
    up[4, 1] -= 0.1 * iod
    assert head_pose(right, img.shape[1], img.shape[0])[0] > yaw + 35
    assert head_pose(up, img.shape[1], img.shape[0])[1] > pitch + 15


def _tracked(frames: list[np.ndarray], backend) -> FaceTracks:
    grays, geo = [], {}
    for i, rgb in enumerate(frames):
        grays.append(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        faces = backend.analyze(rgb)
        if faces:
            f = max(faces, key=lambda f: f.area)
            left, right, nose = eyes_and_nose(f.landmarks, f.scheme)
            geo[i] = FaceGeometry(f.box, (left + right) / 2, float(np.linalg.norm(right - left)), float(nose[1]))
    return track_face(grays, geo)


def test_tracked_pose_and_parallax(backend: CachingBackend) -> None:
    """The tracker reads a tilted flat photo as a turn, but its points move by one homography; the real
    head's do not."""
    img = load_image_rgb(FIX / "faces" / "luciano_small.jpg")
    yaws = [0.0] * 3 + list(np.linspace(0, 40, 8))
    card = _tracked([tilt_plane(img, y) for y in yaws], backend)
    assert abs(card.yaw[len(yaws) - 1]) > 30  # the card tilted by 40 degrees
    assert abs(card.pitch[len(yaws) - 1]) < 10
    assert max(card.parallax(i) for i in range(5, len(yaws))) < LivenessConfig().min_parallax
    frames = [rgb for _, rgb in read_sampled(CARPHONE, LivenessConfig())[0]]
    scale = LivenessConfig().work_short_side / min(frames[0].shape[:2])
    real = _tracked([cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC) for f in frames[:12]],
                    backend)
    turned = [i for i in real.yaw if real.yaw[i] < -12]  # the subject turns to his right at ~1 s
    assert len(turned) >= 3, real.yaw
    assert float(np.median([real.parallax(i) for i in turned])) > LivenessConfig().min_parallax


def test_real_head_turns_accepted(backend: CachingBackend) -> None:
    res = check_liveness(CARPHONE, challenge("turn_right", "turn_left"), backend)
    assert res.ok, res.reason
    assert res.steps_seen[:2] == ["turn_right", "turn_left"]
    assert res.embedding_labels[:3] == ["frontal", "turn_right", "turn_left"]
    assert all(e.shape == (128,) for e in res.embeddings)
    # The template goes on with more frames spread over the poses (good size and sharpness only).
    extra = res.embedding_labels[3:]
    assert extra and all(lab.startswith("frame_") for lab in extra)
    assert len(set(res.embedding_labels)) == len(res.embedding_labels) <= LivenessConfig().template_size
    assert all(np.linalg.norm(e - res.embeddings[0]) < backend.threshold for e in res.embeddings)
    assert res.reference_face is not None and res.reference_face.ndim == 3
    assert 40 <= res.reference_face.shape[0] <= 144  # a crop of the QCIF frame around the face
    assert res.checks["median_face_parallax"] >= LivenessConfig().min_parallax
    yaws = [p.yaw for p in res.poses if p.yaw is not None]
    assert min(yaws) < -15 and max(yaws) > 20
    # A mirrored stream swaps left and right.
    mirrored = check_liveness(
        CARPHONE, challenge("turn_left", "turn_right"), backend, config=LivenessConfig(mirrored=True)
    )
    assert mirrored.ok, mirrored.reason


def test_wrong_order_missing_step_expired(backend: CachingBackend) -> None:
    res = check_liveness(CARPHONE, challenge("turn_left", "turn_right"), backend)
    assert not res.ok and res.reason.startswith("wrong order")
    res = check_liveness(CARPHONE, challenge("turn_right", "turn_left", "look_up"), backend)
    assert not res.ok and "look up" in res.reason and "not performed" in res.reason
    later = datetime.now(UTC) + timedelta(seconds=600)
    res = check_liveness(CARPHONE, challenge("turn_right", "turn_left"), backend, now=later)
    assert not res.ok and "expired" in res.reason


def test_still_photo_refused(tmp_path: Path, backend: CachingBackend) -> None:
    img = load_image_rgb(FIX / "faces" / "luciano_small.jpg")
    video = write_video(tmp_path / "still.mp4", [img] * 30)
    res = check_liveness(video, challenge("turn_left", "turn_right"), backend)
    assert not res.ok and "still photo" in res.reason


def test_tilted_flat_photo_refused(tmp_path: Path, backend: CachingBackend) -> None:
    img = load_image_rgb(FIX / "faces" / "luciano_small.jpg")
    yaws = list(np.linspace(0, 0, 8)) + list(np.linspace(0, -40, 10)) + list(np.linspace(-40, 40, 20))
    cards = [tilt_plane(img, y) for y in yaws]
    for video in (write_video(tmp_path / "card.mp4", cards, fps=10),
                  write_video(tmp_path / "card_qcif.mp4", poor_camera(cards), fps=10, crf=30)):
        res = check_liveness(video, challenge("turn_left", "turn_right"), backend)
        # The tilted card does read as a head turn of 15+ degrees; the planarity check is what refuses it.
        assert res.checks["max_abs_yaw"] >= 15
        assert not res.ok and "flat picture" in res.reason


def test_second_face_refused(tmp_path: Path, backend: CachingBackend) -> None:
    other = load_image_rgb(FIX / "faces" / "paul_rudd_1.jpg")
    video = write_video(tmp_path / "two.mp4", side_by_side(carphone_frames(), other), fps=30)
    res = check_liveness(video, challenge("turn_right", "turn_left"), backend)
    assert not res.ok and "second face" in res.reason


def test_different_face_refused(tmp_path: Path, backend: CachingBackend) -> None:
    # The carphone subject for 2 s, then another person's face filling the frame, moving slightly.
    other = load_image_rgb(FIX / "faces" / "pratt_face.jpg")
    video = write_video(tmp_path / "swap.mp4", replaced_by(carphone_frames()[:60], other, 60), fps=30)
    res = check_liveness(video, challenge("turn_right", "turn_left"), backend)
    assert not res.ok and "different face" in res.reason


def test_no_face_and_bad_files(tmp_path: Path, backend: CachingBackend) -> None:
    coffee = load_image_rgb(FIX / "faces" / "coffee.jpg")
    frames = [np.roll(coffee, i * 3, axis=1) for i in range(30)]
    res = check_liveness(write_video(tmp_path / "coffee.mp4", frames), challenge("turn_left"), backend)
    assert not res.ok and res.reason == "no face found in the video"

    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    truncated = tmp_path / "trunc.mp4"
    truncated.write_bytes(CARPHONE.read_bytes()[:3000])
    one = write_video(tmp_path / "one.mp4", [coffee])
    for bad in (empty, junk, truncated, one, tmp_path / "missing.mp4"):
        with pytest.raises(VideoError):
            check_liveness(bad, challenge("turn_left"), backend)
    cfg = LivenessConfig(max_seconds=3)
    with pytest.raises(VideoError, match="long"):
        check_liveness(CARPHONE, challenge("turn_left"), backend, config=cfg)
