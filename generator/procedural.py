"""The default backend: prompt -> scene -> pymunk physics -> OpenCV renderer + synced audio. CPU only,
no weights, deterministic for a seed."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from generator import audio as au
from generator.cameo import CameoFace, load_cameo
from generator.errors import GeneratorError
from generator.physics import VIEW_H, ShotMotion, simulate_shot
from generator.render import ShotRenderer
from generator.scene import Scene, parse_prompt
from generator.spec import Clip, GenerationSpec
from generator.tts import get_tts
from generator.validate import validate_spec

VERSION = "0.1.0"


class ProceduralBackend:
    name = "procedural"
    version = VERSION

    def __init__(self, **config: object) -> None:
        self.config = config

    def available(self) -> tuple[bool, str]:
        return (True, "")

    def generate(self, spec: GenerationSpec) -> Clip:
        validate_spec(spec)
        if spec.source_clip is not None:
            from generator.remix import remix

            if spec.cameos:
                raise GeneratorError("a remix cannot add cameos; generate a new clip with the cameo instead")
            return remix(spec, self)
        scene = parse_prompt(spec.prompt, spec.style, spec.seed, float(spec.seconds),
                             tuple(c.handle for c in spec.cameos))
        cameos = {c.handle: load_cameo(c.handle, c.face_image) for c in spec.cameos}
        return self.render_scene(scene, spec, cameos)

    def plan(self, scene: Scene, spec: GenerationSpec) -> tuple[list[int], list[ShotMotion]]:
        """Frames per shot and the physics of each shot (cheap; done before any pixel is drawn)."""
        fps = spec.fps
        width, height = spec.size
        world_w = VIEW_H * width / height
        total = int(round(spec.seconds * fps))
        bounds = [int(round(total * i / len(scene.shots))) for i in range(len(scene.shots) + 1)]
        counts = [bounds[i + 1] - bounds[i] for i in range(len(scene.shots))]
        motions = []
        for shot, n in zip(scene.shots, counts, strict=True):
            shot.start = bounds[shot.index] / fps
            shot.seconds = n / fps
            pan = -4.0 if "pan_left" in shot.camera else (4.0 if "pan_right" in shot.camera else 0.0)
            m = simulate_shot(shot, scene.subjects, fps, n, world_w, spec.seed, pan)
            motions.append(m)
        return counts, motions

    def render_scene(self, scene: Scene, spec: GenerationSpec, cameos: dict[str, CameoFace]) -> Clip:
        fps = spec.fps
        width, height = spec.size
        counts, motions = self.plan(scene, spec)
        total = sum(counts)
        n_samples = int(round(total / fps * au.SR))
        rng = np.random.default_rng([spec.seed, 71])
        mix = np.zeros((2, n_samples), np.float32)
        collisions: list[dict] = []
        footsteps: list[dict] = []
        offsets = np.cumsum([0] + counts)
        world_w = VIEW_H * width / height
        for shot, m, off in zip(scene.shots, motions, offsets, strict=False):
            for ev in m.impacts:
                frame = int(off + ev["frame"])
                # the sound starts on the frame that shows the contact (the physical instant is at most
                # half a frame away, see sim_time), so picture and sound agree frame for frame
                t = frame / fps
                obj = ev["a_material"] if ev["a"] not in ("floor", "wall") else ev["b_material"]
                surf = ev["b_material"] if ev["a"] not in ("floor", "wall") else ev["a_material"]
                surf = shot.floor if surf == "wall" and shot.setting != "indoor" else surf
                snd = au.impact(obj, surf, ev["speed"], rng)
                if shot.slow_motion < 1.0:  # slowed-down sound for slowed-down picture
                    snd = np.interp(np.arange(0, len(snd), shot.slow_motion), np.arange(len(snd)), snd)
                    snd = snd.astype(np.float32)
                au.place(mix, snd, int(round(t * au.SR)), (ev["x"] / world_w) * 2 - 1)
                collisions.append({"frame": frame, "time": round(t, 6),
                                   "sim_time": round(float(off / fps + ev["time"]), 6), "shot": shot.index,
                                   "bodies": [ev["a"], ev["b"]], "speed": round(ev["speed"], 3)})
            for fs in m.footsteps:
                t = (off + fs["frame"]) / fps  # on the frame where the foot is planted
                au.place(mix, au.footstep(fs["material"], rng, fs["legs"]), int(round(t * au.SR)),
                         (fs["x"] / world_w) * 2 - 1)
                footsteps.append({"frame": int(off + fs["frame"]), "time": round(t, 6), "subject": fs["subject"]})
            if any(scene.subjects[s].kind == "car" and shot.actions.get(s) == "drive" for s in shot.subjects):
                s0, s1 = int(off / fps * au.SR), int((off + counts[shot.index]) / fps * au.SR)
                tt = np.arange(s1 - s0) / au.SR
                hum = 0.05 * np.sin(2 * np.pi * 48 * tt + 3 * np.sin(2 * np.pi * 0.5 * tt)) + 0.02 * np.sin(
                    2 * np.pi * 96 * tt)
                mix[:, s0:s1] += hum.astype(np.float32)
        if scene.ambience:
            mix += au.ambience(scene.ambience, n_samples, np.random.default_rng([spec.seed, 72]))
        if scene.music:
            mix += au.music(scene.music["mood"], scene.music["instrument"], scene.music["tempo"], n_samples,
                            np.random.default_rng([spec.seed, 73]))

        # dialogue: each line spoken by its character from 0.3 s into its shot, one after another
        tts = get_tts()
        ok, why = tts.available()
        speech_lines: list[str] = []
        speaking: dict[str, np.ndarray] = {}
        speech_status = "none requested"
        if scene.dialogue:
            speech_status = "spoken" if ok else why
        voices: dict[str, int] = {}
        for shot, off in zip(scene.shots, offsets, strict=False):
            cursor = int((off / fps + 0.3) * au.SR)
            for line in shot.dialogue:
                speech_lines.append(line["text"])
                if not ok:
                    continue
                spk = line["speaker"] or "narrator"
                voice = voices.setdefault(spk, len(voices))
                wav = au.resample(tts.synth(line["text"], voice), tts.sample_rate, au.SR)
                au.place(mix, wav * 0.8, cursor, 0.0)
                if line["speaker"]:
                    env = au.speaking_envelope(wav, cursor, total, fps, n_samples)
                    speaking[spk] = np.maximum(speaking.get(spk, env), env)
                if cursor + len(wav) > n_samples:
                    speech_status = "spoken (cut at the end of the clip)"
                cursor += len(wav) + int(0.3 * au.SR)

        peak = float(np.abs(mix).max())
        if peak > 0.98:  # normalise rather than clip, so impact onsets keep their shape
            mix *= 0.98 / peak

        def frames() -> Iterator[np.ndarray]:
            for shot, m, n, off in zip(scene.shots, motions, counts, offsets, strict=False):
                r = ShotRenderer(shot, scene.subjects, m, scene.style, width, height, n, spec.seed, cameos,
                                 speaking, int(off))
                yield from r.frames()

        meta = {
            "backend": self.name,
            "version": self.version,
            "prompt": scene.prompt,
            "seed": spec.seed,
            "style": scene.style,
            "scene": scene.to_dict(),
            "speech_text": speech_lines,
            "speech": speech_status,
            "tts": tts.name if ok and speech_lines else None,
            "tts_available": ok,
            "collisions": collisions,
            "footsteps": footsteps,
            "cameos": sorted(cameos),
            "remix_of": None,
        }
        return Clip(fps=fps, width=width, height=height, n_frames=total, frames=frames, audio=mix,
                    sample_rate=au.SR, metadata=meta)
