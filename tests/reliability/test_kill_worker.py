"""A worker SIGKILLed at a random moment of a run: right results or WorkerDied, no leak.

Twenty runs of a small graph whose nodes sleep briefly, on the multiprocessing
backend (default start method). A thread kills one foldgraph worker (a
descendant of this process that is not multiprocessing's fork server or
resource tracker) after a seeded random delay. Each run either returns the
reference predictions bit for bit or raises ``WorkerDied`` naming a node of
the graph; after ``clear()`` no segment of this process is left in /dev/shm
and no worker process is alive. Half the runs allow one retry, half none, so
both outcomes occur. ``pytest -s`` prints the counts.
"""

import collections
import os
import random
import signal
import threading
import time

import numpy as np
import pytest
from conftest import wait_until
from procs import alive, workers
from sklearn.base import BaseEstimator, RegressorMixin

from foldgraph import FoldIndex, Learner, ParallelProcessing, WorkerDied
from foldgraph.engine.buffers import segment_names
from foldgraph.engine.pool import worker_pool

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

RUNS = 20
SEED = 20261206
NAP = 0.08  # seconds each node sleeps: 8 nodes on 2 workers, ~0.35 s a run
X = np.random.RandomState(0).rand(40, 3)
Y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * np.sin(np.arange(40.0))


class Napping(RegressorMixin, BaseEstimator):
    """Least squares that sleeps ``NAP`` seconds in fit: long enough to be killed in."""

    def __init__(self, offset=0.0):
        self.offset = offset

    def fit(self, X, y):
        time.sleep(NAP)
        self.coef_ = np.linalg.lstsq(X, y + self.offset, rcond=None)[0]
        return self

    def predict(self, X):
        return X @ self.coef_


def learners():
    return [Learner(Napping(), FoldIndex(3), name="a"),
            Learner(Napping(offset=1.0), FoldIndex(3), name="b")]  # fmt: skip


def ours(baseline: set) -> list:
    """The workers started since ``baseline`` (pids of processes an earlier test left)."""
    return [p for p in workers() if p.pid not in baseline]


class Killer(threading.Thread):
    """After ``delay`` seconds, SIGKILL one of our workers (chosen by ``rng``) unless
    ``stop`` is set."""

    def __init__(self, delay: float, rng: random.Random, baseline: set):
        super().__init__(daemon=True)
        self.delay, self.rng, self.baseline = delay, rng, baseline
        self.stop = threading.Event()
        self.victim = self.at = None

    def run(self):
        if self.stop.wait(self.delay):
            return
        candidates = sorted(p.pid for p in ours(self.baseline))
        if candidates:
            self.victim = self.rng.choice(candidates)
            self.at = time.monotonic()
            os.kill(self.victim, signal.SIGKILL)


@pytest.fixture
def no_pool():
    """Each run starts its own workers and clear() stops them (the pool's reuse is
    tested in tests/engine/test_pool.py): a run's workers are exactly the new processes."""
    pool = worker_pool()
    timeout, pool.idle_timeout = pool.idle_timeout, 0
    pool.shutdown()
    yield
    pool.idle_timeout = timeout


def test_worker_killed_at_a_random_moment(no_pool):
    with ParallelProcessing("sequential") as pp:
        want = pp.map(learners(), "fit", X, Y, return_preds=["a", "b"])
    rng = random.Random(SEED)
    outcomes = collections.Counter()
    before = set(segment_names(os.getpid()))
    baseline = {p.pid for p in workers()}
    for run in range(RUNS):
        retries = run % 2
        pp = ParallelProcessing("multiprocessing", n_jobs=2, retries=retries)
        seen, killer = set(), None  # every worker pid of the run; the killing thread
        try:
            pp.map(Learner(Napping(), name="warm"), "fit", X[:6], Y[:6])  # workers up
            seen.update(pp.worker_pids)
            assert {p.pid for p in ours(baseline)} == seen
            killer = Killer(rng.uniform(0.0, 0.3), rng, baseline)
            t0 = time.monotonic()
            killer.start()
            try:
                got = pp.map(learners(), "fit", X, Y, return_preds=["a", "b"])
            except WorkerDied as error:
                ended = time.monotonic()
                assert error.node in pp.graph.nx, error.node
                assert f"'{error.node}'" in str(error) and error.task in ("a", "b"), str(error)
                outcome = "WorkerDied"
            else:
                ended = time.monotonic()
                for a, b in zip(got, want):
                    np.testing.assert_array_equal(a, b)
                outcome = "identical"
            killer.stop.set()
            killer.join()
            if killer.victim is None:
                when = "no kill"
            elif killer.at < ended:
                when = "killed during the run"
            else:
                when = "killed after the run"
            outcomes[(f"retries={retries}", when, outcome)] += 1
            print(f"run {run:2d} retries={retries} delay={killer.delay:.3f}s "
                  f"took={ended - t0:.2f}s {when}: {outcome}")  # fmt: skip
            # the run's buffers are gone whatever happened, before clear()
            assert set(segment_names(os.getpid())) <= before
        finally:
            seen.update(pp.worker_pids)  # replacements of the killed worker
            pp.clear()
        assert not set(segment_names(os.getpid())) - before
        assert wait_until(lambda: not ours(baseline), timeout=5), (
            f"left after clear(): {ours(baseline)}"
        )
        assert not [pid for pid in seen | {killer.victim} - {None} if alive(pid)]
    print("\nkill-worker outcomes:")
    for key, count in sorted(outcomes.items()):
        print(f"  {' / '.join(key)}: {count}")
    assert sum(outcomes.values()) == RUNS
    assert any(when == "killed during the run" for _, when, _ in outcomes), outcomes
