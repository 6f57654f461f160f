"""The workload of stacking.py: its learners, and one timed fit per configuration.

Not a script: ``stacking.py`` runs the benchmark (see its docstring);
``dask_stacking.py`` and ``incremental.py`` reuse the workload.
"""

from __future__ import annotations

import os
import time

import numpy as np
from _common import CpuMeter, median, rnd
from sklearn.ensemble import (
    HistGradientBoostingRegressor,
    RandomForestRegressor,
    StackingRegressor,
)
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import KFold
from sklearn.neighbors import KNeighborsRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.tree import DecisionTreeRegressor

from foldgraph import FoldIndex, FullIndex, Learner, ParallelProcessing

# MLPRegressor's "Stochastic Optimizer: Maximum iterations reached" (workers inherit this)
os.environ["PYTHONWARNINGS"] = "ignore:Stochastic Optimizer"

N_JOBS = 2


def make_estimators(quick: bool) -> list[tuple[str, object]]:
    """The six base learners (random_state fixed where there is one, so runs compare)."""
    n_trees, n_iter, mlp_iter = (10, 20, 30) if quick else (50, 100, 200)
    return [
        ("ridge", Ridge(alpha=1.0)),
        ("knn", KNeighborsRegressor(n_neighbors=10)),
        ("tree", DecisionTreeRegressor(max_depth=8, random_state=0)),
        (
            "forest",
            RandomForestRegressor(n_estimators=n_trees, max_depth=10, n_jobs=1, random_state=0),
        ),
        ("hgb", HistGradientBoostingRegressor(max_iter=n_iter, random_state=0)),
        ("mlp", MLPRegressor(hidden_layer_sizes=(64,), max_iter=mlp_iter, random_state=0)),
    ]


def base_layer(estimators) -> list[Learner]:
    return [Learner(est, FoldIndex(5), name=name) for name, est in estimators]


# -- foldgraph --------------------------------------------------------------------
def trace_stats(trace, n_workers: int) -> dict:
    """Work, longest node, ideal and a Gantt summary of one layer-1 trace."""
    events = trace.events
    work = sum(e.duration for e in events)
    longest = max(events, key=lambda e: e.duration)
    per_worker: dict = {}
    for e in events:
        w = per_worker.setdefault(e.worker, {"busy": 0.0, "nodes": 0, "last_end": 0.0})
        w["busy"] += e.duration
        w["nodes"] += 1
        w["last_end"] = max(w["last_end"], e.end)
    first = min(e.start for e in events)
    last = max(e.end for e in events)
    # idle tail: from the moment the first worker ran out of work to the end
    tail = last - min(w["last_end"] for w in per_worker.values()) if n_workers > 1 else 0.0
    # gaps between consecutive nodes of a worker: dispatch latency
    gaps = []
    for wid in per_worker:
        mine = sorted((e for e in events if e.worker == wid), key=lambda e: e.start)
        gaps += [b.start - a.end for a, b in zip(mine, mine[1:])]
    return {
        "nodes": len(events),
        "work_s": work,
        "longest_node_s": longest.duration,
        "longest_node": longest.key,
        "ideal_s": max(longest.duration, work / n_workers),
        "trace_makespan_s": last - first,
        "first_start_s": first,
        "idle_tail_s": tail,
        "dispatch_gap_median_ms": (median(gaps) or 0.0) * 1e3,
        "dispatch_gap_total_s": sum(gaps),
        "workers": {
            str(k): {
                "busy_s": rnd(v["busy"]),
                "nodes": v["nodes"],
                "last_end_s": rnd(v["last_end"]),
            }
            for k, v in sorted(per_worker.items())
        },
    }


