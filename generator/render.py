"""Draws a shot frame by frame: a pre-rendered background plate per shot (setting, floor texture, sky by
time of day), subjects from their physics tracks, shadows, weather, camera moves, style and cameo faces.

The plate is drawn once at the largest zoom the shot needs; each frame crops it, so per-frame cost is a
crop/resize plus a handful of OpenCV primitives.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from generator.cameo import CameoFace, paste_face
from generator.physics import FLOOR_Y, VIEW_H, ShotMotion, body_size
from generator.scene import Shot, Subject
from generator.styles import LIGHTING, LOOKS, StylePost, lighting_lut

AA = cv2.LINE_AA
SKIN = [(241, 194, 160), (198, 134, 96), (141, 85, 55), (224, 172, 132), (92, 60, 40)]
HAIR = [(30, 22, 18), (70, 45, 25), (150, 110, 60), (200, 170, 110), (110, 110, 110), (140, 50, 25)]
PANTS = [(45, 55, 90), (35, 35, 40), (90, 75, 55), (60, 70, 60), (120, 120, 125)]
BACK_Y = FLOOR_Y + 1.3  # where the floor plane meets the back wall / horizon


def _shade(c: tuple[int, int, int], k: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(v * k, 0, 255)) for v in c)  # type: ignore[return-value]


class Camera:
    """Per-frame view: world centre (cx, cy) and zoom; moves come from the shot's camera words."""

    def __init__(self, shot: Shot, motion: ShotMotion, n: int, world_w: float, seed: int,
                 min_zoom: float = 1.0, focus_ids: list[str] | None = None) -> None:
        t = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
        ease = t * t * (3 - 2 * t)
        cam = set(shot.camera)
        self.cx = np.full(n, world_w / 2)
        self.cy = np.full(n, VIEW_H / 2)
        z0, z1 = 1.0, 1.0
        if "close_up" in cam:
            z0 = z1 = 1.8
        if "wide" in cam:
            z0 = z1 = 1.0
        if "zoom_in" in cam:
            z0, z1 = z0, z0 * 1.6
        if "zoom_out" in cam:
            z0, z1 = z1 * 1.6, z1
        z0, z1 = max(z0, min_zoom), max(z1, min_zoom)
        self.zoom = z0 + (z1 - z0) * ease
        self.pan = 0.0
        if "pan_left" in cam:
            self.pan = -4.0
            self.cx = world_w / 2 + self.pan * ease
        if "pan_right" in cam:
            self.pan = 4.0
            self.cx = world_w / 2 + self.pan * ease
        if "tilt_up" in cam:
            self.cy = VIEW_H / 2 - 1.0 + 2.0 * ease
        if "tilt_down" in cam:
            self.cy = VIEW_H / 2 + 1.0 - 2.0 * ease
        focus_ids = [f for f in (focus_ids or shot.subjects[:1]) if f in motion.tracks]
        if focus_ids and ("track" in cam or self.zoom.max() > 1.01):
            focus = motion.tracks[focus_ids[0]]
            if len(focus_ids) > 1:  # several cameos: frame their midpoint
                ts = [motion.tracks[f] for f in focus_ids]
                focus = type(focus)(np.mean([t.x for t in ts], 0), np.mean([t.y for t in ts], 0), focus.angle,
                                    focus.gait)
            k = np.clip((self.zoom - 1.0) / 0.6, 0, 1) if "track" not in cam else np.ones(n)
            fx = np.convolve(np.pad(focus.x, 6, mode="edge"), np.ones(13) / 13, mode="valid")[:n]
            fy = np.convolve(np.pad(focus.y, 6, mode="edge"), np.ones(13) / 13, mode="valid")[:n]
            self.cx = self.cx * (1 - k) + fx * k
            self.cy = self.cy * (1 - k) + (fy + 0.8) * k
        if "shake" in cam:
            rng = np.random.default_rng([seed, 41, shot.index])
            self.cx = self.cx + np.cumsum(rng.normal(0, 0.02, n)) * 0.5
            self.cy = self.cy + np.cumsum(rng.normal(0, 0.02, n)) * 0.5
        # keep the view inside the world plate
        half_w = world_w / 2 / self.zoom
        half_h = VIEW_H / 2 / self.zoom
        lo, hi = min(0.0, self.pan), world_w + max(0.0, self.pan)
        self.cx = np.clip(self.cx, lo + half_w, hi - half_w)
        self.cy = np.clip(self.cy, half_h, VIEW_H - half_h)
        self.x_range = (lo, hi)


