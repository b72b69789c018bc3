"""Head pose and planarity from points tracked on the face through a video (no landmark model needed).

Five landmarks (dlib's: four eye corners and the base of the nose) say too little about pitch: the base of
the nose sits ~15 mm in front of the eyes, so a 12 degree nod moves it ~3 mm, about what the predictor's
jitter is on a small face. And four of the five points lie on one line, so no homography of them can tell
a turning head from a photo tilted in front of the camera. Texture points inside the face box are many
and are tracked across frames, so instead:

- pose: corners in the first frame's face box, from the brows to just below the nose (the mouth and jaw
  move on their own), are lifted onto a generic head (an ellipsoid placed from the eye midpoint and the
  eye distance), tracked frame to frame with pyramidal Lucas-Kanade (kept only when the backward track
  returns to the start), and the head's rotation in every frame is the solvePnP fit of those 3D points
  to where they are now, without the points far off the fitted head. When the fit fails or jumps (a
  grimace, motion blur) or too few points are left, the face is lifted again in the current frame.
  Angles are relative to the first frame.
- planarity: a flat picture moves every point by one homography; a head does not (the nose, brows, cheeks
  and chin lie at different depths, and a mouth moves on its own). Corners over the whole face box are
  tracked from the first frame (backward check only); `FaceTracks.parallax(i)` is the 80th percentile of
  their distances from the best single homography between the first frame and frame i, in inter-ocular
  distances.

Angles follow consent.liveness: yaw > 0 when the face points toward the image's right, pitch > 0 up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

IOD_MM = 63.0  # average adult inter-pupillary distance: sets the metric scale of the generic head
HEAD_AXES_MM = (90.0, 110.0, 70.0)  # generic head ellipsoid half-axes (width, height, depth)
_LK = {"winSize": (21, 21), "maxLevel": 3,
       "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)}  # fmt: skip
MAX_CORNERS = 200
FB_MAX_IOD = 0.03  # a track whose backward track misses its start by more than this is dropped
OUTLIER_IOD = 0.1  # a track farther than this (eye distances) from the fitted head is dropped
MAX_STEP_DEG = 20.0  # most a head turns between two sampled frames (8 per second): more is a failed fit
RESEED_FRACTION = 0.4  # lift the face again when fewer than this share of its points are left
MIN_PARALLAX_POINTS = 12  # fewer points tracked for planarity: seed them again
MIN_POINTS = 8  # fewer tracked points: no pose for the frame


@dataclass(frozen=True)
class FaceGeometry:
    """What the tracker needs of a detected face: its box, eyes, nose and landmarks to align frames by."""

    box: tuple[int, int, int, int]
    eye_mid: np.ndarray  # (2,) midpoint of the eyes, pixels
    iod: float  # inter-ocular distance, pixels
    nose_y: float  # image row of the nose (tip or base)
    yaw_hint: float | None = None  # yaw read from the landmarks alone (degrees, any zero): noisy, no drift


@dataclass
class FaceTracks:
    yaw: dict[int, float] = field(default_factory=dict)  # frame index -> degrees, relative to the first frame
    pitch: dict[int, float] = field(default_factory=dict)
    # frame index -> (xy where the points were found, xy in this frame, index of the frame they were found in)
    points: dict[int, tuple[np.ndarray, np.ndarray, int]] = field(default_factory=dict)
    iod: float = 0.0  # inter-ocular distance (px) in the first frame

    def parallax(self, i: int, min_points: int = 12) -> float:
        """Distance of frame i's tracked points from the best single homography that maps them from the
        frame they were found in (80th percentile, in eye distances); nan when too few were tracked."""
        xy0, xy, origin = self.points.get(i, (np.zeros((0, 2)), np.zeros((0, 2)), i))
        if len(xy0) < min_points or origin == i:
            return float("nan")
        h, _ = cv2.findHomography(xy0, xy, 0)
        if h is None:
            return float("nan")
        res = np.linalg.norm(cv2.perspectiveTransform(xy0[None], h)[0] - xy, axis=1)
        return float(np.percentile(res, 80) / max(self.iod, 1e-6))


def _camera(width: int, height: int) -> np.ndarray:
    f = float(max(width, height))  # a typical phone camera: focal length ~ image width
    return np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], dtype=np.float64)


def _lift(xy: np.ndarray, cam: np.ndarray, rvec: np.ndarray, tvec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Head coordinates of the pixels `xy` on the generic head in pose (rvec, tvec); and which hit it."""
    rot, _ = cv2.Rodrigues(rvec)
    rays = np.c_[xy, np.ones(len(xy))] @ np.linalg.inv(cam).T  # camera rays through the pixels (z = 1)
    axes = np.array(HEAD_AXES_MM)
    # In head coordinates the ray is o + s*d; the ellipsoid is |(p - c) / axes| = 1, c its centre.
    o = -rot.T @ tvec.ravel()
    d = rays @ rot  # rot.T @ ray, for every ray
    c = np.array([0.0, 0.0, axes[2]])  # the face's front surface passes through the head origin
    oc = (o - c) / axes
    dd = d / axes
    a = (dd**2).sum(1)
    b = 2 * (dd @ oc)
    cc = float(oc @ oc) - 1
    disc = b**2 - 4 * a * cc
    hit = disc > 0
    s = (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a)  # the nearer intersection: the visible surface
    return o + s[:, None] * d, hit


