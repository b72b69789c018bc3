"""2D rigid-body motion of a shot with pymunk: gravity, bounces, friction, collisions.

Balls and boxes are dynamic bodies; people, animals, cars and birds follow scripted paths as kinematic
bodies (so a ball still bounces off a walking person). Every contact that starts with enough normal speed
is an impact event with its exact simulation time, which the audio uses to place the sound.
Units are metres and seconds; the visible frame is VIEW_H metres tall at zoom 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pymunk

from generator.scene import Shot, Subject

VIEW_H = 9.0
FLOOR_Y = 1.6
SUBSTEPS = 10  # physics steps per frame: an impact time is known to 1/10 of a frame
IMPACT_MIN_SPEED = 0.7  # m/s normal speed below which a contact is resting, not an impact
ELASTICITY = {"rubber": 0.8, "plastic": 0.72, "glass": 0.7, "metal": 0.55, "wood": 0.5, "stone": 0.3,
              "fruit": 0.25, "cloth": 0.2, "fur": 0.2, "feather": 0.1}
FLOOR_ELASTICITY = {"wood": 0.85, "tile": 0.9, "marble": 0.9, "concrete": 0.88, "stone": 0.85, "metal": 0.9,
                    "grass": 0.6, "carpet": 0.45, "sand": 0.35, "snow": 0.25, "dirt": 0.55, "ice": 0.9}
GRAVITY = {"space": 3.2}  # a moon-like pull; everywhere else 9.81
WALK = {"walk": (1.3, 1.5), "run": (3.6, 2.6), "dance": (0.0, 1.0)}  # speed m/s, stride length m per cycle


@dataclass
class Track:
    x: np.ndarray
    y: np.ndarray
    angle: np.ndarray
    gait: np.ndarray  # gait phase in cycles (legs) or wing phase; 0 when still


@dataclass
class ShotMotion:
    tracks: dict[str, Track]
    impacts: list[dict] = field(default_factory=list)  # {time, frame, x, y, speed, a, b} shot-relative
    footsteps: list[dict] = field(default_factory=list)  # {time, frame, x, material, subject}
    world_w: float = 16.0


def body_size(s: Subject) -> tuple[float, float]:
    """Width and height in metres of a subject's collision shape."""
    k = s.size
    return {"ball": (0.9 * k, 0.9 * k), "box": (1.0 * k, 1.0 * k), "person": (0.7 * k, 1.85 * k),
            "dog": (1.2 * k, 0.8 * k), "animal": (1.5 * k, 1.1 * k), "cat": (0.9 * k, 0.6 * k),
            "car": (3.6 * k, 1.4 * k), "bird": (0.8 * k, 0.35 * k)}[s.kind]


