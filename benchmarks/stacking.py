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
import sys
import time
import warnings
from pathlib import Path

import _common  # noqa: F401  (first: it sets one BLAS thread per process before numpy loads)
import numpy as np
from _common import RESULTS, display, environment, rnd, wait_for_quiet, write_json
from _stacking_report import (
    CONFIGS,
    LABELS,
    STRATEGIES,
    add_ratios,
    check_targets,
    per_repetition_table,
    summarize,
    table,
)
from _stacking_runs import (
    base_layer,
    fit_foldgraph,
    make_estimators,
    run_foldgraph,
    run_sklearn,
    trace_stats,
)
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning

#: what dask_stacking.py and incremental.py used to import from here
__all__ = ["main", "make_estimators", "base_layer", "fit_foldgraph", "trace_stats"]


# -- driver -----------------------------------------------------------------------
DEFINITIONS = {
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
}


def parse_args(argv):
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
    return args


def run_all(args, estimators, X, y, warm, started: float) -> dict:
    """Every configuration, ``--repeat`` times, in order; ``{config: [run, ...]}``."""
    runs: dict = {c: [] for c in CONFIGS}
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
    return runs


def write_traces(runs: dict, n: int, quick: bool, threshold: float) -> dict:
    """Gantt data: the median repetition of each configuration, among the clean ones if any."""
    traces = {}
    for config in ("sequential", *STRATEGIES, "lpt-2nd"):
        pool = [r for r in runs[config] if r["foreign_load_cpus"] < threshold] or runs[config]
        ordered = sorted(pool, key=lambda r: r["pipeline_wall_s"])
        mid = ordered[(len(ordered) - 1) // 2]
        name = config.replace("-", "_")
        path = RESULTS / f"stacking_trace_{name}.json"
        if quick:
            path = RESULTS / f"stacking_trace_{name}_quick.json"
        write_json(
            path,
            {
                "benchmark": "stacking",
                "config": config,
                "label": LABELS[config],
                "n_samples": n,
                "quick": quick,
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
    return traces


def per_repetition(runs: dict) -> dict:
    keys = ("layer1_wall_s", "pipeline_wall_s", "ideal_s", "foreign_load_cpus")
    return {
        c: [{k: rnd(r.get(k), 4) for k in keys if r.get(k) is not None} for r in runs[c]]
        for c in CONFIGS
    }


def print_report(result: dict, runs: dict, env: dict, out) -> None:
    summary, clean, thr = result["results"], result["results_clean"], result["clean_threshold_cpus"]
    print(
        f"\nfoldgraph stacking benchmark, n_samples={result['n_samples']:,}, {env['cpus']} CPU(s), "
        f"median of {result['repeat']} repetition(s), {env['date']}\n"
    )
    print("Median of all repetitions:\n")
    print(table(summary))
    print(f"\nMedian of the clean repetitions (other processes < {thr} CPU during the fit):\n")
    print(table(clean))
    print("\nEvery repetition (layer-1 wall for foldgraph, fit wall for sklearn; † = not clean):\n")
    print(per_repetition_table(runs, thr))
    print()
    targets = result["targets"]
    for scope in ("all repetitions", "clean repetitions"):
        for what, by_config in targets[scope].items():
            cells = ", ".join(f"{c}={'yes' if ok else 'NO'}" for c, ok in by_config.items())
            print(f"- {scope}, {what}: {cells}")
    cells = ", ".join(f"{c}={'yes' if ok else 'NO'}" for c, ok in targets["oof_bit_identical"].items())
    print(f"- out-of-fold predictions bit-identical to sequential: {cells}")
    print(
        f"- max |meta coef foldgraph - sklearn| = {result['meta_coef_max_abs_diff_vs_sklearn']:.2e} "
        "(foldgraph keeps predictions in float64 by default)"
    )
    print(
        f"\nwrote {display(Path(out))} and {len(result['traces'])} trace files "
        f"({result['total_seconds']}s)"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    n = args.n_samples or (2000 if args.quick else 20000)
    X, y = make_friedman1(n_samples=n, n_features=20, noise=1.0, random_state=0)
    estimators = make_estimators(args.quick)
    n_warm = max(200, n // 100)
    warm = (X[:n_warm], y[:n_warm], make_estimators(quick=True))
    env = environment()
    started = time.perf_counter()
    runs = run_all(args, estimators, X, y, warm, started)

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
    traces = write_traces(runs, n, args.quick, thr)

    result = {
        "benchmark": "stacking",
        "environment": env,
        "quick": args.quick,
        "n_samples": n,
        "n_features": 20,
        "repeat": args.repeat,
        "estimators": [f"{name}: {est!r}" for name, est in estimators],
        "definitions": DEFINITIONS,
        "targets": {
            "all repetitions": check_targets(summary),
            "clean repetitions": check_targets(clean),
            "oof_bit_identical": identical,
        },
        "meta_coef_max_abs_diff_vs_sklearn": coef_gap,
        "clean_threshold_cpus": thr,
        "results": summary,
        "results_clean": clean,
        "per_repetition": per_repetition(runs),
        "traces": traces,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    out = (
        RESULTS / "stacking_quick.json"
        if args.quick and args.output == str(RESULTS / "stacking.json")
        else args.output
    )
    write_json(out, result)
    print_report(result, runs, env, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