def _seed(gray: np.ndarray, geo: FaceGeometry, whole: bool = False) -> np.ndarray:
    x0, y0, x1, y1 = geo.box
    iod = geo.iod
    w = x1 - x0
    mask = np.zeros_like(gray)
    m = int(0.1 * w)  # the box's edges hold background and hair that do not move with the face
    # For pose, brows, eyes, cheeks and nose: the mouth and jaw move on their own (speech, surprise) and
    # would read as a nod. For planarity the whole face: a photo cannot open its mouth either.
    bottom = y1 - m // 2 if whole else min(y1 - m // 2, int(geo.nose_y + 0.2 * iod))
    mask[max(0, y0 + m): max(0, bottom), max(0, x0 + m): max(0, x1 - m)] = 255
    pts = cv2.goodFeaturesToTrack(gray, MAX_CORNERS, 0.005, max(3.0, iod / 12), mask=mask)
    return np.zeros((0, 2)) if pts is None else pts.reshape(-1, 2).astype(np.float64)


def _angles(rvec: np.ndarray) -> tuple[float, float]:
    rot, _ = cv2.Rodrigues(rvec)
    d = rot @ np.array([0.0, 0.0, -1.0])  # the head faces -z (toward the camera) in its own frame
    return float(np.degrees(np.arctan2(d[0], -d[2]))), float(np.degrees(np.arctan2(-d[1], np.hypot(d[0], d[2]))))


def track_face(grays: list[np.ndarray], faces: dict[int, FaceGeometry]) -> FaceTracks:
    """Head pose (relative to the first frame in `faces`) and tracked points in every frame with a face.

    grays: same-size grayscale frames. Points are tracked frame to frame; a point whose backward track
    misses, or that lies off the fitted head (a raised brow, a track that slid), is dropped. When the fit
    fails or jumps (a grimace, motion blur) or too few points are left, the face is lifted onto the head
    again in the current frame, posed as in the last good frame turned by the landmarks' change of yaw
    since then (`FaceGeometry.yaw_hint`).
    """
    out = FaceTracks()
    if not faces:
        return out
    h, w = grays[0].shape[:2]
    cam = _camera(w, h)
    start = min(faces)
    out.iod = faces[start].iod
    rvec = tvec = np.zeros(3)
    head = xy0 = prev = np.zeros((0, 2))
    alive = np.zeros(0, dtype=int)
    seeded = last = -1
    for i in range(start, len(grays)):
        if len(alive) >= MIN_POINTS:
            p0 = prev.astype(np.float32).reshape(-1, 1, 2)
            p1, st, _ = cv2.calcOpticalFlowPyrLK(grays[i - 1], grays[i], p0, None, **_LK)  # type: ignore[call-overload]
            back, st2, _ = cv2.calcOpticalFlowPyrLK(grays[i], grays[i - 1], p1, None, **_LK)  # type: ignore[call-overload]
            p1, back = p1.reshape(-1, 2).astype(np.float64), back.reshape(-1, 2)
            ok = (st.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm(back - prev, axis=1) < FB_MAX_IOD * out.iod)
            fit = _accept(_fit(head[alive[ok]], p1[ok], cam, rvec, tvec, out.iod), rvec, i - last)
            if fit is not None:
                good, rvec, tvec = fit
                alive, prev, last = alive[ok][good], p1[ok][good], i
                if i in faces:
                    out.yaw[i], out.pitch[i] = _angles(rvec)
                if len(alive) >= RESEED_FRACTION * seeded:
                    continue
            else:
                alive = alive[:0]
        geo = faces.get(i)
        if geo is None:
            continue
        # (Re)start: lift the face in frame i onto the head posed as in the last good frame, turned by
        # the landmarks' change of yaw since then.
        yaw, pitch = (0.0, 0.0) if last < 0 else _angles(rvec)
        prior = faces.get(last)
        if prior is not None and prior.yaw_hint is not None and geo.yaw_hint is not None and last != i:
            yaw += geo.yaw_hint - prior.yaw_hint
        rvec, tvec = _place(cam, geo, yaw, pitch)
        found = _seed(grays[i], geo)
        pts3, hit = _lift(found, cam, rvec, tvec)
        if hit.sum() < MIN_POINTS:
            continue
        xy0, head, prev = found[hit], pts3[hit], found[hit].copy()
        alive, seeded, last = np.arange(len(xy0)), len(xy0), i
        out.yaw[i], out.pitch[i] = yaw, pitch
    _planarity_tracks(grays, faces, out)
    return out


def _planarity_tracks(grays: list[np.ndarray], faces: dict[int, FaceGeometry], out: FaceTracks) -> None:
    """Points over the whole face, tracked frame to frame with only the backward check (a point that
    leaves a plane is exactly what planarity looks for), into out.points; seeded again in a frame with a
    face when fewer than MIN_PARALLAX_POINTS are left."""
    xy0 = prev = np.zeros((0, 2))
    origin = -1
    for i in range(min(faces), len(grays)):
        if len(prev):
            p1, st, _ = cv2.calcOpticalFlowPyrLK(grays[i - 1], grays[i], prev.astype(np.float32).reshape(-1, 1, 2),
                                                 None, **_LK)  # type: ignore[call-overload]
            back, st2, _ = cv2.calcOpticalFlowPyrLK(grays[i], grays[i - 1], p1, None, **_LK)  # type: ignore[call-overload]
            ok = (st.ravel() == 1) & (st2.ravel() == 1) & (
                np.linalg.norm(back.reshape(-1, 2) - prev, axis=1) < FB_MAX_IOD * out.iod)
            xy0, prev = xy0[ok], p1.reshape(-1, 2)[ok].astype(np.float64)
            out.points[i] = (xy0, prev.copy(), origin)
        if len(prev) < MIN_PARALLAX_POINTS and i in faces:
            xy0 = _seed(grays[i], faces[i], whole=True)
            prev, origin = xy0.copy(), i
            out.points[i] = (xy0, prev.copy(), origin)


def _place(cam: np.ndarray, geo: FaceGeometry, yaw: float, pitch: float) -> tuple[np.ndarray, np.ndarray]:
    """The generic head turned by (yaw, pitch), its front (origin) behind the eye midpoint at the depth
    that makes the eye distance IOD_MM (foreshortened by the yaw), the eyes ~15 mm above its centre."""
    y, p = np.radians(yaw), np.radians(pitch)
    rot = cv2.Rodrigues(np.array([0.0, -y, 0.0]))[0] @ cv2.Rodrigues(np.array([-p, 0.0, 0.0]))[0]
    z = cam[0, 0] * IOD_MM * max(np.cos(y), 0.5) / max(geo.iod, 1e-6)
    ex, ey = (geo.eye_mid - cam[:2, 2]) * z / cam[0, 0]
    tvec = np.array([ex, ey, z]) + rot @ np.array([0.0, 15.0, 0.0])
    return cv2.Rodrigues(rot)[0].ravel(), tvec


def _accept(fit: tuple[np.ndarray, np.ndarray, np.ndarray] | None, rvec: np.ndarray, frames: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The fit, unless it turns the head further than a head turns in that many sampled frames."""
    if fit is None:
        return None
    a, _ = cv2.Rodrigues(fit[1])
    b, _ = cv2.Rodrigues(rvec)
    step = float(np.degrees(np.linalg.norm(cv2.Rodrigues(a @ b.T)[0])))
    return fit if step <= MAX_STEP_DEG * max(frames, 1) else None


def _fit(head: np.ndarray, xy: np.ndarray, cam: np.ndarray, rvec: np.ndarray, tvec: np.ndarray, iod: float
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The head pose that puts `head` at `xy`, refitted without the points far from a first fit (a raised
    brow, an open mouth, a track that slid off its point): (kept points, rvec, tvec), or None."""
    if len(xy) < MIN_POINTS:
        return None
    good = np.ones(len(xy), dtype=bool)
    r, t = rvec, tvec
    for _ in range(2):
        ok, r, t = cv2.solvePnP(head[good], xy[good], cam, np.zeros(4), rvec.copy(), tvec.copy(),
                                useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
        if not ok:
            return None
        proj = cv2.projectPoints(head, r, t, cam, np.zeros(4))[0].reshape(-1, 2)
        good = np.linalg.norm(proj - xy, axis=1) < OUTLIER_IOD * iod
        if good.sum() < MIN_POINTS:
            return None
    return good, r.ravel(), t.ravel()
