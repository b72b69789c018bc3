"""Readable artifact features over short windows of normalised frames (see decode.py).

Four groups, each a handful of measured quantities:
  boundary        edges that smear or break at object borders
  texture_noise   the noise residual (frame minus its 3x3 median) and its spatial/temporal statistics
  motion          dense optical flow (OpenCV DIS): smoothness, rigidity, unexplained change, flicker
  disappearance   KLT tracks that die, morph, or new structure that appears from nowhere

Per-frame and per-frame-pair quantities are computed once and averaged over each window; KLT tracks are
run per window. Temporal features of a single image are NaN ("not applicable").
"""

from __future__ import annotations

import math
import threading

import cv2
import numpy as np
from scipy import stats

from safety.detector.decode import Clip

WINDOW = 8  # frames per window (1 s at TARGET_FPS)
STRIDE = 4

FEATURE_GROUPS: dict[str, list[str]] = {
    "boundary": [
        "edge_sharpness_median",  # Sobel magnitude / local 5x5 range at Canny edges: low = smeared borders
        "edge_sharpness_spread",  # IQR of the same ratio: uneven sharpness along borders
        "edge_fragment_fraction",  # share of edge chains shorter than 10 px: broken borders
        "edge_persistence",  # share of edges found again (within 1 px) in the flow-warped next frame
    ],
    "texture_noise": [
        "noise_log_variance",  # log variance of the residual
        "noise_kurtosis",  # heavy tails: sparse synthetic detail vs Gaussian-like sensor noise
        "noise_flat_region_ratio",  # residual std in the flattest blocks / overall: sensor noise lives there
        "noise_spatial_nonuniformity",  # coefficient of variation of block residual std
        "noise_spectral_peak",  # log peak/median of the residual spectrum: periodic upsampling traces
        "noise_temporal_correlation",  # residual correlation between consecutive frames (sensor noise ~0)
        "noise_warped_correlation",  # residual correlation after flow warping: texture that moves with the scene
        "noise_level_instability",  # CV over the window of the flat-region residual level (sensor noise is steady)
    ],
    "motion": [
        "flow_magnitude",  # median flow, px per frame at 8 fps (context for the others)
        "flow_roughness",  # mean flow gradient / (mean flow + 0.5)
        "flow_rigidity_violation",  # median residual of a RANSAC homography fit to the flow, normalised
        "flow_unexplained_change",  # photometric error after flow warping / image gradient energy
        "flow_jerk",  # change of the flow field between consecutive pairs, normalised
        "flow_fb_inconsistency",  # share of pixels whose forward and backward flow disagree by > 1 px
        "luminance_flicker",  # second difference of mean brightness over the window
    ],
    "disappearance": [
        "track_survival",  # KLT corners alive (fwd-bwd checked) at the end of the window
        "track_mean_lifetime",  # mean life of tracks as a fraction of the window
        "track_appearance_change",  # 1 - NCC of the patch at a track's start and end
        "track_births",  # corners at the end that no surviving track explains
    ],
}
FEATURE_NAMES: list[str] = [n for names in FEATURE_GROUPS.values() for n in names]
TEMPORAL_FEATURES: frozenset[str] = frozenset(
    ["edge_persistence", "noise_temporal_correlation", "noise_warped_correlation", "noise_level_instability"]
    + FEATURE_GROUPS["motion"]
    + FEATURE_GROUPS["disappearance"]
)
SPATIAL_FEATURES: list[str] = [n for n in FEATURE_NAMES if n not in TEMPORAL_FEATURES]
# Measured and reported, but not fed to the model: how much things move is content (what was filmed or
# prompted), not an artifact; a model using it would call every slow real clip generated.
CONTEXT_FEATURES: frozenset[str] = frozenset(["flow_magnitude"])
MODEL_FEATURES: list[str] = [n for n in FEATURE_NAMES if n not in CONTEXT_FEATURES]
MODEL_SPATIAL_FEATURES: list[str] = [n for n in SPATIAL_FEATURES if n not in CONTEXT_FEATURES]
SCENE_CUT_HIST_CORR = 0.5  # grey-histogram correlation below which two sampled frames are different shots

_LOCAL = threading.local()  # one DIS instance per thread: OpenCV algorithm objects are not thread-safe


def _dis() -> cv2.DISOpticalFlow:
    if not hasattr(_LOCAL, "dis"):
        _LOCAL.dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    return _LOCAL.dis


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _canny(g: np.ndarray) -> np.ndarray:
    m = float(np.median(g))
    return cv2.Canny(g, max(10.0, 0.66 * m), max(30.0, 1.33 * m)) > 0


