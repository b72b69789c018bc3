"""Frame gate: sampling (first/last/shot changes), bad input, NudeNet mapping and the minors conjunction.

No explicit imagery is in the repo: safe images must score low, and the mapping/conjunction logic is
tested on detection dicts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from safety.frames import FrameError, FrameGate, minor_sexual, nudity_score, sample_frames

FIX = Path(__file__).parent / "fixtures" / "frames"


def _write_clip(path: Path, seconds: float = 2.0, fps: int = 10, cut_at: float = 1.05) -> None:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(int(seconds * fps)):
            colour = (200, 30, 30) if i / fps < cut_at else (20, 40, 220)
            img = np.zeros((48, 64, 3), np.uint8)
            img[:] = colour
            img[10:20, (i * 3) % 54:(i * 3) % 54 + 10] = np.clip(np.array(colour) + 25, 0, 255)  # motion in a shot
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for pkt in stream.encode(frame):
                out.mux(pkt)
        for pkt in stream.encode():
            out.mux(pkt)


def test_sampling_keeps_first_last_and_shot_change(tmp_path: Path) -> None:
    clip = tmp_path / "cut.mp4"
    _write_clip(clip)
    frames = sample_frames(clip, every_seconds=0.5)
    reasons = {r for f in frames for r in f.reasons}
    assert frames[0].index == 0 and "first" in frames[0].reasons
    assert "last" in frames[-1].reasons and frames[-1].index == 19
    shots = [f for f in frames if "shot" in f.reasons]
    assert [f.index for f in shots] == [11]  # the cut between frame 10 (t=1.0) and 11 (t=1.1)
    assert "interval" in reasons
    assert all(f.image.shape == (48, 64, 3) for f in frames)


def test_max_frames_keeps_the_must_haves(tmp_path: Path) -> None:
    clip = tmp_path / "cut.mp4"
    _write_clip(clip)
    frames = sample_frames(clip, every_seconds=0.1, max_frames=4)
    assert len(frames) == 4
    idx = [f.index for f in frames]
    assert idx[0] == 0 and idx[-1] == 19 and 11 in idx


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 10, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 50])
def test_bad_files_raise_frame_error(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "bad.mp4"
    p.write_bytes(content)
    with pytest.raises(FrameError):
        sample_frames(p)


def test_missing_file_and_image_bomb(tmp_path: Path) -> None:
    with pytest.raises(FrameError):
        sample_frames(tmp_path / "nope.mp4")
    from PIL import Image

    big = tmp_path / "big.png"
    Image.new("L", (9000, 10)).save(big)
    with pytest.raises(FrameError, match="exceeds"):
        sample_frames(big)


def test_nudity_mapping_on_detection_dicts() -> None:
    assert nudity_score([]) == (0.0, [])
    safe = [{"class": "FACE_FEMALE", "score": 0.9, "box": [0, 0, 5, 5]},
            {"class": "FEMALE_BREAST_COVERED", "score": 0.8, "box": [0, 0, 5, 5]},
            {"class": "BELLY_EXPOSED", "score": 0.9, "box": [0, 0, 5, 5]},
            {"class": "MALE_BREAST_EXPOSED", "score": 0.9, "box": [0, 0, 5, 5]}]
    assert nudity_score(safe)[0] == 0.0
    one, boxes = nudity_score([{"class": "FEMALE_GENITALIA_EXPOSED", "score": 0.95, "box": [1, 2, 3, 4]}])
    assert one == pytest.approx(1.0) and boxes[0]["box"] == [1, 2, 3, 4]
    half = nudity_score([{"class": "FEMALE_GENITALIA_EXPOSED", "score": 0.65, "box": [1, 2, 3, 4]}])[0]
    assert half == pytest.approx(0.5, abs=1e-3)  # halfway up the confidence ramp
    weak = nudity_score([{"class": "BUTTOCKS_EXPOSED", "score": 0.35, "box": [0, 0, 1, 1]}])[0]
    assert weak == 0.0  # below the ramp: the low-confidence boxes seen on safe clips
    two = nudity_score([{"class": "FEMALE_BREAST_EXPOSED", "score": 0.8, "box": [0, 0, 1, 1]},
                        {"class": "BUTTOCKS_EXPOSED", "score": 0.8, "box": [0, 0, 1, 1]}])[0]
    single = nudity_score([{"class": "FEMALE_BREAST_EXPOSED", "score": 0.8, "box": [0, 0, 1, 1]}])[0]
    assert two > single  # two parts are stronger evidence than either alone
    assert two == pytest.approx(1 - (1 - 0.9 * 0.8) * (1 - 0.7 * 0.8), abs=1e-3)


def test_minor_sexual_conjunction() -> None:
    assert minor_sexual(0.9, 0.8)[0] == pytest.approx(0.8)
    assert minor_sexual(0.9, 0.05)[0] == pytest.approx(0.05)
    assert minor_sexual(0.05, 0.99)[0] == pytest.approx(0.05)
    bound, why = minor_sexual(0.7, None)
    assert bound == 0.7 and "no child signal" in why


@pytest.mark.slow
def test_nudenet_scores_safe_images_low_and_reports_signals() -> None:
    gate = FrameGate()
    assert gate.available()[0]
    for name in ("astronaut_256.jpg", "rocket_256.jpg"):
        report = gate.assess(FIX / name)
        assert report.frames == 1
        assert report.categories["nudity"] < 0.2
        assert report.categories["minor_sexual"] < 0.2
        sig = report.signals
        assert sig["frames.nudenet"]["ran"] is True and sig["frames.nudenet"]["real_weights"] is True
        assert sig["frames.clip"]["ran"] is False and "CLIP" in sig["frames.clip"]["why"]
        assert "no child signal" in sig["frames.minor_sexual"]["why"]
        assert report.unscored == ["violence", "gore", "child"]
    # The detector itself does see the person (a face), which must not count as nudity.
    from PIL import Image

    dets = gate.detect_nudity(np.asarray(Image.open(FIX / "astronaut_256.jpg").convert("RGB")))
    assert any(d["class"].startswith("FACE") for d in dets)



@pytest.mark.slow
def test_nudenet_fast_path_gives_nudenet_own_detections() -> None:
    """The gate's own input and decoding of NudeDetector (safety.frames._nudenet_detect) return exactly what
    nudenet's detect returns on the BGR frame, on portraits (face boxes found), wide and tall frames."""
    from PIL import Image

    gate = FrameGate()
    faces = Path(__file__).parent / "fixtures" / "faces"
    images = [np.asarray(Image.open(faces / n).convert("RGB")) for n in ("two_people_composite.jpg",
                                                                         "paul_rudd_1.jpg", "coffee.jpg")]
    wide = images[0]
    images += [np.ascontiguousarray(wide[: wide.shape[0] // 2]), np.ascontiguousarray(wide[:, : wide.shape[1] // 3])]
    found = 0
    for rgb in images:
        ours = gate.detect_nudity(rgb)
        theirs = list(gate._nude.detect(np.ascontiguousarray(rgb[..., ::-1])))
        assert ours == theirs
        found += len(ours)
    assert found > 0

def test_clip_weights_missing_is_reported(tmp_path: Path) -> None:
    gate = FrameGate(clip_weights=tmp_path / "missing.pt")
    sig = gate.signals()["frames.clip"]
    assert sig["ran"] is False and sig["real_weights"] is False and "not found" in sig["why"]


@pytest.mark.slow
def test_clip_path_runs_with_configured_weights(tmp_path: Path) -> None:
    """The CLIP code path, exercised with a tiny randomly initialised open_clip model saved to a local file
    (no real weights exist offline). Checks loading from a path, per-concept scores in [0, 1], evidence,
    and that minor_sexual then uses the conjunction instead of the upper bound."""
    import json

    import safety.torch_compat  # noqa: F401  (before open_clip)

    # isort: split
    import open_clip
    import torch

    cfg = {"embed_dim": 16,
           "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 16, "heads": 1, "layers": 1}}
    (tmp_path / "tiny-test-clip.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(tmp_path / "tiny-test-clip.json")
    torch.manual_seed(0)
    model = open_clip.create_model("tiny-test-clip", pretrained=None)
    weights = tmp_path / "tiny.pt"
    torch.save(model.state_dict(), weights)

    gate = FrameGate(clip_weights=weights, clip_model="tiny-test-clip")
    sig = gate.signals()["frames.clip"]
    assert sig["ran"] is True, sig["why"]
    report = gate.assess(FIX / "rocket_256.jpg")
    for c in ("violence", "gore", "child", "sexual_clip"):
        assert 0.0 <= report.categories[c] <= 1.0
    assert report.unscored == []
    assert report.categories["violence"] >= report.categories["gore"]  # gore counts as violence for policy
    assert "no child signal" not in report.signals["frames.minor_sexual"]["why"]
    assert report.categories["minor_sexual"] <= min(report.categories["child"], 1.0) + 1e-6
