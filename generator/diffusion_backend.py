"""Diffusion text-to-video backend (optional `diffusion` extra): a diffusers pipeline loaded from a local
model folder (never a hub download). The model makes pictures only; the sound is the procedural bed for
the parsed scene (ambience, music, speech), and the metadata says so."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from generator import audio as au
from generator.errors import BackendUnavailableError, GeneratorError
from generator.scene import parse_prompt
from generator.spec import Clip, GenerationSpec
from generator.tts import get_tts
from generator.validate import validate_spec

VERSION = "0.1.0"


class DiffusionBackend:
    name = "diffusion"
    version = VERSION

    def __init__(self, model_dir: str | Path | None = None, steps: int = 25, device: str = "cpu",
                 dtype: str = "float32", model_frames: int = 16, height: int | None = None,
                 width: int | None = None, guidance_scale: float = 9.0, **extra: Any) -> None:
        self.model_dir = Path(model_dir) if model_dir else None
        self.steps, self.device, self.dtype = int(steps), device, dtype
        self.model_frames, self.height, self.width = int(model_frames), height, width
        self.guidance_scale = float(guidance_scale)
        self.extra = extra
        self._pipe = None

    def available(self) -> tuple[bool, str]:
        for mod in ("diffusers", "transformers", "torch"):
            if importlib.util.find_spec(mod) is None:
                return False, f"{mod} is not installed (pip install 'reelgate[diffusion]')"
        if self.model_dir is None:
            return False, "no model_dir configured for the diffusion backend"
        index = self.model_dir / "model_index.json"
        if not index.is_file():
            return False, f"no diffusers model at {self.model_dir} (model_index.json missing)"
        try:
            parts = json.loads(index.read_text())
        except (OSError, json.JSONDecodeError) as e:
            return False, f"{index} is unreadable: {e}"
        missing = [k for k, v in parts.items() if not k.startswith("_") and isinstance(v, list) and v[0]
                   and not (self.model_dir / k).is_dir()]
        if missing:
            return False, f"model at {self.model_dir} lacks component folders: {', '.join(missing)}"
        return True, ""

    def _load(self):
        if self._pipe is None:
            import generator.torch_compat  # noqa: F401, I001  (torchvision op shim, must precede diffusers)
            import torch
            from diffusers import DiffusionPipeline

            dtype = getattr(torch, self.dtype)
            try:
                pipe = DiffusionPipeline.from_pretrained(str(self.model_dir), local_files_only=True,
                                                         torch_dtype=dtype)
            except (OSError, ValueError) as e:
                raise BackendUnavailableError(f"cannot load diffusion model from {self.model_dir}: {e}") from e
            pipe.set_progress_bar_config(disable=True)
            self._pipe = pipe.to(self.device)
        return self._pipe

    def generate(self, spec: GenerationSpec) -> Clip:
        validate_spec(spec)
        ok, why = self.available()
        if not ok:
            raise BackendUnavailableError(f"diffusion backend unavailable: {why}")
        if spec.cameos or spec.source_clip is not None:
            raise GeneratorError("the diffusion backend does not do cameos or remix; use the procedural backend")
        import torch

        pipe = self._load()
        w, h = spec.size
        mh = self.height or max(16, h // 16 * 16)
        mw = self.width or max(16, w // 16 * 16)
        n_out = int(round(spec.seconds * spec.fps))
        k = max(1, min(self.model_frames, n_out))
        gen = torch.Generator(device="cpu").manual_seed(int(spec.seed))
        with torch.inference_mode():
            out = pipe(spec.prompt, num_frames=k, height=mh, width=mw, num_inference_steps=self.steps,
                       guidance_scale=self.guidance_scale, generator=gen, output_type="np", **self.extra)
        video = out.frames[0] if isinstance(out.frames, list | tuple) else out.frames[0]
        video = np.asarray(video, dtype=np.float32)
        if video.ndim != 4 or video.shape[-1] != 3:
            raise GeneratorError(f"diffusion pipeline returned frames of shape {video.shape}")
        frames_u8 = [np.clip(f * 255.0 + 0.5, 0, 255).astype(np.uint8) for f in video]

        def frames() -> Iterator[np.ndarray]:
            # stretch the model's few frames over the clip with cross-fades between neighbours
            for j in range(n_out):
                pos = j * (len(frames_u8) - 1) / max(1, n_out - 1)
                a, t = int(pos), pos - int(pos)
                b = min(a + 1, len(frames_u8) - 1)
                f = cv2.addWeighted(frames_u8[a], 1 - t, frames_u8[b], t, 0) if t > 1e-3 else frames_u8[a]
                yield cv2.resize(f, (w, h), interpolation=cv2.INTER_CUBIC)

        scene = parse_prompt(spec.prompt, spec.style, spec.seed, float(spec.seconds))
        n_samples = int(round(n_out / spec.fps * au.SR))
        mix = au.ambience(scene.ambience, n_samples, np.random.default_rng([spec.seed, 72]))
        if scene.music:
            mix += au.music(scene.music["mood"], scene.music["instrument"], scene.music["tempo"], n_samples,
                            np.random.default_rng([spec.seed, 73]))
        tts = get_tts()
        tts_ok, tts_why = tts.available()
        cursor = int(0.3 * au.SR)
        for line in scene.dialogue if tts_ok else []:
            wav = au.resample(tts.synth(line), tts.sample_rate, au.SR)
            au.place(mix, wav * 0.8, cursor)
            cursor += len(wav) + int(0.3 * au.SR)
        peak = float(np.abs(mix).max()) if mix.size else 0.0
        if peak > 0.98:
            mix *= 0.98 / peak
        meta = {"backend": self.name, "version": self.version, "prompt": spec.prompt, "seed": spec.seed,
                "style": scene.style, "scene": scene.to_dict(), "speech_text": list(scene.dialogue),
                "speech": ("spoken" if tts_ok else tts_why) if scene.dialogue else "none requested",
                "tts": tts.name if tts_ok and scene.dialogue else None, "collisions": [], "footsteps": [],
                "cameos": [], "remix_of": None, "model_dir": str(self.model_dir), "model_frames": len(frames_u8),
                "model_size": [mw, mh], "steps": self.steps,
                "audio": "procedural bed for the parsed scene (the video model makes no sound)"}
        return Clip(fps=spec.fps, width=w, height=h, n_frames=n_out, frames=frames, audio=mix,
                    sample_rate=au.SR, metadata=meta)
