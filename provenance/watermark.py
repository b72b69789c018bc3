"""Clip-level watermark API: mark the video and audio of an MP4 with one 64-bit payload; detect it.

embed_clip / detect_clip / detect_image / add_visible_mark are what the gate calls. Every call takes the
installation's key(s) (provenance.wm_keys): embed with the current key, detect with the whole ring.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import overload

import av
import cv2
import numpy as np

from provenance import wm_code
from provenance.errors import ProvenanceError
from provenance.media import PUBLISHED_AAC_CODER, X264_CRF, estimate_frames, iter_luma, read_audio, transcode
from provenance.visible_watermark import add_visible_mark  # noqa: F401  (re-exported)
from provenance.watermark_audio import AudioMark, snr_db
from provenance.watermark_video import AMP_CAP, AMP_POWER, CELL_PX, TARGET_PSNR_DB, VideoMark, psnr
from provenance.wm_code import WATERMARK_ALG
from provenance.wm_keys import Keyring, WatermarkKey, as_keys

Keys = WatermarkKey | Keyring | Iterable[WatermarkKey]

# 3.1: the detector only (matched-filter cell read, exact decoy-rank sync p-value). 3.2: the embedder's
# amplitude follows the detector's noise weight on the host, no host cancellation; the tile, code and
# sync are unchanged, so WATERMARK_ALG stays v1 and clips marked by 3.0/3.1 read the same way (tested).
# 3.3: the key is the installation's secret (provenance.wm_keys), no longer the source's; the mark is unchanged
# and 3.2 clips read under the legacy-v1 key when the operator lists it
# 3.4: the embedder computes 3.2's amplitude map at 1/4 resolution (8x less CPU per 720p frame, same mark and
# figures) and the detector also reads the picture derotated by the tile lattice's angle (rotation search);
# the tile, code and sync are unchanged, so every 3.x clip reads as before
WATERMARK_VERSION = (
    "reelgate-wm/3.4 key=installation "
    f"video=tiled-luma-{CELL_PX}px-cells+border-aware+noise-weighted+matched-read+decoy-sync+mirror+rotation"
    f"+host-adaptive-amp{AMP_POWER:g}-cap{AMP_CAP:g} "
    f"psnr{TARGET_PSNR_DB:g} "
    "audio=48band-gain/3-neighbour-whitened+informed+johnston-masked code=conv-k9-r1/2+crc16"
)
DEFAULT_DETECT_SECONDS = 20.0
DEFAULT_DETECT_FRAMES = 48


def available() -> tuple[bool, str]:
    """Needs PyAV with an H.264 encoder (libx264) and the AAC encoder."""
    missing = []
    for name in ("libx264", "aac"):
        try:
            av.codec.Codec(name, "w")
        except Exception:  # PyAV raises different types for unknown codecs across versions
            missing.append(name)
    if missing:
        return False, f"PyAV lacks encoder(s): {', '.join(missing)}"
    return True, WATERMARK_VERSION


def _payload(payload: bytes | str) -> bytes:
    if isinstance(payload, str):
        try:
            payload = bytes.fromhex(payload)
        except ValueError as exc:
            raise ProvenanceError(f"payload must be hex: {payload!r}") from exc
    if len(payload) != wm_code.PAYLOAD_BYTES:
        raise ProvenanceError(f"payload must be 64 bits (8 bytes, 16 hex digits), got {len(payload)} bytes")
    return bytes(payload)


class ClipMarker:
    """The marks embed_clip puts in one clip (payload under key): the picture's, frame by frame, and the
    sound's, for an encoder that already holds the pictures. The gate's generate stage marks the generator's
    frames with it as it encodes them, so the draft is never decoded and encoded again; embed_clip marks a
    decoded file with it. Same key, payload, tile, amplitude and audio mark either way."""

    def __init__(self, payload: bytes, key: WatermarkKey) -> None:
        self.payload = _payload(payload)
        if not isinstance(key, WatermarkKey):
            raise ProvenanceError("embed_clip needs the installation's WatermarkKey")
        if key.legacy:
            raise ProvenanceError("the legacy 3.x key is for reading old clips only (anyone can forge with it)")
        self.key = key
        self.vm, self.am = VideoMark(key.layout_key), AudioMark(key.layout_key)
        self.tile = self.vm.tile_for(self.payload)
        self.psnrs: list[float] = []
        self.audio_info: dict = {"marked": False}
        # seconds spent marking, each written by one thread only (the sound is marked beside the picture)
        self.picture_seconds = self.sound_seconds = 0.0

    def mark_yuv(self, yuv: np.ndarray, _i: int) -> np.ndarray:
        """A yuv420p frame (H*3/2, W uint8, ours to change) with its luma marked."""
        t0 = time.perf_counter()
        h = yuv.shape[0] * 2 // 3
        y = yuv[:h]
        marked = self.vm.embed_luma(y, self.tile)
        self.psnrs.append(psnr(y, marked))
        yuv[:h] = marked  # in place: no second copy
        self.picture_seconds += time.perf_counter() - t0
        return yuv

    def mark_audio(self, samples: np.ndarray, sr: int) -> np.ndarray:
        """The soundtrack (channels, n) float32 at sr, marked."""
        t0 = time.perf_counter()
        marked = self.am.embed(samples, sr, self.payload)
        self.sound_seconds += time.perf_counter() - t0
        self.audio_info = {"marked": marked.shape[-1] >= sr, "snr_db": round(snr_db(samples, marked), 2),
                           "sample_rate": sr}
        return marked

    def report(self, dst: Path, frames: int, width: int, height: int, seconds: float) -> dict:
        """What embed_clip returns, for `frames` marked frames written to dst in `seconds`."""
        finite = [p for p in self.psnrs if math.isfinite(p)]
        return {
            "payload": self.payload.hex(),
            "dst": str(dst),
            "frames": frames,
            "width": width,
            "height": height,
            "psnr_db": round(float(np.mean(finite)), 2) if finite else None,
            "psnr_min_db": round(float(np.min(finite)), 2) if finite else None,
            "audio": self.audio_info,
            "seconds": round(seconds, 3),
            "fps_processed": round(frames / seconds, 1) if seconds > 0 else None,
            "version": WATERMARK_VERSION,
            "alg": WATERMARK_ALG,
            "key_id": self.key.key_id,
        }


def embed_clip(src: Path, dst: Path, payload: bytes, *, key: WatermarkKey, crf: int = X264_CRF) -> dict:
    """Mark src's luma and soundtrack with payload under key; write dst (H.264 + AAC MP4) atomically."""
    marker = ClipMarker(payload, key)
    src, dst = Path(src), Path(dst)
    t0 = time.perf_counter()
    audio = read_audio(src)
    # the sound is marked in a thread while the picture is decoded, marked and encoded (the audio mark was
    # ~0.5 s of CPU before the first frame on 10 s clips); transcode writes it once it is ready
    with ThreadPoolExecutor(max_workers=1) as pool:
        marking = pool.submit(marker.mark_audio, audio[0], audio[1]) if audio is not None else None
        out_audio = (marking, audio[1], audio[2]) if audio is not None and marking is not None else False
        info = transcode(src, dst, yuv_fn=marker.mark_yuv, audio=out_audio, crf=crf,
                         aac_coder=PUBLISHED_AAC_CODER)
    if marking is not None:
        marking.result()
    return marker.report(dst, info["frames"], info["width"], info["height"], time.perf_counter() - t0)


