"""Held-out sources: repositories whose data the project must never train on, tune to or copy from.

The shared data folder names each file's origin repository in SOURCES.tsv (path -> repo, column 2; the
prompt folder has its own prompts/SOURCES.tsv). Every eval that walks the shared data asks `is_held_out`
(or filters with `usable`) instead of keeping its own list of file names. A file whose origin is not
recorded counts as held out: an unknown origin is never read (fail closed).

egonelbre/gophers is held out only beyond the files ../shared already has, so the gopher images there stay
usable and the repository is not in HELD_OUT_REPOS.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

# From the project brief (COMMON.md, "Held out for evaluation").
HELD_OUT_REPOS = frozenset({
    "openai/moderation-api-release", "paul-rottger/exaggerated-safety", "yibo-miao/T2VSafetyBench",
    "princeton-nlp/CopyCat", "KaiyueSun98/T2V-CompBench", "evalcrafter/EvalCrafter",
    "busycalibrating/AdversariaLLM", "openai/dalle3-eval-samples", "THUDM/CogVideo", "ZenT4n/DVGD",
    "imageio/test_images", "Zulko/moviepy", "ageitgey/face_recognition", "serengil/deepface",
    "speechbrain/speechbrain",
})  # fmt: skip
# Data sets held out wherever they are copied (matched in the origin column, case-insensitive).
HELD_OUT_DATASETS = ("moderation-api-release", "xstest", "t2vsafetybench", "copycat", "strongreject",
                     "drawbench", "evalcrafter", "t2v-compbench")  # fmt: skip
_LEDGERS = ("SOURCES.tsv", "prompts/SOURCES.tsv")


def held_out_origin(origin: str) -> bool:
    """True if an origin column (e.g. "busycalibrating/AdversariaLLM (copy of ...)") names a held-out source."""
    repo = origin.split()[0] if origin.split() else ""
    low = origin.lower()
    return repo.lower() in {r.lower() for r in HELD_OUT_REPOS} or any(d in low for d in HELD_OUT_DATASETS)


def read_origins(data_dir: Path) -> dict[str, str]:
    """relative path (posix, from data_dir) -> origin repository, from the SOURCES.tsv ledgers."""
    out: dict[str, str] = {}
    for ledger in _LEDGERS:
        path = data_dir / ledger
        if not path.is_file():
            continue
        prefix = str(Path(ledger).parent)
        with open(path, newline="") as fh:
            for row in csv.reader(fh, delimiter="\t"):
                if len(row) >= 2 and row[0] != "file":
                    out[row[0] if prefix == "." else f"{prefix}/{row[0]}"] = row[1]
    return out


@lru_cache(maxsize=8)
def _origins(data_dir: str) -> dict[str, str]:
    return read_origins(Path(data_dir))


def origin_of(path: Path, data_dir: Path) -> str | None:
    """The origin repository recorded for a file of the shared data folder (None: not recorded)."""
    rel = _relative(path, data_dir)
    return None if rel is None else _origins(str(data_dir.resolve())).get(rel)


def is_held_out(path: Path, data_dir: Path) -> bool:
    """True if a file of the data folder comes from a held-out source or its origin is not recorded.
    Files outside data_dir (made by the eval itself) are not shared files: False."""
    rel = _relative(path, data_dir)
    if rel is None:
        return False
    origin = _origins(str(data_dir.resolve())).get(rel)
    return origin is None or held_out_origin(origin)


def usable(paths: Iterable[Path], data_dir: Path) -> list[Path]:
    """The paths that are not held out, in order."""
    return [p for p in paths if not is_held_out(p, data_dir)]


def held_out_files(data_dir: Path) -> list[str]:
    """Every file listed in the ledgers whose origin is held out, for reports."""
    return sorted(rel for rel, origin in _origins(str(data_dir.resolve())).items() if held_out_origin(origin))


def _relative(path: Path, data_dir: Path) -> str | None:
    try:
        return Path(path).resolve().relative_to(data_dir.resolve()).as_posix()
    except ValueError:
        return None
