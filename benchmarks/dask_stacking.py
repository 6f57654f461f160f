"""The stacking workload on dask.distributed beside our multiprocessing backend.

Same workload and measures as ``benchmarks/stacking.py`` (whose helpers this
script imports): ``make_friedman1(20000, 20)``, six base learners x
``FoldIndex(5)`` (36 independent nodes, one ``manager.map``), then a
``LinearRegression`` meta learner on the stacked out-of-fold predictions.
Two managers, both with 2 workers and the same strategy, measured in one
process, alternating per repetition:

- ``multiprocessing``: ``ParallelProcessing("multiprocessing", n_jobs=2)``,
  our own scheduler over worker processes on shared memory;
- ``dask``: ``ParallelProcessing("dask", n_jobs=2)``, a LocalCluster of 2
  worker processes (1 thread each) started by the manager; the whole graph
  is submitted to dask's scheduler, X and y scattered once per run.

Both are warmed up (workers started, estimator modules imported) by a fit
on 1% of the rows; that time is reported as ``startup``. A sequential run
gives the reference: every run's out-of-fold predictions must be
bit-identical to it. The figure is the **overhead ratio**: dask's median
wall time over multiprocessing's (layer 1, and the whole pipeline), with
each backend's ``makespan / ideal`` from its own trace (ideal = max(longest
node, work / 2)): its ratio isolates the scheduling from the speed of the
nodes, which varies on a shared machine. Before each configuration the script waits (up to
``--quiet-timeout`` s) for other processes to go quiet, and it records the
foreign CPU load during each fit.

Usage::

    .venv/bin/python benchmarks/dask_stacking.py            # 20,000 rows, 3 repetitions
    .venv/bin/python benchmarks/dask_stacking.py --quick    # 2,000 rows, small estimators

Writes ``benchmarks/results/dask_stacking.json`` (``dask_stacking_quick.json``
with ``--quick``) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import _common  # noqa: F401  (first: it sets one BLAS thread per process before numpy loads)
import numpy as np
from _common import (
    RESULTS,
    display,
    environment,
    markdown_table,
    median,
    rnd,
    wait_for_quiet,
    write_json,
)
from _stacking_runs import base_layer, fit_foldgraph, make_estimators, trace_stats
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning

from foldgraph import ParallelProcessing

N_JOBS = 2
BACKENDS = ("multiprocessing", "dask")


def make_manager(backend: str, strategy: str) -> ParallelProcessing:
    if backend == "sequential":
        return ParallelProcessing("sequential")
    return ParallelProcessing(backend, n_jobs=N_JOBS, strategy=strategy)


def warm_up(manager, warm) -> float:
    """Start the workers (and import the estimators' modules there); returns seconds."""
    t0 = time.perf_counter()
    manager.map(base_layer(warm[2]), "fit", warm[0], warm[1])
    return time.perf_counter() - t0


def measure(manager, estimators, X, y) -> dict:
    """One fit of the workload on a warm manager."""
    out = fit_foldgraph(manager, estimators, X, y)
    n_workers = 1 if manager.backend == "sequential" else N_JOBS
    stats = trace_stats(out["trace"], n_workers)
    return {
        "layer1_wall_s": out["layer1_wall_s"],
        "pipeline_wall_s": out["pipeline_wall_s"],
        "makespan_over_ideal": out["layer1_wall_s"] / stats["ideal_s"],
        "work_s": stats["work_s"],
        "ideal_s": stats["ideal_s"],
        "dispatch_gap_median_ms": stats["dispatch_gap_median_ms"],
        "foreign_load_cpus": out["load"]["foreign_load_cpus"],
        "_Z": out["Z"],
    }


def summarize(runs: list[dict]) -> dict:
    keys = ("layer1_wall_s", "pipeline_wall_s", "makespan_over_ideal", "work_s", "ideal_s",
            "dispatch_gap_median_ms", "foreign_load_cpus")  # fmt: skip
    return {k: rnd(median([r[k] for r in runs]), 4) for k in keys} | {"repetitions": len(runs)}


def ratios(summary: dict) -> dict:
    """dask's medians over multiprocessing's (wall times; makespan / ideal: scheduling only)."""
    return {k: rnd(summary["dask"][k] / summary["multiprocessing"][k], 3)
            for k in ("layer1_wall_s", "pipeline_wall_s", "makespan_over_ideal")}  # fmt: skip


def table(summary: dict, startup: dict) -> str:
    rows = []
    for backend in BACKENDS:
        s = summary[backend]
        rows.append([backend, f"{startup[backend]:.2f}", f"{s['layer1_wall_s']:.2f}",
                     f"{s['pipeline_wall_s']:.2f}", f"{s['work_s']:.2f}",
                     f"{s['makespan_over_ideal']:.3f}", f"{s['dispatch_gap_median_ms']:.1f}",
                     f"{s['foreign_load_cpus']:.2f}"])  # fmt: skip
    header = ["backend (2 workers)", "startup s", "layer 1 s", "pipeline s", "node work s",
              "makespan / ideal", "median gap ms", "foreign load"]  # fmt: skip
    return markdown_table(header, rows)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="2,000 rows and small estimators, 1 repetition")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=None,
                        help="repetitions per backend (default 3, 1 with --quick)")  # fmt: skip
    parser.add_argument("--strategy", default="lpt", help="strategy of both managers")
    parser.add_argument("--quiet-timeout", type=float, default=60.0,
                        help="wait up to this long for a quiet machine (0: never)")  # fmt: skip
    parser.add_argument("--clean-threshold", type=float, default=0.25,
                        help="a repetition is clean when other processes used fewer CPUs "
                        "than this during its fit (medians also reported over clean ones)")
    parser.add_argument("--output", default=None)
    return parser.parse_args(argv)


