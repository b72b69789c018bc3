"""Face quality (size, sharpness, pose), dlib's mirror/jitter embeddings, and the likeness gate's review
band for a low-quality face that comes close to a registered likeness (real dlib on fixture photos)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlmodel import Session

from consent.face_quality import REVIEW_MARGIN, assess
from consent.faces import DlibBackend, face_distance, load_image_rgb

FIX = Path(__file__).parent / "fixtures" / "faces"


@pytest.fixture(scope="module")
def dlib_backend() -> DlibBackend:
    b = DlibBackend()
    assert b.available()[0]
    return b


def _largest(backend: DlibBackend, img: np.ndarray):
    faces = backend.analyze(img)
    assert faces
    return max(faces, key=lambda f: f.area)


def test_quality_size_blur_pose(dlib_backend: DlibBackend) -> None:
    img = load_image_rgb(FIX / "paul_rudd_1.jpg")
    face = _largest(dlib_backend, img)
    good = assess(img, face)
    assert not good.low, good.problems
    assert good.eye_distance_px > 60 and good.sharpness > 40 and abs(good.yaw or 99) < 20

    blurred = cv2.GaussianBlur(img, (0, 0), 4)
    q = assess(blurred, _largest(dlib_backend, blurred))
    assert q.low and any(p.startswith("blurred") for p in q.problems)

    # The same face at ~85 px wide: HOG still finds it, the eyes are < 40 px apart.
    s = 85 / (face.box[2] - face.box[0])
    small = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    q = assess(small, _largest(dlib_backend, small))
    assert any(p.startswith("small") for p in q.problems), q.problems

    # The five landmarks of a head turned far to one side (the base of the nose well off the eye midpoint,
    # the far eye foreshortened): "turned". And a nose low in the face box: a head bowed far down.
    lm = face.landmarks.copy()
    iod = good.eye_distance_px
    lm[4, 0] = lm[:4, 0].mean() + 0.3 * iod
    lm[2:4, 0] = lm[3, 0] + (lm[2:4, 0] - lm[3, 0]) * 0.5
    turned = type(face)(box=face.box, landmarks=lm, embedding=face.embedding, det_score=face.det_score)
    q = assess(img, turned)
    assert q.yaw is not None and q.yaw > 40 and any(p.startswith("turned") for p in q.problems), q.as_dict()
    low = face.landmarks.copy()
    low[4, 1] = face.box[1] + 0.8 * (face.box[3] - face.box[1])
    bowed = type(face)(box=face.box, landmarks=low, embedding=face.embedding, det_score=face.det_score)
    q = assess(img, bowed)
    assert q.pitch is not None and q.pitch < -30 and any(p.startswith("turned") for p in q.problems), q.as_dict()


def test_mirror_and_jitter_embeddings(dlib_backend: DlibBackend) -> None:
    img = load_image_rgb(FIX / "paul_rudd_2.jpg")
    face = _largest(dlib_backend, img)
    assert np.allclose(dlib_backend.embed_box(img, face.box), face.embedding, atol=1e-5)
    mirror = DlibBackend(mirror=True)
    jitter = DlibBackend(jitters=3, mirror=True)
    assert "mirror" in mirror.version and "-j3" in jitter.version
    em = mirror.embed_box(img, face.box)
    ej = jitter.embed_box(img, face.box)
    # Other vectors of the same face: close to the plain one, not equal to it.
    for e in (em, ej):
        assert 1e-3 < face_distance(e, face.embedding) < 0.15
    # The mirrored image's mirror-averaged embedding is nearly the same vector (the average is
    # symmetric; HOG's box on the flipped image differs by a pixel or two, hence not exactly).
    flipped = np.ascontiguousarray(img[:, ::-1])
    ff = _largest(mirror, flipped)
    assert face_distance(ff.embedding, em) < 0.05


def _clip_of(image: np.ndarray, path: Path, frames: int = 12) -> None:
    import av

    h, w = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=12)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.options = {"crf": "12"}
        for _ in range(frames):
            out.mux(st.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:h, :w]), format="rgb24")))
        out.mux(st.encode())


def _at_distance(v: np.ndarray, d: float, seed: int) -> np.ndarray:
    u = np.random.default_rng(seed).standard_normal(v.shape).astype(np.float32)
    return (v + u / np.linalg.norm(u) * d).astype(np.float32)


@pytest.mark.parametrize("blur", [False, True])
def test_likeness_review_band(components, tmp_path: Path, blur: bool) -> None:
    """A registered face just outside the match threshold: review when the clip's face is poor, pass
    when it is sharp; inside the threshold: block either way."""
    from consent import registry
    from gate.pipeline import JobContext
    from gate.requests import JobRequest
    from gate.stages.likeness import LikenessStage

    img = load_image_rgb(FIX / "paul_rudd_2.jpg")
    if blur:
        img = cv2.GaussianBlur(img, (0, 0), 4)
    draft = tmp_path / "draft.mp4"
    _clip_of(img, draft)
    ctx = JobContext(job_id="0" * 16, user="mallory", request=JobRequest(prompt="x"), workdir=tmp_path)
    ctx.draft = draft
    backend, why = components.face_backend.get()
    assert backend is not None, why
    seen = [f for fr in ctx.frames().thinned(LikenessStage.MAX_FRAMES) for f in backend.analyze(fr.image)]
    assert seen
    v = seen[0].embedding
    t = backend.threshold
    near = t + REVIEW_MARGIN / 2
    with Session(components.engine) as s:
        cam = registry.enroll(s, "paul", "paul_cam", {"frontal": _at_distance(v, near, 1)}, "k", backend.name)
    d = LikenessStage(components).run(ctx)
    assert d.scores["faces_seen"] >= 1
    if blur:
        assert d.decision == "review", d.reasons
        assert "low-quality" in d.reasons[0] and "@paul_cam" in d.reasons[0]
        assert any(e.get("near_miss") and e["quality"]["problems"] for e in d.evidence)
    else:
        assert d.decision == "pass", d.reasons
    # Allowed users are never sent to review for a near miss of their own cameo.
    ctx.user = "paul"
    assert LikenessStage(components).run(ctx).decision == "pass"
    ctx.user = "mallory"
    with Session(components.engine) as s:
        registry.revoke(s, cam.id, "paul")
        registry.enroll(s, "paul2", "paul_cam2", {"frontal": _at_distance(v, t - 0.05, 2)}, "k", backend.name)
    components.fresh_face_index()
    d = LikenessStage(components).run(ctx)
    assert d.decision == "block" and any("@paul_cam2" in r for r in d.reasons)
