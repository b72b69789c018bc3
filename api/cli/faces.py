"""`reelgate faces embed|compare`: face detection and identity embeddings from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from api.cli.base import cli, emit, fail, json_option, settings


def _backend():
    from consent.faces import get_face_backend

    backend = get_face_backend(settings().insightface_dir)
    ok, why = backend.available()
    if not ok:
        fail(f"face backend {backend.name} unavailable: {why}")
    return backend


def _analyze(backend, image: Path):
    from consent.faces import BackendUnavailable, FaceError, load_image_rgb

    try:
        return backend.analyze(load_image_rgb(image))
    except (FaceError, BackendUnavailable) as exc:
        fail(str(exc))


@cli.group()
def faces() -> None:
    """Face detection and identity embeddings (dlib, or insightface when configured)."""


@faces.command("embed")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
def embed(images: tuple[Path, ...], as_json: bool) -> None:
    """Detect every face in each IMAGE and print its box and embedding (one JSON object per image)."""
    backend = _backend()
    for image in images:
        found = _analyze(backend, image)
        obj = {
            "image": str(image),
            "faces": [
                {
                    "box": list(f.box),
                    "det_score": round(f.det_score, 4),
                    "embedding": [round(float(v), 6) for v in f.embedding],
                }
                for f in found
            ],
            "backend": backend.name,
        }
        emit(obj, as_json, human=f"{image}: {len(found)} face(s) [{backend.name}]")


@faces.command("compare")
@click.argument("image_a", type=click.Path(path_type=Path))
@click.argument("image_b", type=click.Path(path_type=Path))
@json_option
def compare(image_a: Path, image_b: Path, as_json: bool) -> None:
    """Distance between the largest face of IMAGE_A and the largest face of IMAGE_B."""
    from consent.faces import face_distance

    backend = _backend()
    fa, fb = _analyze(backend, image_a), _analyze(backend, image_b)
    distance = None
    same = None
    if fa and fb:
        a = max(fa, key=lambda f: f.area)
        b = max(fb, key=lambda f: f.area)
        distance = round(face_distance(a.embedding, b.embedding), 6)
        same = distance < backend.threshold
    obj = {
        "faces": [len(fa), len(fb)],
        "distance": distance,
        "same_person": same,
        "threshold": backend.threshold,
        "backend": backend.name,
    }
    if distance is None:
        human = f"no comparison: faces found {len(fa)} / {len(fb)}"
    else:
        verdict = "same" if same else "different"
        human = f"distance {distance:.3f} (threshold {backend.threshold}): {verdict} person"
    emit(obj, as_json, human=human)
