"""The frame gate: sample frames from a clip and score what they show.

Signals (each reported in `FrameReport.signals` with ran / why / model / real_weights):
- frames.nudenet: NudeNet 3.4.2's bundled ONNX detector (320n). Exposed-body-part detections map to a
  frame nudity score by a noisy-OR of per-part weights x a confidence ramp (PART_WEIGHTS, CONF_LOW/HIGH). Covered parts,
  faces, feet, belly and armpits never count, so swimwear and portraits stay low.
- frames.clip: zero-shot concepts (violence, gore, child, sexual) with open_clip, only when real CLIP weights
  are configured at a local path; otherwise ran=False with the reason. Never random weights.
- minor_sexual: the conjunction of a sexual signal (nudity or CLIP sexual) and a child signal (CLIP child)
  in the same frame. Without a child signal (no CLIP weights) the gate cannot rule a minor out, so it
  reports the nudity score as the upper bound of minor_sexual and says so (fail closed).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MAX_SIDE = 8192
MAX_PIXELS = 40_000_000
MAX_DECODED_FRAMES = 20_000
SHOT_THRESHOLD = 0.4  # histogram L1 distance (0..2) between consecutive frames that marks a cut (measured: in-shot
# motion on real clips stays under 0.3, cuts on bikes_scene_cuts.mp4 are 0.5-1.5)

# Exposed-part weights: how much one confident detection of that part says "this frame shows nudity".
PART_WEIGHTS: dict[str, float] = {
    "FEMALE_GENITALIA_EXPOSED": 1.0,
    "MALE_GENITALIA_EXPOSED": 1.0,
    "ANUS_EXPOSED": 1.0,
    "FEMALE_BREAST_EXPOSED": 0.9,
    "BUTTOCKS_EXPOSED": 0.7,
}
# Detector confidence -> evidence: a linear ramp from CONF_LOW (no evidence) to CONF_HIGH (full evidence).
# Measured on safe media here (evals/frames.py): spurious exposed-part boxes on real camera clips scored
# 0.29-0.40, a cartoon rabbit's belly up to 0.78; explicit parts are typically detected above 0.8.
# Not calibrated on positives (no explicit imagery may be used here): a stated, conservative mapping.
CONF_LOW = 0.4
CONF_HIGH = 0.9
NUDENET_MIN_SCORE = 0.2  # nudenet 3.4.2 decodes no candidate box scoring under this
NUDENET_THREADS = 2  # frames scored at once (the gate runs on 2-core machines; each call is one thread)

CLIP_CONCEPTS: dict[str, list[str]] = {
    "violence": ["a photo of people fighting violently", "a photo of a person shooting a gun at someone",
                 "a photo of a violent attack"],
    "gore": ["a photo of blood and gore", "a photo of a mutilated body", "a photo of a bloody wound"],
    "child": ["a photo of a child", "a photo of a young kid", "a photo of a baby"],
    "sexual": ["a photo of a naked person", "an explicit sexual photo", "pornography"],
}
CLIP_NEUTRAL = ["a photo", "a photo of an ordinary everyday scene", "a photo of an adult person",
                "a photo of a landscape", "a photo of an object", "a cartoon"]


class FrameError(ValueError):
    """A clip or image that cannot be sampled: missing, empty, truncated, too large, no video stream."""


@dataclass
class SampledFrame:
    index: int  # decoded frame number
    time: float  # seconds
    image: np.ndarray  # RGB uint8, H x W x 3
    reasons: list[str]  # first / interval / shot / last


@dataclass
class Evidence:
    frame: int
    time: float
    category: str
    score: float
    boxes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FrameReport:
    categories: dict[str, float]  # per-category max over frames
    evidence: list[Evidence]
    signals: dict[str, dict[str, Any]]
    frames: int
    millis_per_frame: float
    notes: list[str] = field(default_factory=list)
    unscored: list[str] = field(default_factory=list)  # categories no signal could score (say so, never 0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- sampling

def _hist(rgb: np.ndarray) -> np.ndarray:
    small = rgb[:: max(1, rgb.shape[0] // 64), :: max(1, rgb.shape[1] // 64)]
    q = (small // 32).astype(np.int32)  # 8 levels per channel
    codes = q[..., 0] * 64 + q[..., 1] * 8 + q[..., 2]
    h = np.bincount(codes.ravel(), minlength=512).astype(np.float32)
    return h / max(1.0, h.sum())


def _check_size(w: int, h: int, what: str) -> None:
    if w <= 0 or h <= 0:
        raise FrameError(f"{what}: invalid size {w}x{h}")
    if max(w, h) > MAX_SIDE or w * h > MAX_PIXELS:
        raise FrameError(f"{what}: {w}x{h} exceeds the limit ({MAX_SIDE}px side, {MAX_PIXELS} pixels)")


def _image_frame(path: Path) -> list[SampledFrame]:
    from PIL import Image

    try:
        with Image.open(path) as im:
            _check_size(im.width, im.height, path.name)
            rgb = np.asarray(im.convert("RGB"))
    except (OSError, Image.DecompressionBombError, SyntaxError) as exc:
        raise FrameError(f"{path.name}: not a readable image or video ({exc})") from exc
    return [SampledFrame(0, 0.0, rgb, ["first", "last"])]


def sample_frames(path: Path, every_seconds: float = 0.5, max_frames: int = 64) -> list[SampledFrame]:
    """Frames at a fixed rate plus the first, the last and every shot change (PyAV decode).

    A still image (PNG/JPEG/...) is one frame. Over max_frames, first/last/shot frames are kept and the
    interval frames are thinned evenly.
    """
    return thin_frames(decode_sample(path, every_seconds), max_frames)


def decode_sample(path: Path, every_seconds: float = 0.5, strict: bool = False) -> list[SampledFrame]:
    """Every frame `sample_frames` may pick (first, interval, shot changes, last), before thinning: one decode
    that several checks share, each thinning it to its own budget with `thin_frames`. `strict`: a decoding
    error anywhere is a FrameError (by default a truncated tail keeps the frames decoded before it)."""
    import av

    path = Path(path)
    if every_seconds <= 0:
        raise FrameError("every_seconds must be positive")
    if not path.is_file():
        raise FrameError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise FrameError(f"{path.name}: empty file (0 bytes)")
    if path.suffix.lower() in {".png", ".jpg", ".jpeg", ".webp", ".bmp"}:
        return _image_frame(path)
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise FrameError(f"{path.name}: cannot open as video ({exc})") from exc
    sampler = FrameSampler(every_seconds)
    try:
        with container:
            if not container.streams.video:
                raise FrameError(f"{path.name}: no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            _check_size(stream.codec_context.width or 1, stream.codec_context.height or 1, path.name)
            # a later frame can be larger than the header says: the decoder refuses it before allocating it
            stream.codec_context.options = {**stream.codec_context.options, "max_pixels": str(MAX_PIXELS)}
            for i, frame in enumerate(container.decode(stream)):
                if i >= MAX_DECODED_FRAMES:
                    raise FrameError(f"{path.name}: more than {MAX_DECODED_FRAMES} frames")
                _check_size(frame.width, frame.height, path.name)
                t = float(frame.time) if frame.time is not None else i / float(stream.average_rate or 25)
                sampler.add(i, t, frame.to_ndarray(format="rgb24"))
    except av.FFmpegError as exc:
        if not sampler.picked or strict:
            raise FrameError(f"{path.name}: cannot decode ({exc})") from exc
        # A truncated tail: keep what decoded, say so through the last frame we have.
    frames = sampler.frames()
    if not frames:
        raise FrameError(f"{path.name}: no decodable frames")
    return frames


class FrameSampler:
    """The frames `decode_sample` picks (first, every `every_seconds`, shot changes, last), from frames handed
    over one at a time: by a decode, or by the encoder as the generator makes them (the gate's draft is then
    sampled without being decoded again). `copy`: keep copies of the picked frames, for a source that may
    reuse its buffer for the next frame (the last frame given is kept as given: nothing follows to overwrite
    it)."""

    def __init__(self, every_seconds: float = 0.5, copy: bool = False) -> None:
        if every_seconds <= 0:
            raise FrameError("every_seconds must be positive")
        self.every_seconds = every_seconds
        self.copy = copy
        self.picked: list[SampledFrame] = []
        self._prev_hist: np.ndarray | None = None
        self._next_t = 0.0
        self._last: tuple[int, float, np.ndarray] | None = None

    def add(self, index: int, t: float, rgb: np.ndarray) -> None:
        hist = _hist(rgb)
        reasons = []
        if self._last is None:
            reasons.append("first")
        if t + 1e-6 >= self._next_t:
            reasons.append("interval")
            self._next_t = t + self.every_seconds
        if self._prev_hist is not None and float(np.abs(hist - self._prev_hist).sum()) > SHOT_THRESHOLD:
            reasons.append("shot")
        self._prev_hist = hist
        if reasons:
            self.picked.append(SampledFrame(index, round(t, 3), rgb.copy() if self.copy else rgb, reasons))
        self._last = (index, t, rgb)

    def frames(self) -> list[SampledFrame]:
        """The picked frames, the last one given marked "last" (added when it was not picked); [] if none."""
        if self._last is None:
            return []
        index, t, rgb = self._last
        if self.picked and self.picked[-1].index == index:
            if "last" not in self.picked[-1].reasons:
                self.picked[-1].reasons.append("last")
        else:
            self.picked.append(SampledFrame(index, round(t, 3), rgb, ["last"]))
        return self.picked


def thin_frames(picked: list[SampledFrame], max_frames: int) -> list[SampledFrame]:
    """At most max_frames of a decoded sample: first/last/shot frames kept, interval frames thinned evenly.
    Returns a new list (the frames themselves are shared, never changed)."""
    if len(picked) <= max_frames:
        return list(picked)
    must = [f for f in picked if {"first", "last", "shot"} & set(f.reasons)][:max_frames]
    rest = [f for f in picked if f not in must]
    room = max_frames - len(must)
    if room > 0 and rest:
        step = len(rest) / room
        must += [rest[int(k * step)] for k in range(room)]
    return sorted(must, key=lambda f: f.index)


# ---------------------------------------------------------------- scoring

def _evidence(confidence: float) -> float:
    return min(1.0, max(0.0, (confidence - CONF_LOW) / (CONF_HIGH - CONF_LOW)))


def nudity_score(detections: list[dict[str, Any]]) -> tuple[float, list[dict[str, Any]]]:
    """Noisy-OR over exposed-part detections: 1 - prod(1 - weight x evidence(confidence)).
    Returns the score and the boxes that contributed."""
    keep = []
    miss = 1.0
    for d in detections:
        w = PART_WEIGHTS.get(str(d.get("class")), 0.0)
        s = float(d.get("score", 0.0))
        if w <= 0 or _evidence(s) <= 0:
            continue
        miss *= 1.0 - w * _evidence(s)
        keep.append({"label": d["class"], "score": round(s, 4), "box": list(d.get("box", []))})
    return round(1.0 - miss, 4), keep


def minor_sexual(sexual: float, child: float | None) -> tuple[float, str]:
    """Conjunction of a sexual and a child signal; with no child signal, the sexual score is the bound."""
    if child is None:
        return sexual, "no child signal available: minor presence cannot be ruled out (upper bound = sexual)"
    return min(sexual, child), f"min(sexual {sexual:.2f}, child {child:.2f})"


def _nudenet_detect(detector: Any, rgb: np.ndarray) -> list[dict[str, Any]]:
    """NudeDetector.detect as nudenet 3.4.2 runs it on a BGR frame (what cv2.imread gives it), in less time:
    - its input: the frame is padded to a square at the bottom/right and resized to the model's side, channels
      B, G, R (nudenet swaps the BGR frame to RGB and back again with swapRB): done here on the RGB frame
      directly, without the flipped copy and the colour conversion;
    - its decoding loops in Python over every one of the model's 2,100 candidate boxes: the candidates under
      nudenet's own 0.2 score floor, which that loop skips, are dropped first (two empty columns keep the
      array two-dimensional through its squeeze).
    tests/test_frames.py checks the detections equal nudenet's own on real frames."""
    import cv2
    from nudenet import nudenet as nn

    h, w = rgb.shape[:2]
    side = max(h, w)
    padded = cv2.copyMakeBorder(np.ascontiguousarray(rgb), 0, side - h, 0, side - w, cv2.BORDER_CONSTANT)
    size = (detector.input_width, detector.input_height)
    blob = cv2.dnn.blobFromImage(padded, 1 / 255.0, size, (0, 0, 0), swapRB=True, crop=False)
    out = detector.onnx_session.run(None, {detector.input_name: blob})[0]  # (1, 4 + classes, candidates)
    keep = out[:, 4:, :].max(axis=1)[0] >= NUDENET_MIN_SCORE
    kept = np.concatenate([out[:, :, keep], np.zeros((*out.shape[:2], 2), out.dtype)], axis=2)
    return list(nn._postprocess([kept], side - w, side - h, side / w, side / h, w, h, *size))


