"""Face detection, landmarks and identity embeddings behind one small protocol.

Two backends:
- `DlibBackend`: dlib's HOG detector (upsample 0: upsample 1 fires on the astronaut's mission patch),
  the 5-point shape predictor and the ResNet 128-d descriptor, all from the model files that
  the `face_recognition_models` distribution ships. We locate those files with `find_spec` and never
  import that package (it imports `pkg_resources`, gone from recent setuptools).
- `InsightFaceBackend`: SCRFD detection + ArcFace recognition from ONNX files an operator puts in a
  folder (insightface's own downloader needs the internet). Faces are aligned with
  `insightface.utils.face_align.norm_crop` on the SCRFD 5 keypoints. insightface's released model
  packs (buffalo_l, antelopev2) are for non-commercial research only: nothing here ships them.

dlib's descriptor is the strongest face embedder found that installs from PyPI with its weights and a
licence that permits commercial use; packaged by face_recognition_models (MIT). Licences, from
davisking/dlib-models' README: "As far as I am concerned, anyone can do whatever they want with these
model files as I've released them into the public domain." For shape_predictor_5_face_landmarks: "This
is a 5 point landmarking model which identifies the corners of the eyes and bottom of the nose. It is
trained on the dlib 5-point face landmark dataset, which consists of 7198 faces. I created this dataset
by downloading images from the internet and annotating them with dlib's imglab tool." The one exception
is the 68-point predictor (shape_predictor_68_face_landmarks.dat), trained on iBUG 300-W: "The license
for this dataset excludes commercial use and Stefanos Zafeiriou, one of the creators of the dataset,
asked me to include a note here saying that the trained model therefore can't be used in a commercial
product." reelgate never loads it (face_recognition_models still ships the file; nothing opens it):
the descriptor is computed on the 5-point alignment, and liveness and face quality work from the five
points, the face box and the image (consent.head_tracking). `Face.landmarks` are dlib's five points
(scheme "dlib5": outer and inner corner of the image-right eye, outer and inner corner of the
image-left eye, base of the nose) or SCRFD's five keypoints (scheme "scrfd5": eye centres, nose tip,
mouth corners).
SFace (Apache-2.0, OpenCV zoo) is in no PyPI wheel: the packages that use it
download it at run time; facenet-pytorch downloads its recogniser weights the same way; mediapipe ships
no face recognition model.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


class FaceError(ValueError):
    """Bad input to face analysis (unreadable image, image bomb, wrong array shape)."""


class BackendUnavailable(RuntimeError):
    """The backend's model files are missing; `available()` says why."""


# Largest image we decode: 40 MP is far above any selfie/video frame and far below a decompression bomb.
MAX_IMAGE_PIXELS = 40_000_000
# dlib's documented same-person threshold for its 128-d descriptor (Euclidean distance < 0.6).
DLIB_THRESHOLD = 0.6
# ArcFace on L2-normalised vectors: Euclidean 1.10 == cosine similarity 0.395. Not measured here
# (no weights offline); insightface's own examples treat cosine ~0.3-0.4 as the same-person boundary.
ARCFACE_THRESHOLD = 1.10


DLIB5 = "dlib5"  # dlib's 5 points: image-right eye outer, inner corner; image-left eye outer, inner; nose base
SCRFD5 = "scrfd5"  # SCRFD's keypoints: image-left eye, image-right eye, nose tip, mouth left, mouth right


@dataclass
class Face:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels of the analysed image
    landmarks: np.ndarray  # (5, 2) float32 pixels, in the order `scheme` names
    embedding: np.ndarray  # float32 identity vector (128-d dlib, 512-d ArcFace)
    det_score: float
    scheme: str = DLIB5

    @property
    def area(self) -> int:
        x0, y0, x1, y1 = self.box
        return max(0, x1 - x0) * max(0, y1 - y0)


@runtime_checkable
class FaceBackend(Protocol):
    name: str
    version: str
    threshold: float  # same person when face_distance < threshold

    def available(self) -> tuple[bool, str]: ...

    def analyze(self, image_rgb: np.ndarray) -> list[Face]: ...


def eyes_and_nose(landmarks: np.ndarray, scheme: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image-left eye centre, image-right eye centre, nose point) of five landmarks of either scheme."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (5, 2):
        raise FaceError(f"expected 5 landmarks, got shape {lm.shape}")
    if scheme == DLIB5:
        return lm[2:4].mean(0), lm[0:2].mean(0), lm[4]
    if scheme == SCRFD5:
        return lm[0], lm[1], lm[2]
    raise FaceError(f"unknown landmark scheme {scheme!r}")


