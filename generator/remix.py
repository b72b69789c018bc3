"""Remix: take an existing clip and change one element (style, colour, background or an object) while
keeping its motion. The moving foreground is found against the clip's median background; what moves is
kept pixel for pixel (colour, background, style changes) or followed by its track (object swap)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from generator.audio import SR, ambience
from generator.encode import read_clip
from generator.errors import GeneratorError
from generator.physics import VIEW_H, ShotMotion, Track
from generator.render import ShotRenderer
from generator.scene import COLORS, NOUNS, SETTINGS, STYLE_WORDS, TIMES, Shot, Subject, _find_words, parse_prompt
from generator.spec import Clip, GenerationSpec
from generator.styles import StylePost
from generator.validate import clean_prompt

if TYPE_CHECKING:
    from generator.procedural import ProceduralBackend

ANALYSIS_W = 320  # foreground analysis runs on small frames
OBJECT_SWAP = re.compile(r"\b(?:replace|swap|turn|change)\s+the\s+([\w ]+?)\s+(?:with|for|into|to)\s+(?:an?\s+)?"
                         r"((?:\w+\s+){0,2}\w+)\b")


def _intent(prompt: str, style: str | None) -> dict:
    text = clean_prompt(prompt).lower()
    m = OBJECT_SWAP.search(text)
    if m:
        target = m.group(2)
        noun = next((n for n in sorted(NOUNS, key=len, reverse=True) if re.search(rf"\b{n}s?\b", target)), None)
        if noun and "background" not in m.group(1):
            color = next((c for c in COLORS if re.search(rf"\b{c}\b", target)), None)
            return {"change": "object", "from": m.group(1).strip(), "to": noun, "color": color, "style": style}
    moved = "background" in text or re.search(r"\b(?:move|set|place|put)\b.*\b(?:to|in|on|at)\b", text)
    if moved and (_find_words(text, SETTINGS) or _find_words(text, TIMES)):
        return {"change": "background", "style": style}
    colors = [w for _, w, _ in _find_words(text, {c: c for c in COLORS})]
    if colors and re.search(r"\b(?:make|turn|paint|colou?r|recolou?r|change)\b", text):
        return {"change": "color", "from": colors[0] if len(colors) > 1 else None, "to": colors[-1],
                "style": style}
    hits = _find_words(text, STYLE_WORDS)
    st = style or (hits[0][2] if hits else None)
    if st:
        return {"change": "style", "style": st}
    raise GeneratorError("remix: say what to change (a style, 'make the ball blue', 'replace the background "
                         "with a beach', 'replace the ball with a cube')")


def _fit(frame: np.ndarray, w: int, h: int) -> np.ndarray:
    """Letterbox into w x h keeping the aspect ratio (no motion is distorted)."""
    fh, fw = frame.shape[:2]
    k = min(w / fw, h / fh)
    nw, nh = max(2, int(round(fw * k))), max(2, int(round(fh * k)))
    small = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    if (nw, nh) == (w, h):
        return small
    out = np.zeros((h, w, 3), np.uint8)
    x0, y0 = (w - nw) // 2, (h - nh) // 2
    out[y0:y0 + nh, x0:x0 + nw] = small
    return out


def _hue(rgb: tuple[int, int, int]) -> int:
    return int(cv2.cvtColor(np.array([[rgb]], dtype=np.uint8), cv2.COLOR_RGB2HSV)[0, 0, 0])


def remix(spec: GenerationSpec, backend: ProceduralBackend) -> Clip:
    if spec.source_clip is None:
        raise GeneratorError("remix: no source clip given")
    src = read_clip(spec.source_clip, max_seconds=float(spec.seconds))
    intent = _intent(spec.prompt, spec.style)
    w, h = spec.size
    fps = spec.fps
    n_out = max(1, int(round(min(float(spec.seconds), src.n_frames / src.metadata["source_fps"]) * fps)))
    src_index = [min(src.n_frames - 1, int(j / fps * src.metadata["source_fps"])) for j in range(n_out)]

    # median background and per-frame foreground masks, at analysis size
    aw = ANALYSIS_W
    ah = max(2, int(round(h * aw / w)))

    def small(f: np.ndarray) -> np.ndarray:
        return cv2.resize(_fit(f, w, h), (aw, ah), interpolation=cv2.INTER_AREA)

    step = max(1, src.n_frames // 40)
    samples = [small(f) for k, f in enumerate(src.frames()) if k % step == 0]
    bg_small = np.median(np.stack(samples), axis=0).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def fg_mask(small: np.ndarray) -> np.ndarray:
        diff = cv2.absdiff(small, bg_small).max(axis=2)
        m = (diff > 28).astype(np.uint8) * 255
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, kernel)
        return cv2.morphologyEx(m, cv2.MORPH_CLOSE, kernel)

    bg_full: np.ndarray | None = None
    post = StylePost(intent["style"], w, h, spec.seed) if intent.get("style") else None
    scene_meta: dict = {"intent": intent}

    renderer: ShotRenderer | None = None
    if intent["change"] == "object":
        kind, dcolor, mat, size = NOUNS[intent["to"]]
        cname = intent.get("color") or dcolor or "red"
        subj = Subject("swap1", kind, intent["to"], cname, COLORS[cname], size, mat)
        ppu = h / VIEW_H
        xs, ys, scales = np.zeros(n_out), np.zeros(n_out), np.ones(n_out)
        last = (w / 2, h / 2, 60.0)
        masks = [fg_mask(small(f)) for f in src.frames()]
        for j, k in enumerate(src_index):
            cnts, _ = cv2.findContours(masks[k], cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            if cnts:
                c = max(cnts, key=cv2.contourArea)
                x, y, bw, bh = cv2.boundingRect(c)
                sx = w / aw
                last = ((x + bw / 2) * sx, (y + bh / 2) * sx, max(bw, bh) * sx)
            xs[j], ys[j], scales[j] = last
        # the swapped object takes the tracked centre and the median tracked size
        subj.size = float(np.median(scales) / ppu / 0.9 if kind in ("ball", "box") else np.median(scales) / ppu / 1.85)
        track = Track(xs / ppu, (h - ys) / ppu, np.zeros(n_out), np.arange(n_out) / fps * 1.5)
        shot = Shot(0, spec.prompt, ["swap1"], {"swap1": "idle"}, "indoor", "wood", "day", "clear", [], 1.0,
                    0.0, n_out / fps)
        renderer = ShotRenderer(shot, {"swap1": subj}, ShotMotion({"swap1": track}), intent.get("style") or
                                "photorealistic", w, h, n_out, spec.seed, {})
        renderer.raw = True
        scene_meta["track"] = [[round(float(a), 1), round(float(b), 1)] for a, b in zip(xs, ys, strict=True)]
        bg_full = cv2.resize(bg_small, (w, h), interpolation=cv2.INTER_LINEAR)
    elif intent["change"] == "background":
        scene = parse_prompt(spec.prompt, intent.get("style") or "photorealistic", spec.seed, n_out / fps)
        shot = scene.shots[0]
        shot.subjects, shot.actions = [], {}
        r = ShotRenderer(shot, {}, ShotMotion({}), scene.style, w, h, 1, spec.seed, {})
        bg_full = r.frame(0)
        scene_meta["setting"] = {"setting": shot.setting, "time_of_day": shot.time_of_day, "floor": shot.floor}
    elif intent["change"] == "color":
        scene_meta["to_hue"] = _hue(COLORS[intent["to"]])
        if intent.get("from"):
            from_hue = _hue(COLORS[intent["from"]])
        else:  # the moving thing's own colour: the commonest saturated hue among foreground pixels
            hist = np.zeros(180)
            for k, f in enumerate(src.frames()):
                if k % step == 0:
                    sm = small(f)
                    hsv = cv2.cvtColor(sm, cv2.COLOR_RGB2HSV)
                    sel = (fg_mask(sm) > 0) & (hsv[..., 1] > 90)
                    hist += np.bincount(hsv[..., 0][sel], minlength=180)[:180]
            if hist.sum() == 0:
                raise GeneratorError("remix: found nothing moving to recolour; name its colour "
                                     "('turn the red car blue')")
            from_hue = int(np.argmax(np.convolve(np.concatenate([hist[-3:], hist, hist[:3]]), np.ones(7),
                                                 mode="valid")))
        scene_meta["from_hue"] = from_hue

    def frames() -> Iterator[np.ndarray]:
        want = iter(enumerate(src_index))
        j, k_want = next(want, (None, None))
        for k, raw in enumerate(src.frames()):
            while j is not None and k == k_want:
                yield _edit(_fit(raw, w, h), k, j)
                j, k_want = next(want, (None, None))
            if j is None:
                return

    def _edit(f: np.ndarray, k: int, j: int) -> np.ndarray:
        change = intent["change"]
        mask: np.ndarray | None = None
        if change not in ("object", "style"):
            mask = cv2.resize(fg_mask(cv2.resize(f, (aw, ah), interpolation=cv2.INTER_AREA)), (w, h),
                              interpolation=cv2.INTER_LINEAR)
        if change == "color":
            assert mask is not None
            hsv = cv2.cvtColor(f, cv2.COLOR_RGB2HSV)
            d = np.abs(hsv[..., 0].astype(np.int16) - scene_meta["from_hue"])
            sel = (hsv[..., 1] > 70) & (np.minimum(d, 180 - d) < 10)
            if not intent.get("from"):
                # only the moving thing: whole same-coloured regions that touch the motion mask (the mask
                # alone misses the parts of an object that happen to match the background)
                n_lab, labels = cv2.connectedComponents(sel.astype(np.uint8), connectivity=8)
                touched = np.unique(labels[sel & (mask > 127)])
                keep = np.zeros(n_lab, bool)
                keep[touched[touched > 0]] = True
                sel = keep[labels]
            target = COLORS[intent["to"]]
            th = _hue(target)
            hsv2 = hsv.copy()
            hsv2[..., 0] = th
            if max(target) - min(target) < 40:  # white / grey / black: drop saturation, set value
                hsv2[..., 1] = 0
                hsv2[..., 2] = np.clip(hsv[..., 2].astype(np.float32) * (max(target) / 200.0), 0, 255).astype(
                    np.uint8)
            f = np.where(sel[..., None], cv2.cvtColor(hsv2, cv2.COLOR_HSV2RGB), f)
        elif change == "background":
            assert mask is not None and bg_full is not None  # set above for this change
            soft = cv2.GaussianBlur(mask, (0, 0), 2).astype(np.float32)[..., None] / 255.0
            f = (f * soft + bg_full * (1 - soft)).astype(np.uint8)
        elif change == "object":
            assert renderer is not None and bg_full is not None  # set above for this change
            renderer.plate = cv2.copyMakeBorder(bg_full, 1, 1, 0, 0, cv2.BORDER_REPLICATE)
            renderer.plate_x0 = 0.0
            f = renderer.frame(j)
        if post is not None:
            f = post.finish(post.apply(f, j))
        return f

    n_samples = int(round(n_out / fps * SR))
    audio = np.zeros((2, n_samples), np.float32)
    take = min(n_samples, src.audio.shape[1])
    audio[:, :take] = src.audio[:, :take]
    if intent["change"] == "background":
        scene_amb = parse_prompt(spec.prompt, None, spec.seed, n_out / fps).ambience
        audio += 0.7 * ambience(scene_amb, n_samples, np.random.default_rng([spec.seed, 72]))
        scene_meta["ambience"] = scene_amb
    peak = float(np.abs(audio).max())
    if peak > 0.98:
        audio *= 0.98 / peak
    meta: dict[str, Any] = {
        "backend": backend.name, "version": backend.version, "prompt": spec.prompt, "seed": spec.seed,
        "style": intent.get("style"), "scene": scene_meta, "speech_text": [], "speech": "none requested",
        "tts": None, "collisions": [], "footsteps": [], "cameos": [], "remix_of": str(spec.source_clip),
        "remix": {k: v for k, v in intent.items() if v is not None}}
    return Clip(fps=fps, width=w, height=h, n_frames=n_out, frames=frames, audio=audio, sample_rate=SR,
                metadata=meta)