def simulate_shot(shot: Shot, subjects: dict[str, Subject], fps: int, n_frames: int, world_w: float,
                  seed: int, pan: float = 0.0) -> ShotMotion:
    rng = np.random.default_rng([seed, 11, shot.index])
    slow = shot.slow_motion
    dt_frame = slow / fps
    dt = dt_frame / SUBSTEPS
    sim_seconds = n_frames * dt_frame
    space = pymunk.Space()
    space.gravity = (0.0, -GRAVITY.get(shot.setting, 9.81))
    space.damping = 0.85  # air drag and rolling resistance, so rolling balls come to rest
    left, right = min(0.0, pan) + 0.2, max(world_w, world_w + pan) - 0.2
    floor_mat = shot.floor
    statics = [
        pymunk.Segment(space.static_body, (left - 50, FLOOR_Y), (right + 50, FLOOR_Y), 0.05),
        pymunk.Segment(space.static_body, (left, FLOOR_Y), (left, 60), 0.05),
        pymunk.Segment(space.static_body, (right, FLOOR_Y), (right, 60), 0.05),
    ]
    for seg, name in zip(statics, ("floor", "wall", "wall"), strict=True):
        seg.elasticity = FLOOR_ELASTICITY.get(floor_mat, 0.7)
        seg.friction = 0.8
        seg.material = floor_mat if name == "floor" else "wall"
        seg.sid = name
    space.add(*statics)

    ids = shot.subjects
    n = max(1, len(ids))
    slots = {sid: left + (right - left) * (i + 0.5) / n for i, sid in enumerate(ids)}
    # cameo characters stand side by side in the middle, so one medium shot shows every face large
    cameo_ids = [sid for sid in ids if subjects[sid].cameo]
    mid = (left + right) / 2 if not pan else world_w / 2
    for i, sid in enumerate(cameo_ids):
        slots[sid] = mid + (i - (len(cameo_ids) - 1) / 2) * 2.4
    bodies: dict[str, pymunk.Body] = {}
    scripted: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    t_frames = np.arange(n_frames) * dt_frame
    footsteps: list[dict] = []
    landings: list[tuple[float, str]] = []
    collide_side = 0
    for sid in ids:
        s = subjects[sid]
        act = shot.actions.get(sid, "idle")
        w, h = body_size(s)
        if s.kind in ("ball", "box"):
            mass = max(0.1, w * h)
            if s.kind == "ball":
                moment = pymunk.moment_for_circle(mass, 0, w / 2)
                body = pymunk.Body(mass, moment)
                shape: pymunk.Shape = pymunk.Circle(body, w / 2)
            else:
                moment = pymunk.moment_for_box(mass, (w, h))
                body = pymunk.Body(mass, moment)
                shape = pymunk.Poly.create_box(body, (w, h), 0.02)
            x0 = slots[sid]
            if act == "roll":
                body.position = (left + 1.0 + w, FLOOR_Y + h / 2 + 0.01)
                body.velocity = (float(rng.uniform(4.0, 5.5)), 0.0)
            elif act == "throw":
                body.position = (left + 1.0 + w, FLOOR_Y + 1.2)
                body.velocity = (float(rng.uniform(4.5, 6.0)), float(rng.uniform(6.0, 7.5)))
                body.angular_velocity = -3.0
            elif act == "collide":
                side = 1 if collide_side % 2 == 0 else -1
                collide_side += 1
                body.position = ((left + 1.2 + w) if side > 0 else (right - 1.2 - w), FLOOR_Y + 1.5 + 0.4 * h)
                body.velocity = (side * float(rng.uniform(5.0, 6.5)), 2.5)
            else:  # drop / bounce
                body.position = (x0, FLOOR_Y + float(rng.uniform(3.0, 4.0)))
                body.velocity = (float(rng.uniform(-0.6, 0.6)), 0.0)
                if s.kind == "box":
                    body.angle = float(rng.uniform(-0.5, 0.5))
            shape.elasticity = ELASTICITY.get(s.material, 0.5)
            shape.friction = 0.7
            shape.material = s.material
            shape.sid = sid
            space.add(body, shape)
            bodies[sid] = body
            continue

        # scripted movers: path as a function of simulation time
        speed, stride = WALK.get(act, (0.0, 1.5))
        if s.kind in ("dog", "cat", "animal"):
            speed, stride = speed * 1.1, stride * 0.6
        y: np.ndarray = np.full(n_frames, FLOOR_Y + h / 2)
        ang = np.zeros(n_frames)
        gait: np.ndarray = np.zeros(n_frames)
        x: np.ndarray = np.full(n_frames, slots[sid])
        if s.kind == "car":
            speed = 6.0 * (1.0 if act == "drive" else 0.0)
            x = slots[sid] - speed * sim_seconds / 2 + speed * t_frames
            gait = (speed * t_frames) / (np.pi * 0.7 * s.size)  # wheel turns
        elif s.kind == "bird":
            # each bird its own lane and pace across the sky
            lane = float(rng.uniform(-1.2, 1.2))
            start = float(rng.uniform(0.0, 0.35)) * (right - left)
            x = left + 1 + start + (right - left - 2) * 0.6 * t_frames / max(sim_seconds, 1e-6)
            y = 6.3 + lane + 0.6 * np.sin(t_frames * 1.7 + rng.uniform(0, 6))
            gait = t_frames * 3.0  # wing beats per second
        elif speed > 0:
            x = slots[sid] - speed * sim_seconds / 2 + speed * t_frames
            gait = speed * t_frames / stride
            # a foot lands at each extreme of the leg swing: phase 0.25 + k/2 cycles
            k = np.arange(int(speed * sim_seconds / stride * 2) + 1)
            legs = 2 if s.kind == "person" else 4
            for ti in (0.25 + k / 2) * stride / speed:
                if ti < sim_seconds:
                    footsteps.append({"time": ti, "x": slots[sid] - speed * sim_seconds / 2 + speed * ti,
                                      "subject": sid, "legs": legs})
        elif act == "dance":
            gait = t_frames * 2.0
            y = y + 0.15 * np.abs(np.sin(np.pi * 2.0 * t_frames))
        elif act == "jump" or act == "surf":
            period = 0.9 if act == "jump" else 2.5
            height = 1.2 if act == "jump" else 0.15
            ph = (t_frames / period) % 1.0
            y = y + height * np.sin(np.pi * ph)
            if act == "jump":
                landings += [(period * (i + 1), sid) for i in range(int(sim_seconds / period))]
        elif act in ("talk", "wave", "idle"):
            gait = t_frames * (1.0 if act == "wave" else 0.0)
        scripted[sid] = (x, y, ang, gait)
        body = pymunk.Body(body_type=pymunk.Body.KINEMATIC)
        body.position = (float(x[0]), float(y[0]))
        shape = pymunk.Poly.create_box(body, (w, h), 0.02)
        shape.elasticity, shape.friction = 0.4, 0.8
        shape.material, shape.sid = s.material, sid
        space.add(body, shape)
        bodies[sid] = body

    impacts: list[dict] = []
    last_hit: dict[tuple, float] = {}
    now = [0.0]

    def begin(arb: pymunk.Arbiter, _space: pymunk.Space, _data: object) -> None:
        a, b = arb.shapes
        if a.body is None or b.body is None:  # a shape in the space always has its body; this narrows the type
            return
        n_vec = arb.normal
        rel = b.body.velocity - a.body.velocity
        v = abs(rel.dot(n_vec))
        if v < IMPACT_MIN_SPEED:
            return
        key = tuple(sorted((a.sid, b.sid)))
        if now[0] - last_hit.get(key, -1.0) < 0.04:  # one contact, several begins in the same bump
            return
        last_hit[key] = now[0]
        pts = arb.contact_point_set.points
        p = pts[0].point_a if pts else a.body.position
        impacts.append({"sim_time": now[0], "x": float(p.x), "y": float(p.y), "speed": float(v),
                        "a": a.sid, "b": b.sid, "a_material": a.material, "b_material": b.material})

    space.on_collision(begin=begin)

    out = {sid: np.zeros((n_frames, 4)) for sid in bodies}
    for fi in range(n_frames):
        for sid, body in bodies.items():
            if sid in scripted:
                x, y, ang, gait = scripted[sid]
                out[sid][fi] = (x[fi], y[fi], ang[fi], gait[fi])
            else:
                out[sid][fi] = (body.position.x, body.position.y, body.angle, 0.0)
        for sub in range(SUBSTEPS):
            t = fi * dt_frame + sub * dt
            now[0] = t
            for sid, (x, y, _a, _g) in scripted.items():
                # kinematic bodies: velocity toward the next frame's pose, so contacts see real speed
                nxt = min(fi + 1, n_frames - 1)
                frac = (sub + 1) / SUBSTEPS
                tx = x[fi] + (x[nxt] - x[fi]) * frac
                ty = y[fi] + (y[nxt] - y[fi]) * frac
                b = bodies[sid]
                b.velocity = ((tx - b.position.x) / dt, (ty - b.position.y) / dt)
            space.step(dt)

    def to_clip(sim_t: float) -> tuple[float, int]:
        ct = sim_t / slow
        return ct, int(round(ct * fps))

    for ev in impacts:
        ev["time"], ev["frame"] = to_clip(ev.pop("sim_time"))
    for sid_time, sid in landings:
        ct, fr = to_clip(sid_time)
        if fr < n_frames:
            impacts.append({"time": ct, "frame": fr, "x": float(scripted[sid][0][min(fr, n_frames - 1)]),
                            "y": FLOOR_Y, "speed": 3.0, "a": sid, "b": "floor",
                            "a_material": subjects[sid].material, "b_material": floor_mat})
    for fs in footsteps:
        fs["time"], fs["frame"] = to_clip(fs["time"])
        fs["material"] = floor_mat
    impacts = [e for e in impacts if e["frame"] < n_frames]
    impacts.sort(key=lambda e: e["time"])
    tracks = {sid: Track(a[:, 0], a[:, 1], a[:, 2], a[:, 3]) for sid, a in out.items()}
    return ShotMotion(tracks, impacts, [f for f in footsteps if f["frame"] < n_frames], world_w)
