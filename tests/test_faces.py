"""Face backends on real photos (tests/fixtures/faces, see ATTRIBUTION.md)."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest

from consent.faces import (
    DLIB5,
    DLIB_THRESHOLD,
    BackendUnavailable,
    DlibBackend,
    FaceBackend,
    FaceError,
    InsightFaceBackend,
    eyes_and_nose,
    face_distance,
    get_face_backend,
    load_image_rgb,
)
from evals.faces_data import enrollment_face

FIX = Path(__file__).parent / "fixtures" / "faces"


@pytest.fixture(scope="module")
def dlib_backend() -> DlibBackend:
    b = DlibBackend()
    ok, why = b.available()
    assert ok, why  # the dlib models ship with the install: a missing file is a broken install
    return b


@pytest.fixture(scope="module")
def embeddings(dlib_backend: DlibBackend) -> dict[str, np.ndarray]:
    out = {}
    for name in ("luciano_small", "pratt_frame", "carphone_a", "carphone_b", "paul_rudd_1", "paul_rudd_2"):
        faces = dlib_backend.analyze(load_image_rgb(FIX / f"{name}.jpg"))
        assert len(faces) == 1, name
        f = faces[0]
        assert f.embedding.shape == (128,) and f.embedding.dtype == np.float32
        assert f.landmarks.shape == (5, 2) and f.scheme == DLIB5  # the public-domain 5-point model
        left, right, nose = eyes_and_nose(f.landmarks, f.scheme)
        x0, y0, x1, y1 = f.box
        assert x0 < left[0] < right[0] < x1 and y0 < left[1] < nose[1] < y1  # eyes, then the nose below them
        x0, y0, x1, y1 = f.box
        assert x1 > x0 and y1 > y0
        out[name] = f.embedding
    return out


def test_backend_protocol(dlib_backend: DlibBackend) -> None:
    assert isinstance(dlib_backend, FaceBackend)
    assert dlib_backend.name == "dlib" and dlib_backend.threshold == DLIB_THRESHOLD
    # The health report names the landmark model; the 68-point one (non-commercial data) is never loaded.
    assert "shape5" in dlib_backend.version and "5 points" in dlib_backend.available()[1]


def test_68_point_model_never_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    import dlib

    opened: list[str] = []
    real = dlib.shape_predictor

    def spy(path: str):
        opened.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(dlib, "shape_predictor", spy)
    faces = DlibBackend().analyze(load_image_rgb(FIX / "paul_rudd_1.jpg"))
    assert len(faces) == 1 and faces[0].landmarks.shape == (5, 2)
    assert opened == ["shape_predictor_5_face_landmarks.dat"]


@pytest.mark.parametrize(
    "a,b", [("carphone_a", "carphone_b"), ("paul_rudd_1", "paul_rudd_2")]
)
def test_same_identity_below_threshold(embeddings: dict, a: str, b: str) -> None:
    assert face_distance(embeddings[a], embeddings[b]) < DLIB_THRESHOLD


def test_different_identities_above_threshold(embeddings: dict) -> None:
    ident = {k: k.rsplit("_", 1)[0] for k in embeddings}  # carphone_a/_b: two frames of one person
    names = sorted(embeddings)
    n = 0
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if ident[a] != ident[b]:
                assert face_distance(embeddings[a], embeddings[b]) > DLIB_THRESHOLD, (a, b)
                n += 1
    assert n == 13


def test_two_people_and_no_faces(dlib_backend: DlibBackend, embeddings: dict) -> None:
    faces = dlib_backend.analyze(load_image_rgb(FIX / "two_people_composite.jpg"))
    assert len(faces) == 2
    left, right = sorted(faces, key=lambda f: f.box[0])
    # Composite: the carphone subject (frame 0) on the left, Paul Rudd (photo 2) on the right; each is
    # matched against another frame / another photo of the same person, and not against the other one.
    assert face_distance(left.embedding, embeddings["carphone_b"]) < DLIB_THRESHOLD
    assert face_distance(right.embedding, embeddings["paul_rudd_1"]) < DLIB_THRESHOLD
    assert face_distance(left.embedding, embeddings["paul_rudd_1"]) > DLIB_THRESHOLD
    assert face_distance(right.embedding, embeddings["carphone_b"]) > DLIB_THRESHOLD
    for name in ("coffee.jpg", "chelsea_cat.jpg"):
        assert dlib_backend.analyze(load_image_rgb(FIX / name)) == []


def test_astronaut_upsample0_no_patch_false_positive(dlib_backend: DlibBackend) -> None:
    img = load_image_rgb(FIX / "astronaut.webp")  # lossless copy of the original PNG
    faces = dlib_backend.analyze(img)
    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].box
    assert y1 < 250  # the face, not the mission patch (y ~ 330-420)
    # The trap STACK.md documents: upsample 1 also fires on the patch.
    assert len(DlibBackend(upsample=1).detect(img)) == 2


def test_bad_images(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "text.png"
    text.write_text("not an image at all")
    trunc = tmp_path / "trunc.jpg"
    trunc.write_bytes((FIX / "paul_rudd_2.jpg").read_bytes()[:2000])
    # A PNG bomb: header says 60000x60000, body is a tiny zlib stream.
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = tmp_path / "bomb.png"
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1000)
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat))
    cases = ((empty, "empty"), (text, "not a readable image"), (trunc, "corrupt"), (bomb, "too large"))
    for p, word in cases:
        with pytest.raises(FaceError, match=word):
            load_image_rgb(p)
    with pytest.raises(FaceError):
        load_image_rgb(tmp_path / "missing.jpg")


def test_bad_arrays(dlib_backend: DlibBackend) -> None:
    with pytest.raises(FaceError):
        dlib_backend.analyze(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(FaceError):
        dlib_backend.analyze(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(FaceError):
        face_distance(np.zeros(128), np.zeros(512))


def test_insightface_reports_missing_weights(tmp_path: Path) -> None:
    assert InsightFaceBackend(None).available() == (False, InsightFaceBackend(None).available()[1])
    ok, why = InsightFaceBackend(tmp_path / "nope").available()
    assert not ok and "does not exist" in why
    ok, why = InsightFaceBackend(tmp_path).available()
    assert not ok and "SCRFD" in why
    (tmp_path / "det_10g.onnx").write_bytes(b"x")
    ok, why = InsightFaceBackend(tmp_path).available()
    assert not ok and "ArcFace" in why
    with pytest.raises(BackendUnavailable):
        InsightFaceBackend(tmp_path).analyze(np.zeros((64, 64, 3), np.uint8))
    # Without usable weights the factory falls back to dlib, and says which backend it is.
    assert get_face_backend(tmp_path).name == "dlib"
    assert get_face_backend(None).name == "dlib"


def test_enrollment_face_upscales_a_small_face(dlib_backend: DlibBackend) -> None:
    # luciano_small at 110 px: a ~37 px face, under dlib's 80 px HOG window at upsample 0
    full = dlib_backend.analyze(load_image_rgb(FIX / "luciano_small.jpg"))[0]
    import cv2

    small = cv2.resize(load_image_rgb(FIX / "luciano_small.jpg"), (110, 110), interpolation=cv2.INTER_AREA)
    assert dlib_backend.analyze(small) == []
    face = enrollment_face(dlib_backend, small)
    x0, y0, x1, y1 = face.box  # in the small image's coordinates, around the face (full box scaled by 110/320)
    fx0, fy0, fx1, fy1 = (v * 110 / 320 for v in full.box)
    assert abs(x0 - fx0) < 8 and abs(y0 - fy0) < 8 and abs(x1 - fx1) < 8 and abs(y1 - fy1) < 8
    assert np.all((face.landmarks >= 0) & (face.landmarks <= 110))
    assert face_distance(face.embedding, full.embedding) < DLIB_THRESHOLD
    # a face found at the image's own size is returned as the backend gives it
    assert enrollment_face(dlib_backend, load_image_rgb(FIX / "paul_rudd_1.jpg")).box == dlib_backend.analyze(
        load_image_rgb(FIX / "paul_rudd_1.jpg")
    )[0].box


def test_enrollment_face_fails_closed(dlib_backend: DlibBackend) -> None:
    with pytest.raises(FaceError, match="no face found in the reference image"):
        enrollment_face(dlib_backend, load_image_rgb(FIX / "coffee.jpg"))