def _combine(video: dict, audio: dict | None) -> dict:
    """One verdict from two independent channels."""
    cands = [(c["p_value"], name, c) for name, c in (("video", video), ("audio", audio)) if c and c.get("found")]
    out = {"found": False, "payload": None, "confidence": 0.0,
           "p_value": min(video.get("p_value", 1.0), (audio or {}).get("p_value", 1.0)), "channels": []}
    if not cands:
        return out
    cands.sort(key=lambda x: x[0])
    best_p, _, best = cands[0]
    payload = best["payload"]
    agreeing = [name for _, name, c in cands if c["payload"] == payload]
    # both channels carrying the same payload are independent evidence: the bounds multiply
    p = float(np.prod([c["p_value"] for _, _, c in cands if c["payload"] == payload]))
    out.update(found=True, payload=payload, confidence=max(c["confidence"] for _, _, c in cands),
               p_value=p, channels=agreeing)
    if len({c["payload"] for _, _, c in cands}) > 1:
        out["conflict"] = {name: c["payload"] for _, name, c in cands}
    return out


@overload
def _union_bound(res: dict, n_keys: int) -> dict: ...
@overload
def _union_bound(res: None, n_keys: int) -> None: ...
def _union_bound(res: dict | None, n_keys: int) -> dict | None:
    """One channel's result after trying n_keys keys: a mark is reported only if its bound times the number
    of keys tried stays under the threshold (a union bound: each extra key is one more chance of a fluke)."""
    if res is None or n_keys <= 1:
        return res
    out = dict(res)
    p = min(1.0, float(res.get("p_value", 1.0)) * n_keys)
    out["p_value"] = p
    out["log10_p"] = round(math.log10(max(p, 1e-300)), 2)
    if out.get("found") and p > wm_code.FOUND_P_VALUE:
        out.update(found=False, payload=None)
    return out


