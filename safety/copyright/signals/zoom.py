"""Where to look again, closer: regions of a frame proposed for a second, zoomed keypoint pass.

A figure 64 px tall in a 720p frame keeps only a handful of SIFT keypoints at the frame's matching size,
too few for a homography, yet several of them already vote (ratio test) for the right reference, and
they sit together. Random votes for a reference scatter over the frame. So the first pass's own votes,
counted per reference in small windows, say where a small copy may be, at no extra search cost; only
those few windows are cut from the full-resolution frame, upscaled and matched again (keypoints.py).
"""

from __future__ import annotations

import numpy as np

CELL = 64  # px of the matching frame; a window is 2 x 2 cells, moved one cell at a time
# ratio-test votes of ONE reference inside a window for it to be looked at again. 3, not 4, since the 48 px
# reference views (keypoints.SMALL_VIEWS) give a 48 px copy a few more (evals/copyright_small.py)
MIN_VOTES = 3
REGIONS = 2  # windows per frame at most (each costs a SIFT pass on an upscaled crop)


def propose(
    points: np.ndarray,
    keys: np.ndarray,
    size: tuple[int, int],
    skip: set[int] | frozenset[int] = frozenset(),
    regions: int | None = None,
) -> list[tuple[tuple[int, int, int, int], int]]:
    """((x0, y0, x1, y1) in matching-frame pixels, reference id) of the windows holding the most votes of
    one reference (at least MIN_VOTES), best first, at most `regions` (default REGIONS), none sharing a
    cell with a better one.

    `points`: (n, 2) query positions of the votes; `keys`: reference id * 2 + mirrored of each vote (a
    mirrored copy votes through mirrored descriptors: counted apart, as the homography is). References
    in `skip` (already found) propose nothing."""
    regions = REGIONS if regions is None else regions
    if skip and len(keys):
        keep = ~np.isin(keys // 2, np.fromiter(skip, np.int64, len(skip)))
        points, keys = points[keep], keys[keep]
    if regions <= 0 or len(keys) == 0:
        return []
    w, h = size
    nx, ny = w // CELL + 2, h // CELL + 2
    cells = np.floor(points / CELL).astype(np.int64)
    # each vote lies in the four windows whose top-left cell is its cell or one cell up/left (+1: no negatives)
    wx = np.concatenate([cells[:, 0] - dx for dx in (0, 1, 0, 1)]) + 1
    wy = np.concatenate([cells[:, 1] - dy for dy in (0, 0, 1, 1)]) + 1
    codes, counts = np.unique((np.tile(keys, 4) * ny + wy) * nx + wx, return_counts=True)
    good = counts >= MIN_VOTES
    codes, counts = codes[good], counts[good]
    out: list[tuple[tuple[int, int, int, int], int]] = []
    taken: list[tuple[int, int]] = []
    for i in np.argsort(-counts, kind="stable"):
        u = int(codes[i])
        cx, cy, key = u % nx - 1, (u // nx) % ny - 1, u // (nx * ny)
        if any(max(abs(cx - tx), abs(cy - ty)) <= 1 for tx, ty in taken):
            continue  # shares a cell with a chosen window: the same place
        taken.append((cx, cy))
        box = (max(0, cx * CELL), max(0, cy * CELL), min(w, (cx + 2) * CELL), min(h, (cy + 2) * CELL))
        out.append((box, key // 2))
        if len(out) >= regions:
            break
    return out