class FrameGate:
    def __init__(self, clip_weights: Path | None = None, clip_model: str = "ViT-B-32") -> None:
        self.clip_weights = Path(clip_weights) if clip_weights else None
        self.clip_model = clip_model
        self._nude: Any = None
        self._nude_why = ""
        self._clip: tuple[Any, Any, Any, dict[str, Any]] | None = None
        self._clip_why = ""
        self._load_nudenet()
        self._load_clip()

    # --- signal loading
    def _load_nudenet(self) -> None:
        try:
            import nudenet
            import onnxruntime
            from nudenet import NudeDetector

            self._nude = NudeDetector()
            # nudenet builds its session with onnxruntime's defaults: one thread per core that spins while
            # idle. Beside the gate's other stages on a small machine the spinning cost more CPU than the
            # model itself (measured 2.5x), so: one thread, no spinning (same outputs, bit for bit).
            opts = onnxruntime.SessionOptions()
            opts.intra_op_num_threads = opts.inter_op_num_threads = 1
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._nude.onnx_session = onnxruntime.InferenceSession(
                str(Path(nudenet.__file__).with_name("320n.onnx")), opts, providers=["CPUExecutionProvider"])
            self._nude_model = f"nudenet {getattr(nudenet, '__version__', '3.4.2')} 320n.onnx"
            self._nude_why = "bundled ONNX detector"
        except Exception as exc:  # noqa: BLE001 - any load failure is reported, not raised
            self._nude = None
            self._nude_model = "nudenet"
            self._nude_why = f"NudeNet failed to load: {exc}"

    def _load_clip(self) -> None:
        if self.clip_weights is None:
            self._clip_why = "no CLIP weights configured (REELGATE_CLIP_WEIGHTS); violence/gore/child not scored"
            return
        if not self.clip_weights.is_file():
            self._clip_why = f"CLIP weights not found at {self.clip_weights}"
            return
        try:
            import importlib

            importlib.import_module("safety.torch_compat")  # must run before open_clip imports torchvision
            import open_clip
            import torch

            model, _, preprocess = open_clip.create_model_and_transforms(
                self.clip_model, pretrained=str(self.clip_weights))
            model.eval()
            tokenizer = open_clip.get_tokenizer(self.clip_model)
            labels: list[tuple[str, str]] = [(c, p) for c, ps in CLIP_CONCEPTS.items() for p in ps]
            labels += [("neutral", p) for p in CLIP_NEUTRAL]
            with torch.no_grad():
                t = model.encode_text(tokenizer([p for _, p in labels]))
                t = t / t.norm(dim=-1, keepdim=True)
            self._clip = (model, preprocess, t, {"labels": labels})
            self._clip_why = f"open_clip {self.clip_model} from {self.clip_weights.name} (zero-shot, uncalibrated)"
        except Exception as exc:  # noqa: BLE001
            self._clip = None
            self._clip_why = f"CLIP failed to load from {self.clip_weights}: {exc}"

    def available(self) -> tuple[bool, str]:
        return self._nude is not None, self._nude_why

    def signals(self) -> dict[str, dict[str, Any]]:
        return {
            "frames.nudenet": {"ran": self._nude is not None, "why": self._nude_why, "model": self._nude_model,
                               "real_weights": self._nude is not None},
            "frames.clip": {"ran": self._clip is not None, "why": self._clip_why,
                            "model": f"open_clip {self.clip_model}", "real_weights": self._clip is not None},
        }

    # --- per-frame scoring
    def detect_nudity(self, rgb: np.ndarray) -> list[dict[str, Any]]:
        if self._nude is None:
            return []
        return _nudenet_detect(self._nude, rgb)

    def _nudity_all(self, images: list[np.ndarray]) -> list[list[dict[str, Any]]]:
        """detect_nudity on every frame, in order. Two frames at a time: the session runs one thread per call
        (see _load_nudenet) and releases the GIL, so on an idle core the sample takes half the wall time; the
        same detections as one at a time."""
        if self._nude is None or len(images) < 2:
            return [self.detect_nudity(im) for im in images]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=NUDENET_THREADS) as pool:
            return list(pool.map(self.detect_nudity, images))

    def _clip_scores(self, frames: list[np.ndarray]) -> list[dict[str, float]]:
        assert self._clip is not None
        import torch
        from PIL import Image

        model, preprocess, text, info = self._clip
        labels = info["labels"]
        out = []
        with torch.no_grad():
            batch = torch.stack([preprocess(Image.fromarray(f)) for f in frames])
            img = model.encode_image(batch)
            img = img / img.norm(dim=-1, keepdim=True)
            probs = (100.0 * img @ text.T).softmax(dim=-1).numpy()
        for p in probs:
            scores: dict[str, float] = {}
            for concept in CLIP_CONCEPTS:
                # Concept vs neutral only: the other concepts are not evidence against this one.
                idx = [k for k, (c, _) in enumerate(labels) if c == concept]
                neutral = [k for k, (c, _) in enumerate(labels) if c == "neutral"]
                scores[concept] = float(p[idx].sum() / max(1e-9, p[idx].sum() + p[neutral].sum()))
            out.append(scores)
        return out

    def assess(self, path: Path, sample_every: float = 0.5, max_frames: int = 64) -> FrameReport:
        t0 = time.perf_counter()
        return self.assess_frames(sample_frames(path, every_seconds=sample_every, max_frames=max_frames), t0)

    def assess_frames(self, frames: list[SampledFrame], t0: float | None = None) -> FrameReport:
        """Score frames already sampled (e.g. the gate's one shared decode of a draft)."""
        t0 = time.perf_counter() if t0 is None else t0
        signals = self.signals()
        cats = {"nudity": 0.0, "minor_sexual": 0.0}
        evidence: list[Evidence] = []
        notes: list[str] = []
        clip_scores = self._clip_scores([f.image for f in frames]) if self._clip is not None else None
        if clip_scores is not None:
            cats.update({"violence": 0.0, "gore": 0.0, "child": 0.0, "sexual_clip": 0.0})
        why_minor = ""
        for k, (f, found) in enumerate(zip(frames, self._nudity_all([f.image for f in frames]), strict=True)):
            nud, boxes = nudity_score(found)
            sexual = nud
            child: float | None = None
            if clip_scores is not None:
                cs = clip_scores[k]
                sexual = max(nud, cs["sexual"])
                child = cs["child"]
                # Gore is violence for the policy (one "violence" threshold); it is also reported alone.
                cs = {**cs, "violence": max(cs["violence"], cs["gore"])}
                for c, key in (("violence", "violence"), ("gore", "gore"), ("child", "child"),
                               ("sexual_clip", "sexual")):
                    cats[c] = max(cats[c], round(cs[key], 4))
                    if c in ("violence", "gore") and cs[key] >= 0.5:
                        evidence.append(Evidence(f.index, f.time, c, round(cs[key], 4)))
            ms, why = minor_sexual(sexual, child)
            if nud > 0:
                evidence.append(Evidence(f.index, f.time, "nudity", nud, boxes))
            if ms > 0:
                evidence.append(Evidence(f.index, f.time, "minor_sexual", round(ms, 4)))
            if ms > cats["minor_sexual"]:
                why_minor = why
            cats["nudity"] = max(cats["nudity"], nud)
            cats["minor_sexual"] = max(cats["minor_sexual"], round(ms, 4))
        signals["frames.minor_sexual"] = {
            "ran": self._nude is not None, "model": "conjunction(sexual, child)",
            "real_weights": self._nude is not None,
            "why": (why_minor or ("sexual x child conjunction per frame" if clip_scores is not None else
                    "no child signal available (needs CLIP weights): any nudity also counts as possible "
                    "minor_sexual (fail closed)")),
        }
        if self._nude is None:
            notes.append("nudity not scored: " + self._nude_why)
        if clip_scores is None:
            notes.append("violence/gore/child not scored: " + self._clip_why)
        unscored = [] if clip_scores is not None else ["violence", "gore", "child"]
        if self._nude is None:
            unscored += ["nudity", "minor_sexual"]
            cats = {k: v for k, v in cats.items() if k not in ("nudity", "minor_sexual")}
        ms_per = (time.perf_counter() - t0) * 1000 / max(1, len(frames))
        return FrameReport(cats, evidence, signals, len(frames), round(ms_per, 2), notes, unscored)

