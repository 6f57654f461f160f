"""What overhead.py and its baselines share: sizes, the no-op tasks, the timer.

Not a script: ``overhead.py`` runs the benchmark (see its docstring).
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import time

import numpy as np

from foldgraph import FullIndex, Learner, map_graph, stack_graph
from foldgraph.testing import Noop

N_ROWS = 4
N_WORKERS = 2
WARMUP_NODES = 4
BACKENDS = {"sequential": 1, "threading": N_WORKERS, "multiprocessing": N_WORKERS}
SHAPES = ("independent", "chained")
#: baseline columns: (key, header)
BASELINES = (
    ("ppe", "ProcessPoolExecutor(2) forkserver"),
    ("loky", "loky unbatched (2)"),
    ("dask_threaded", "dask.threaded.get (2 threads)"),
    ("dask_distributed", "dask.distributed LocalCluster (2 procs)"),
)
DASK_BASELINES = ("dask_threaded", "dask_distributed")
#: LocalCluster runs at most this many nodes per graph by default (see --distributed-max-nodes)
DISTRIBUTED_MAX_NODES = 1_000

#: targets from the issue, microseconds per node
TARGET_MP = 100.0
TARGET_SEQ = 20.0
#: "flat": the per-node cost at the largest size is at most this times the smallest size's
FLAT_RATIO = 1.5
#: per-node references quoted in the issue (microseconds), for the verdict table
REFERENCES = {
    "ppe": (90.0, 115.0),
    "loky": (145.0, 190.0),
    "dask_distributed": (2000.0, 2000.0),
}


def make_data(n_rows: int = N_ROWS):
    X = np.arange(float(n_rows)).reshape(n_rows, 1)
    y = np.zeros(n_rows)
    return X, y


def make_tasks(n: int, prefix: str = "noop") -> list:
    # explicit names keep the nodes readable ("noop-42/fit/full")
    return [Learner(Noop(), FullIndex(), name=f"{prefix}-{i}") for i in range(n)]


def builder_of(shape: str):
    return map_graph if shape == "independent" else stack_graph


class Timed:
    """Wall and parent-CPU seconds of a section, and the cyclic GC's work inside it.

    The garbage collector stays enabled: its pauses are part of what a user
    pays. ``gc_s`` is the time spent in collections (any thread), ``gc_full``
    the number of full (generation-2) collections.
    """

    def __enter__(self):
        self.gc_s, self.gc_full, self._gc_t0 = 0.0, 0, None
        gc.collect()
        gc.callbacks.append(self._on_gc)
        self._cpu0 = time.process_time()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._t0
        self.cpu = time.process_time() - self._cpu0
        gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase, info):
        if phase == "start":
            self._gc_t0 = time.perf_counter()
        elif self._gc_t0 is not None:
            self.gc_s += time.perf_counter() - self._gc_t0
            self.gc_full += info["generation"] == 2
            self._gc_t0 = None


def new_samples(keys) -> dict:
    return {what: {k: [] for k in keys} for what in ("samples_s", "cpu_s", "gc_s", "gc_full")}


def record(samples: dict, key: str, t: Timed) -> None:
    samples["samples_s"][key].append(t.wall)
    samples["cpu_s"][key].append(t.cpu)
    samples["gc_s"][key].append(t.gc_s)
    samples["gc_full"][key].append(t.gc_full)


def warmup_graph(X, y):
    # other task names than the timed graph's: the manager's cost model
    # remembers durations by task name, and the warm-up must not feed it
    return map_graph(make_tasks(WARMUP_NODES, "warmup"), "fit", X=X, y=y)


def mp_context():
    # the same forkserver as foldgraph's workers (one per parent process), with the same
    # preloaded modules should it start here (it only changes the pools' start times)
    from foldgraph.engine.processes import PRELOAD

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx
