"""An estimator that raises KeyboardInterrupt or SystemExit (issue 16 item 10).

In a worker process or thread it is the node's error: a TaskError naming
the node and saying what the estimator raised, never retried; no worker
dies (a process used to end with it and pass for a death: retried, then
"WorkerDied ... out of memory or segfault?"; a thread used to end with it,
leaving the run waiting forever). The run then stops as for any error, and
the next one starts fresh workers. In the calling thread (``"sequential"``
without a timeout) it propagates as itself, as a Ctrl-C there would, after
the run is aborted and the manager cleared; the manager works again after.
"""

import os

import numpy as np
import psutil
import pytest
from conftest import wait_until
from sklearn.base import BaseEstimator, RegressorMixin

from foldgraph import FoldIndex, Learner, ParallelProcessing, TaskError, WorkerDied

pytestmark = pytest.mark.usefixtures("no_leaks")

X = np.arange(60.0).reshape(30, 2) + np.sin(np.arange(60.0)).reshape(30, 2)
Y = X @ np.array([1.0, -1.0]) + np.cos(np.arange(30.0))
RAISED = {"KeyboardInterrupt": KeyboardInterrupt("stop"), "SystemExit": SystemExit(3)}


class Interrupting(RegressorMixin, BaseEstimator):
    """OLS that raises ``RAISED[exc]`` when fitted on ``bad_rows`` rows; each fit on
    them is logged (one line) in the file ``log``."""

    def __init__(self, exc="KeyboardInterrupt", bad_rows=-1, log=None):
        self.exc = exc
        self.bad_rows = bad_rows
        self.log = log

    def fit(self, X, y):
        if len(X) == self.bad_rows:
            with open(self.log, "a") as f:
                f.write(f"{os.getpid()}\n")
            raise RAISED[self.exc]
        self.coef_ = np.linalg.lstsq(X, y, rcond=None)[0]
        return self

    def predict(self, X):
        return X @ self.coef_


def tasks(exc, log):
    """Three folds of 30 rows: the fold fits train on 20 rows, the full fit on 30."""
    return [Learner(Interrupting(), FoldIndex(3), name="good"),
            Learner(Interrupting(exc, bad_rows=len(X), log=str(log)), FoldIndex(3), name="bad")]


def good():
    return Learner(Interrupting(), FoldIndex(3), name="ok")


@pytest.mark.parametrize("exc", sorted(RAISED))
@pytest.mark.parametrize("backend, options", [
    ("multiprocessing", {}), ("threading", {}), ("sequential", {"timeout": 60}),
], ids=["processes", "threads", "sequential-with-timeout"])  # fmt: skip
def test_in_a_worker_it_is_the_nodes_task_error(tmp_path, exc, backend, options):
    """In a worker process or thread: the node's TaskError, no retry, no worker death."""
    log = tmp_path / "log"
    with ParallelProcessing(backend, n_jobs=2, **options) as pp:
        pp.map(good(), "fit", X, Y)  # starts the workers
        pids = pp.worker_pids
        with pytest.raises(TaskError, match=rf"task 'bad' failed at node 'bad/fit/full': its "
                                            rf"estimator raised {exc}: ") as info:
            pp.map(tasks(exc, log), "fit", X, Y)
        assert not isinstance(info.value, WorkerDied) and info.value.node == "bad/fit/full"
        assert type(info.value.__cause__).__name__ == exc
        assert "raise RAISED[self.exc]" in info.value.worker_traceback
        assert len(log.read_text().split()) == 1  # no retry
        assert getattr(pp._backend, "deaths", []) == []  # no worker process ended
        # a failed run stops its worker processes (as for any error); the next run starts
        # fresh ones: the old ones ended cleanly, none died
        assert wait_until(lambda: not any(psutil.pid_exists(pid) for pid in pids))
        assert pp.map(good(), "fit", X, Y, return_preds=True).shape == (30, 1)


@pytest.mark.parametrize("exc", sorted(RAISED))
def test_in_the_calling_thread_it_propagates_as_itself(tmp_path, exc):
    """``"sequential"`` runs nodes in the caller's thread, where a KeyboardInterrupt may
    be a Ctrl-C: it propagates, after the run is aborted and the manager cleared."""
    with ParallelProcessing("sequential") as pp:
        with pytest.raises(type(RAISED[exc])):
            pp.map(tasks(exc, tmp_path / "log"), "fit", X, Y)
        assert pp.map(good(), "fit", X, Y, return_preds=True).shape == (30, 1)
