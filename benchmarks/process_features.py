"""What prefetch and followers earn the multiprocessing backend on realistic nodes.

The process backend may queue cheap *ready* nodes behind the one its worker
runs (*prefetch*, up to ``Processes.prefetch_depth`` nodes in flight per
worker) and queue a cheap node behind its predecessors on their worker
(*followers*, ``Processes.follow_below`` seconds). Commit 556bf13 also sent
several queued nodes, and their answers, in one message (*batching*; its
prefetch depth is the module constant ``PREFETCH_DEPTH``, so there the
``prefetch`` configuration is prefetch and batching together). This script
measures what each earns on fold fits of 1 to 100 ms, on whichever tree it
runs.

Workloads (``make_friedman1``, 20 features), fold fits of about:

- ``1 ms``: ``Ridge`` on 2,000 rows;
- ``10 ms``: ``DecisionTreeRegressor`` on 300 rows;
- ``100 ms``: ``RandomForestRegressor(n_estimators=4)`` on 800 rows;

each in two shapes: ``map`` (independent learners, ``FoldIndex(5)``: 6 nodes
each) and ``stack`` (the same learners chained, each reading the previous
one's predictions: a chain of layers, whose later nodes are cheaper).
Configurations, each its own ``ParallelProcessing("multiprocessing",
n_jobs=2)``, started and run once (its cost model learns the node
durations) before the timer:

- ``none``: one node in flight per worker (no prefetch, no followers);
- ``prefetch``: prefetch on (with batching at 556bf13), no followers
  (only where the tree has prefetch);
- ``all``: the tree's defaults, followers on (only where the backend has
  followers; 8735256 had none).

Repetitions interleave the configurations; the table gives the median wall
time of each and the gains ``none / prefetch`` (what prefetch earns) and
``prefetch / all`` (what followers earn; ``none / all`` where there is no
prefetch).

Usage::

    .venv/bin/python benchmarks/process_features.py            # 7 repetitions
    .venv/bin/python benchmarks/process_features.py --repeat 3 --quick

Writes ``benchmarks/results/process_features.json``.
"""

from __future__ import annotations

import argparse
import time

import _common  # noqa: F401  (first: it sets one BLAS thread per process before numpy loads)
from _common import RESULTS, environment, markdown_table, median, rnd, write_json
from sklearn.datasets import make_friedman1
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.tree import DecisionTreeRegressor

from foldgraph import FoldIndex, Learner, ParallelProcessing

#: name -> (estimator factory, rows, learners)
WORKLOADS = {
    "1 ms": (Ridge, 2000, 24),
    "10 ms": (lambda: DecisionTreeRegressor(random_state=0), 300, 8),
    "100 ms": (lambda: RandomForestRegressor(4, random_state=0), 800, 3),
}
#: name -> (prefetch on, followers on)
CONFIGS = {"none": (False, False), "prefetch": (True, False), "all": (True, True)}


def has_prefetch() -> bool:
    from foldgraph.engine import processes

    return hasattr(processes.Processes, "prefetch_depth") or hasattr(processes, "PREFETCH_DEPTH")


def has_followers() -> bool:
    from foldgraph.engine import processes

    return getattr(processes.Processes, "follow_below", None) is not None


def configure(pp: ParallelProcessing, prefetch: bool, follow: bool) -> None:
    """Switch the features of ``pp``'s backend (started by its first run)."""
    from foldgraph.engine import processes

    backend = pp._backend
    if hasattr(backend, "prefetch_depth"):  # 3046255
        backend.prefetch_depth = type(backend).prefetch_depth if prefetch else 1
    elif hasattr(processes, "PREFETCH_DEPTH"):  # 556bf13: read by the parent only
        processes.PREFETCH_DEPTH = 32 if prefetch else 1
    if has_followers():
        backend.follow_below = type(backend).follow_below if follow else 0.0


def fit(pp, shape: str, factory, n_learners: int, X, y) -> float:
    tasks = [Learner(factory(), FoldIndex(5), name=f"l{i}") for i in range(n_learners)]
    t0 = time.perf_counter()
    getattr(pp, shape)(tasks, "fit", X, y)
    return time.perf_counter() - t0


def measure(name: str, shape: str, repeat: int, quick: bool) -> dict:
    factory, rows, n_learners = WORKLOADS[name]
    n_learners = max(2, n_learners // 2) if quick else n_learners
    X, y = make_friedman1(n_samples=rows, n_features=20, noise=1.0, random_state=0)
    have = {"none": True, "prefetch": has_prefetch(), "all": has_followers()}
    configs = {c: v for c, v in CONFIGS.items() if have[c]}
    managers, times = {}, {c: [] for c in configs}
    try:
        for config in configs:  # start the workers; the cost model learns the durations
            pp = managers[config] = ParallelProcessing("multiprocessing", n_jobs=2)
            fit(pp, shape, factory, n_learners, X, y)
        node = median([r["duration"] for r in managers["all"].trace.records])
        for _ in range(repeat):
            for config, (prefetch, follow) in configs.items():
                configure(managers[config], prefetch, follow)
                times[config].append(fit(managers[config], shape, factory, n_learners, X, y))
    finally:
        for pp in managers.values():
            pp.clear()
    med = {c: median(t) for c, t in times.items()}
    base = med.get("prefetch", med["none"])
    gain = {"prefetch": med["none"] / base - 1 if "prefetch" in med else None,
            "followers": base / med["all"] - 1 if "all" in med else None}  # fmt: skip
    return {
        "workload": name, "shape": shape, "nodes": 6 * n_learners, "node_ms": rnd(node * 1e3, 2),
        "median_s": {c: rnd(v, 4) for c, v in med.items()},
        "times_s": {c: [rnd(t, 4) for t in v] for c, v in times.items()},
        "prefetch_gain": rnd(gain["prefetch"], 3),
        "followers_gain": rnd(gain["followers"], 3),
    }  # fmt: skip


def _pct(gain) -> str:
    return "-" if gain is None else f"{gain:+.1%}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="half the learners")
    parser.add_argument("--shapes", nargs="+", default=["map", "stack"])
    args = parser.parse_args(argv)
    rows = []
    for name in WORKLOADS:
        for shape in args.shapes:
            row = measure(name, shape, args.repeat, args.quick)
            print(row["workload"], row["shape"], row["median_s"], flush=True)
            rows.append(row)
    header = ["fold fit", "shape", "nodes", "median node ms", "none s", "prefetch s", "all s",
              "prefetch gain", "followers gain"]  # fmt: skip
    print(markdown_table(header, [[
        r["workload"], r["shape"], r["nodes"], r["node_ms"], r["median_s"]["none"],
        r["median_s"].get("prefetch", "-"), r["median_s"].get("all", "-"), _pct(r["prefetch_gain"]),
        _pct(r["followers_gain"]),
    ] for r in rows], align="llrrrrrrr"))  # fmt: skip
    write_json(RESULTS / "process_features.json",
               {"environment": environment(), "repeat": args.repeat, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
