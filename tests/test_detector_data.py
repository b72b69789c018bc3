"""Extra real footage for the detector: the manifest says where each clip comes from, and packing an image
sequence into a video changes no pixel."""

from __future__ import annotations

import re
from pathlib import Path

import av
import numpy as np
from PIL import Image

from evals import detector_data


def test_manifest_entries_are_pinned_hashed_and_licensed() -> None:
    man = detector_data.manifest()
    hexd = re.compile(r"^[0-9a-f]{64}$")
    for pkg in man["packages"].values():
        assert pkg["version"] and hexd.match(pkg["sha256"]) and "copyright" in pkg["copyright"]
    names = [c["name"] for c in man["clips"]]
    assert len(names) == len(set(names)) >= 5
    for c in man["clips"]:
        assert c["package"] in man["packages"], c["name"]
        assert hexd.match(c["sha256"]) and c["licence"].strip() and c["shows"].strip()
        assert ("%" in c["source"]) == ("frames" in c), c["name"]  # sequences state their frame count
        assert "megamind" not in c["name"].lower()  # an animated trailer is not camera footage


def test_sequence_is_found_in_order_and_packed_losslessly(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, size=(32, 48), dtype=np.uint8) for _ in range(4)]
    seq = tmp_path / "seq"
    seq.mkdir()
    for i, f in reversed(list(enumerate(frames))):
        Image.fromarray(f).save(seq / f"image.{i:04d}.pgm")
    (seq / "image.0001.pgm.bak").write_bytes(b"x")  # neither of these belongs to the sequence
    (seq / "other.pgm").write_bytes(b"x")
    files = detector_data._sequence_files(tmp_path, "seq/image.%04d.pgm")
    assert [p.name for p in files] == [f"image.{i:04d}.pgm" for i in range(4)]
    out = tmp_path / "seq.mkv"
    detector_data._pack_sequence(files, out)
    with av.open(str(out)) as c:
        decoded = [f.to_ndarray(format="gray") for f in c.decode(video=0)]
    assert len(decoded) == 4
    for a, b in zip(frames, decoded, strict=True):
        assert np.array_equal(a, b)
    again = tmp_path / "again.mkv"
    detector_data._pack_sequence(files, again)
    assert again.read_bytes() == out.read_bytes()  # reproducible bytes: clips are keyed by sha256


def test_extra_dir_follows_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("REELGATE_DETECTOR_EXTRA", str(tmp_path))
    assert detector_data.extra_dir() == tmp_path
    assert sorted(detector_data.missing()) == sorted(c["name"] for c in detector_data.manifest()["clips"])
