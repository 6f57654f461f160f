"""One ParallelProcessing shared between threads: runs are serialized, results exact.

Issue 16 item 1: two threads calling ``pp.map`` on one manager (or several threads
calling ``predict`` of one ensemble built with ``backend=pp``) hung, returned another
run's predictions or mixed the scheduler state of two runs. A manager now runs one
graph at a time (a per-manager lock); the other callers wait their turn.
"""

import os
import pickle
import threading

import numpy as np
import pytest
from conftest import leftover_children, wait_until
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.tree import DecisionTreeRegressor

from foldgraph import FoldIndex, Learner, ParallelProcessing, SuperLearner, TaskError
from foldgraph.engine.buffers import segment_names
from foldgraph.testing import OLS

pytestmark = [pytest.mark.usefixtures("no_leaks"), pytest.mark.timeout(90)]

BACKENDS = ["sequential", "threading", "multiprocessing"]
N_THREADS, N_CALLS = 4, 3

rng = np.random.RandomState(0)
X = rng.rand(60, 3)
Y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.rand(60)


def tasks(t):
    """Tasks of thread ``t``: two learners, so a run has several nodes in flight."""
    return [Learner(OLS(offset=t), FoldIndex(3), name="r"),
            Learner(Ridge(alpha=1.0 + t), FoldIndex(3), name="s")]  # fmt: skip


def data(t):
    """Each thread's own data, so that a mix-up of two runs shows in the numbers."""
    return X + t, Y * (t + 1)


def in_threads(target, n=N_THREADS):
    """Run ``target(t)`` in ``n`` threads started together; return results and errors."""
    barrier = threading.Barrier(n)
    results, errors = {}, []

    def body(t):
        barrier.wait()
        try:
            results[t] = target(t)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(t,)) for t in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    assert not errors, errors
    return results


def assert_released(pp):
    """After clear(): no segment named after this process, no worker process."""
    pp.clear()
    pid = os.getpid()
    assert wait_until(lambda: not segment_names(pid)), segment_names(pid)
    assert wait_until(lambda: not leftover_children()), leftover_children()


@pytest.mark.parametrize("backend", BACKENDS)
def test_map_from_threads_equals_sequential(backend):
    with ParallelProcessing("sequential") as ref_pp:
        reference = {t: ref_pp.map(tasks(t), "fit", *data(t), return_preds=["r", "s"])
                     for t in range(N_THREADS)}  # fmt: skip
    pp = ParallelProcessing(backend, n_jobs=2)

    def calls(t):
        return [pp.map(tasks(t), "fit", *data(t), return_preds=["r", "s"])
                for _ in range(N_CALLS)]  # fmt: skip

    results = in_threads(calls)
    assert_released(pp)
    assert len(results) == N_THREADS
    for t, outs in results.items():
        assert len(outs) == N_CALLS
        for out in outs:
            for got, want in zip(out, reference[t]):
                np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_predict_from_threads_on_one_ensemble(backend):
    pp = ParallelProcessing(backend, n_jobs=2)
    ens = SuperLearner(folds=3, backend=pp).add([Ridge(), DecisionTreeRegressor(max_depth=3)])
    ens.add_meta(LinearRegression()).fit(X, Y)
    rows = {t: X[t * 10:(t + 1) * 10 + 5] for t in range(N_THREADS)}
    reference = {t: ens.predict(rows[t]) for t in range(N_THREADS)}

    results = in_threads(lambda t: [ens.predict(rows[t]) for _ in range(N_CALLS)])
    assert_released(pp)
    for t, outs in results.items():
        assert len(outs) == N_CALLS
        for out in outs:
            np.testing.assert_array_equal(out, reference[t])


def test_clear_waits_for_the_running_call():
    pp = ParallelProcessing("threading", n_jobs=2)
    started = threading.Event()

    class Slow(OLS):
        def fit(self, X, y):
            started.set()
            threading.Event().wait(0.2)
            return super().fit(X, y)

    out = {}
    runner = threading.Thread(target=lambda: out.update(
        P=pp.map(Learner(Slow(), FoldIndex(2), name="r"), "fit", X, Y, return_preds=True)))
    runner.start()
    assert started.wait(10)
    pp.clear()  # waits for the run instead of pulling its buffers and workers away
    runner.join(30)
    assert out["P"].shape == (60, 1)
    assert_released(pp)


def test_a_node_calling_its_own_manager_is_refused():
    pp = ParallelProcessing("sequential")

    class Reentrant(OLS):
        def fit(self, X, y):
            pp.map(Learner(OLS(), FoldIndex(2), name="inner"), "fit", X, y)
            return super().fit(X, y)

    with pytest.raises(TaskError, match="called the manager that is running it"):
        pp.map(Learner(Reentrant(), FoldIndex(2), name="outer"), "fit", X, Y)
    # the manager still works afterwards
    P = pp.map(Learner(OLS(), FoldIndex(2), name="r"), "fit", X, Y, return_preds=True)
    assert P.shape == (60, 1)
    pp.clear()


def test_unpickled_manager_has_its_own_lock():
    pp = ParallelProcessing("threading", n_jobs=2)
    copy = pickle.loads(pickle.dumps(pp))
    assert copy._lock is not pp._lock
    results = in_threads(lambda t: copy.map(tasks(t), "fit", *data(t), return_preds="r"), n=2)
    with ParallelProcessing("sequential") as ref_pp:
        for t, P in results.items():
            np.testing.assert_array_equal(P, ref_pp.map(tasks(t), "fit", *data(t),
                                                        return_preds="r"))  # fmt: skip
    copy.clear()
