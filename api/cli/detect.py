"""`reelgate detect FILE`: the artifact-based AI-generated-video detector from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from api.cli.base import cli, emit, fail, json_option


@cli.command("detect")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--max-seconds", type=float, default=None, help="analyse at most this much (default: the model's bound)")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None, help="model file")
@json_option
def detect(file: Path, max_seconds: float | None, model_path: Path | None, as_json: bool) -> None:
    """Estimate whether FILE (video, GIF or image) is AI-generated, with per-artifact evidence."""
    from safety.detector import AIVideoDetector, DetectorError

    det = AIVideoDetector.load(model_path)
    ok, why = det.available()
    if not ok:
        fail(f"detector unavailable: {why}")
    try:
        res = det.predict(file) if max_seconds is None else det.predict(file, max_seconds=max_seconds)
    except DetectorError as exc:
        fail(str(exc))
    obj = res.to_dict()
    groups = sorted(
        ((g, a["score"]) for g, a in res.artifacts.items() if a["score"] is not None), key=lambda t: -t[1]
    )
    human = (
        f"{file}: p(AI-generated) = {res.ai_probability:.2f} [{res.model_version}]\n"
        + "\n".join(f"  {g:14s} {s:.2f}  (0.5 = neutral, higher points to AI)" for g, s in groups)
        + "".join(f"\n  feature {t['feature']} = {t['value']}: {t['contribution']:+.2f}" for t in res.top_features)
        + (f"\n  most AI-like windows around frames {', '.join(map(str, res.evidence_frames))}"
           if res.evidence_frames else "")
        + "".join(f"\n  note: {n}" for n in res.notes)
    )
    emit(obj, as_json, human=human)