def run_all(args, repeat: int, estimators, X, y, warm) -> tuple[dict, dict]:
    """Both backends ``repeat`` times, alternating which goes first; (startup, runs)."""
    managers = {b: make_manager(b, args.strategy) for b in BACKENDS}
    runs: dict = {b: [] for b in BACKENDS}
    try:
        startup = {b: warm_up(m, warm) for b, m in managers.items()}
        for rep in range(repeat):
            order = BACKENDS if rep % 2 == 0 else BACKENDS[::-1]
            for backend in order:
                if args.quiet_timeout > 0:
                    wait_for_quiet(timeout=args.quiet_timeout)
                runs[backend].append(measure(managers[backend], estimators, X, y))
                print(f"  rep {rep + 1}/{repeat} {backend:>15}: "
                      f"{runs[backend][-1]['pipeline_wall_s']:.2f}s", file=sys.stderr)  # fmt: skip
    finally:
        for manager in managers.values():
            manager.clear()
    return startup, runs


def print_report(result: dict, startup: dict, clean: dict, path) -> None:
    ratio, clean_ratio = result["dask_over_multiprocessing"], result["dask_over_multiprocessing_clean"]
    print(table(result["summary"], startup))
    print(f"\ndask / multiprocessing (medians of {result['repetitions']}, same run): layer 1 "
          f"{ratio['layer1_wall_s']:.3f}x, pipeline {ratio['pipeline_wall_s']:.3f}x, "
          f"makespan / ideal {ratio['makespan_over_ideal']:.3f}x; "
          f"bit-identical to sequential: {result['bit_identical_to_sequential']}")  # fmt: skip
    if clean_ratio is not None:
        print(f"clean repetitions only ({', '.join(f'{b}: {len(clean[b])}' for b in BACKENDS)}): "
              f"layer 1 {clean_ratio['layer1_wall_s']:.3f}x, pipeline "
              f"{clean_ratio['pipeline_wall_s']:.3f}x")  # fmt: skip
    print(f"written to {display(path)}")


def main(argv=None) -> int:
    args = parse_args(argv)
    repeat = args.repeat or (1 if args.quick else 3)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    n = 2000 if args.quick else 20000
    X, y = make_friedman1(n_samples=n, n_features=20, noise=1.0, random_state=0)
    estimators = make_estimators(args.quick)
    n_warm = max(200, n // 100)
    warm = (X[:n_warm], y[:n_warm], make_estimators(quick=True))

    with make_manager("sequential", args.strategy) as manager:
        reference = measure(manager, estimators, X, y)
    startup, runs = run_all(args, repeat, estimators, X, y, warm)

    identical = {b: all(np.array_equal(r["_Z"], reference["_Z"]) for r in runs[b])
                 for b in BACKENDS}  # fmt: skip
    summary = {b: summarize(runs[b]) for b in BACKENDS}
    clean = {b: [r for r in runs[b] if r["foreign_load_cpus"] < args.clean_threshold]
             for b in BACKENDS}  # fmt: skip
    clean_summary = {b: summarize(clean[b]) for b in BACKENDS if clean[b]}
    result = {
        "benchmark": "dask_stacking",
        "n_samples": n,
        "quick": args.quick,
        "strategy": args.strategy,
        "n_jobs": N_JOBS,
        "repetitions": repeat,
        "startup_s": {b: rnd(t, 3) for b, t in startup.items()},
        "sequential_pipeline_s": rnd(reference["pipeline_wall_s"], 3),
        "summary": summary,
        "dask_over_multiprocessing": ratios(summary),
        "clean_threshold": args.clean_threshold,
        "summary_clean": clean_summary,
        "dask_over_multiprocessing_clean": ratios(clean_summary) if len(clean_summary) == 2
        else None,
        "bit_identical_to_sequential": identical,
        "runs": {b: [{k: rnd(v, 4) for k, v in r.items() if not k.startswith("_")}
                     for r in runs[b]] for b in BACKENDS},  # fmt: skip
        "environment": environment(),
    }
    name = "dask_stacking_quick.json" if args.quick else "dask_stacking.json"
    path = args.output or RESULTS / name
    write_json(path, result)
    print_report(result, startup, clean, path)
    return 0 if all(identical.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
