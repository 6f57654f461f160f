"""The memory budget on a real dask LocalCluster (issue 19): each node asks for its
estimate of the workers' MEMORY resource, so no worker runs more than its budget holds.

The estimators allocate a known number of bytes and write down, in files of
their own, which worker ran them and when: the concurrency asserted below is
counted from those files, not from foldgraph's trace.
"""

import json
import logging
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin

from foldgraph import FoldIndex, Learner, ParallelProcessing, map_graph
from foldgraph.engine.admission import MemoryBudgetWarning

distributed = pytest.importorskip("distributed")

MiB = 2**20
#: MEMORY each worker declares: one 24 MiB node and one 12 MiB node fit, two 24 MiB do not
WORKER_MEMORY = 40 * MiB
rng = np.random.RandomState(0)
X = rng.normal(size=(60, 4))
Y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.normal(size=60)


class Hog(RegressorMixin, BaseEstimator):
    """Least squares that holds ``nbytes`` while it fits (``delay`` seconds) and records
    ``(worker address, start, end, nbytes)`` in a file of its own under ``log``."""

    def __init__(self, nbytes=0, log=None, delay=0.15):
        self.nbytes = nbytes
        self.log = log
        self.delay = delay

    def fit(self, X, y):
        start = time.time()
        held = np.ones(self.nbytes // 8)  # touched: resident, not only reserved
        time.sleep(self.delay)
        end = time.time()
        try:
            worker = distributed.get_worker().address
        except ValueError:  # not on a dask worker: the sequential reference run
            worker = "local"
        record = [worker, start, end, int(held.nbytes)]
        (Path(self.log) / uuid.uuid4().hex).write_text(json.dumps(record))
        self.coef_ = np.linalg.lstsq(X, y, rcond=None)[0]
        return self

    def predict(self, X):
        return X @ self.coef_


def peaks(log) -> dict:
    """``{worker: (most nodes at once, most bytes at once)}`` from the records in ``log``."""
    records = [json.loads(p.read_text()) for p in Path(log).iterdir()]
    out = {}
    for worker in {r[0] for r in records}:
        # ends sort before starts at the same instant: back-to-back nodes do not overlap
        events = sorted([(s, 1, b) for w, s, e, b in records if w == worker]
                        + [(e, -1, b) for w, s, e, b in records if w == worker])  # fmt: skip
        nodes = held = most_nodes = most_bytes = 0
        for _, sign, nbytes in events:
            nodes, held = nodes + sign, held + sign * nbytes
            most_nodes, most_bytes = max(most_nodes, nodes), max(most_bytes, held)
        out[worker] = (most_nodes, most_bytes)
    return out


def graph(log, sizes: dict, delay: float = 0.15):
    """One learner per ``{name: bytes}``, 3 folds + full fit, each node estimated at its
    bytes (an estimate set by hand is kept by the manager's MemoryModel)."""
    learners = [Learner(Hog(nbytes, str(log), delay), FoldIndex(3), name=name)
                for name, nbytes in sizes.items()]  # fmt: skip
    g = map_graph(learners, "fit", X, Y)
    for attrs in g.nx.nodes.values():
        attrs["memory"] = sizes[attrs["task"]]
    return g


def sequential(sizes: dict, tmp_path) -> list:
    log = tmp_path / "sequential"
    log.mkdir()
    with ParallelProcessing("sequential") as pp:
        return pp.run(graph(log, sizes, delay=0.0), X, Y, return_preds=list(sizes))


@pytest.fixture(scope="module")
def client():
    """2 workers x 2 threads, each declaring WORKER_MEMORY: 4 nodes could run at once."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=False,
                                       resources={"MEMORY": WORKER_MEMORY},
                                       dashboard_address=":0", silence_logs=logging.ERROR)
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


def test_no_worker_runs_more_than_its_memory(client, tmp_path):
    sizes = {"big": 24 * MiB, "small": 12 * MiB}
    log = tmp_path / "dask"
    log.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error", MemoryBudgetWarning)  # every node fits a worker
        with ParallelProcessing("dask", client=client) as pp:
            preds = pp.run(graph(log, sizes), X, Y, return_preds=list(sizes))
    seen = peaks(log)
    assert len(list(log.iterdir())) == 8  # every node ran, once
    for worker, (nodes, held) in seen.items():
        assert held <= WORKER_MEMORY, (worker, held)
        assert nodes <= 2, (worker, nodes)  # 2 threads; never 2 big ones (48 > 40 MiB)
    for ours, expected in zip(preds, sequential(sizes, tmp_path)):
        assert np.allclose(ours, expected, rtol=1e-10, atol=1e-12)


def test_a_node_over_every_worker_memory_warns_and_runs_alone(client, tmp_path):
    sizes = {"huge": 60 * MiB, "small": 12 * MiB}
    log = tmp_path / "dask"
    log.mkdir()
    g = graph(log, sizes)
    with pytest.warns(MemoryBudgetWarning, match=r"node 'huge/fit/[a-z0-9-]+' needs an estimated "
                      r"62,914,560 bytes, over the MEMORY resource of every dask worker "
                      r"\(at most 41,943,040\): it asks for 41,943,040 and runs alone"):
        with ParallelProcessing("dask", client=client) as pp:
            preds = pp.run(g, X, Y, return_preds=list(sizes))
    records = [json.loads(p.read_text()) for p in log.iterdir()]
    assert len(records) == 8
    huge = [r for r in records if r[3] == 60 * MiB]
    for worker, start, end, _ in huge:  # nothing else on its worker while it ran
        beside = [r for r in records if r[0] == worker and r[1] < end and r[2] > start]
        assert len(beside) == 1, beside
    for ours, expected in zip(preds, sequential(sizes, tmp_path)):
        assert np.allclose(ours, expected, rtol=1e-10, atol=1e-12)


def test_without_declared_memory_the_run_wide_limit_gates(tmp_path):
    """Workers declaring no MEMORY: no request, the loop's memory_limit admits the nodes."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=False,
                                       dashboard_address=":0", silence_logs=logging.ERROR)
    log = tmp_path / "dask"
    log.mkdir()
    # estimates far above what the nodes hold and what this process holds idle: the
    # limit admits 2 of them at a time, whatever the idle memory is
    GB = 10**9
    g = graph(log, {"a": 0, "b": 0})
    for attrs in g.nx.nodes.values():
        attrs["memory"] = 10 * GB
    with distributed.Client(cluster, set_as_default=False) as client, cluster:
        with ParallelProcessing("dask", client=client, memory_limit=25 * GB) as pp:
            preds = pp.run(g, X, Y, return_preds=["a", "b"])
    records = [json.loads(p.read_text()) for p in log.iterdir()]
    events = sorted([(s, 1) for _, s, _, _ in records] + [(e, -1) for _, _, e, _ in records])
    running = np.cumsum([sign for _, sign in events])
    assert len(records) == 8 and running.max() <= 2
    for ours, expected in zip(preds, sequential({"a": 0, "b": 0}, tmp_path)):
        assert np.allclose(ours, expected, rtol=1e-10, atol=1e-12)
