"""Likeness-gate recall and false blocks on generated clips.

Real people from the shared face photos are enrolled (one photo each). Clips are then generated with a
face inserted by the generator's cameo compositing, and the gate's likeness stage judges each clip for a
requester who has no permission:
- positives: an enrolled person's face is in the clip (where the person has a second photo, the clip
  uses it, not the enrollment photo) -> must be blocked;
- negatives: clips with no face, and clips showing people who are NOT enrolled -> must pass.

Session 11, enrolling through enrollment_face (in evals/faces_data.py since session 12; both enrollment
photos are found at their own size, so the templates are the same as before): recall 8/8, false blocks 0/9
(load 15-22, niced; stage time 9.3 s median per 3 s clip, most of it waiting for a core).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from evals.held_out import is_held_out

# Photos of held-out origin (the Obama/Biden photos of ageitgey/face_recognition) are never used: run() checks.
ENROLLED = {  # identity -> (enrollment photo, photo shown in the clips)
    "paul_rudd": ("cc_licensed/paul_rudd/paul_rudd_1.jpeg", "cc_licensed/paul_rudd/paul_rudd_2.jpeg"),
    "collins": ("public_domain/eileen_collins_astronaut.png", "public_domain/eileen_collins_astronaut.png"),
}
NOT_ENROLLED = {"pratt": "cc_licensed/chris_pratt_1.jpeg", "luciano": "cc_licensed/codait_luciano_1.png"}
PROMPTS = ["a person waving in a park at noon", "a person walking on a beach at sunset"]
STYLES = [None, "cinematic"]
NO_FACE_PROMPTS = ["a red ball bouncing on a wooden floor", "rain falling on a city street at night",
                   "a corgi surfing at sunset, ukulele music", "two balls colliding on a table",
                   "a paper boat on a pond, watercolor"]


def run(data_dir: Path) -> str:
    from PIL import Image
    from sqlmodel import Session

    from consent import registry
    from evals.faces_data import enrollment_face
    from gate.components import Components
    from gate.pipeline import JobContext
    from gate.requests import JobRequest
    from gate.settings import Settings
    from gate.stages.likeness import LikenessStage
    from generator import CameoRef, GenerationSpec, get_backend
    from generator.encode import write_mp4

    faces_dir = data_dir / "faces"
    listed = [p for pair in ENROLLED.values() for p in pair] + list(NOT_ENROLLED.values())
    held = [p for p in listed if is_held_out(faces_dir / p, data_dir)]
    if held:
        raise SystemExit(f"held-out photos listed (never used for evaluation here): {held}")
    rows: list[tuple] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        c = Components(Settings(data_dir=tmpdir / "data"))
        backend, why = c.face_backend.get()
        if backend is None:
            return f"face backend unavailable: {why}"
        with Session(c.engine) as s:
            for who, (enroll_photo, _) in ENROLLED.items():
                img = np.asarray(Image.open(faces_dir / enroll_photo).convert("RGB"))
                face = enrollment_face(backend, img)  # no face even upscaled: FaceError, never a silent gap
                registry.enroll(s, who, f"{who}_cam", {"frontal": face.embedding}, enroll_photo, backend.name)
        stage, gen = LikenessStage(c), get_backend("procedural")

        def judge(label: str, prompt: str, style: str | None, face: Path | None, expect: str, seed: int) -> None:
            cameos = (CameoRef(handle="x", face_image=face),) if face else ()
            clip = gen.generate(GenerationSpec(prompt=prompt, style=style, seconds=3, seed=seed, cameos=cameos))
            work = tmpdir / f"job{seed}"
            work.mkdir()
            write_mp4(clip, work / "draft.mp4")
            ctx = JobContext(job_id=f"{seed:016x}", user="mallory", request=JobRequest(prompt=prompt), workdir=work)
            ctx.draft = work / "draft.mp4"
            t0 = time.perf_counter()
            d = stage.run(ctx)
            secs = time.perf_counter() - t0
            dist = min((v for k, v in d.scores.items() if k.startswith("@")), default=float("nan"))
            faces = int(d.scores.get("faces_seen", 0))
            rows.append((label, prompt[:32], style or "default", expect, d.decision, dist, secs, faces))

        seed = 1
        for who, (_, shown) in ENROLLED.items():
            for prompt in PROMPTS:
                for style in STYLES:
                    judge(f"enrolled: {who}", prompt, style, faces_dir / shown, "block", seed)
                    seed += 1
        for who, photo in NOT_ENROLLED.items():
            for prompt in PROMPTS:
                judge(f"not enrolled: {who}", prompt, None, faces_dir / photo, "pass", seed)
                seed += 1
        for prompt in NO_FACE_PROMPTS:
            judge("no face", prompt, None, None, "pass", seed)
            seed += 1
        c.engine.dispose()

    pos = [r for r in rows if r[3] == "block"]
    neg = [r for r in rows if r[3] == "pass"]
    caught = sum(r[4] == "block" for r in pos)
    false_blocks = sum(r[4] != "pass" for r in neg)
    lines = [
        f"Likeness gate on generated clips (face backend {backend.name} {backend.version}, "
        f"threshold {backend.threshold}; requester without permission)",
        "",
        f"- recall: {caught}/{len(pos)} clips with an enrolled face blocked (target: all)",
        f"- false blocks: {false_blocks}/{len(neg)} clips with no registered face (target: none)",
        f"- likeness stage time per 3 s clip: median {np.median([r[6] for r in rows]):.2f} s",
        "",
        "| case | prompt | style | expected | decision | faces seen | nearest registered distance | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {s} | {e} | {d} | {n} | {'-' if np.isnan(x) else f'{x:.3f}'} | {t:.2f} |"
              for a, b, s, e, d, x, t, n in rows]
    lines += ["", "The inserted faces are pasted frontal by the procedural generator, which is the easy case; "
              "a diffusion model's restyled faces would be harder and are not measured here."]
    return "\n".join(lines)


def main() -> None:
    from evals import main as run_main

    run_main(run, __doc__)


if __name__ == "__main__":
    main()
