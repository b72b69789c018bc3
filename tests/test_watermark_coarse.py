"""Format 4: the coarse layer (12-px cells, its own keyed layout, the same payload) reads a picture downscaled
past the fine layer's reach; 3.x clips (fine layer only) still read; unmarked pictures read nothing."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

import provenance.watermark_video as wv
from provenance import wm_code
from provenance.media import transcode
from provenance.watermark import detect_clip, embed_clip
from provenance.wm_keys import WatermarkKey

PAYLOAD = bytes.fromhex("0badc0ffee123456")
KEY = WatermarkKey.from_secret("test", bytes(range(32)))
H, W = 576, 1024


def _write(frames: list[np.ndarray], path: Path) -> Path:
    with av.open(str(path), "w") as box:
        vs = box.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
        vs.options = {"crf": "16", "preset": "veryfast"}
        for f in frames:
            for pkt in vs.encode(av.VideoFrame.from_ndarray(f, format="gray")):
                box.mux(pkt)
        for pkt in vs.encode():
            box.mux(pkt)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory, monkeypatch_module) -> dict[str, Path]:
    """A 1.6-s 1024x576 clip (smooth texture panning, light grain), marked in format 4 and as 3.x (no coarse
    layer), each then downscaled to 1/3 (341x192) and re-encoded at CRF 18; and the unmarked source so too."""
    d = tmp_path_factory.mktemp("wmcoarse")
    rng = np.random.default_rng(1)
    base = cv2.normalize(cv2.GaussianBlur(rng.normal(128, 50, (H, W)).astype(np.float32), (0, 0), 12.0),
                         None, 40, 215, cv2.NORM_MINMAX)
    frames = [np.clip(np.roll(base, 3 * i, axis=1) + rng.normal(0, 2, (H, W)), 0, 255).astype(np.uint8)
              for i in range(40)]
    src = _write(frames, d / "src.mp4")
    out = {"src": src}
    third = (W // 3 // 2 * 2, H // 3)
    for name, share in (("v4", wv.COARSE_SHARE), ("v3", 0.0)):
        monkeypatch_module.setattr(wv, "COARSE_SHARE", share)
        marked = d / f"{name}.mp4"
        info = embed_clip(src, marked, PAYLOAD, key=KEY)
        assert info["psnr_min_db"] >= 40.0
        out[name] = marked
        transcode(marked, d / f"{name}_third.mp4", crf=18, size=third, audio=False)
        out[f"{name}_third"] = d / f"{name}_third.mp4"
    monkeypatch_module.undo()
    transcode(src, d / "src_third.mp4", crf=18, size=third, audio=False)
    out["src_third"] = d / "src_third.mp4"
    return out


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_tile_holds_both_layers_from_400_lines() -> None:
    vm = wv.VideoMark(KEY.layout_key)
    tile = vm.tile_for(PAYLOAD, 720)
    assert tile.shape == (3 * wv.TILE, 3 * wv.TILE)
    assert vm.tile_for(PAYLOAD, 272).shape == (wv.TILE, wv.TILE)  # too small for the coarse layer: 3.x's mark
    coarse = wv._smooth_tile(vm.coarse.layout.cell_values(wm_code.encode_payload(PAYLOAD), wv.SYNC_WEIGHT),
                             wv.CELL_PX * wv.COARSE_FACTOR)
    coarse /= np.sqrt(np.mean(coarse**2))
    # the coarse layer holds COARSE_SHARE of the power (the two layers are nearly orthogonal)
    assert float(np.mean(tile * coarse)) == pytest.approx(np.sqrt(wv.COARSE_SHARE), abs=0.03)


def test_downscaled_to_a_third_reads_from_the_coarse_layer(clips) -> None:
    # 4-px cells at 1/3 are 1.3 px: the fine layer alone (3.x) is lost; the coarse layer's 12-px cells are 4 px
    out = detect_clip(clips["v4_third"], keys=KEY)
    assert out["found"] and out["payload"] == PAYLOAD.hex(), out["video"]
    assert out["video"]["layers_read"] == "coarse" and out["p_value"] <= 1e-6
    assert out["video"]["coarse"]["scale"] == pytest.approx(1.0, abs=0.02)
    old = detect_clip(clips["v3_third"], keys=KEY)
    assert not old["found"]


def test_both_layers_read_as_one_where_they_agree(clips) -> None:
    out = detect_clip(clips["v4"], keys=KEY)
    assert out["found"] and out["payload"] == PAYLOAD.hex()
    assert out["video"]["layers_read"] == "both"
    # the coarse layer's scale is the one the fine layer predicts (x3 / the coarse picture's 576/200 ratio)
    assert out["video"]["coarse"]["scale"] == pytest.approx(3 * 200 / H, rel=0.01)


def test_3x_clip_reads_with_the_format_4_detector(clips) -> None:
    out = detect_clip(clips["v3"], keys=KEY)
    assert out["found"] and out["payload"] == PAYLOAD.hex()
    assert out["video"]["layers_read"] == "fine"


def test_unmarked_third_reads_nothing(clips) -> None:
    out = detect_clip(clips["src_third"], keys=KEY)
    assert not out["found"] and out["payload"] is None
    assert out["video"]["p_sync"] >= 2 / 256 - 1e-12


def test_coarse_sync_is_ranked_among_decoy_pairs(monkeypatch) -> None:
    # a mark in the coarse layer only: its sync beats every decoy pair (rank 1) and the sync p-value is the
    # decoy floor x 2 orientations, with no factor for the second layer (one statistic over both layers)
    monkeypatch.setattr(wv, "COARSE_SHARE", 1.0)
    rng = np.random.default_rng(5)
    base = cv2.GaussianBlur(rng.normal(128, 40, (H, W)).astype(np.float32), (0, 0), 8.0)
    frames = [np.clip(base + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8) for _ in range(4)]
    vm = wv.VideoMark(KEY.layout_key)
    tile = vm.tile_for(PAYLOAD, H)
    acc, _ = vm.accumulate([vm.embed_luma(f, tile) for f in frames])
    assert acc is not None
    out = vm.detect_residual(acc.fine.astype(np.float32), exact_p=True, coarse=acc.coarse.astype(np.float32),
                             coarse_geom=acc.geom)
    assert out["found"] and out["payload"] == PAYLOAD.hex() and out["layers_read"] == "coarse"
    assert out["sync_rank"] == 1 and out["p_sync"] == pytest.approx(2 / (wv.N_DECOYS + 1))
