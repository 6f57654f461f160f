"""Workers give memory back: the run's buffers at its end, freed heap after large nodes."""

import platform

import numpy as np
import pytest
from conftest import wait_until

from foldgraph import FoldIndex, FullIndex, Learner, ParallelProcessing
from foldgraph.testing import OLS

pytestmark = pytest.mark.usefixtures("no_leaks")

linux = pytest.mark.skipif(platform.system() != "Linux", reason="reads /proc/<pid>")
glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc_trim")

#: kept alive in the worker: pins the top of its heap above the freed blocks
_PINNED = []


class Plain(OLS):
    """OLS defined here: its unpickling imports this module (and what it imports) in the
    worker, so the warm-up loads every module the hog's node needs."""


class HeapHog(OLS):
    """OLS whose fit leaves 48 MB of freed blocks inside the worker's heap.

    Freeing a 16 MB block (mmapped) raises glibc's dynamic mmap threshold
    past 16 MB: the next three come from the heap. A 1 MB block allocated
    after them stays alive, so the heap's top cannot shrink when they are
    freed: without ``malloc_trim`` the 48 MB stay resident.
    """

    def fit(self, X, y):
        np.ones(2_000_000)  # 16 MB, mmapped, freed at once
        blocks = [np.ones(2_000_000) for _ in range(3)]
        _PINNED.append(np.ones(131_072))
        del blocks
        return super().fit(X, y)


def anonymous_bytes(pid: int) -> int:
    """Resident anonymous memory of ``pid`` (its heap; not shared-memory segments)."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Anonymous:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no Anonymous line for pid {pid}")


def mapped_segments(pid: int) -> list[str]:
    """foldgraph shared-memory segments ``pid`` still maps (unlinked ones too)."""
    with open(f"/proc/{pid}/maps") as f:
        return [line.split()[-2 if line.rstrip().endswith("(deleted)") else -1]
                for line in f if "/fg_" in line]  # fmt: skip


@linux
def test_workers_close_the_run_buffers_when_the_run_ends():
    """The parent unlinks a run's segment at its end; its memory is freed only
    once the workers unmap it too, which they do at once, not at the next run."""
    X = np.arange(4000.0).reshape(1000, 4)
    y = X @ [1.0, 2.0, 3.0, 4.0]
    with ParallelProcessing("multiprocessing", n_jobs=2) as pp:
        out = pp.map(Learner(OLS(), FoldIndex(4), name="ols"), "fit", X, y, return_preds=True)
        pids = pp.worker_pids
        assert wait_until(lambda: not any(mapped_segments(pid) for pid in pids)), {
            pid: mapped_segments(pid) for pid in pids
        }
        again = pp.map(Learner(OLS(), FoldIndex(4), name="ols"), "fit", X, y, return_preds=True)
        assert pp.worker_pids == pids  # the same workers attach the next run's buffers
    np.testing.assert_array_equal(again, out)
    np.testing.assert_allclose(out.ravel(), y, rtol=1e-5)


@linux
@glibc
def test_worker_trims_its_heap_after_a_large_node():
    """A node over TRIM_ABOVE bytes of input is followed by malloc_trim: the 48 MB
    the estimator freed inside the heap go back to the system."""
    from foldgraph.engine.worker import TRIM_ABOVE

    X = np.ones((TRIM_ABOVE // 64 + 1, 8))  # one fit reads TRIM_ABOVE bytes and more
    X[:, 0] = np.arange(len(X))
    y = 2.0 * X[:, 0]
    with ParallelProcessing("multiprocessing", n_jobs=1) as pp:
        pp.map(Learner(Plain(), FullIndex(), name="warm-up"), "fit", X, y)
        pid = pp.worker_pids[0]
        before = anonymous_bytes(pid)
        hog = Learner(HeapHog(), FullIndex(), name="hog")
        pp.map(hog, "fit", X, y)
        wait_until(lambda: anonymous_bytes(pid) - before < 16e6)  # it trims after answering
        grown = anonymous_bytes(pid) - before
    assert hog.estimator_.coef_[0] == pytest.approx(2.0)
    assert grown < 16e6, f"the worker kept {grown / 1e6:.0f} MB after the node"