def fit_foldgraph(manager, estimators, X, y) -> dict:
    """Layer 1 (one map), stack, meta (one map); timings and outputs."""
    names = [name for name, _ in estimators]
    base = base_layer(estimators)
    meter = CpuMeter()
    meter.start()
    t0 = time.perf_counter()
    P = manager.map(base, "fit", X, y, return_preds=names)
    t1 = time.perf_counter()
    load = meter.stop()
    trace1 = manager.trace
    Z = np.hstack(P)
    meta = Learner(LinearRegression(), FullIndex(), name="meta")
    manager.map(meta, "fit", Z, y)
    t2 = time.perf_counter()
    return {
        "layer1_wall_s": t1 - t0,
        "meta_wall_s": t2 - t1,
        "pipeline_wall_s": t2 - t0,
        "trace": trace1,
        "Z": Z,
        "meta_coef": np.asarray(meta.estimator_.coef_, dtype=float),
        "meta_node_s": manager.trace.work,
        "load": load,
    }


def run_foldgraph(config: str, estimators, X, y, warm) -> dict:
    """One foldgraph configuration; returns its measures plus ``Z`` and ``trace``."""
    if config == "sequential":
        manager = ParallelProcessing("sequential")
        n_workers, strategy, fits = 1, "fifo", 1
    else:
        strategy = "lpt" if config == "lpt-2nd" else config
        fits = 2 if config == "lpt-2nd" else 1
        manager = ParallelProcessing("multiprocessing", n_jobs=N_JOBS, strategy=strategy)
        n_workers = N_JOBS
    with manager:
        t0 = time.perf_counter()
        manager.map(base_layer(warm[2]), "fit", warm[0], warm[1])  # start the workers
        startup = time.perf_counter() - t0
        for _ in range(fits):
            out = fit_foldgraph(manager, estimators, X, y)
        known = sum(
            1 for _, a in manager.graph.nx.nodes(data=True) if a.get("cost_source") == "trace"
        )
    stats = trace_stats(out["trace"], n_workers)
    layer1 = out["layer1_wall_s"]
    return {
        "config": config,
        "backend": manager.backend,
        "n_jobs": n_workers,
        "strategy": strategy,
        "startup_s": startup,
        "layer1_wall_s": layer1,
        "meta_wall_s": out["meta_wall_s"],
        "pipeline_wall_s": out["pipeline_wall_s"],
        "makespan_over_ideal": layer1 / stats["ideal_s"],
        "pipeline_ideal_s": stats["ideal_s"] + out["meta_node_s"],
        "utilization": stats["work_s"] / (layer1 * n_workers),
        "meta_nodes_with_measured_cost": known,
        "own_cpu_s": out["load"]["own_cpu_s"],
        "foreign_load_cpus": out["load"]["foreign_load_cpus"],
        "steal_s": out["load"]["steal_s"],
        **stats,
        "_Z": out["Z"],
        "_coef": out["meta_coef"],
        "_records": out["trace"].records,
        "_order": [e.key for e in sorted(out["trace"].events, key=lambda e: e.start)],
    }


# -- scikit-learn -----------------------------------------------------------------
def run_sklearn(n_jobs: int, estimators, X, y, warm) -> dict:
    def model(ests):
        return StackingRegressor(
            estimators=ests, final_estimator=LinearRegression(), cv=KFold(5), n_jobs=n_jobs
        )

    startup = None
    if n_jobs > 1:  # start the loky workers (and their imports) before timing
        t0 = time.perf_counter()
        model(warm[2]).fit(warm[0], warm[1])
        startup = time.perf_counter() - t0
    reg = model(estimators)
    meter = CpuMeter()
    meter.start()
    t0 = time.perf_counter()
    reg.fit(X, y)
    wall = time.perf_counter() - t0
    load = meter.stop()
    if n_jobs > 1:  # stop loky's idle workers: they would exit mid-way through a later run
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)
    return {
        "config": f"sklearn-n_jobs={n_jobs}",
        "n_jobs": n_jobs,
        "startup_s": startup,
        "pipeline_wall_s": wall,
        "own_cpu_s": load["own_cpu_s"],
        "foreign_load_cpus": load["foreign_load_cpus"],
        "steal_s": load["steal_s"],
        "_coef": np.asarray(reg.final_estimator_.coef_, dtype=float),
    }
