"""InsightFaceBackend wiring without real weights.

No SCRFD/ArcFace weights exist offline, so we build two tiny ONNX graphs with the same input and output
layout (a detector with SCRFD's 9 outputs that reports one face at a known place; a "recogniser" that
average-pools the 112x112 chip and projects it to 512-d). They prove the model routing, SCRFD output
decoding, norm_crop alignment on the 5 keypoints and normalisation; they say nothing about accuracy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from consent.faces import InsightFaceBackend, get_face_backend

FACE_CENTER = (320.0, 320.0)


def _const(name: str, arr: np.ndarray):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(arr.astype(np.float32)))


def make_scrfd(path: Path) -> None:
    nodes, outputs = [], []
    strides = (8, 16, 32)
    counts = {s: (640 // s) ** 2 * 2 for s in strides}
    scores, boxes, kpss = {}, {}, {}
    for s in strides:
        scores[s] = np.zeros((counts[s], 1), np.float32)
        boxes[s] = np.ones((counts[s], 4), np.float32)
        kpss[s] = np.zeros((counts[s], 10), np.float32)
    # One confident face on the stride-32 anchor centred at (320, 320): 128 px box, 5 keypoints.
    a = (10 * 20 + 10) * 2
    scores[32][a] = 0.95
    boxes[32][a] = [2, 2, 2, 2]
    kpss[32][a] = np.array([-0.8, -0.6, 0.8, -0.6, 0.0, 0.0, -0.6, 0.8, 0.6, 0.8])
    for kind, table in (("score", scores), ("bbox", boxes), ("kps", kpss)):
        for s in strides:
            name = f"{kind}_{s}"
            nodes.append(_const(name, table[s]))
            width = table[s].shape[1]
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [counts[s], width]))
    inp = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 640, 640])
    graph = helper.make_graph(nodes, "fake_scrfd", [inp], outputs)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), str(path))


def make_arcface(path: Path) -> None:
    w = np.random.default_rng(0).standard_normal((147, 512)).astype(np.float32)
    nodes = [
        helper.make_node("AveragePool", ["input.1"], ["pooled"], kernel_shape=[16, 16], strides=[16, 16]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        _const("w", w),
        helper.make_node("MatMul", ["flat", "w"], ["683"]),
    ]
    inp = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 112, 112])
    out = helper.make_tensor_value_info("683", TensorProto.FLOAT, [1, 512])
    graph = helper.make_graph(nodes, "fake_arcface", [inp], [out])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), str(path))


def test_insightface_wiring(tmp_path: Path) -> None:
    make_scrfd(tmp_path / "det_10g.onnx")
    make_arcface(tmp_path / "w600k_r50.onnx")
    backend = InsightFaceBackend(tmp_path)
    ok, why = backend.available()
    assert ok, why
    assert get_face_backend(tmp_path).name == "insightface"

    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (640, 640, 3), dtype=np.uint8)
    faces = backend.analyze(img)
    assert len(faces) == 1
    f = faces[0]
    assert f.box == (256, 256, 384, 384)
    assert f.landmarks.shape == (5, 2)
    np.testing.assert_allclose(f.landmarks[2], FACE_CENTER, atol=1e-3)  # nose on the anchor centre
    np.testing.assert_allclose(f.landmarks[0], (320 - 25.6, 320 - 19.2), atol=1e-3)
    assert f.embedding.shape == (512,) and abs(float(np.linalg.norm(f.embedding)) - 1) < 1e-5
    assert f.det_score == pytest.approx(0.95, abs=1e-6)
    # The embedding comes from the aligned chip: same image -> same vector, other pixels -> another.
    assert np.allclose(backend.analyze(img)[0].embedding, f.embedding)
    other = rng.integers(0, 255, (640, 640, 3), dtype=np.uint8)
    assert not np.allclose(backend.analyze(other)[0].embedding, f.embedding)


def test_insightface_misrouted_files(tmp_path: Path) -> None:
    # Two recognisers and no detector under a detector's name: refuse with a reason, never guess.
    make_arcface(tmp_path / "det_fake.onnx")
    make_arcface(tmp_path / "w600k_r50.onnx")
    backend = InsightFaceBackend(tmp_path)
    assert backend.available()[0]  # the files are there ...
    from consent.faces import BackendUnavailable

    with pytest.raises(BackendUnavailable, match="not an SCRFD"):
        backend.analyze(np.zeros((64, 64, 3), np.uint8))  # ... but loading says what is wrong


def test_insightface_corrupt_files(tmp_path: Path) -> None:
    from consent.faces import BackendUnavailable

    (tmp_path / "det_10g.onnx").write_bytes(b"\x00garbage")
    (tmp_path / "w600k_r50.onnx").write_bytes(b"")
    with pytest.raises(BackendUnavailable, match="cannot load"):
        InsightFaceBackend(tmp_path).analyze(np.zeros((64, 64, 3), np.uint8))