class ShotRenderer:
    def __init__(self, shot: Shot, subjects: dict[str, Subject], motion: ShotMotion, style: str,
                 width: int, height: int, n_frames: int, seed: int, cameos: dict[str, CameoFace],
                 speaking: dict[str, np.ndarray] | None = None, frame_offset: int = 0) -> None:
        self.shot, self.subjects, self.motion = shot, subjects, motion
        self.style, self.look = style, LOOKS[style]
        self.w, self.h, self.n = width, height, n_frames
        self.seed, self.cameos, self.speaking = seed, cameos, speaking or {}
        self.frame_offset = frame_offset
        self.raw = False  # remix over real footage: no lighting grade or style pass unless asked
        self.world_w = VIEW_H * width / height
        self.light = LIGHTING[shot.time_of_day]
        self.indoor = shot.setting in ("indoor", "stage")
        self.base_ppu = height / VIEW_H
        cameo_ids = [s for s in shot.subjects if subjects[s].cameo and subjects[s].cameo in cameos]
        # a cameo face must be big enough for a face detector (>= 80 px box at 480p): frame a medium shot on it
        zoom = (1.8 if len(cameo_ids) <= 2 else 1.45) if cameo_ids else 1.0
        self.camera = Camera(shot, motion, n_frames, self.world_w, seed, min_zoom=zoom,
                             focus_ids=cameo_ids or None)
        self.zmax = float(self.camera.zoom.max())
        self.plate_ppu = self.base_ppu * self.zmax
        x0, x1 = self.camera.x_range
        self.plate_x0 = x0
        self.plate = self._background(x0, x1)
        self.lut = lighting_lut(self.light, self.indoor)
        self.post = StylePost(style, width, height, seed)
        self.outline = max(1, int(round(self.look.outline * height / 480))) if self.look.outline else 0
        rng = np.random.default_rng([seed, 51, shot.index])
        # looks per subject id, not per shot, so a character is the same person in every shot
        looks = {sid: np.random.default_rng([seed, 52, int.from_bytes(sid.encode(), "little") % 2**31])
                 for sid in shot.subjects}
        self.skin = {sid: SKIN[int(g.integers(len(SKIN)))] for sid, g in looks.items()}
        self.hair = {sid: HAIR[int(g.integers(len(HAIR)))] for sid, g in looks.items()}
        self.pants = {sid: PANTS[int(g.integers(len(PANTS)))] for sid, g in looks.items()}
        n_p = int(220 * width / 854) if shot.weather in ("rain", "snow") else 0
        self.particles = rng.uniform(0, 1, (n_p, 3))

    # ---------- background plate ----------
    def _background(self, x0: float, x1: float) -> np.ndarray:
        ppu = self.plate_ppu
        pw, ph = int(np.ceil((x1 - x0) * ppu)) + 2, int(np.ceil(VIEW_H * ppu)) + 2
        rng = np.random.default_rng([self.seed, 61, self.shot.index])
        light, setting = self.light, self.shot.setting

        def py(y: float) -> int:
            return int(round(ph - 1 - y * ppu))

        def px(x: float) -> int:
            return int(round((x - x0) * ppu))

        img: np.ndarray = np.zeros((ph, pw, 3), np.uint8)
        top, bot = np.array(light.sky_top, np.float32), np.array(light.sky_bottom, np.float32)
        horizon = py(BACK_Y)
        ramp = np.clip(np.arange(ph, dtype=np.float32) / max(1, horizon), 0, 1)[:, None]
        img[:] = (top[None, :] * (1 - ramp) + bot[None, :] * ramp).astype(np.uint8)[:, None, :]
        if setting == "space":
            img[:] = (4, 4, 12)
        if light.stars or setting == "space":
            for _ in range(int(pw * ph / 2500)):
                sx, sy = int(rng.integers(pw)), int(rng.integers(max(1, horizon)))
                b = int(rng.integers(120, 255))
                cv2.circle(img, (sx, sy), 1 if rng.random() < 0.8 else 2, (b, b, b), -1, AA)
        if light.sun is not None and not self.indoor:
            sx, sy = px(x0 + light.sun[0] * (x1 - x0)), py(light.sun[1])
            r = int(0.55 * ppu)
            glow = img.copy()
            cv2.circle(glow, (sx, sy), int(r * 2.5), light.sun_color, -1, AA)
            img = cv2.addWeighted(img, 0.75, glow, 0.25, 0)
            cv2.circle(img, (sx, sy), r, light.sun_color, -1, AA)
        if setting == "indoor":
            wall = np.array([214, 196, 170], np.float32) * (0.55 + 0.45 * light.ambient)
            img[: horizon] = wall.astype(np.uint8)
            for wx in np.arange(x0 + 2.5, x1, 7.0):  # windows show the sky of the time of day
                c1, c2 = (px(wx), py(7.6)), (px(wx + 2.4), py(4.2))
                cv2.rectangle(img, c1, c2, light.sky_bottom, -1)
                cv2.rectangle(img, c1, c2, (90, 70, 50), max(2, int(ppu * 0.12)))
                cv2.line(img, ((c1[0] + c2[0]) // 2, c1[1]), ((c1[0] + c2[0]) // 2, c2[1]), (90, 70, 50),
                         max(2, int(ppu * 0.08)))
            cv2.rectangle(img, (0, horizon - int(0.25 * ppu)), (pw, horizon), (235, 228, 215), -1)
        elif setting == "stage":
            img[: horizon] = (20, 14, 30)
            for i, sx in enumerate(np.linspace(0, pw, 5)):
                pts = np.array([[int(sx), 0], [int(sx + (i - 2) * 40 - ppu), horizon],
                                [int(sx + (i - 2) * 40 + ppu), horizon]], np.int32)
                ov = img.copy()
                cv2.fillConvexPoly(ov, pts, (255, 240, 200), AA)
                img = cv2.addWeighted(img, 0.85, ov, 0.15, 0)
        elif setting == "city":
            xs = x0
            while xs < x1:
                bw, bh = float(rng.uniform(1.2, 2.6)), float(rng.uniform(2.0, 6.5))
                shade = int(rng.integers(70, 130))
                col = (shade, shade, shade + 10)
                cv2.rectangle(img, (px(xs), py(BACK_Y + bh)), (px(xs + bw), horizon), col, -1)
                for wy in np.arange(BACK_Y + 0.5, BACK_Y + bh - 0.3, 0.7):
                    for wx in np.arange(xs + 0.2, xs + bw - 0.3, 0.5):
                        lit = rng.random() < (0.6 if light.stars else 0.15)
                        wc = (255, 220, 120) if lit else _shade(col, 0.7)
                        cv2.rectangle(img, (px(wx), py(wy + 0.3)), (px(wx + 0.22), py(wy)), wc, -1)
                xs += bw + float(rng.uniform(0.05, 0.4))
        elif setting in ("forest", "field"):
            hill = np.array([[px(x), py(BACK_Y + 0.6 + 0.5 * np.sin(x * 0.7 + 1.3))] for x in
                             np.linspace(x0, x1, 60)] + [[pw, horizon + 2], [0, horizon + 2]], np.int32)
            cv2.fillPoly(img, [hill], (70, 120, 60), AA)
            n_trees = int((x1 - x0) * (1.4 if setting == "forest" else 0.25))
            for _ in range(n_trees):
                tx, th = float(rng.uniform(x0, x1)), float(rng.uniform(2.5, 5.0))
                cv2.rectangle(img, (px(tx - 0.1), py(BACK_Y + th * 0.45)), (px(tx + 0.1), horizon),
                              (80, 55, 35), -1)
                g = int(rng.integers(70, 120))
                cv2.ellipse(img, (px(tx), py(BACK_Y + th * 0.7)), (int(0.9 * ppu), int(th * 0.35 * ppu)),
                            0, 0, 360, (30, g, 40), -1, AA)
        elif setting in ("mountain", "snow", "desert"):
            col = {"mountain": (105, 110, 125), "snow": (225, 232, 245), "desert": (222, 180, 120)}[setting]
            ridge = [[px(x), py(BACK_Y + (2.8 if setting == "mountain" else 0.8) *
                                abs(np.sin(x * 0.45 + rng.uniform(0, 0.2))) + 0.3)] for x in np.linspace(x0, x1, 40)]
            cv2.fillPoly(img, [np.array(ridge + [[pw, horizon + 2], [0, horizon + 2]], np.int32)], col, AA)
        elif setting == "beach":
            sea_top = py(BACK_Y + 0.9)
            sea = np.array([30, 100, 160], np.float32) * (0.5 + 0.5 * light.ambient)
            img[sea_top:horizon] = sea.astype(np.uint8)
            for wy in range(sea_top + 4, horizon, max(3, int(ppu * 0.18))):
                cv2.line(img, (0, wy), (pw, wy), _shade(tuple(sea.astype(int)), 1.25), 1, AA)
        elif setting == "space":
            cv2.circle(img, (px(x0 + 0.25 * (x1 - x0)), py(7.0)), int(1.3 * ppu), (80, 120, 200), -1, AA)
        img[horizon:] = self._floor_texture(pw, ph - horizon, rng)
        return img

    def _floor_texture(self, w: int, h: int, rng: np.random.Generator) -> np.ndarray:
        mat = self.shot.floor
        base = {"wood": (150, 100, 60), "tile": (210, 210, 205), "marble": (225, 222, 215),
                "concrete": (140, 140, 138), "stone": (120, 118, 112), "metal": (150, 155, 160),
                "grass": (70, 140, 50), "carpet": (150, 60, 60), "sand": (220, 195, 145),
                "snow": (235, 240, 250), "dirt": (115, 85, 55), "ice": (200, 225, 240)}.get(mat, (128, 128, 128))
        noise_amp = {"wood": 10, "grass": 30, "sand": 16, "concrete": 14, "stone": 20, "snow": 6,
                     "dirt": 20, "carpet": 12}.get(mat, 8)
        out = np.empty((h, w, 3), np.float32)
        out[:] = base
        yy = np.arange(h, dtype=np.float32)[:, None]
        if mat == "wood":
            # planks receding in perspective: bands get thinner towards the back wall, with grain and seams
            depth = (yy / max(1, h)) ** 1.6 * 14  # plank index grows faster near the camera
            plank = np.floor(depth).astype(int)
            tone = rng.uniform(0.78, 1.12, plank.max() + 2)[plank]
            xx = np.arange(w, dtype=np.float32)[None, :]
            grain = 0.07 * np.sin(xx * 0.09 / (1 + depth * 0.1) + np.sin(xx * 0.013 + plank * 1.7) * 3 + plank)
            out *= (tone + grain)[..., None]
            seam = np.abs(depth - np.round(depth)) < 0.05 + 0.03 * (1 - yy / max(1, h))
            out[np.broadcast_to(seam, (h, w))] *= 0.45
            joints = rng.uniform(0, w, (plank.max() + 2, 2))
            for k in range(plank.max() + 1):
                rows = np.where(plank[:, 0] == k)[0]
                if len(rows):
                    for jx in joints[k]:
                        out[rows[0]:rows[-1] + 1, int(jx): int(jx) + 2] *= 0.5
        elif mat in ("tile", "marble"):
            depth = (yy / max(1, h)) ** 1.6 * 8
            seam = np.abs(depth - np.round(depth)) < 0.04
            out[np.broadcast_to(seam, (h, w))] *= 0.7
            out[:, :: max(8, w // 24)] *= 0.75
        small = rng.normal(0, noise_amp, (h // 2 + 1, w // 2 + 1)).astype(np.float32)
        out += cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)[..., None]
        if mat == "grass":
            for _ in range(w * h // 60):
                gx, gy = int(rng.integers(w)), int(rng.integers(h))
                ln = int(2 + 6 * gy / max(1, h))
                out[max(0, gy - ln):gy + 1, gx] = (40, 110 + rng.integers(60), 30)
        shade = (0.82 + 0.18 * (yy / max(1, h)))[..., None]  # the far floor is a little darker
        return np.clip(out * shade, 0, 255).astype(np.uint8)

    # ---------- per frame ----------
    def frames(self) -> Iterator[np.ndarray]:
        for i in range(self.n):
            yield self.frame(i)

    def frame(self, i: int) -> np.ndarray:
        cam = self.camera
        z = float(cam.zoom[i])
        ppu = self.base_ppu * z
        vw, vh = self.world_w / z, VIEW_H / z
        left, bottom = float(cam.cx[i]) - vw / 2, float(cam.cy[i]) - vh / 2
        ph = self.plate.shape[0]
        cx0 = (left - self.plate_x0) * self.plate_ppu
        cy0 = ph - 1 - (bottom + vh) * self.plate_ppu
        cw, ch = vw * self.plate_ppu, vh * self.plate_ppu
        if abs(self.plate_ppu - ppu) < 1e-6:  # no zoom: a plain crop (pans move by whole pixels)
            ix, iy = int(round(cx0)), int(round(cy0))
            ix = min(max(0, ix), self.plate.shape[1] - self.w)
            iy = min(max(0, iy), self.plate.shape[0] - self.h)
            frame = self.plate[iy: iy + self.h, ix: ix + self.w].copy()
        else:
            frame = self._warp(cx0, cy0, cw, ch)
        return self._compose(frame, i, left, bottom, ppu)

    def _warp(self, cx0: float, cy0: float, cw: float, ch: float) -> np.ndarray:
        # sub-pixel accurate crop+scale in one affine warp (smooth zooms, no jitter)
        sx = self.w / cw
        m = np.array([[sx, 0, -cx0 * sx], [0, self.h / ch, -cy0 * self.h / ch]], np.float32)
        return cv2.warpAffine(self.plate, m, (self.w, self.h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)

    def _compose(self, frame: np.ndarray, i: int, left: float, bottom: float, ppu: float) -> np.ndarray:
        def to_px(x: float, y: float) -> tuple[int, int]:
            return (int(round((x - left) * ppu)), int(round(self.h - (y - bottom) * ppu)))

        order = sorted(self.shot.subjects, key=lambda s: {"car": 0, "person": 1, "dog": 2, "cat": 2, "animal": 2,
                                                          "box": 3, "ball": 4, "bird": 5}[self.subjects[s].kind])
        for sid in order if not self.raw else ():  # remix footage has its own shadows
            self._shadow(frame, sid, i, to_px, ppu)
        heads: list[tuple[str, tuple[int, int], int]] = []
        for sid in order:
            head = self._draw(frame, sid, i, to_px, ppu)
            if head is not None:
                heads.append(head)
        self._weather(frame, i, to_px)
        if self.shot.weather == "fog":
            frame = cv2.addWeighted(frame, 0.6, np.full_like(frame, 200), 0.4, 0)
        if not self.raw:
            frame = cv2.LUT(frame, self.lut)
            frame = self.post.apply(frame, i)
        for sid, center, r in heads:
            cameo = self.cameos.get(self.subjects[sid].cameo or "")
            if cameo is not None:
                paste_face(frame, cameo, center, r, max(0.8, self.light.ambient))
        return frame if self.raw else self.post.finish(frame)

    def _shadow(self, f: np.ndarray, sid: str, i: int, to_px, ppu: float) -> None:
        tr = self.motion.tracks[sid]
        s = self.subjects[sid]
        w, h = body_size(s)
        height = max(0.0, float(tr.y[i]) - h / 2 - FLOOR_Y)
        k = 1.0 / (1.0 + height * 0.6)
        cx, cy = to_px(float(tr.x[i]) + self.light.shadow_dx * 0.3 * h, FLOOR_Y)
        ax, ay = int(w * 0.6 * ppu * (1.2 - 0.2 * k)), max(2, int(0.12 * ppu))
        x0, y0, x1, y1 = max(0, cx - ax), max(0, cy - ay), min(self.w, cx + ax + 1), min(self.h, cy + ay + 1)
        if x1 <= x0 or y1 <= y0:
            return
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.ellipse(mask, (cx - x0, cy - y0), (ax, ay), 0, 0, 360, 255, -1, AA)
        if self.look.shading == "smooth":
            mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, ay / 2))
        dark = (mask.astype(np.float32) * (0.45 * k / 255))[..., None]
        roi = f[y0:y1, x0:x1]
        roi[:] = (roi * (1 - dark)).astype(np.uint8)

    def _col(self, c: tuple[int, int, int], k: float = 1.0) -> tuple[int, int, int]:
        return _shade(c, k)

    def _edge(self) -> tuple[tuple[int, int, int], int]:
        return (20, 20, 25), self.outline

    def _draw(self, f: np.ndarray, sid: str, i: int, to_px, ppu: float):
        s, tr = self.subjects[sid], self.motion.tracks[sid]
        x, y, ang, gait = float(tr.x[i]), float(tr.y[i]), float(tr.angle[i]), float(tr.gait[i])
        w, h = body_size(s)
        c = to_px(x, y)
        ec, et = self._edge()
        if s.kind == "ball":
            r = max(2, int(round(w / 2 * ppu)))
            self._ball(f, c, r, s.color, ang)
            if et:
                cv2.circle(f, c, r, ec, et, AA)
        elif s.kind == "box":
            hw = w / 2
            corners = np.array([[-hw, -hw], [hw, -hw], [hw, hw], [-hw, hw]])
            rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
            pts = np.array([to_px(x + p[0], y + p[1]) for p in corners @ rot.T], np.int32)
            cv2.fillConvexPoly(f, pts, s.color, AA)
            inner = np.array([to_px(x + p[0], y + p[1]) for p in (corners * 0.72) @ rot.T], np.int32)
            cv2.polylines(f, [inner], True, self._col(s.color, 0.7), max(1, int(ppu * 0.05)), AA)
            if s.material == "wood":
                cv2.line(f, tuple(inner[0]), tuple(inner[2]), self._col(s.color, 0.7), max(1, int(ppu * .05)), AA)
            cv2.polylines(f, [pts], True, ec if et else self._col(s.color, 0.55), max(1, et or 1), AA)
        elif s.kind == "person":
            return self._person(f, sid, s, x, y, h, gait, i, to_px, ppu)
        elif s.kind in ("dog", "cat", "animal"):
            self._quadruped(f, s, x, y, w, h, gait, to_px, ppu)
        elif s.kind == "car":
            self._car(f, s, x, y, w, h, gait, to_px, ppu)
        elif s.kind == "bird":
            flap = np.sin(gait * 2 * np.pi)
            cv2.ellipse(f, c, (int(w / 2 * ppu), int(h / 2 * ppu)), 0, 0, 360, s.color, -1, AA)
            wing = np.array([c, to_px(x - 0.1, y + 0.6 * flap), to_px(x + 0.35, y + 0.05)], np.int32)
            cv2.fillConvexPoly(f, wing, self._col(s.color, 0.8), AA)
            cv2.circle(f, to_px(x + w / 2, y + 0.08), max(2, int(0.12 * ppu)), s.color, -1, AA)
        return None

    def _ball(self, f: np.ndarray, c: tuple[int, int], r: int, color, ang: float) -> None:
        if self.look.shading == "smooth":
            x0, y0 = c[0] - r, c[1] - r
            yy, xx = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float32) / max(r, 1)
            d2 = xx * xx + yy * yy
            inside = d2 <= 1.0
            nz = np.sqrt(np.clip(1 - d2, 0, 1))
            lam = np.clip(-0.45 * xx - 0.55 * yy + 0.7 * nz, 0, 1)  # light from the upper left
            spec = np.clip(lam, 0, 1) ** 24
            col = np.array(color, np.float32)
            rgb = col * (0.3 + 0.75 * lam[..., None]) + 255 * 0.6 * spec[..., None]
            alpha = np.clip((1.0 - np.sqrt(d2)) * r + 0.5, 0, 1)[..., None]
            fy0, fx0 = max(0, y0), max(0, x0)
            fy1, fx1 = min(f.shape[0], y0 + 2 * r + 1), min(f.shape[1], x0 + 2 * r + 1)
            if fy1 <= fy0 or fx1 <= fx0:
                return
            sl = (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))
            roi = f[fy0:fy1, fx0:fx1].astype(np.float32)
            a = alpha[sl] * inside[sl][..., None]
            f[fy0:fy1, fx0:fx1] = (roi * (1 - a) + np.clip(rgb[sl], 0, 255) * a).astype(np.uint8)
        else:
            cv2.circle(f, c, r, color, -1, AA)
            if self.look.shading == "cel":
                cv2.ellipse(f, (c[0] + r // 5, c[1] + r // 5), (int(r * 0.8), int(r * 0.8)), 0, -20, 160,
                            _shade(color, 0.72), -1, AA)
            cv2.circle(f, (c[0] - r // 3, c[1] - r // 3), max(1, r // 5), (255, 255, 255), -1, AA)
        # a seam shows the spin
        seam = (int(c[0] + np.cos(ang) * r * 0.9), int(c[1] - np.sin(ang) * r * 0.9))
        cv2.line(f, (int(c[0] - np.cos(ang) * r * 0.9), int(c[1] + np.sin(ang) * r * 0.9)), seam,
                 _shade(color, 0.6), max(1, r // 12), AA)

    def _person(self, f, sid, s, x, y, h, gait, i, to_px, ppu):
        col, skin = s.color, self.skin[sid]
        ec, et = self._edge()
        lw = max(2, int(0.16 * ppu * s.size))
        hip = (x, y - h / 2 + 0.95 * s.size)
        shoulder = (x, y - h / 2 + 1.5 * s.size)
        swing = 0.45 * np.sin(2 * np.pi * gait)
        legl = 0.95 * s.size
        pants = self.pants[sid]
        for sgn in (1, -1):  # thigh, shin (the knee bends on the back-swing), shoe
            ph = sgn * swing
            knee = (hip[0] + ph * legl * 0.35, hip[1] - legl * 0.5)
            foot = (hip[0] + ph * legl * 0.6 - max(0.0, -ph) * 0.15 * s.size, y - h / 2 + 0.04 * s.size)
            cv2.line(f, to_px(*hip), to_px(*knee), pants, lw, AA)
            cv2.line(f, to_px(*knee), to_px(*foot), pants, lw, AA)
            cv2.ellipse(f, to_px(foot[0] + 0.06 * s.size, foot[1]), (max(2, int(0.11 * ppu * s.size)),
                        max(1, int(0.05 * ppu * s.size))), 0, 0, 360, (35, 30, 30), -1, AA)
        act = self.shot.actions.get(sid, "idle")
        arms = []
        for sgn in (1, -1):
            sh = (shoulder[0] + sgn * 0.3 * s.size, shoulder[1] - 0.05 * s.size)
            if act == "wave" and sgn == 1:
                hand = (sh[0] + 0.35 * s.size, sh[1] + 0.55 * s.size + 0.12 * np.sin(gait * 6))
            else:
                hand = (sh[0] + sgn * 0.12 * s.size - sgn * swing * 0.4 * s.size, sh[1] - 0.75 * s.size)
            arms.append((sh, hand))

        def arm(sh, hand) -> None:
            cv2.line(f, to_px(*sh), to_px(*hand), self._col(col, 0.85), max(2, lw * 3 // 4), AA)
            cv2.circle(f, to_px(*hand), max(2, lw // 2), skin, -1, AA)

        arm(*arms[1])  # the far arm goes behind the body, the near one in front
        neck_top = (x, shoulder[1] + 0.12 * s.size)
        cv2.line(f, to_px(*shoulder), to_px(*neck_top), self._col(skin, 0.9), max(2, lw), AA)
        body = np.array([to_px(x - 0.3 * s.size, hip[1]), to_px(x + 0.3 * s.size, hip[1]),
                         to_px(x + 0.34 * s.size, shoulder[1]), to_px(x - 0.34 * s.size, shoulder[1])], np.int32)
        cv2.fillConvexPoly(f, body, col, AA)
        cv2.line(f, to_px(x - 0.3 * s.size, hip[1] + 0.05 * s.size), to_px(x + 0.3 * s.size, hip[1] + 0.05 * s.size),
                 self._col(col, 0.6), max(1, lw // 3), AA)  # belt line
        if et:
            cv2.polylines(f, [body], True, ec, et, AA)
        arm(*arms[0])
        cameo = s.cameo is not None and s.cameo in self.cameos
        head_r = (0.75 if cameo else 0.3) * s.size
        hc = to_px(x, shoulder[1] + head_r * 0.95)
        r = max(3, int(head_r * ppu))
        cv2.circle(f, hc, r, skin, -1, AA)
        if et:
            cv2.circle(f, hc, r, ec, et, AA)
        if cameo:
            return (sid, hc, r)
        cv2.ellipse(f, (hc[0], hc[1] - r // 5), (r, int(r * 0.85)), 0, 180, 360, self.hair[sid], -1, AA)
        # simple face; the mouth opens with the speech envelope of this character
        eye = max(1, r // 6)
        cv2.circle(f, (hc[0] - r // 3, hc[1] - r // 6), eye, (30, 30, 30), -1, AA)
        cv2.circle(f, (hc[0] + r // 3, hc[1] - r // 6), eye, (30, 30, 30), -1, AA)
        talk = self.speaking.get(sid)
        open_k = float(talk[self.frame_offset + i]) if talk is not None and self.frame_offset + i < len(talk) else 0
        mh = max(1, int(r * (0.05 + 0.35 * open_k)))
        cv2.ellipse(f, (hc[0], hc[1] + r // 3), (max(2, r // 3), mh), 0, 0, 360, (90, 30, 30), -1, AA)
        return None

    def _quadruped(self, f, s, x, y, w, h, gait, to_px, ppu):
        col = s.color
        ec, et = self._edge()
        lw = max(2, int(0.12 * ppu * s.size))
        for k, lx in enumerate((-0.35, -0.2, 0.2, 0.35)):
            sw = 0.18 * np.sin(2 * np.pi * gait + (np.pi if k % 2 else 0)) * s.size
            cv2.line(f, to_px(x + lx * w, y), to_px(x + lx * w + sw, y - h / 2), self._col(col, 0.75), lw, AA)
        c = to_px(x, y + 0.1 * h)
        cv2.ellipse(f, c, (int(w / 2 * ppu), int(h * 0.32 * ppu)), 0, 0, 360, col, -1, AA)
        head = to_px(x + w * 0.5, y + h * 0.38)
        hr = max(3, int(0.26 * h * ppu / 0.8 * s.size))
        cv2.circle(f, head, hr, col, -1, AA)
        ear = np.array([to_px(x + w * 0.42, y + h * 0.55), to_px(x + w * 0.47, y + h * 0.85),
                        to_px(x + w * 0.55, y + h * 0.55)], np.int32)
        cv2.fillConvexPoly(f, ear, self._col(col, 0.8), AA)
        cv2.circle(f, (head[0] + hr // 3, head[1] - hr // 4), max(1, hr // 5), (20, 20, 20), -1, AA)
        cv2.line(f, to_px(x - w * 0.5, y + 0.2 * h), to_px(x - w * 0.7, y + 0.45 * h + 0.1 * np.sin(gait * 9)),
                 col, lw, AA)
        if et:
            cv2.ellipse(f, c, (int(w / 2 * ppu), int(h * 0.32 * ppu)), 0, 0, 360, ec, et, AA)
            cv2.circle(f, head, hr, ec, et, AA)

    def _car(self, f, s, x, y, w, h, gait, to_px, ppu):
        col = s.color
        ec, et = self._edge()
        base = np.array([to_px(x - w / 2, y - h / 4), to_px(x + w / 2, y - h / 4), to_px(x + w / 2, y + h * 0.1),
                         to_px(x - w / 2, y + h * 0.1)], np.int32)
        cabin = np.array([to_px(x - w * 0.3, y + h * 0.1), to_px(x + w * 0.2, y + h * 0.1),
                          to_px(x + w * 0.08, y + h * 0.48), to_px(x - w * 0.22, y + h * 0.48)], np.int32)
        cv2.fillConvexPoly(f, cabin, (170, 200, 220), AA)
        cv2.polylines(f, [cabin], True, col, max(2, int(0.08 * ppu)), AA)
        cv2.fillConvexPoly(f, base, col, AA)
        for wx in (-0.3, 0.3):
            wc = to_px(x + wx * w, y - h / 4)
            r = max(3, int(0.32 * ppu * s.size))
            cv2.circle(f, wc, r, (25, 25, 25), -1, AA)
            a = gait * 2 * np.pi
            cv2.line(f, (int(wc[0] - np.cos(a) * r * .6), int(wc[1] + np.sin(a) * r * .6)),
                     (int(wc[0] + np.cos(a) * r * .6), int(wc[1] - np.sin(a) * r * .6)), (160, 160, 160), 2, AA)
        if et:
            cv2.polylines(f, [base], True, ec, et, AA)

    def _weather(self, f: np.ndarray, i: int, to_px) -> None:
        wthr = self.shot.weather
        if wthr not in ("rain", "snow") or not len(self.particles):
            return
        t = (self.frame_offset + i) / 24.0
        p = self.particles
        if wthr == "rain":
            y = (p[:, 1] - t * (2.2 + p[:, 2])) % 1.0
            xs = (p[:, 0] * self.w + y * 40).astype(np.int32)
            ys = (y * self.h).astype(np.int32)
            ln = (10 + 14 * p[:, 2]) * self.h / 480
            lines = [np.array([[x0, y0], [x0 - int(ln_ * 0.25), y0 + int(ln_)]], np.int32)
                     for x0, y0, ln_ in zip(xs, ys, ln, strict=True)]
            cv2.polylines(f, lines, False, (185, 195, 215), 1, AA)
        else:
            y = (p[:, 1] + t * (0.08 + 0.08 * p[:, 2])) % 1.0
            xs = ((p[:, 0] + 0.02 * np.sin(t * 2 + p[:, 2] * 9)) % 1.0 * self.w).astype(int)
            for x0, y0, r in zip(xs, (y * self.h).astype(int), (1 + 2 * p[:, 2]).astype(int), strict=True):
                cv2.circle(f, (int(x0), int(y0)), int(r), (245, 245, 250), -1, AA)
