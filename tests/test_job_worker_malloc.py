"""A process that runs jobs keeps the memory it frees for its next buffers (gate.job_worker._keep_freed_memory)."""

import subprocess
import sys
import textwrap

import pytest

# three threads allocate, fill and free frame-sized arrays (1-12 MB), as a job's render, mark and encode threads do;
# the faults counted are those of a second round, once the first has sized the heaps
WORKLOAD = textwrap.dedent("""
    import resource, sys, threading
    import numpy as np
    from gate.job_worker import _keep_freed_memory

    kept = _keep_freed_memory() if sys.argv[1] == "keep" else None

    def work(seed):
        rng = np.random.default_rng(seed)
        for _ in range(40):
            bufs = [np.ones(int(rng.integers(1, 12)) << 18, np.float32) for _ in range(3)]
            del bufs

    def round_():
        threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    round_()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    round_()
    print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def _faults(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", WORKLOAD, mode], capture_output=True, text=True, timeout=120,
                         check=True).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_freed_buffers_are_reused_not_faulted_in_again():
    kept, faults = _faults("keep")
    if kept != "True":
        pytest.skip("this C library has no mallopt (not glibc): the worker leaves malloc as it is")
    # the second round touches ~600,000 pages of freshly allocated arrays; with the memory kept they are the
    # first round's, already mapped (measured: 4 faults; glibc's defaults: 45,000-60,000)
    assert faults < 5_000, faults
    _, default_faults = _faults("default")
    assert default_faults > faults, (default_faults, faults)

