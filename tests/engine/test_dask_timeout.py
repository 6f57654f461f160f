"""Per-node timeouts on the dask backend (``ParallelProcessing("dask", timeout=...)``).

One LocalCluster with a single worker process (1 thread, under a nanny) is
shared by the module: a node over its timeout restarts that worker.
"""

import logging
import os
import time

import numpy as np
import pytest

from foldgraph import FoldIndex, FullIndex, Learner, NodeTimeout, ParallelProcessing, TaskError
from foldgraph.testing import OLS, Sleepy

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

X = np.arange(40.0).reshape(20, 2)
y = X @ [1.0, 2.0]


def worker_pids(client) -> set:
    try:
        return set(client.run(os.getpid).values())
    except Exception:  # noqa: BLE001 - a worker being replaced
        return set()


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.ERROR)
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


def test_node_over_timeout_fails_promptly_naming_it_and_the_manager_runs_again(client):
    pids = worker_pids(client)
    tasks = [Learner(Sleepy(30.0), FullIndex(), name="sleepy"),
             Learner(OLS(), FoldIndex(3), name="ols")]
    with ParallelProcessing("dask", client=client, timeout=2) as pp:
        t0 = time.monotonic()
        with pytest.raises(NodeTimeout) as info:
            pp.map(tasks, "fit", X, y)
        elapsed = time.monotonic() - t0
        assert elapsed < 6.0, elapsed  # 2 s, then seen within a heartbeat (0.5 s)
        error = info.value
        assert isinstance(error, TaskError) and isinstance(error, TimeoutError)
        assert (error.task, error.node) == ("sleepy", "sleepy/fit/full")
        assert "timeout=2s" in str(error) and "killed" in str(error)
        # at once, the next run: on the fresh worker the nanny started
        out = pp.map(Learner(OLS(), FoldIndex(3), name="ols"), "fit", X, y, return_preds=True)
        assert worker_pids(client) and not worker_pids(client) & pids
    with ParallelProcessing("sequential") as seq:
        np.testing.assert_allclose(out, seq.map(Learner(OLS(), FoldIndex(3), name="ols"),
                                                "fit", X, y, return_preds=True))


def test_queued_nodes_do_not_time_out(client):
    """4 nodes of 1.5 s on one worker take 6 s, each under timeout=2."""
    with ParallelProcessing("dask", client=client, timeout=2) as pp:
        t0 = time.monotonic()
        pp.map(Learner(Sleepy(1.5), FoldIndex(3), name="slow"), "fit", X, y)
        assert time.monotonic() - t0 >= 6.0
        assert len(pp.trace.events) == 4
