"""Fetch the extra real camera footage listed in evals/detector_real_manifest.json: `python -m evals.detector_data`.

The clips come from Debian packages (the only source of real video with a stated licence reachable here):
`apt-get download PKG=VERSION` into a temporary folder, the .deb's sha256 checked against the manifest,
`dpkg -x` (nothing is installed), every source file's sha256 checked, then each clip written to the extra
data folder: video files are copied byte for byte; image sequences are packed losslessly (FFV1 in MKV,
grey, 25 fps: the rate the sequence reader assumes; nothing is re-compressed). The footage stays out of the
repo; `extra_dir()` says where it is (env REELGATE_DETECTOR_EXTRA, default ~/.cache/reelgate/detector_real_extra).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

MANIFEST = Path(__file__).resolve().parent / "detector_real_manifest.json"
SEQUENCE_FPS = 25


class FetchError(RuntimeError):
    """A package could not be fetched or its content does not match the manifest."""


def extra_dir() -> Path:
    env = os.environ.get("REELGATE_DETECTOR_EXTRA")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "reelgate" / "detector_real_extra"


def manifest() -> dict:
    return json.loads(MANIFEST.read_text())


def _sha256_bytes(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


def _sequence_files(root: Path, pattern: str) -> list[Path]:
    """Files of an ffmpeg-style %0Nd sequence, in frame order."""
    folder = (root / pattern).parent
    stem, _, rest = Path(pattern).name.partition("%")
    width = int(rest[:2].strip("d"))
    suffix = rest[rest.index("d") + 1 :]
    return sorted(
        p for p in folder.iterdir()
        if p.name.startswith(stem) and p.name.endswith(suffix) and len(p.name) == len(stem) + width + len(suffix)
    )


def _pack_sequence(frames: list[Path], dst: Path) -> None:
    """Grey PGM frames -> lossless FFV1/MKV (pixels unchanged; only the container is new)."""
    import av
    import numpy as np
    from PIL import Image

    tmp = dst.with_suffix(".part.mkv")
    # bitexact: no random segment id or encoder string, so the same frames always give the same bytes (the
    # feature cache and the model's training record key clips by sha256)
    with av.open(str(tmp), "w", options={"fflags": "+bitexact"}) as out:
        first = np.asarray(Image.open(frames[0]).convert("L"))
        st = out.add_stream("ffv1", rate=Fraction(SEQUENCE_FPS), options={"flags": "+bitexact"})
        st.width, st.height, st.pix_fmt = first.shape[1], first.shape[0], "gray"
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.asarray(Image.open(f).convert("L")), format="gray")
            vf.pts = i
            for pkt in st.encode(vf):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    tmp.replace(dst)


def missing(dest: Path | None = None) -> list[str]:
    dest = dest or extra_dir()
    return [c["name"] for c in manifest()["clips"] if not (dest / c["name"]).is_file()]


def fetch(dest: Path | None = None, verbose: bool = True) -> list[Path]:
    """Fetch every clip of the manifest that is not yet in `dest`; returns the clip paths. Raises FetchError."""
    dest = dest or extra_dir()
    dest.mkdir(parents=True, exist_ok=True)
    man = manifest()
    todo = [c for c in man["clips"] if not (dest / c["name"]).is_file()]
    for pkg in sorted({c["package"] for c in todo}):
        info = man["packages"][pkg]
        with tempfile.TemporaryDirectory() as tmp:
            tmpd = Path(tmp)
            os.chmod(tmpd, 0o755)  # apt's sandbox user must be able to write the .deb
            if verbose:
                print(f"apt-get download {pkg}={info['version']}")
            r = subprocess.run(
                ["apt-get", "download", f"{pkg}={info['version']}"], cwd=tmpd, capture_output=True, text=True
            )
            debs = list(tmpd.glob(f"{pkg}_*.deb"))
            if r.returncode != 0 or not debs:
                raise FetchError(f"apt-get download {pkg}={info['version']} failed: {r.stderr.strip()[-300:]}")
            got = _sha256_bytes(debs[:1])
            if got != info["sha256"]:
                raise FetchError(f"{debs[0].name}: sha256 {got} does not match the manifest")
            root = tmpd / "x"
            subprocess.run(["dpkg", "-x", str(debs[0]), str(root)], check=True)
            for c in (c for c in todo if c["package"] == pkg):
                if "%" in c["source"]:
                    files = _sequence_files(root, c["source"])
                    if len(files) != c["frames"]:
                        raise FetchError(f"{c['name']}: {len(files)} frames, manifest says {c['frames']}")
                else:
                    files = [root / c["source"]]
                got = _sha256_bytes(files)
                if got != c["sha256"]:
                    raise FetchError(f"{c['name']}: source sha256 {got} does not match the manifest")
                if "%" in c["source"]:
                    _pack_sequence(files, dest / c["name"])
                else:
                    shutil.copyfile(files[0], dest / c["name"])
                if verbose:
                    print(f"  {c['name']}  ({c['licence']})")
    return [dest / c["name"] for c in man["clips"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", type=Path, default=None, help="default: env REELGATE_DETECTOR_EXTRA or the user cache")
    args = ap.parse_args()
    paths = fetch(args.dest)
    print(f"{len(paths)} extra real clips in {paths[0].parent if paths else args.dest}")


if __name__ == "__main__":
    main()