def _best_key(per_key: list[tuple[WatermarkKey, dict]]) -> dict:
    """The key whose mark was found with the smallest bound; without one, the current key's report."""
    found = [(r["p_value"], i) for i, (_, r) in enumerate(per_key) if r.get("found")]
    i = min(found)[1] if found else 0
    key, out = per_key[i]
    out = dict(out)
    out.update(key_id=key.key_id if out.get("found") else None, keys_tried=len(per_key))
    if out.get("found") and key.legacy:
        out["key_legacy"] = True  # 3.x's public key: evidence that anyone with the source could fake
    return out


def detect_clip(
    path: Path, *, keys: Keys, start_s: float = 0.0, max_seconds: float | None = DEFAULT_DETECT_SECONDS,
    max_frames: int | None = DEFAULT_DETECT_FRAMES,
) -> dict:
    """Look for the watermark in [start_s, start_s + max_seconds) of the video and its soundtrack, under
    every key of the installation's ring (the current key first). A mark made with any other key is noise
    to this detector: not found.

    The mark is the same in every frame, so about `max_frames` frames spread evenly over the span are
    enough: measured on 10-s 720p clips, 48 spread frames decide as all 100-240 do (the same log10 p within
    0.2, also after CRF 35), 4-6x faster; spread frames average the picture out better than 48 in a row."""
    ring = as_keys(keys)
    path = Path(path)
    t0 = time.perf_counter()

    def audio_reads() -> list[dict | None]:
        # only the span looked at is decoded: a long soundtrack behind a short header costs nothing
        a = read_audio(path, max_seconds=None if max_seconds is None else start_s + max_seconds)
        if a is None:
            return [None] * len(ring)
        samples, sr, _ = a
        lo = int(start_s * sr)
        hi = samples.shape[-1] if max_seconds is None else int((start_s + max_seconds) * sr)
        return [AudioMark(k.layout_key).detect(samples[..., lo:hi], sr) for k in ring]

    # the sound is read in a thread while the picture is decoded and searched (FFmpeg, OpenCV and numpy's
    # FFTs release the GIL): its ~0.2-0.6 s of CPU leaves the verdict's critical path when a core is free
    with ThreadPoolExecutor(max_workers=1) as pool:
        audio_job = pool.submit(audio_reads)
        total = estimate_frames(path, start_s, max_seconds) if max_frames else None
        stride = max(1, total // max_frames) if total and max_frames else 1  # keeps max_frames..2*max_frames
        vms = [VideoMark(k.layout_key) for k in ring]
        acc, n = vms[0].accumulate(y for _, y in iter_luma(path, start_s, max_seconds, stride=stride))
        # p_factor: the keys' union bound below, so the decoys run only where they can change the verdict
        videos = [vm.detect_accumulated(acc, n, p_factor=len(ring)) for vm in vms]
        t_video = time.perf_counter() - t0
        audios = audio_job.result()
    per_key = []
    for k, v, au in zip(ring, videos, audios, strict=True):
        v, au = _union_bound(v, len(ring)), _union_bound(au, len(ring))
        res = _combine(v, au)
        res.update(video=v, audio=au)
        per_key.append((k, res))
    out = _best_key(per_key)
    out.update(version=WATERMARK_VERSION, seconds=round(time.perf_counter() - t0, 3),
               video_fps_processed=round(n / t_video, 1) if t_video > 0 else None)
    return out


def detect_image(image: np.ndarray | Path, *, keys: Keys) -> dict:
    """Detect in one still frame (RGB/BGR array, gray array, or an image file). Weaker than a clip:
    a single frame has no temporal averaging."""
    if isinstance(image, str | Path):
        arr = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE)
        if arr is None:
            raise ProvenanceError(f"not a readable image: {image}")
    else:
        arr = np.asarray(image)
        if arr.ndim == 3:
            # BT.601 luma like the encoder's; channel order matters little for the mark's luma
            arr = cv2.cvtColor(arr.astype(np.uint8), cv2.COLOR_RGB2GRAY)
        elif arr.ndim != 2:
            raise ProvenanceError(f"expected an HxW or HxWx3 image, got shape {arr.shape}")
    if min(arr.shape) < 32:
        raise ProvenanceError(f"image too small for watermark detection: {arr.shape}")
    ring = as_keys(keys)
    vms = [VideoMark(k.layout_key) for k in ring]
    acc, n = vms[0].accumulate([arr.astype(np.uint8)])
    per_key = [(k, _union_bound(vm.detect_accumulated(acc, n, p_factor=len(ring)), len(ring)))
               for k, vm in zip(ring, vms, strict=True)]
    out = _best_key(per_key)
    out["version"] = WATERMARK_VERSION
    return out
