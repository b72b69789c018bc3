"""Invisible watermark: round trip, key attacks, unmarked clips, bad input (audio: test_watermark_audio.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from provenance import wm_code
from provenance.errors import ProvenanceError
from provenance.media import transcode
from provenance.synthetic import make_test_clip
from provenance.watermark import add_visible_mark, available, detect_clip, detect_image, embed_clip
from provenance.wm_keys import WatermarkKey

PAYLOAD = bytes.fromhex("0badc0ffee123456")
KEY = WatermarkKey.from_secret("test", bytes(range(32)))  # a test installation's key
REAL = Path(__file__).parent / "fixtures" / "watermark" / "bikes_3s.mp4"


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("wm")
    src = make_test_clip(d / "src.mp4", seconds=4.0, width=320, height=240, seed=3)
    marked = d / "marked.mp4"
    info = embed_clip(src, marked, PAYLOAD, key=KEY)
    real_marked = d / "real_marked.mp4"
    real_info = embed_clip(REAL, real_marked, PAYLOAD, key=KEY)
    return {"dir": d, "src": src, "marked": marked, "info": info, "real": real_marked, "real_info": real_info}


def test_available():
    ok, why = available()
    assert ok, why


def test_code_round_trip_and_noise():
    rng = np.random.default_rng(0)
    coded = wm_code.encode_payload(PAYLOAD).astype(float) * 2 - 1
    assert wm_code.decode_soft(coded * 1.5 + rng.standard_normal(coded.size)) == PAYLOAD
    # pure noise: the CRC rejects what Viterbi makes of it
    assert sum(wm_code.decode_soft(rng.standard_normal(coded.size)) is not None for _ in range(300)) == 0


def test_embed_quality_and_round_trip(clips):
    info = clips["info"]
    assert info["psnr_db"] >= 40.0 and info["psnr_min_db"] >= 40.0
    assert info["frames"] == 100
    out = detect_clip(clips["marked"], keys=KEY)
    assert out["found"] and out["payload"] == PAYLOAD.hex()
    assert out["p_value"] < 1e-6
    assert out["video"]["confidence"] > 0.9


def test_unmarked_not_detected(clips):
    out = detect_clip(clips["src"], keys=KEY)
    assert not out["found"] and out["payload"] is None
    assert out["p_value"] > 1e-6


def test_two_second_window(clips):
    out = detect_clip(clips["marked"], start_s=1.5, max_seconds=2.0, keys=KEY)
    assert out["video"]["frames"] == 50
    assert out["found"] and out["payload"] == PAYLOAD.hex()


@pytest.mark.parametrize(
    "attack",
    ["crf28", "crop10", "resize0.5"],
)
def test_survives_attacks(clips, attack):
    # real footage (3 s, 640x272): the synthetic noise texture is harsher than camera content
    marked, dst = clips["real"], clips["dir"] / f"{attack}.mp4"
    w, h = clips["real_info"]["width"], clips["real_info"]["height"]
    if attack == "crf28":
        transcode(marked, dst, crf=28)
    elif attack == "crop10":
        s = math.sqrt(0.9)
        cw, ch = int(w * s) // 2 * 2, int(h * s) // 2 * 2
        transcode(marked, dst, crf=23, crop=(w - cw - 3, 5, cw, ch))
    else:
        # the resize attack on its own (re-encoded at high quality); CRF attacks are separate cases
        transcode(marked, dst, crf=18, size=(w // 2, h // 2))
    out = detect_clip(dst, keys=KEY)
    assert out["found"], out["video"]
    assert out["payload"] == PAYLOAD.hex()


FILM = Path(__file__).parent / "fixtures" / "watermark" / "carphone_bw_2s.mp4"


def _bright(rgb: np.ndarray, _i: int) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * 1.1 + 15, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("attack", ["crf35", "combo"])
def test_static_pillarboxed_film_two_seconds(tmp_path, attack):
    # grainy, static, pillarboxed film: its own edges do not average out over frames (v2 missed every
    # attacked window of it); one 2-s clip after CRF 35, or after CRF 30 + crop 10% + brightness
    marked, dst = tmp_path / "film_wm.mp4", tmp_path / f"{attack}.mp4"
    info = embed_clip(FILM, marked, PAYLOAD, key=KEY)
    assert info["psnr_min_db"] >= 40.0
    if attack == "crf35":
        transcode(marked, dst, crf=35)
    else:
        w, h = info["width"], info["height"]
        s = math.sqrt(0.9)
        cw, ch = int(w * s) // 2 * 2, int(h * s) // 2 * 2
        transcode(marked, dst, crf=30, crop=((w - cw) // 3, (h - ch) // 2, cw, ch), rgb_fn=_bright)
    out = detect_clip(dst, keys=KEY)
    assert out["found"] and out["payload"] == PAYLOAD.hex(), out["video"]
    assert out["p_value"] <= 1e-6
    assert not detect_clip(FILM, keys=KEY)["found"]


def test_unmarked_real_clip_not_detected():
    out = detect_clip(REAL, keys=KEY)
    assert not out["found"] and out["p_value"] > 1e-6


def test_single_frame_detection(clips):
    import av

    with av.open(str(clips["marked"])) as box:
        frame = next(box.decode(video=0)).to_ndarray(format="rgb24")
    out = detect_image(frame, keys=KEY)
    assert out["found"] and out["payload"] == PAYLOAD.hex()


def test_bad_input(tmp_path, clips):
    with pytest.raises(ProvenanceError):
        embed_clip(clips["src"], tmp_path / "x.mp4", b"short", key=KEY)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 50)
    with pytest.raises(ProvenanceError):
        detect_clip(junk, keys=KEY)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(ProvenanceError):
        embed_clip(empty, tmp_path / "y.mp4", PAYLOAD, key=KEY)
    truncated = tmp_path / "trunc.mp4"
    truncated.write_bytes(clips["marked"].read_bytes()[:2000])
    with pytest.raises(ProvenanceError):
        detect_clip(truncated, keys=KEY)
    with pytest.raises(ProvenanceError):
        detect_image(np.zeros((8, 8), np.uint8), keys=KEY)


def test_visible_mark(tmp_path, clips):
    dst = tmp_path / "visible.mp4"
    info = add_visible_mark(clips["src"], dst, "AI generated")
    assert info["frames"] == 100 and dst.stat().st_size > 0
    with pytest.raises(ProvenanceError):
        add_visible_mark(clips["src"], tmp_path / "v2.mp4", "   ")


def test_pillarbox_bars_stay_black_and_mark_reads():
    from provenance.watermark_video import VideoMark, active_box

    rng = np.random.default_rng(7)
    import cv2

    texture = cv2.GaussianBlur(rng.integers(0, 256, (240, 240)).astype(np.uint8), (0, 0), 3.0)
    frame = np.zeros((240, 320), np.uint8)
    frame[:, 40:280] = cv2.normalize(texture, None, 30, 220, cv2.NORM_MINMAX)
    assert active_box(frame) == (0, 240, 40, 280)
    # one static textured frame sits at the decoding edge (raw bit accuracy ~0.85), so whether the payload
    # decodes depends on the key's layout: measured 5 of these 8 keys (and the 3.2 source key), the sync
    # ranking first or second of 256 under every one
    found = 0
    for i in range(8):
        vm = VideoMark(WatermarkKey.from_secret(f"k{i}", bytes([i]) * 32).layout_key)
        marked = vm.embed_luma(frame, vm.tile_for(PAYLOAD))
        assert not marked[:, :40].any() and not marked[:, 280:].any()  # bars untouched
        out = vm.detect_residual(_summed(vm, [marked] * 10), exact_p=True)
        assert out["sync_rank"] <= 2
        found += out["found"] and out["payload"] == PAYLOAD.hex()
    assert found >= 4
    # a flat dark scene is not mistaken for bars
    assert active_box(np.full((240, 320), 12, np.uint8)) == (0, 240, 0, 320)


def _noise_frames(seed: int, n: int = 4, shape: tuple[int, int] = (192, 320)) -> list[np.ndarray]:
    import cv2

    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.normal(128, 40, shape).astype(np.float32), (0, 0), 2.0)
    return [np.clip(base + rng.normal(0, 3, shape), 0, 255).astype(np.uint8) for _ in range(n)]


def _summed(vm, frames) -> np.ndarray:
    acc, _ = vm.accumulate(frames)
    return acc.astype(np.float32)


def test_sync_p_value_is_a_decoy_rank():
    # unmarked: the real sync is one of 256 exchangeable patterns, so its p-value is never below 1/256
    # and spreads over (0, 1]; marked: it beats every decoy (rank 1, p = 1/256) and the verdict's bound
    # p_sync * 2^-16 (or smaller) clears 1e-6 (exact_p: the decoys are scored even where the verdict
    # does not need them)
    from provenance.watermark_video import N_DECOYS, READ_POWERS, VideoMark

    vm = VideoMark(KEY.layout_key)
    p_unmarked = []
    for seed in range(12):
        out = vm.detect_residual(_summed(vm, _noise_frames(seed)), exact_p=True)
        assert not out["found"]
        assert out["p_sync"] >= 1 / (N_DECOYS + 1)
        p_unmarked.append(out["p_sync"])
    assert np.median(p_unmarked) > 0.1  # not over-confident: a Gaussian tail gave 1e-3..1e-1 here
    frames = _noise_frames(99)
    tile = vm.tile_for(PAYLOAD)
    out = vm.detect_residual(_summed(vm, [vm.embed_luma(f, tile) for f in frames]), exact_p=True)
    assert out["found"] and out["payload"] == PAYLOAD.hex()
    # x2 x len(READ_POWERS): the mirrored reading and each whitening read are hypotheses (union bound)
    assert out["orientations"] == 2 and out["reads"] == len(READ_POWERS)
    assert out["sync_rank"] == 1 and out["p_sync"] == pytest.approx(2 * len(READ_POWERS) / (N_DECOYS + 1))
    assert out["p_value"] <= out["p_sync"] * 2**-16 * 1.0001


def test_decoys_run_only_where_their_rank_can_change_the_verdict():
    from provenance.watermark_video import _decoys_matter

    rng = np.random.default_rng(1)
    code = wm_code.encode_payload(PAYLOAD).astype(float) * 2 - 1
    log2 = math.log(2)  # the two orientations
    assert not _decoys_matter(rng.standard_normal(code.size), log2)  # the CRC fails: not found at any rank
    strong = code.copy()
    strong[3::16] *= -1  # 11 of 176 coded bits wrong: p_payload 1e-10, found even at p_sync = 1
    assert wm_code.decode_soft(strong) == PAYLOAD and not _decoys_matter(strong, log2)
    # near the decoding edge: 22 bits wrong, the CRC passes, p_payload ~0.006, so p = 2 x 2^-16 x p_sync is
    # under 1e-6 only for p_sync under 1/30: the rank decides (also with 8 keys, whose bound needs 1/240)
    weak = code.copy()
    weak[3::8] *= -1
    assert wm_code.decode_soft(weak) == PAYLOAD
    assert _decoys_matter(weak, log2) and _decoys_matter(weak, log2 + math.log(8))
    assert not _decoys_matter(weak, log2 + math.log(16))  # past 1/256: no rank is small enough


@pytest.mark.parametrize(("strength", "found", "decoys_run"),
                         [(0.0, False, False), (0.4, False, False), (0.5, True, True), (1.0, True, False)])
def test_lazy_decoys_keep_the_verdict(strength, found, decoys_run):
    # the shipped detector (decoys skipped where they cannot matter) and the exact one give the same verdict
    # and payload on unmarked, weakly and strongly marked windows (at 0.5 of the mark the read is near the
    # edge and the decoys run); the lazy p-value is a looser bound
    from provenance.watermark_video import VideoMark

    vm = VideoMark(KEY.layout_key)
    tile = vm.tile_for(PAYLOAD)
    frames = [np.clip(f.astype(np.float32) + strength * (vm.embed_luma(f, tile).astype(np.float32) - f), 0, 255)
              .astype(np.uint8) for f in _noise_frames(7, n=2)]
    acc = _summed(vm, frames)
    lazy, exact = vm.detect_residual(acc), vm.detect_residual(acc, exact_p=True)
    assert (lazy["found"], lazy["payload"]) == (exact["found"], exact["payload"])
    assert lazy["found"] == found and (lazy["payload"] == PAYLOAD.hex()) == found
    assert ("decoys" not in lazy) == decoys_run
    assert lazy["p_value"] >= exact["p_value"] * 0.9999


def test_matched_read_beats_plain_cell_mean(clips, monkeypatch):
    # after CRF 35 the whitened fold is dominated by high-frequency noise (x264 removed the mark there):
    # the low-pass (matched) cell read gets more coded bits right than the plain cell mean
    import provenance.watermark_video as wv
    from provenance.media import iter_luma

    dst = clips["dir"] / "matched_crf35.mp4"
    transcode(clips["real"], dst, crf=35)
    vm = wv.VideoMark(KEY.layout_key)
    acc = sum(vm.residual(y).astype(np.float64) for _, y in iter_luma(dst)).astype(np.float32)
    loc = vm.locate(acc)
    code = wm_code.encode_payload(PAYLOAD)
    accs = {}
    for sigma in (0.0, 1.0):
        monkeypatch.setattr(wv, "READ_SIGMA", sigma)
        soft = vm.layout.soft_bits(vm.read_cells(acc, loc["scale"], loc["shift"]))
        accs[sigma] = float(np.mean((soft > 0) == (code == 1)))
    assert accs[1.0] > accs[0.0] + 0.01, accs


def test_flicker_figures():
    from provenance.watermark_video import VideoMark, flicker_stats

    rng = np.random.default_rng(2)
    orig = [np.clip(128 + 60 * np.sin(np.linspace(0, 6, 320))[None, :] + rng.normal(0, 8, (192, 320)) + 2 * i,
                    0, 255).astype(np.uint8) for i in range(12)]  # drifting content with grain
    vm = VideoMark(KEY.layout_key)
    tile = vm.tile_for(PAYLOAD)
    ours = flicker_stats(orig, [vm.embed_luma(y, tile) for y in orig])
    ref = flicker_stats(orig, [np.clip(y.astype(int) + (1 if i % 2 else -1), 0, 255).astype(np.uint8)
                               for i, y in enumerate(orig)])
    static = flicker_stats(orig, [np.clip(y.astype(int) + 1, 0, 255).astype(np.uint8) for y in orig])
    assert ref["px_mean"] == pytest.approx(2.0, abs=0.05) and ref["area_mean"] == pytest.approx(2.0, abs=0.05)
    assert static["px_mean"] < 0.02
    # the mark is (nearly) the same in every frame: far below the just-visible reference
    assert ours["area_p99"] < 0.05 * ref["area_mean"] and ours["px_p99"] < 0.2 * ref["px_mean"]


@pytest.mark.parametrize("attack", ["resize0.55", "crop0.71"])
def test_video_seal_anchor_conditions(clips, attack):
    # Video Seal's anchors (resize 0.55, crop 0.71), here followed by H.264 CRF 23, on real footage
    marked, dst = clips["real"], clips["dir"] / f"{attack}.mp4"
    w, h = clips["real_info"]["width"], clips["real_info"]["height"]
    if attack == "resize0.55":
        transcode(marked, dst, crf=23, size=(round(w * 0.55) // 2 * 2, round(h * 0.55) // 2 * 2))
    else:
        cw, ch = int(w * 0.71) // 2 * 2, int(h * 0.71) // 2 * 2
        transcode(marked, dst, crf=23, crop=((w - cw) // 3, (h - ch) // 2, cw, ch))
    out = detect_clip(dst, keys=KEY)
    assert out["found"] and out["payload"] == PAYLOAD.hex(), out["video"]
    assert out["p_value"] <= 1e-6


def test_host_adaptive_amplitude_beats_even_after_crf35(tmp_path, monkeypatch):
    # 3.2: amplitude where x264 keeps it (flat, quiet areas) reads more coded bits right after CRF 35 than
    # the 3.1 embedder (even amplitude, host cancellation) at the same PSNR, and puts more of the mark on a
    # flat area than on a textured one (at most AMP_CAP x the even level)
    import provenance.watermark_video as wv
    from provenance.media import iter_luma

    code = wm_code.encode_payload(PAYLOAD)
    accs = {}
    for power, host_cancel in ((0.0, 1.0), (wv.AMP_POWER, wv.HOST_CANCEL)):  # 3.1, now
        monkeypatch.setattr(wv, "AMP_POWER", power)
        monkeypatch.setattr(wv, "HOST_CANCEL", host_cancel)
        marked, dst = tmp_path / f"film_{power}.mp4", tmp_path / f"film_{power}_crf35.mp4"
        assert embed_clip(FILM, marked, PAYLOAD, key=KEY)["psnr_min_db"] >= 40.0
        transcode(marked, dst, crf=35)
        vm = wv.VideoMark(KEY.layout_key)
        acc = sum(vm.residual(y).astype(np.float64) for _, y in iter_luma(dst)).astype(np.float32)
        loc = vm.locate(acc)
        soft = vm.layout.soft_bits(vm.read_cells(acc, loc["scale"], loc["shift"]))
        accs[power] = float(np.mean((soft > 0) == (code == 1)))
    assert accs[wv.AMP_POWER] > accs[0.0] + 0.01, accs
    rng = np.random.default_rng(4)
    # a smooth vertical ramp (no flat bars at the edges) with grainy texture on the left and right thirds
    y = np.repeat(100 + 0.3 * np.arange(192, dtype=np.float64)[:, None], 288, axis=1)
    for x0 in (0, 192):
        y[:, x0 : x0 + 96] += rng.normal(0, 25, (192, 96))
    y = np.clip(y, 0, 255).astype(np.uint8)
    vm = wv.VideoMark(KEY.layout_key)
    delta = vm.embed_luma(y, vm.tile_for(PAYLOAD)).astype(float) - y
    rms_flat = np.sqrt(np.mean(delta[16:-16, 112:176] ** 2))
    rms_texture = np.sqrt(np.mean(delta[16:-16, np.r_[16:80, 208:272]] ** 2))
    assert rms_flat > 1.5 * rms_texture, (rms_flat, rms_texture)


def test_clip_marked_by_previous_embedder_is_found(tmp_path, monkeypatch):
    # 3.1 clips (even amplitude, same tile/code/sync: WATERMARK_ALG v1) still read after CRF 28
    import provenance.watermark_video as wv

    monkeypatch.setattr(wv, "AMP_POWER", 0.0)
    monkeypatch.setattr(wv, "HOST_CANCEL", 1.0)
    marked, dst = tmp_path / "v31.mp4", tmp_path / "v31_crf28.mp4"
    embed_clip(REAL, marked, PAYLOAD, key=KEY)
    monkeypatch.undo()
    assert wv.AMP_POWER > 0 and wv.HOST_CANCEL == 0.0
    transcode(marked, dst, crf=28)
    out = detect_clip(dst, keys=KEY)
    assert out["found"] and out["payload"] == PAYLOAD.hex(), out["video"]


def test_two_whitening_reads_are_a_union_bound(monkeypatch):
    # reading the payload under a second whitening power is one more hypothesis: the reported bound is the
    # smaller read's x 2 (x 2 again for the orientations), and the first read is soft_read's own
    import provenance.watermark_video as wv

    monkeypatch.setattr(wv, "READ_POWERS", (1.0, 0.8))
    vm = wv.VideoMark(KEY.layout_key)
    tile = vm.tile_for(PAYLOAD)
    acc = _summed(vm, [vm.embed_luma(f, tile) for f in _noise_frames(99)])
    loc, read = vm.search(acc)
    reads = vm.soft_reads(read, loc)
    assert len(reads) == 2 and np.array_equal(reads[0], vm.soft_read(read, loc))
    assert not np.allclose(reads[0], reads[1])
    out = vm.detect_residual(acc, exact_p=True)
    assert out["found"] and out["payload"] == PAYLOAD.hex() and out["reads"] == 2
    assert out["read_power"] in (1.0, 0.8)
    assert out["sync_rank"] == 1 and out["p_sync"] == pytest.approx(4 / (wv.N_DECOYS + 1))
    for seed in range(3):  # unmarked: never found, p_sync never below the 4 hypotheses' floor
        out = vm.detect_residual(_summed(vm, _noise_frames(seed)), exact_p=True)
        assert not out["found"] and out["p_sync"] >= 4 / (wv.N_DECOYS + 1)