def face_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two embeddings (dlib's metric; for unit vectors a monotone of cosine)."""
    a = np.asarray(a, dtype=np.float32).ravel()
    b = np.asarray(b, dtype=np.float32).ravel()
    if a.shape != b.shape:
        raise FaceError(f"embedding sizes differ: {a.shape[0]} vs {b.shape[0]}")
    return float(np.linalg.norm(a - b))


def check_image_array(image_rgb: np.ndarray) -> np.ndarray:
    """An HxWx3 uint8 RGB array, contiguous (dlib needs that); anything else is a FaceError."""
    if not isinstance(image_rgb, np.ndarray):
        raise FaceError("image must be a numpy array")
    if image_rgb.ndim == 2:
        image_rgb = np.stack([image_rgb] * 3, axis=-1)
    if image_rgb.ndim != 3 or image_rgb.shape[2] not in (3, 4):
        raise FaceError(f"image must be HxWx3 RGB, got shape {image_rgb.shape}")
    if image_rgb.shape[2] == 4:
        image_rgb = image_rgb[:, :, :3]
    h, w = image_rgb.shape[:2]
    if h < 8 or w < 8:
        raise FaceError(f"image too small ({w}x{h})")
    if h * w > MAX_IMAGE_PIXELS:
        raise FaceError(f"image too large ({w}x{h} > {MAX_IMAGE_PIXELS} pixels)")
    if image_rgb.dtype != np.uint8:
        raise FaceError(f"image must be uint8, got {image_rgb.dtype}")
    return np.ascontiguousarray(image_rgb)


def load_image_rgb(path: Path | str, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode an image file to RGB uint8; 0 bytes, non-images, truncated files and bombs -> FaceError."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise FaceError(f"cannot read {path}: {exc.strerror or exc}") from None
    if size == 0:
        raise FaceError(f"{path.name}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                # Check the header's size before decoding a single pixel: a 50k x 50k PNG is 100 bytes.
                if w * h > max_pixels:
                    raise FaceError(f"{path.name}: image too large ({w}x{h} > {max_pixels} pixels)")
                arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except FaceError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise FaceError(f"{path.name}: image too large (decompression bomb)") from None
    except UnidentifiedImageError:
        raise FaceError(f"{path.name}: not a readable image") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated / corrupt data
        raise FaceError(f"{path.name}: corrupt image ({exc})") from None
    return check_image_array(arr)


def dlib_model_dir() -> Path | None:
    """The models/ folder of the installed face_recognition_models distribution, without importing it."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


_DLIB_FILES = {  # the 68-point predictor is deliberately absent: its training data excludes commercial use
    "shape5": "shape_predictor_5_face_landmarks.dat",
    "resnet": "dlib_face_recognition_resnet_model_v1.dat",
}


class DlibBackend:
    """dlib HOG + 5-point shape predictor + ResNet descriptor (128-d, LFW 99.38% per dlib)."""

    name = "dlib"
    threshold = DLIB_THRESHOLD
    landmark_model = "dlib shape_predictor_5_face_landmarks (5 points, public domain)"

    def __init__(
        self, upsample: int = 0, model_dir: Path | None = None, jitters: int = 0, mirror: bool = False
    ) -> None:
        self.upsample = upsample
        # num_jitters: dlib embeds that many randomly shifted/flipped/rotated copies of the chip and
        # averages them (cost x jitters); mirror: also embed the mirrored face and average (cost x2).
        self.jitters = max(0, int(jitters))
        self.mirror = mirror
        self.model_dir = model_dir or dlib_model_dir()
        self._models: dict | None = None
        # dlib objects are not documented as thread-safe; one analysis at a time per backend.
        self._lock = threading.Lock()
        try:
            import dlib

            extra = (f"-j{self.jitters}" if self.jitters else "") + ("-mirror" if mirror else "")
            self.version = f"dlib-{dlib.__version__}-hog{upsample}-shape5-resnet_v1{extra}"
        except ImportError:
            self.version = "dlib-missing"

    def available(self) -> tuple[bool, str]:
        try:
            import dlib  # noqa: F401
        except ImportError as exc:
            return False, f"dlib not importable: {exc}"
        if self.model_dir is None:
            return False, "face_recognition_models is not installed (dlib model files missing)"
        missing = [f for f in _DLIB_FILES.values() if not (self.model_dir / f).is_file()]
        if missing:
            return False, f"missing dlib model files in {self.model_dir}: {', '.join(missing)}"
        return True, f"dlib models from {self.model_dir}; landmarks: {self.landmark_model}"

    def _load(self) -> dict:
        if self._models is None:
            ok, why = self.available()
            if not ok:
                raise BackendUnavailable(why)
            import dlib

            d = self.model_dir
            assert d is not None
            self._models = {
                "detector": dlib.get_frontal_face_detector(),
                "shape5": dlib.shape_predictor(str(d / _DLIB_FILES["shape5"])),
                "resnet": dlib.face_recognition_model_v1(str(d / _DLIB_FILES["resnet"])),
            }
        return self._models

    def detect(self, image_rgb: np.ndarray) -> list[tuple[tuple[int, int, int, int], float, np.ndarray]]:
        """Boxes, HOG scores and the 5 landmarks (scheme DLIB5), without the (slower) embedding."""
        img = check_image_array(image_rgb)
        with self._lock:
            m = self._load()
            return [(box, score, pts) for box, score, pts, _, _ in self._detect(m, img)]

    def _detect(self, m: dict, img: np.ndarray) -> list:
        rects, scores, _ = m["detector"].run(img, self.upsample, 0.0)
        out = []
        h, w = img.shape[:2]
        for rect, score in zip(rects, scores, strict=True):
            shape = m["shape5"](img, rect)
            pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
            box = (max(0, rect.left()), max(0, rect.top()), min(w, rect.right()), min(h, rect.bottom()))
            out.append((box, float(score), pts, rect, shape))
        return out

    def _embed(self, m: dict, img: np.ndarray, rect, shape=None) -> np.ndarray:
        import dlib

        # The descriptor was trained on 5-point aligned chips: the same predictor's points align it.
        shape = shape if shape is not None else m["shape5"](img, rect)
        emb = np.array(m["resnet"].compute_face_descriptor(img, shape, self.jitters),
                       dtype=np.float32)  # fmt: skip
        if self.mirror:
            w = img.shape[1]
            flipped = np.ascontiguousarray(img[:, ::-1])
            frect = dlib.rectangle(w - 1 - rect.right(), rect.top(), w - 1 - rect.left(), rect.bottom())
            emb2 = m["resnet"].compute_face_descriptor(flipped, m["shape5"](flipped, frect), self.jitters)
            emb = ((emb + np.array(emb2, dtype=np.float32)) / 2).astype(np.float32, copy=False)
        return emb

    def embed_box(self, image_rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The embedding of the face in `box` (e.g. a face found earlier, re-embedded with jitter)."""
        import dlib

        img = check_image_array(image_rgb)
        with self._lock:
            m = self._load()
            return self._embed(m, img, dlib.rectangle(*(int(v) for v in box)))

    def analyze(self, image_rgb: np.ndarray) -> list[Face]:
        img = check_image_array(image_rgb)
        with self._lock:
            m = self._load()
            faces = []
            for box, score, pts, rect, shape in self._detect(m, img):
                emb = self._embed(m, img, rect, shape)
                faces.append(Face(box=box, landmarks=pts, embedding=emb, det_score=score))
            return faces


class InsightFaceBackend:
    """SCRFD detector + ArcFace recogniser from ONNX files in `model_dir` (e.g. an unpacked buffalo_l).

    The detector is the .onnx file whose name contains "det" or "scrfd"; the recogniser the one whose
    name contains "w600k", "arcface", "glint" or "rec". Embeddings are L2-normalised.
    """

    name = "insightface"
    threshold = ARCFACE_THRESHOLD
    landmark_model = "SCRFD 5 keypoints"

    def __init__(self, model_dir: Path | str | None, det_size: int = 640, det_thresh: float = 0.5) -> None:
        self.model_dir = Path(model_dir) if model_dir else None
        self.det_size = det_size
        self.det_thresh = det_thresh
        self._det = None
        self._rec = None
        self._lock = threading.Lock()
        det, rec = self._find_files()
        self.version = f"insightface-{det.stem if det else 'none'}+{rec.stem if rec else 'none'}"

    def _find_files(self) -> tuple[Path | None, Path | None]:
        if self.model_dir is None or not self.model_dir.is_dir():
            return None, None
        det = rec = None
        for f in sorted(self.model_dir.glob("*.onnx")):
            n = f.name.lower()
            if det is None and ("det" in n or "scrfd" in n):
                det = f
            elif rec is None and any(k in n for k in ("w600k", "arcface", "glint", "rec")):
                rec = f
        return det, rec

    def available(self) -> tuple[bool, str]:
        if self.model_dir is None:
            return False, "no insightface model folder configured (REELGATE_INSIGHTFACE_DIR)"
        if not self.model_dir.is_dir():
            return False, f"insightface model folder {self.model_dir} does not exist"
        det, rec = self._find_files()
        if det is None:
            return False, f"no SCRFD detector (*det*.onnx / *scrfd*.onnx) in {self.model_dir}"
        if rec is None:
            return False, f"no ArcFace recogniser (*w600k*/*arcface*/*rec*.onnx) in {self.model_dir}"
        try:
            import insightface  # noqa: F401
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            return False, f"insightface/onnxruntime not importable: {exc}"
        return True, f"SCRFD {det.name} + ArcFace {rec.name} from {self.model_dir}"

    def _load(self) -> None:
        if self._det is not None:
            return
        ok, why = self.available()
        if not ok:
            raise BackendUnavailable(why)
        from insightface.model_zoo import model_zoo
        from insightface.model_zoo.arcface_onnx import ArcFaceONNX
        from insightface.model_zoo.scrfd import SCRFD

        det_file, rec_file = self._find_files()
        providers = ["CPUExecutionProvider"]
        try:
            det = model_zoo.get_model(str(det_file), providers=providers)
            rec = model_zoo.get_model(str(rec_file), providers=providers)
        except Exception as exc:  # onnxruntime raises its own types for corrupt/unsupported files
            raise BackendUnavailable(f"cannot load insightface models from {self.model_dir}: {exc}") from None
        if not isinstance(det, SCRFD):
            raise BackendUnavailable(f"{det_file} is not an SCRFD detector (routed to {type(det).__name__})")
        if not isinstance(rec, ArcFaceONNX):
            raise BackendUnavailable(f"{rec_file} is not an ArcFace model (routed to {type(rec).__name__})")
        det.prepare(ctx_id=-1, input_size=(self.det_size, self.det_size), det_thresh=self.det_thresh)
        rec.prepare(ctx_id=-1)
        self._det, self._rec = det, rec

    def embed_aligned(self, image_bgr: np.ndarray, kps: np.ndarray) -> np.ndarray:
        """norm_crop the face on its 5 keypoints to the recogniser's input and embed it (unit vector)."""
        from insightface.utils import face_align

        assert self._rec is not None
        size = int(self._rec.input_size[0])
        chip = face_align.norm_crop(image_bgr, landmark=np.asarray(kps, dtype=np.float32), image_size=size)
        feat = np.asarray(self._rec.get_feat(chip), dtype=np.float32).ravel()
        norm = float(np.linalg.norm(feat))
        return feat / norm if norm > 0 else feat

    def analyze(self, image_rgb: np.ndarray) -> list[Face]:
        img = check_image_array(image_rgb)
        bgr = np.ascontiguousarray(img[:, :, ::-1])  # insightface works in OpenCV's BGR order
        with self._lock:
            self._load()
            assert self._det is not None
            bboxes, kpss = self._det.detect(bgr, input_size=(self.det_size, self.det_size))
            h, w = img.shape[:2]
            faces = []
            for i in range(bboxes.shape[0]):
                x0, y0, x1, y1, score = (float(v) for v in bboxes[i])
                kps = kpss[i] if kpss is not None else None
                if kps is None:
                    continue
                emb = self.embed_aligned(bgr, kps)
                box = (max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1)))
                faces.append(
                    Face(box=box, landmarks=np.asarray(kps, np.float32), embedding=emb, det_score=score,
                         scheme=SCRFD5)
                )
            return faces


def get_face_backend(insightface_dir: Path | None = None) -> FaceBackend:
    """InsightFace when an operator supplied its model files, otherwise dlib (ships with the install)."""
    if insightface_dir is not None:
        backend = InsightFaceBackend(insightface_dir)
        if backend.available()[0]:
            return backend
    return DlibBackend(upsample=0)
