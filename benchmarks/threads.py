"""Speed-up of one node given 2 threads instead of 1, per estimator family.

The figures behind :data:`foldgraph.engine.tail.SPEEDUPS`, the model the
tail policy and the simulator use for a node given more threads. On
20,000 x 20 rows (a fold fit on 16,000 rows and its prediction of 4,000),
each family runs with 1 and with 2 threads, alternately, several times:

- ``forest``: RandomForestRegressor(n_estimators=50, max_depth=10, n_jobs=k)
  (joblib threads over trees);
- ``neighbors``: KNeighborsRegressor(n_jobs=k), its prediction being the work;
- ``boost``: HistGradientBoostingRegressor(max_iter=100) under
  ``threadpool_limits(k)`` (OpenMP);
- ``linear``: Ridge under ``threadpool_limits(k)`` (BLAS), 20 fits per timing.

Reports the median seconds at 1 and 2 threads and their ratio (the speed-up),
with the foreign load seen (other users' CPU on this shared machine).

Usage::

    .venv/bin/python benchmarks/threads.py            # 5 repetitions
    .venv/bin/python benchmarks/threads.py --quick    # 1 repetition, smaller data

Writes ``benchmarks/results/threads.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import _common  # noqa: F401  (first: it sets one BLAS thread per process before numpy loads)
from _common import THREAD_VARS

# this script measures 2 threads: allow them before numpy loads (threadpoolctl
# limits each measurement); the other scripts keep _common's single thread
for _var in THREAD_VARS:
    os.environ[_var] = "2"

import numpy as np  # noqa: E402
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.neighbors import KNeighborsRegressor  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402


def families(quick: bool) -> dict:
    """``{family: make(threads) -> estimator, repeats of the fit per timing}``."""
    trees = 10 if quick else 50
    return {
        "forest": (lambda k: RandomForestRegressor(trees, max_depth=10, n_jobs=k,
                                                   random_state=0), 1),  # fmt: skip
        "neighbors": (lambda k: KNeighborsRegressor(n_jobs=k), 1),
        "boost": (lambda k: HistGradientBoostingRegressor(max_iter=100, random_state=0), 1),
        "linear": (lambda k: Ridge(), 20),
    }


def timed(make, threads: int, repeat: int, X, y, n_fit: int) -> float:
    """Seconds of ``repeat`` fold fits and predictions with ``threads`` threads."""
    with threadpool_limits(limits=threads):
        start = time.perf_counter()
        for _ in range(repeat):
            make(threads).fit(X[:n_fit], y[:n_fit]).predict(X[n_fit:])
        return time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 repetition, 5,000 rows")
    args = parser.parse_args(argv)
    n, reps = (5_000, 1) if args.quick else (20_000, 5)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 20))
    y = X @ rng.standard_normal(20) + np.sin(3 * X[:, 0]) + 0.1 * rng.standard_normal(n)
    rnd, median = _common.rnd, _common.median
    rows, meter, loads = [], _common.CpuMeter(), []
    results = {}
    for family, (make, repeat) in families(args.quick).items():
        timed(make, 1, 1, X, y, int(n * 0.8))  # warm up (imports, thread pools)
        times = {1: [], 2: []}
        for _ in range(reps):
            for threads in (1, 2):  # alternately: a change of foreign load hits both
                meter.start()
                times[threads].append(timed(make, threads, repeat, X, y, int(n * 0.8)))
                loads.append(meter.stop()["foreign_load_cpus"])
        t1, t2 = median(times[1]), median(times[2])
        results[family] = {"seconds_1": rnd(t1), "seconds_2": rnd(t2), "speedup_2": rnd(t1 / t2)}
        rows.append([family, rnd(t1), rnd(t2), rnd(t1 / t2, 2)])
    table = _common.markdown_table(["family", "1 thread (s)", "2 threads (s)", "speed-up"], rows)
    out = {"environment": _common.environment(), "rows": n, "repetitions": reps,
           "families": results, "foreign_load_cpus_median": rnd(median(loads))}  # fmt: skip
    path = _common.RESULTS / ("threads_quick.json" if args.quick else "threads.json")
    _common.write_json(path, out)
    print(table)
    print(f"\nforeign load (median, CPUs): {out['foreign_load_cpus_median']}; "
          f"written to {_common.display(path)}")  # fmt: skip
    return out


if __name__ == "__main__":
    sys.exit(main() and 0)
