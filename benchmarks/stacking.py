"""Stacking workload: foldgraph's scheduler against its own ideal and scikit-learn.

The workload (the issue's): ``make_friedman1(n_samples=20000, n_features=20,
noise=1.0, random_state=0)``; six base learners, each a
``Learner(estimator, FoldIndex(5))`` writing its own ``P:<name>`` buffer
(5 fold fits that predict their held-out rows + 1 full fit = 6 nodes each,
36 independent nodes); then a ``LinearRegression`` meta learner
(``FullIndex``) on the stacked out-of-fold predictions. A task reads one
input buffer, so the two layers are two runs of the same manager::

    P = manager.map(base, "fit", X, y, return_preds=names)   # layer 1: 36 nodes
    Z = np.hstack(P)
    manager.map(Learner(LinearRegression(), FullIndex(), name="meta"), "fit", Z, y)

Configurations, all measured in one process, in this order per repetition:

- ``sequential``: ``ParallelProcessing("sequential")``;
- ``fifo``, ``lpt``, ``critical_path``: ``ParallelProcessing("multiprocessing",
  n_jobs=2, strategy=...)``, a fresh manager each (costs from the model in
  :func:`foldgraph.graph.builders.estimate_cost`), workers started by a
  warm-up fit on 1% of the rows (its time is reported as ``startup``);
- ``lpt (2nd fit)``: the same manager fitted twice; the second fit orders
  nodes by the durations measured in the first (the manager's CostModel);
- ``sklearn n_jobs=1`` / ``n_jobs=2``: ``StackingRegressor(estimators,
  final_estimator=LinearRegression(), cv=KFold(5), n_jobs=...)``; the loky
  workers of n_jobs=2 are started by a warm-up fit as well.

For each foldgraph configuration, from that run's own trace: total node
work W, the longest node, ``ideal = max(longest node, W / n_workers)``
(layer 1 has no edges, so the longest node is its critical path) and
``makespan / ideal``, where makespan is the wall time of the layer-1
``manager.map`` call. The speed-up is over foldgraph sequential and the last
ratio is against ``StackingRegressor(n_jobs=2)`` (pipeline = both layers).
Out-of-fold predictions of every multiprocessing run must be bit-identical
to the sequential run's.

A shared machine is noisy: before each configuration the script waits (up
to ``--quiet-timeout`` seconds) until other processes use fewer than
``--quiet-threshold`` CPUs, and it measures the CPU time other processes
took during each fit (the "foreign load", in CPUs). A repetition is clean
when that load is below ``--clean-threshold``; medians are reported over
all repetitions and over the clean ones, and every repetition is listed.

Usage::

    .venv/bin/python benchmarks/stacking.py            # the issue's size, 1 repetition
    .venv/bin/python benchmarks/stacking.py --repeat 3 # median of 3
    .venv/bin/python benchmarks/stacking.py --quick    # 2,000 rows, small estimators

Writes ``benchmarks/results/stacking.json`` and the Gantt data (trace
records) of the median repetition of each strategy (among the clean ones:
other processes used < ``--clean-threshold`` CPUs during the fit) to
``benchmarks/results/stacking_trace_<strategy>.json``; prints a markdown
table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import _common  # noqa: F401  (first: it sets one BLAS thread per process before numpy loads)
import numpy as np
from _common import (
    RESULTS,
    CpuMeter,
    display,
    environment,
    markdown_table,
    median,
    rnd,
    wait_for_quiet,
    write_json,
)
from sklearn.datasets import make_friedman1
from sklearn.ensemble import (
    HistGradientBoostingRegressor,
    RandomForestRegressor,
    StackingRegressor,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import KFold
from sklearn.neighbors import KNeighborsRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.tree import DecisionTreeRegressor

from foldgraph import FoldIndex, FullIndex, Learner, ParallelProcessing

# MLPRegressor's "Stochastic Optimizer: Maximum iterations reached" (workers inherit this)
os.environ["PYTHONWARNINGS"] = "ignore:Stochastic Optimizer"

STRATEGIES = ("fifo", "lpt", "critical_path")
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


# -- driver -----------------------------------------------------------------------
CONFIGS = ("sequential", *STRATEGIES, "lpt-2nd", "sklearn-1", "sklearn-2")
LABELS = {
    "sequential": "foldgraph sequential",
    "fifo": "foldgraph multiprocessing n_jobs=2, fifo",
    "lpt": "foldgraph multiprocessing n_jobs=2, lpt",
    "critical_path": "foldgraph multiprocessing n_jobs=2, critical_path",
    "lpt-2nd": "foldgraph multiprocessing n_jobs=2, lpt, 2nd fit (measured costs)",
    "sklearn-1": "sklearn StackingRegressor n_jobs=1",
    "sklearn-2": "sklearn StackingRegressor n_jobs=2",
}
NUMERIC = (
    "startup_s",
    "layer1_wall_s",
    "meta_wall_s",
    "pipeline_wall_s",
    "work_s",
    "longest_node_s",
    "ideal_s",
    "makespan_over_ideal",
    "pipeline_ideal_s",
    "utilization",
    "trace_makespan_s",
    "first_start_s",
    "idle_tail_s",
    "dispatch_gap_median_ms",
    "dispatch_gap_total_s",
    "own_cpu_s",
    "foreign_load_cpus",
    "steal_s",
)


def summarize(runs: list[dict]) -> dict | None:
    """Median of each numeric measure over repetitions; the median-wall run's details."""
    if not runs:
        return None
    out = {"repetitions": len(runs)}
    for key in NUMERIC:
        values = [r.get(key) for r in runs]
        if any(v is not None for v in values):
            out[key] = rnd(median(values), 4)
            out[key + "_samples"] = [rnd(v, 4) for v in values]
    by_wall = sorted(runs, key=lambda r: r["pipeline_wall_s"])
    mid = by_wall[(len(by_wall) - 1) // 2]
    for key in (
        "backend",
        "strategy",
        "n_jobs",
        "longest_node",
        "nodes",
        "workers",
        "meta_nodes_with_measured_cost",
    ):
        if key in mid:
            out[key] = mid[key]
    out["quiet_wait"] = [r.get("quiet_wait") for r in runs]
    if "_order" in mid:
        out["start_order"] = mid["_order"]
    return out


def _fmt(v, spec=".2f", suffix=""):
    return "–" if v is None else f"{v:{spec}}{suffix}"


def add_ratios(summary: dict, identical: dict) -> None:
    """Speed-up over sequential and ratio to sklearn n_jobs=2 (ratios of the medians)."""
    seq, sk2 = summary["sequential"], summary["sklearn-2"]
    for config in CONFIGS:
        s = summary[config]
        if s is None:
            continue
        if "layer1_wall_s" in s:
            s["speedup_vs_sequential"] = (
                rnd(seq["layer1_wall_s"] / s["layer1_wall_s"], 3) if seq else None
            )
            s["oof_identical_to_sequential"] = identical[config]
        s["pipeline_vs_sklearn_n_jobs_2"] = (
            rnd(s["pipeline_wall_s"] / sk2["pipeline_wall_s"], 3) if sk2 else None
        )


def check_targets(summary: dict) -> dict:
    fg = [c for c in (*STRATEGIES, "lpt-2nd") if summary[c] is not None]
    sk2 = summary["sklearn-2"]
    return {
        "makespan_over_ideal_le_1.05": {c: summary[c]["makespan_over_ideal"] <= 1.05 for c in fg},
        "speedup_ge_1.9": {
            c: summary[c]["speedup_vs_sequential"] >= 1.9
            for c in fg
            if summary[c]["speedup_vs_sequential"] is not None
        },
        "faster_than_sklearn_n_jobs_2": {
            c: summary[c]["pipeline_wall_s"] < sk2["pipeline_wall_s"] for c in fg if sk2
        },
    }


def per_repetition_table(runs: dict, threshold: float) -> str:
    reps = max(len(v) for v in runs.values())
    header = ["configuration"] + [f"rep {i + 1}: wall s (foreign CPUs)" for i in range(reps)]
    rows = []
    for config in CONFIGS:
        cells = []
        for r in runs[config]:
            wall = r.get("layer1_wall_s", r["pipeline_wall_s"])
            mark = "" if r["foreign_load_cpus"] < threshold else " †"
            cells.append(f"{wall:.2f} ({r['foreign_load_cpus']:.2f}){mark}")
        rows.append([LABELS[config], *cells])
    return markdown_table(header, rows)


def table(summary: dict) -> str:
    seq = summary["sequential"]
    sk2 = summary["sklearn-2"]
    if seq is None or sk2 is None:
        return "(no repetition of sequential or sklearn n_jobs=2 in this selection)"
    header = [
        "configuration",
        "layer 1 makespan s",
        "W s",
        "longest node s",
        "ideal s",
        "makespan / ideal",
        "speed-up vs sequential",
        "pipeline s",
        "pipeline vs sklearn n_jobs=2",
        "foreign load (CPUs)",
    ]
    rows = []
    for config in CONFIGS:
        s = summary[config]
        if s is None:
            rows.append([LABELS[config]] + ["–"] * (len(header) - 1))
            continue
        is_fg = "layer1_wall_s" in s
        layer1 = s.get("layer1_wall_s")
        rows.append(
            [
                LABELS[config],
                _fmt(layer1),
                _fmt(s.get("work_s")),
                _fmt(s.get("longest_node_s")),
                _fmt(s.get("ideal_s")),
                _fmt(s.get("makespan_over_ideal"), ".3f") if is_fg else "–",
                _fmt(seq["layer1_wall_s"] / layer1, ".2f", "x")
                if is_fg
                else _fmt(seq["pipeline_wall_s"] / s["pipeline_wall_s"], ".2f", "x (pipeline)"),
                _fmt(s["pipeline_wall_s"]),
                _fmt(s["pipeline_wall_s"] / sk2["pipeline_wall_s"], ".3f"),
                _fmt(s.get("foreign_load_cpus")),
            ]
        )
    return markdown_table(header, rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2,000 rows and small estimators (a smoke run in seconds)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="repetitions of every configuration (median reported; default 1)",
    )
    parser.add_argument("--n-samples", type=int, default=None, help="override the row count")
    parser.add_argument("--output", default=str(RESULTS / "stacking.json"))
    parser.add_argument(
        "--quiet-threshold",
        type=float,
        default=0.25,
        help="before each configuration, wait until other processes use fewer CPUs "
        "than this (default 0.25)",
    )
    parser.add_argument(
        "--clean-threshold",
        type=float,
        default=0.25,
        help="a repetition is 'clean' when other processes used fewer CPUs than this "
        "during its fit (default 0.25); medians are reported for all and for clean ones",
    )
    parser.add_argument(
        "--quiet-timeout",
        type=float,
        default=60.0,
        help="give up waiting for a quiet machine after this many seconds (0: never wait)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    n = args.n_samples or (2000 if args.quick else 20000)
    X, y = make_friedman1(n_samples=n, n_features=20, noise=1.0, random_state=0)
    estimators = make_estimators(args.quick)
    n_warm = max(200, n // 100)
    warm = (X[:n_warm], y[:n_warm], make_estimators(quick=True))
    env = environment()

    runs: dict = {c: [] for c in CONFIGS}
    started = time.perf_counter()
    for rep in range(args.repeat):
        for config in CONFIGS:
            quiet = None
            if args.quiet_timeout > 0:
                quiet = wait_for_quiet(args.quiet_threshold, timeout=args.quiet_timeout)
            if config.startswith("sklearn"):
                result = run_sklearn(int(config[-1]), estimators, X, y, warm)
            else:
                result = run_foldgraph(config, estimators, X, y, warm)
            result["quiet_wait"] = quiet
            runs[config].append(result)
            print(
                f"  rep {rep + 1}/{args.repeat} {config:>14}: "
                f"{result['pipeline_wall_s']:.2f}s "
                f"({time.perf_counter() - started:.0f}s elapsed)",
                file=sys.stderr,
            )

    # bit-identical out-of-fold predictions: every multiprocessing run vs sequential
    reference = runs["sequential"][0]["_Z"]
    identical = {
        c: all(np.array_equal(r["_Z"], reference) for r in runs[c])
        for c in CONFIGS
        if not c.startswith("sklearn")
    }
    coef_gap = float(np.max(np.abs(runs["sklearn-1"][0]["_coef"] - runs["sequential"][0]["_coef"])))

    summary = {c: summarize(runs[c]) for c in CONFIGS}
    add_ratios(summary, identical)
    thr = args.clean_threshold
    clean = {c: summarize([r for r in runs[c] if r["foreign_load_cpus"] < thr]) for c in CONFIGS}
    add_ratios(clean, identical)

    # Gantt data: the median repetition of each configuration, among the clean ones if any
    traces = {}
    for config in ("sequential", *STRATEGIES, "lpt-2nd"):
        pool = [r for r in runs[config] if r["foreign_load_cpus"] < thr] or runs[config]
        ordered = sorted(pool, key=lambda r: r["pipeline_wall_s"])
        mid = ordered[(len(ordered) - 1) // 2]
        name = config.replace("-", "_")
        path = RESULTS / f"stacking_trace_{name}.json"
        if args.quick:
            path = RESULTS / f"stacking_trace_{name}_quick.json"
        write_json(
            path,
            {
                "benchmark": "stacking",
                "config": config,
                "label": LABELS[config],
                "n_samples": n,
                "quick": args.quick,
                "makespan_s": rnd(mid["layer1_wall_s"], 4),
                "ideal_s": rnd(mid["ideal_s"], 4),
                "n_workers": mid["n_jobs"],
                "repetition": runs[config].index(mid) + 1,
                "foreign_load_cpus": rnd(mid["foreign_load_cpus"], 3),
                "idle_tail_s": rnd(mid["idle_tail_s"], 4),
                "records": [
                    {k: (rnd(v, 6) if isinstance(v, float) else v) for k, v in rec.items()}
                    for rec in mid["_records"]
                ],
            },
        )
        traces[config] = display(path)

    targets = {
        "all repetitions": check_targets(summary),
        "clean repetitions": check_targets(clean),
        "oof_bit_identical": identical,
    }
    result = {
        "benchmark": "stacking",
        "environment": env,
        "quick": args.quick,
        "n_samples": n,
        "n_features": 20,
        "repeat": args.repeat,
        "estimators": [f"{name}: {est!r}" for name, est in estimators],
        "definitions": {
            "layer1_wall_s": "wall seconds of manager.map(base, 'fit', X, y, return_preds=names)"
            " (36 independent nodes); this is the makespan of the ratios",
            "pipeline_wall_s": "layer 1 + np.hstack + meta map (foldgraph) or "
            "StackingRegressor.fit (sklearn)",
            "work_s": "sum of the layer-1 node durations in that run's trace",
            "ideal_s": "max(longest node, work / n_workers) from the same run",
            "makespan_over_ideal": "median over repetitions of layer1_wall_s / ideal_s",
            "startup_s": "warm-up fit on 1% of the rows that starts the workers (not timed)",
            "idle_tail_s": "from the first worker's last node end to the end of the trace",
            "ratios across configurations": "ratios of the medians",
            "foreign_load_cpus": "CPU seconds the machine spent on processes other than this "
            "benchmark's, per wall second of the measured fit (0 = quiet machine)",
        },
        "targets": targets,
        "meta_coef_max_abs_diff_vs_sklearn": coef_gap,
        "clean_threshold_cpus": thr,
        "results": summary,
        "results_clean": clean,
        "per_repetition": {
            c: [
                {
                    k: rnd(r.get(k), 4)
                    for k in ("layer1_wall_s", "pipeline_wall_s", "ideal_s", "foreign_load_cpus")
                    if r.get(k) is not None
                }
                for r in runs[c]
            ]
            for c in CONFIGS
        },
        "traces": traces,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    out = (
        RESULTS / "stacking_quick.json"
        if args.quick and args.output == str(RESULTS / "stacking.json")
        else args.output
    )
    write_json(out, result)

    print(
        f"\nfoldgraph stacking benchmark, n_samples={n:,}, {env['cpus']} CPU(s), "
        f"median of {args.repeat} repetition(s), {env['date']}\n"
    )
    print("Median of all repetitions:\n")
    print(table(summary))
    print(f"\nMedian of the clean repetitions (other processes < {thr} CPU during the fit):\n")
    print(table(clean))
    print("\nEvery repetition (layer-1 wall for foldgraph, fit wall for sklearn; † = not clean):\n")
    print(per_repetition_table(runs, thr))
    print()
    for scope in ("all repetitions", "clean repetitions"):
        for what, by_config in targets[scope].items():
            cells = ", ".join(f"{c}={'yes' if ok else 'NO'}" for c, ok in by_config.items())
            print(f"- {scope}, {what}: {cells}")
    cells = ", ".join(f"{c}={'yes' if ok else 'NO'}" for c, ok in identical.items())
    print(f"- out-of-fold predictions bit-identical to sequential: {cells}")
    print(
        f"- max |meta coef foldgraph - sklearn| = {coef_gap:.2e} "
        "(foldgraph keeps predictions in float64 by default)"
    )
    print(
        f"\nwrote {display(Path(out))} and {len(traces)} trace files ({result['total_seconds']}s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
