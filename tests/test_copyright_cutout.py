"""A reference with transparency is matched as a figure, whatever its transparent pixels hold and whatever
background a copy is shown on (issue 23, item 3)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from sqlmodel import Session, SQLModel, create_engine

from gate.rights import load_rgb
from safety.copyright import CopyrightIndex, Work, WorkReference, read_image_file, register_work

FIX = Path(__file__).parent / "fixtures" / "copyright"
FIGURE = "vector_party_birthday.png"  # 103 x 128 RGBA drawing


def _figure(tmp_path: Path) -> tuple[Path, Image.Image]:
    """The drawing as a PNG whose transparent pixels are BLACK (what many exporters write)."""
    rgba = np.asarray(Image.open(FIX / FIGURE).convert("RGBA")).copy()
    rgba[rgba[..., 3] == 0, :3] = 0
    path = tmp_path / "figure.png"
    Image.fromarray(rgba).save(path)
    return path, Image.fromarray(rgba)


def _on(fig: Image.Image, bg: np.ndarray) -> np.ndarray:
    out = Image.fromarray(bg).convert("RGBA")
    out.alpha_composite(fig)
    return np.asarray(out.convert("RGB"))


def _pasted(fig: Image.Image, photo: np.ndarray, height: int, at: tuple[int, int]) -> np.ndarray:
    scene = Image.fromarray(photo).convert("RGBA")
    small = fig.resize((round(fig.width * height / fig.height), height), Image.LANCZOS)
    scene.alpha_composite(small, at)
    return np.asarray(scene.convert("RGB"))


@pytest.fixture(scope="module")
def figure_index(tmp_path_factory):
    """The figure registered the way an upload is (gate.rights.load_rgb), indexed from the stored file."""
    tmp = tmp_path_factory.mktemp("cutout")
    path, fig = _figure(tmp)
    engine = create_engine("sqlite://")
    SQLModel.metadata.create_all(engine, tables=[Work.__table__, WorkReference.__table__])

    def put(data: bytes, suffix: str) -> str:
        (tmp / f"ref{suffix}").write_bytes(data)
        return f"ref{suffix}"

    with Session(engine) as s:
        register_work(s, "holder", "party gopher", [], "block", [load_rgb(path, 10_000_000)], put)
        index = CopyrightIndex()
        cp = index.rebuild(s, lambda key: tmp / key)
    assert cp.references == 1
    return index, fig


def _found(index: CopyrightIndex, img: np.ndarray) -> bool:
    return any(m.work == "party gopher" for m in index.check_image(img))


def _half(img: np.ndarray) -> np.ndarray:
    return cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)


def test_found_on_white_at_half_size(figure_index):
    index, fig = figure_index
    assert _found(index, _half(_on(fig, np.full((fig.height, fig.width, 3), 255, np.uint8))))


def test_found_on_noise_at_half_size(figure_index):
    index, fig = figure_index
    noise = np.random.default_rng(3).integers(0, 256, (fig.height, fig.width, 3), dtype=np.uint8)
    assert _found(index, _half(_on(fig, noise)))


def test_found_pasted_into_a_photo(figure_index):
    index, fig = figure_index
    photo = read_image_file(FIX / "coffee_400.jpg")
    assert _found(index, _pasted(fig, photo, 110, (150, 60)))


def test_found_pasted_into_a_photo_mirrored(figure_index):
    index, fig = figure_index
    photo = read_image_file(FIX / "earth_apollo17_640.jpg")
    assert _found(index, np.ascontiguousarray(_pasted(fig, photo, 150, (300, 100))[:, ::-1]))


def test_unrelated_photo_is_not_matched(figure_index):
    index, _ = figure_index
    assert not _found(index, read_image_file(FIX / "chelsea_cat_400.jpg"))


def test_transparent_rgb_is_never_read(tmp_path):
    """The same figure with other junk under its transparent pixels describes identically."""
    from safety.copyright.signals.keypoints import KeypointSignal
    from safety.copyright.signals.pdq import PdqSignal

    _, fig = _figure(tmp_path)
    a = np.asarray(fig).copy()
    b = a.copy()
    b[b[..., 3] == 0, :3] = np.random.default_rng(1).integers(0, 256, (int((b[..., 3] == 0).sum()), 3))
    kp = KeypointSignal()
    assert np.array_equal(kp.describe_reference(a).descriptors, kp.describe_reference(b).descriptors)
    assert [h for _, h, _ in PdqSignal().describe_reference(a)] == [h for _, h, _ in PdqSignal().describe_reference(b)]