def _frame_stats(g: np.ndarray) -> dict[str, float]:
    gf = g.astype(np.float32)
    gx = cv2.Sobel(gf, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gf, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.hypot(gx, gy)
    edges = _canny(g)
    out: dict[str, float] = {}
    if edges.sum() >= 20:
        k = np.ones((5, 5), np.uint8)
        rng = (cv2.dilate(g, k).astype(np.float32) - cv2.erode(g, k).astype(np.float32))[edges]
        ratio = mag[edges] / (4.0 * np.maximum(rng, 1.0))  # Sobel of an ideal step = 4 x its height
        q25, q50, q75 = np.percentile(ratio, [25, 50, 75])
        out["edge_sharpness_median"] = float(q50)
        out["edge_sharpness_spread"] = float(q75 - q25)
        n, _, st, _ = cv2.connectedComponentsWithStats(edges.astype(np.uint8), connectivity=8)
        sizes = st[1:, cv2.CC_STAT_AREA]
        out["edge_fragment_fraction"] = float((sizes < 10).mean()) if n > 1 else math.nan
    else:
        out["edge_sharpness_median"] = out["edge_sharpness_spread"] = out["edge_fragment_fraction"] = math.nan

    res = gf - cv2.medianBlur(g, 3).astype(np.float32)
    var = float(res.var())
    out["noise_log_variance"] = math.log(var + 1e-3)
    out["noise_kurtosis"] = float(stats.kurtosis(res.ravel())) if var > 1e-6 else 0.0
    b = 16
    h, w = g.shape
    blocks_res = res[: h // b * b, : w // b * b].reshape(h // b, b, w // b, b).std(axis=(1, 3)).ravel()
    blocks_mag = mag[: h // b * b, : w // b * b].reshape(h // b, b, w // b, b).mean(axis=(1, 3)).ravel()
    flat = blocks_res[blocks_mag <= np.percentile(blocks_mag, 25)]
    overall = float(res.std())
    out["noise_flat_region_ratio"] = float(flat.mean() / overall) if overall > 1e-6 else 0.0
    out["_flat_noise"] = float(flat.mean())  # per-frame level, for noise_level_instability (not a feature)
    out["noise_spatial_nonuniformity"] = float(blocks_res.std() / (blocks_res.mean() + 1e-3))
    spec = np.abs(np.fft.fftshift(np.fft.fft2(res))) ** 2
    cy, cx = h // 2, w // 2
    yy, xx = np.ogrid[:h, :w]
    spec[(yy - cy) ** 2 + (xx - cx) ** 2 < 16] = 0.0  # ignore the lowest frequencies
    out["noise_spectral_peak"] = float(math.log((spec.max() + 1e-6) / (np.median(spec) + 1e-6)))
    return out


def _warp(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def is_scene_cut(g0: np.ndarray, g1: np.ndarray) -> bool:
    """An edit between shots: flow and tracks across it measure the edit, not the footage."""
    h0 = cv2.calcHist([g0], [0], None, [32], [0, 256])
    h1 = cv2.calcHist([g1], [0], None, [32], [0, 256])
    return bool(cv2.compareHist(h0, h1, cv2.HISTCMP_CORREL) < SCENE_CUT_HIST_CORR)


def _pair_stats(g0: np.ndarray, g1: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    flow = _dis().calc(g0, g1, None)  # type: ignore[call-overload]  # None: OpenCV allocates the output
    mag = np.hypot(flow[..., 0], flow[..., 1])
    out: dict[str, float] = {"flow_magnitude": float(np.median(mag))}
    du = np.gradient(flow[..., 0])
    dv = np.gradient(flow[..., 1])
    grad = np.sqrt(du[0] ** 2 + du[1] ** 2 + dv[0] ** 2 + dv[1] ** 2)
    out["flow_roughness"] = float(grad.mean() / (mag.mean() + 0.5))

    # Rigidity: a camera moving through a mostly static scene gives flow close to one homography.
    h, w = g0.shape
    ys, xs = np.mgrid[8:h:16, 8:w:16]
    src = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)
    dst = src + flow[ys.ravel(), xs.ravel()]
    H, _ = cv2.findHomography(src, dst, cv2.RANSAC, 1.0)
    if H is not None:
        proj = cv2.perspectiveTransform(src[None], H)[0]
        resid = np.linalg.norm(proj - dst, axis=1)
        out["flow_rigidity_violation"] = float(np.median(resid) / (np.median(mag) + 0.5))
    else:
        out["flow_rigidity_violation"] = math.nan

    g1w = _warp(g1.astype(np.float32), flow)
    g0f = g0.astype(np.float32)
    gm = np.hypot(cv2.Sobel(g0f, cv2.CV_32F, 1, 0), cv2.Sobel(g0f, cv2.CV_32F, 0, 1)).mean()
    out["flow_unexplained_change"] = float(np.abs(g1w - g0f)[4:-4, 4:-4].mean() / (gm / 4.0 + 1.0))

    e0 = _canny(g0)
    e1w = _warp(_canny(g1).astype(np.float32), flow) > 0.5
    e1w = cv2.dilate(e1w.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    out["edge_persistence"] = float((e0 & e1w).sum() / e0.sum()) if e0.sum() >= 20 else math.nan

    r0 = g0f - cv2.medianBlur(g0, 3).astype(np.float32)
    r1 = g1.astype(np.float32) - cv2.medianBlur(g1, 3).astype(np.float32)
    out["noise_temporal_correlation"] = _corr(r0, r1)
    # Texture that belongs to a surface moves with it: after warping by the flow the fine residual of real
    # footage lines up with the previous frame's; texture that is re-synthesised every frame ("boiling",
    # shimmering detail) does not.
    out["noise_warped_correlation"] = _corr(r0[4:-4, 4:-4], _warp(r1, flow)[4:-4, 4:-4])
    # Physical motion is invertible where nothing is occluded: backward flow, sampled where the forward flow
    # lands, cancels it. Morphing content has no consistent correspondence either way.
    back = _dis().calc(g1, g0, None)  # type: ignore[call-overload]
    fb = flow + _warp(back, flow)
    out["flow_fb_inconsistency"] = float((np.hypot(fb[..., 0], fb[..., 1])[4:-4, 4:-4] > 1.0).mean())
    return out, flow


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    sa, sb = float(a.std()), float(b.std())
    if sa < 1e-6 or sb < 1e-6:
        return 0.0
    return float(((a - a.mean()) * (b - b.mean())).mean() / (sa * sb))


def _patch(g: np.ndarray, x: float, y: float, r: int = 5) -> np.ndarray | None:
    xi, yi = int(round(x)), int(round(y))
    if xi - r < 0 or yi - r < 0 or xi + r + 1 > g.shape[1] or yi + r + 1 > g.shape[0]:
        return None
    return g[yi - r : yi + r + 1, xi - r : xi + r + 1].astype(np.float32)


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    d = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / d) if d > 1e-6 else 1.0


def _track_stats(grays: list[np.ndarray]) -> dict[str, float]:
    nan = {k: math.nan for k in FEATURE_GROUPS["disappearance"]}
    p0 = cv2.goodFeaturesToTrack(grays[0], maxCorners=300, qualityLevel=0.01, minDistance=5)
    if p0 is None or len(p0) < 8:
        return nan
    start = p0.reshape(-1, 2).astype(np.float32)
    pts = start.copy()
    alive = np.ones(len(pts), bool)
    life = np.zeros(len(pts), np.int32)
    lk = {"winSize": (15, 15), "maxLevel": 2}
    for a, b in zip(grays[:-1], grays[1:], strict=False):
        idx = np.flatnonzero(alive)
        if idx.size == 0:
            break
        cur = pts[idx].reshape(-1, 1, 2)
        nxt, st1, _ = cv2.calcOpticalFlowPyrLK(a, b, cur, None, **lk)  # type: ignore[call-overload]  # as above
        back, st2, _ = cv2.calcOpticalFlowPyrLK(b, a, nxt, None, **lk)  # type: ignore[call-overload]
        fb = np.linalg.norm(back.reshape(-1, 2) - cur.reshape(-1, 2), axis=1)
        ok = (st1.ravel() == 1) & (st2.ravel() == 1) & (fb < 1.0)
        alive[idx[~ok]] = False
        pts[idx[ok]] = nxt.reshape(-1, 2)[ok]
        life[idx[ok]] += 1
    steps = len(grays) - 1
    out = {
        "track_survival": float(alive.mean()),
        "track_mean_lifetime": float(life.mean() / steps),
    }
    changes = []
    for i in np.flatnonzero(alive):
        pa = _patch(grays[0], *start[i])
        pb = _patch(grays[-1], *pts[i])
        if pa is not None and pb is not None:
            changes.append(1.0 - _ncc(pa, pb))
    out["track_appearance_change"] = float(np.mean(changes)) if changes else 1.0
    p1 = cv2.goodFeaturesToTrack(grays[-1], maxCorners=300, qualityLevel=0.01, minDistance=5)
    if p1 is None:
        out["track_births"] = 0.0
    else:
        p1 = p1.reshape(-1, 2)
        surv = pts[alive]
        if len(surv) == 0:
            out["track_births"] = 1.0
        else:
            d = np.linalg.norm(p1[:, None, :] - surv[None, :, :], axis=2).min(axis=1)
            out["track_births"] = float((d > 4.0).mean())
    return out


def _nanmean(values: list[float]) -> float:
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else math.nan


def window_features(
    frames: np.ndarray,
    frame_stats: list[dict[str, float]] | None = None,
    pair_stats: list[dict[str, float]] | None = None,
) -> dict[str, float]:
    """Features of one window of normalised RGB frames (n >= 1). A single frame gets NaN temporal features."""
    grays = [_gray(f) for f in frames]
    if frame_stats is None:
        frame_stats = [_frame_stats(g) for g in grays]
    if pair_stats is None:
        pair_stats = [_pair_stats(a, b)[0] for a, b in zip(grays[:-1], grays[1:], strict=False)]
    feats: dict[str, float] = {}
    for name in SPATIAL_FEATURES:
        feats[name] = _nanmean([s[name] for s in frame_stats])
    if len(grays) < 2:
        feats.update({name: math.nan for name in TEMPORAL_FEATURES})
        return {n: feats[n] for n in FEATURE_NAMES}
    for name in ("flow_magnitude", "flow_roughness", "flow_rigidity_violation", "flow_unexplained_change",
                 "edge_persistence", "noise_temporal_correlation", "noise_warped_correlation",
                 "flow_fb_inconsistency"):
        feats[name] = _nanmean([s[name] for s in pair_stats])
    levels = np.array([s.get("_flat_noise", math.nan) for s in frame_stats], dtype=np.float64)
    levels = levels[np.isfinite(levels)]
    feats["noise_level_instability"] = (
        float(levels.std() / (levels.mean() + 0.05)) if levels.size >= 2 else math.nan
    )
    flows = [np.asarray(s["_flow"]) for s in pair_stats if "_flow" in s]
    if len(flows) < len(pair_stats):  # called without precomputed flows
        flows = [_pair_stats(a, b)[1] for a, b in zip(grays[:-1], grays[1:], strict=False)]
    if len(flows) >= 2:
        jerk = [
            float(np.abs(f1 - f0).mean() / (0.5 * (np.abs(f0).mean() + np.abs(f1).mean()) + 0.5))
            for f0, f1 in zip(flows[:-1], flows[1:], strict=False)
        ]
        feats["flow_jerk"] = float(np.mean(jerk))
    else:
        feats["flow_jerk"] = math.nan
    means = np.array([g.mean() for g in grays], dtype=np.float64)
    feats["luminance_flicker"] = float(np.abs(np.diff(means, 2)).mean()) if len(means) >= 3 else math.nan
    feats.update(_track_stats(grays))
    return {n: feats[n] for n in FEATURE_NAMES}


def window_starts(n: int, window: int = WINDOW, stride: int = STRIDE) -> list[int]:
    if n <= window:
        return [0]
    starts = list(range(0, n - window + 1, stride))
    if starts[-1] != n - window:
        starts.append(n - window)
    return starts


def clip_features(
    clip: Clip, window: int = WINDOW, stride: int = STRIDE, max_windows: int | None = None
) -> list[tuple[int, dict[str, float]]]:
    """(start frame in clip.frames, features) for each window of the clip; one entry for a still image.

    With `max_windows`, that many windows evenly spread over the clip are analysed, and only their frames
    are processed (bounds latency on long inputs). Windows that span a scene cut are left out unless every
    window does."""
    if clip.is_image or len(clip.frames) == 1:
        g = _gray(clip.frames[0])
        return [(0, window_features(clip.frames[:1], [_frame_stats(g)], []))]
    starts = window_starts(len(clip.frames), window, stride)
    if max_windows is not None and len(starts) > max_windows:
        starts = [starts[i] for i in np.linspace(0, len(starts) - 1, max_windows).round().astype(int)]
    grays: dict[int, np.ndarray] = {}
    fstats: dict[int, dict[str, float]] = {}
    pstats: dict[int, dict[str, float]] = {}

    def gray(i: int) -> np.ndarray:
        if i not in grays:
            grays[i] = _gray(clip.frames[i])
        return grays[i]

    def analyse(s0: int) -> tuple[int, dict[str, float]]:
        s1 = min(len(clip.frames), s0 + window)
        for i in range(s0, s1):
            if i not in fstats:
                fstats[i] = _frame_stats(gray(i))
            if i + 1 < s1 and i not in pstats:
                st, flow = _pair_stats(gray(i), gray(i + 1))
                st["_flow"] = flow  # type: ignore[assignment]  # kept for flow_jerk, not a feature
                pstats[i] = st
        fs = [fstats[i] for i in range(s0, s1)]
        ps = [pstats[i] for i in range(s0, s1 - 1)]
        return s0, window_features(clip.frames[s0:s1], fs, ps)

    def has_cut(s0: int) -> bool:
        s1 = min(len(clip.frames), s0 + window)
        return any(is_scene_cut(gray(i), gray(i + 1)) for i in range(s0, s1 - 1))

    # nothing but cuts (a rapid montage): analyse it anyway rather than return nothing
    clean = [s0 for s0 in starts if not has_cut(s0)] or starts
    return [analyse(s0) for s0 in clean]
