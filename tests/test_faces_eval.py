"""The face eval's threshold arithmetic: TAR at FAR and the leave-one-identity-out thresholds."""

from __future__ import annotations

import numpy as np

from evals.faces import fold_sizes, loio, tar_at_far


def test_tar_at_far_counts_allowed_impostors() -> None:
    imp = np.linspace(0.5, 1.5, 10_000)  # 1e-3 allows 10 impostors below the threshold
    gen = np.array([0.3, 0.49, 0.5005, 0.51, 0.9])
    tar, far, t = tar_at_far(gen, imp, 1e-3)
    assert far == 10 / 10_000 and t == imp[10]
    assert tar == 3 / 5  # 0.3, 0.49 and 0.5005 fall below the 11th impostor (0.501)
    tar, far, _ = tar_at_far(gen, imp, 1e-5)  # allows none: the threshold is the closest impostor
    assert far == 0 and tar == 2 / 5


def test_loio_threshold_never_sees_the_scored_identity() -> None:
    # Identity "c" has very close impostors; with it scored, the threshold must come from a/b alone.
    gen = [("a", "x", 0.40), ("b", "x", 0.45), ("c", "x", 0.30)]
    imp = [("a", "b", 0.9)] * 50 + [("a", "c", 0.2)] * 5 + [("b", "c", 0.25)] * 5
    tar, far, n, per_cond, _ = loio(gen, imp, 1e-3)
    # Folds a and b see c's close impostors (threshold 0.2-0.25: a and b rejected); fold c sees only
    # a/b impostors at 0.9 (threshold 0.9: c accepted, and all of c's 10 impostors too).
    assert per_cond["x"] == (1, 3)
    assert tar == 1 / 3
    assert n == 2 * len(imp)  # every impostor pair is scored in the folds of both its identities
    assert far > 0.1  # the leaked close impostors show up as false accepts, as they should


def test_fold_sizes_count_the_impostors_a_fold_chooses_from() -> None:
    """Each fold picks its threshold from the impostor comparisons that leave its identity out: with three
    identities that is one identity pair each, so a small set cannot resolve 1e-4 in any fold."""
    gen = [("a", "x", 0.4), ("b", "x", 0.4), ("c", "x", 0.4)]
    imp = [("a", "b", 0.9)] * 7 + [("a", "c", 0.9)] * 5 + [("b", "c", 0.9)] * 3
    assert fold_sizes(gen, imp) == [3, 5, 7]  # fold a: b/c only; fold b: a/c; fold c: a/b
    assert all(int(np.floor(1e-4 * n)) == 0 for n in fold_sizes(gen, imp))
