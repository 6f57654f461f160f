"""Per-node timeouts (ParallelProcessing(timeout=...)) and Ctrl-C on in-process backends."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from conftest import leftover_children, wait_until
from sklearn.base import BaseEstimator, RegressorMixin

from foldgraph import FoldIndex, Learner, NodeTimeout, ParallelProcessing, TaskError
from foldgraph.engine.buffers import segment_names
from foldgraph.testing import OLS

pytestmark = pytest.mark.usefixtures("no_leaks")

X = np.arange(40.0).reshape(20, 2)
y = X @ [1.0, 2.0]


#: set after each test, so that the threads a timeout abandoned in this process end
#: instead of outliving the test (later tests check that no foldgraph thread is alive)
RELEASE = threading.Event()


@pytest.fixture(autouse=True)
def release_abandoned_threads():
    RELEASE.clear()
    yield
    RELEASE.set()


class Sleepy(RegressorMixin, BaseEstimator):
    """Sleeps ``seconds`` in fit, or until the test ends (in-process backends)."""

    def __init__(self, seconds=30.0):
        self.seconds = seconds

    def fit(self, X, y):
        RELEASE.wait(self.seconds)
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def _manager(backend, **kw):
    if backend == "multiprocessing":
        kw.setdefault("start_method", "fork")
    return ParallelProcessing(backend, n_jobs=kw.pop("n_jobs", 2), **kw)


@pytest.mark.parametrize("backend", ["sequential", "threading", "multiprocessing"])
def test_node_over_timeout_fails_promptly_naming_it(backend):
    with _manager(backend, timeout=1) as pp:
        t0 = time.monotonic()
        with pytest.raises(NodeTimeout) as info:
            pp.map(Learner(Sleepy(30.0), FoldIndex(2), name="sleepy"), "fit", X, y)
        elapsed = time.monotonic() - t0
        assert elapsed < 3.0, elapsed
        error = info.value
        assert isinstance(error, TaskError) and isinstance(error, TimeoutError)
        assert error.node.startswith("sleepy/fit/") and error.task == "sleepy"
        assert "timeout=1s" in str(error) and error.node in str(error)
        assert not segment_names(os.getpid())
        if backend == "multiprocessing":  # killed and replaced: no orphan left behind
            assert error.node in [node for *_, node in pp._backend.deaths]
        # the manager runs the next graph
        P = pp.map(Learner(OLS(), FoldIndex(2), name="ols"), "fit", X, y, return_preds=True)
        np.testing.assert_allclose(P.ravel(), y)
    assert wait_until(lambda: not leftover_children())


@pytest.mark.parametrize("backend", ["sequential", "threading", "multiprocessing"])
def test_fast_graph_same_results_with_timeout(backend):
    learners = [Learner(OLS(), FoldIndex(3), name="a"), Learner(OLS(offset=1), FoldIndex(2), name="b")]
    out = {}
    for timeout in (None, 5):
        with _manager(backend, timeout=timeout) as pp:
            out[timeout] = pp.map(learners, "fit", X, y, return_preds=["a", "b"])
    for a, b in zip(out[None], out[5]):
        np.testing.assert_array_equal(a, b)


def test_timeout_set_after_construction_applies_at_next_run():
    with ParallelProcessing("threading", n_jobs=1) as pp:
        pp.map(Learner(Sleepy(0.01), FoldIndex(2)), "fit", X, y)
        pp.timeout = 0.5
        with pytest.raises(TimeoutError):
            pp.map(Learner(Sleepy(30.0), FoldIndex(2)), "fit", X, y)
        pp.timeout = 0
        with pytest.raises(ValueError, match="timeout=0"):
            pp.map(Learner(Sleepy(0.01), FoldIndex(2)), "fit", X, y)


@pytest.mark.parametrize("bad", [0, -1, "5", True, float("nan"), float("inf")])
def test_bad_timeout_refused(bad):
    with pytest.raises(ValueError, match="timeout="):
        ParallelProcessing("threading", timeout=bad)


def test_dask_takes_a_timeout():  # runs: tests/engine/test_dask_timeout.py
    pytest.importorskip("distributed")
    assert ParallelProcessing("dask", timeout=5).timeout == 5
    with pytest.raises(ValueError, match="timeout=0"):
        ParallelProcessing("dask", timeout=0)


SCRIPT = """
import sys, time
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from foldgraph import FoldIndex, Learner, ParallelProcessing

class Sleepy(RegressorMixin, BaseEstimator):
    def fit(self, X, y):
        time.sleep(20)
        return self
    def predict(self, X):
        return np.zeros(len(X))

X = np.arange(40.0).reshape(20, 2)
pp = ParallelProcessing({backend!r}, n_jobs=2)
print("running", flush=True)
pp.map(Learner(Sleepy(), FoldIndex(2)), "fit", X, X[:, 0])
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["threading"])
def test_ctrl_c_stops_a_threading_run_promptly(tmp_path, backend):
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(SCRIPT.format(backend=backend)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "running"
        time.sleep(1.0)  # the nodes are sleeping in their threads
        t0 = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        elapsed = time.monotonic() - t0
    finally:
        proc.kill()
    assert "KeyboardInterrupt" in err, err
    assert elapsed < 2.5, elapsed
