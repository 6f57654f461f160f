"""Cores per node: a layer with multi-threaded learners on 2 worker processes.

One layer of four learners, 5 folds each (a fold fit and its prediction, plus
the full fit): RandomForestRegressor(30, max_depth=10, n_jobs=4),
KNeighborsRegressor(n_jobs=4), Ridge and DecisionTreeRegressor(max_depth=6),
on 2 workers (``"multiprocessing"``), three ways:

- ``foldgraph threads="safe"`` (the default): foldgraph sets the forest's and
  k-NN's ``n_jobs`` to their share of the CPUs (``cpus // workers``);
- ``foldgraph threads=None``: ``n_jobs=4`` left to the estimators, so 2
  workers run up to 2 x 4 threads (oversubscribed);
- ``sklearn StackingRegressor(n_jobs=2, cv=5)`` with the same learners (and a
  Ridge on top).

While each run goes, a thread samples every 50 ms, over this process and its
descendants, the CPU load (``psutil`` ``cpu_percent``, in CPUs) and the
threads ready to run (state ``R`` in ``/proc/<pid>/task/*/stat``, Linux): the
load can never exceed the cores, the runnable threads show the demand.

Usage::

    .venv/bin/python benchmarks/cores.py            # 3 repetitions, 10,000 x 20
    .venv/bin/python benchmarks/cores.py --quick    # 1 repetition, 3,000 x 20

Writes ``benchmarks/results/cores.json`` and prints a markdown table (medians;
the foreign load is other users' CPU on this shared machine).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading

import _common  # noqa: F401  (first: it sets one BLAS thread per process before numpy loads)
import numpy as np
import psutil
from sklearn.ensemble import RandomForestRegressor, StackingRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold
from sklearn.neighbors import KNeighborsRegressor
from sklearn.tree import DecisionTreeRegressor

from foldgraph import FoldIndex, Learner, ParallelProcessing

WAYS = ("foldgraph safe", "foldgraph None", "sklearn stacking")


def learners(trees: int) -> list:
    return [
        ("rf", RandomForestRegressor(trees, max_depth=10, n_jobs=4, random_state=0)),
        ("knn", KNeighborsRegressor(n_jobs=4)),
        ("ridge", Ridge()),
        ("tree", DecisionTreeRegressor(max_depth=6, random_state=0)),
    ]


def _runnable(pid: int) -> int:
    """Threads of ``pid`` in state R (running or ready to run)."""
    count = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as fh:
                count += fh.read().rsplit(")", 1)[1].split()[0] == "R"
    except OSError:  # the process or thread ended meanwhile
        pass
    return count


class Sampler:
    """CPU load and runnable threads of this process and its descendants, every 50 ms."""

    def __init__(self, interval: float = 0.05):
        self.interval, self.load, self.runnable = interval, [], []
        self._stop = threading.Event()
        self._procs: dict = {}
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _loop(self):
        me = psutil.Process()
        while not self._stop.wait(self.interval):
            procs = [me, *me.children(recursive=True)]
            load = 0.0
            for p in procs:
                if p.pid not in self._procs:  # its first reading is a baseline
                    self._procs[p.pid] = p
                    p.cpu_percent(None)
                    continue
                try:
                    load += self._procs[p.pid].cpu_percent(None) / 100
                except psutil.Error:
                    pass
            self.load.append(load)
            # less this sampler's own thread, which is running while it counts
            self.runnable.append(sum(_runnable(p.pid) for p in procs) - 1)


def run_once(way: str, X, y, trees: int) -> dict:
    meter = _common.CpuMeter()
    with Sampler() as sampler:
        meter.start()
        if way == "sklearn stacking":  # loky keeps its workers: stopped after the fit
            StackingRegressor(learners(trees), Ridge(), cv=KFold(5), n_jobs=2).fit(X, y)
            stats = meter.stop()
        else:
            threads = "safe" if way.endswith("safe") else None
            tasks = [Learner(est, FoldIndex(5), name=name) for name, est in learners(trees)]
            with ParallelProcessing("multiprocessing", n_jobs=2, threads=threads) as pp:
                pp.map(tasks, "fit", X, y)
                stats = meter.stop()  # before the workers exit: their CPU is ours, not foreign
    busy = sampler.load[1:] or [0.0]  # the first sample holds the workers' start
    return {"makespan_s": stats["wall_s"], "foreign_load_cpus": stats["foreign_load_cpus"],
            "load_max": max(busy), "load_mean": float(np.mean(busy)),
            "runnable_max": max(sampler.runnable, default=0),
            "runnable_mean": float(np.mean(sampler.runnable or [0])),
            "loadavg_1min": (_common.loadavg() or [None])[0]}  # fmt: skip


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 repetition, 3,000 rows")
    args = parser.parse_args(argv)
    n, reps, trees = (3_000, 1, 10) if args.quick else (10_000, 3, 30)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 20))
    y = X @ rng.standard_normal(20) + np.sin(3 * X[:, 0]) + 0.1 * rng.standard_normal(n)
    quiet = _common.wait_for_quiet(timeout=30.0)
    runs = {way: [] for way in WAYS}
    for _ in range(reps):
        for way in WAYS:  # interleaved: a change of foreign load hits every way alike
            runs[way].append(run_once(way, X, y, trees))
    med = _common.median
    summary = {way: {k: _common.rnd(med([r[k] for r in rs])) for k in rs[0]}
               for way, rs in runs.items()}  # fmt: skip
    base = summary["foldgraph safe"]["makespan_s"]
    rows = [[way, s["makespan_s"], _common.rnd(s["makespan_s"] / base, 2), s["load_max"],
             s["runnable_max"], s["runnable_mean"], s["foreign_load_cpus"]]
            for way, s in summary.items()]  # fmt: skip
    header = ["run", "makespan (s)", "vs safe", "max load (CPUs)", "max runnable threads",
              "mean runnable", "foreign load (CPUs)"]  # fmt: skip
    out = {"environment": _common.environment(), "rows": n, "repetitions": reps, "trees": trees,
           "quiet": quiet, "summary": summary, "runs": runs}  # fmt: skip
    path = _common.RESULTS / ("cores_quick.json" if args.quick else "cores.json")
    _common.write_json(path, out)
    print(_common.markdown_table(header, rows))
    print(f"\nwritten to {_common.display(path)}")
    return out


if __name__ == "__main__":
    sys.exit(main() and 0)
