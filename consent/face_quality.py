"""How much a detected face can be trusted for identity: size, sharpness and head pose.

A small, blurred or turned face gives an embedding that drifts away from the person's enrolled
template, so "far from every enrolled face" means less for it. The likeness gate therefore sends a
low-quality face that comes close to a registered likeness (inside the review margin, above the match
threshold) to review instead of passing it, and enrollment prefers good frames for the template.

The limits are starting values, not fitted: dlib's aligned chip puts ~60 px between the eyes and HOG at
upsample 0 finds faces from ~80 px wide (~35 px between the eyes), so under 40 px the chip is upscaled;
a Laplacian variance under ~40 on the 112 px crop is what a QCIF face upscaled 3x or a Gaussian blur of
sigma ~3 px gives. Yaw comes from the five landmarks (consent.liveness.head_pose: the nose's offset from
the eye midpoint), reliable to ~35 degrees. Pitch, for dlib's points, from where the base of the nose sits
in the HOG box: 0.60 of the box's height down on the frontal faces here (standard deviation 0.023, which
is ~7 degrees; the nose's drop below the eyes varies twice as much from person to person); a nod of p
moves it by ~0.19 sin(p) (the base of the nose ~25 mm in front of the face's middle, a box ~130 mm tall).
`python -m evals.faces` prints how often each fires per
condition and what the review band catches and costs.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import cv2
import numpy as np

from consent.faces import DLIB5, Face, eyes_and_nose

MIN_EYE_DISTANCE_PX = 40.0  # inter-ocular distance; dlib aligns to a 150 px chip (~60 px between the eyes)
MIN_SHARPNESS = 40.0  # variance of the Laplacian on the face crop resized to 112 px
MAX_ABS_YAW_DEG = 35.0
MAX_ABS_PITCH_DEG = 30.0
CROP_SIDE = 112  # sharpness is measured at one scale, so big and small faces compare
NOSE_IN_BOX = 0.60  # the base of the nose, as a fraction of the HOG box's height, on a frontal face
NOSE_IN_BOX_PER_SIN = 0.19  # its move per unit sin(pitch)
# A low-quality face this much above the match threshold goes to review (dlib distances). In evals.faces
# (template matching, 13 identities) both genuine comparisons the match missed were within 0.03, which
# also sent 8 of 813 low-quality impostor comparisons (1%) to review; 0.05 sent 18, 0.08 sent 51. The
# cost grows with the number of registered faces (about 1% of low-quality faces per registered face
# nearby in this set), so the margin stays narrow.
REVIEW_MARGIN = 0.03


@dataclass(frozen=True)
class FaceQuality:
    eye_distance_px: float
    sharpness: float
    yaw: float | None  # degrees; None when the pose could not be estimated
    pitch: float | None
    problems: tuple[str, ...] = field(default=())

    @property
    def low(self) -> bool:
        return bool(self.problems)

    def as_dict(self) -> dict:
        return {"eye_distance_px": round(self.eye_distance_px, 1), "sharpness": round(self.sharpness, 1),
                "yaw": None if self.yaw is None else round(self.yaw, 1),
                "pitch": None if self.pitch is None else round(self.pitch, 1), "problems": list(self.problems)}


def sharpness(image_rgb: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Variance of the Laplacian of the face crop at CROP_SIDE px (higher = sharper)."""
    x0, y0, x1, y1 = box
    h, w = image_rgb.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return 0.0
    gray = cv2.cvtColor(np.ascontiguousarray(image_rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    # INTER_AREA when shrinking keeps real detail; upscaling a tiny face leaves it soft, as it should.
    interp = cv2.INTER_AREA if gray.shape[0] > CROP_SIDE else cv2.INTER_LINEAR
    gray = cv2.resize(gray, (CROP_SIDE, CROP_SIDE), interpolation=interp)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def assess(image_rgb: np.ndarray, face: Face) -> FaceQuality:
    """Measure one detected face in the image it was detected in."""
    from consent.liveness import head_pose  # liveness imports faces; importing it here avoids a cycle

    le, re, _ = eyes_and_nose(face.landmarks, face.scheme)
    iod = float(np.linalg.norm(le - re))
    sharp = sharpness(image_rgb, face.box)
    yaw = pitch = None
    with contextlib.suppress(ValueError, cv2.error):  # degenerate points: pose stays unknown
        yaw, pitch = head_pose(face.landmarks, image_rgb.shape[1], image_rgb.shape[0], face.scheme)
        if face.scheme == DLIB5 and face.box[3] > face.box[1]:
            down = (float(face.landmarks[4, 1]) - face.box[1]) / (face.box[3] - face.box[1]) - NOSE_IN_BOX
            in_box = float(-np.degrees(np.arcsin(np.clip(down / NOSE_IN_BOX_PER_SIN, -1.0, 1.0))))
            # Both readings are coarse (the box jitters on small faces, the nose's drop varies from person
            # to person): the pitch is what both see, the smaller of two of one sign, else 0.
            pitch = float(np.median([in_box, pitch, 0.0]))
    problems = []
    if iod < MIN_EYE_DISTANCE_PX:
        problems.append(f"small face ({iod:.0f} px between the eyes)")
    if sharp < MIN_SHARPNESS:
        problems.append(f"blurred face (sharpness {sharp:.0f})")
    if yaw is None:
        problems.append("head pose unknown")
    elif abs(yaw) > MAX_ABS_YAW_DEG or abs(pitch or 0.0) > MAX_ABS_PITCH_DEG:
        problems.append(f"turned face (yaw {yaw:.0f}, pitch {pitch:.0f} degrees)")
    return FaceQuality(iod, sharp, yaw, pitch, tuple(problems))
