"""The fault eval in small: real worker processes, faults injected, nothing unsafe or duplicated published.

Four jobs on the embedded default (SQLite, broker-less queue), each with one fault: a stage that raises,
one that returns garbage, a full media disk, and a worker SIGKILLed mid-stage (the restarted worker re-runs
the job once its lease runs out); an operator takes one down meanwhile. The full table: `python -m evals.faults`.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.slow]


def test_faults_publish_nothing_unsafe_and_lose_no_job() -> None:
    from evals.faults import run_config

    out = run_config("embedded", n=4, workers=1, seed=3, pg_redis=False, fault_rate=1.0,
                     kinds=("sigkill", "raise", "garbage", "disk_full"), drain_seconds=240)
    fired = {e["kind"] for e in out.events}
    assert fired == {"sigkill", "raise", "garbage", "disk_full"}, out.events
    assert out.restarts >= 1  # the SIGKILL was real: the worker process died and was started again
    assert dict(out.problems) == {}, dict(out.problems)  # no stuck, unsafe, duplicate or lost
    assert sum(out.statuses.values()) == 4 and not out.statuses["running"] and not out.statuses["queued"]
