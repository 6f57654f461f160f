"""Peak memory of a stacking fit: foldgraph multiprocessing vs sequential, and scikit-learn.

Workload (the issue's): X of 200,000 x 50 float64 (80 MB) and y; base
learners ``Ridge()`` and ``DecisionTreeRegressor(max_depth=6)``, each a
``Learner(est, FoldIndex(5))``; then a ``LinearRegression`` meta learner on
the stacked out-of-fold predictions (as in ``benchmarks/stacking.py``). For
comparison, ``StackingRegressor(estimators, LinearRegression(), cv=KFold(5),
n_jobs=1 | 2)`` on the same data.

What is measured: the sum of the proportional set sizes (PSS, as psutil
``Process.memory_full_info().pss``) of this process and all its descendants
(workers, the multiprocessing forkserver and resource tracker, loky's
workers and resource tracker: all included), sampled by a background thread
every ~20 ms during the fit; the peak of that sum, and the peak above the
idle baseline (taken after a warm-up fit on 1,000 rows has started the
workers and imported the estimators, just before the measured fit). PSS
splits a shared page between the processes that map it, so shared memory
(foldgraph's segments, joblib's memory-maps, libraries preloaded by the
forkserver) is counted once. Pages of /dev/shm that no process maps are in
no PSS: the bytes this process's segments and joblib folders occupy in
/dev/shm are reported separately (``shm`` columns).

PSS also splits a library's pages with every *unrelated* process of the
machine that maps the same file (another interpreter of the same
environment): the file-backed part of the figure moves with what else runs
(by 30-40 MB in our runs). The ``anon+shmem`` columns sum only
``Pss_Anon + Pss_Shmem`` (heap, arrays, shared-memory segments), which
depend on this run alone: compare configurations on those when the machine
is shared.

Each configuration runs in a fresh interpreter (``memory.py --one CONFIG``
prints one JSON line); the driver runs every configuration ``--repeat``
times and reports medians.

Usage::

    .venv/bin/python benchmarks/memory.py              # 200,000 rows, 3 repetitions
    .venv/bin/python benchmarks/memory.py --quick      # 20,000 rows, 1 repetition
    .venv/bin/python benchmarks/memory.py --one foldgraph-multiprocessing
    .venv/bin/python benchmarks/memory.py --limits --repeat 2   # under memory_limit

``--limits`` runs the budget configurations instead (issue 19; see
``_memory_budget.py``): the sequential backend, then 2 workers under
``memory_limit = idle + buffers + k x the largest node estimate`` for k = 1
(the smallest feasible), 1.5, 1.75, 2 and no limit, each limit computed in
its own interpreter; it writes ``benchmarks/results/memory_limits.json``.

Writes ``benchmarks/results/memory.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (first: it sets one BLAS thread per process before numpy loads)
from _common import RESULTS, display, environment, git_state, median, rnd, write_json
from _memory_budget import LIMIT_CONFIGS, LimitedFit, estimators, limits_table, stack_fit
from _memory_report import CONFIGS, MB, RATIOS, ratios, summarize, table
from _memory_sampling import Sampler, baseline

MARKER = "MEMORY-RESULT "


# -- one configuration (in a fresh interpreter) -----------------------------------
def make_data(n_rows: int, n_features: int = 50):
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_rows, n_features))
    y = X[:, :5] @ np.arange(1.0, 6.0) + 0.1 * rng.standard_normal(n_rows)
    return X, y


def make_fit(config: str):
    """Return (fit, teardown, manager) for ``config`` (run_one warms it up)."""
    from sklearn.ensemble import StackingRegressor
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import KFold

    from foldgraph import ParallelProcessing

    if config in LIMIT_CONFIGS:
        fit = LimitedFit(config)
        return fit, fit.clear, None
    if config.startswith("foldgraph"):
        backend = config.split("-")[1]
        manager = (
            ParallelProcessing("multiprocessing", n_jobs=2)
            if backend == "multiprocessing"
            else ParallelProcessing("sequential")
        )
        return (lambda X, y: stack_fit(manager, X, y)), manager.clear, manager

    n_jobs = int(config.rsplit("=", 1)[1])

    def fit(X, y):
        reg = StackingRegressor(
            estimators=estimators(),
            final_estimator=LinearRegression(),
            cv=KFold(5),
            n_jobs=n_jobs,
        )
        return reg.fit(X, y)

    return fit, (lambda: None), None


def run_one(config: str, n_rows: int) -> dict:
    import numpy as np

    X, y = make_data(n_rows)
    x_nbytes = X.nbytes
    tmpdir = None
    if config.endswith("-npy"):  # the parent keeps no copy: X is a memory-mapped file
        tmpdir = tempfile.mkdtemp(prefix="foldgraph-memory-")
        path = os.path.join(tmpdir, "X.npy")
        np.save(path, X)
        X = path
        gc.collect()
    fit, teardown, manager = make_fit(config)
    wX, wy = make_data(1000)
    fit(wX, wy)  # warm-up: starts the workers, imports the estimators
    del wX, wy
    if isinstance(fit, LimitedFit):  # its limit: idle workers, buffers, the largest node
        fit.arm(X, y)
        manager = fit.manager
    gc.collect()
    time.sleep(0.3)
    base = baseline()
    base_total = median([s[1] for s in base])
    base_shm = median([s[4] for s in base])
    base_own = None if base[0][5] is None else median([s[5] for s in base])
    base_roles: dict = {}
    for s in base:
        for role, v in s[2].items():
            base_roles.setdefault(role, []).append(v)
    sampler = Sampler(0.02)
    sampler.start()
    t0 = time.perf_counter()
    fit(X, y)
    wall = time.perf_counter() - t0
    sampler.stop()
    peak = max(sampler.samples, key=lambda s: s[1])
    peak_own = None if base_own is None else max(s[5] for s in sampler.samples)
    intervals = [b[0] - a[0] for a, b in zip(sampler.samples, sampler.samples[1:])]
    pids = manager.worker_pids if manager is not None else []
    budget = fit.report(sampler.samples, t0) if isinstance(fit, LimitedFit) else {}
    teardown()
    if tmpdir is not None:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return {
        "config": config,
        "n_rows": n_rows,
        "x_mb": x_nbytes / MB,
        "fit_s": wall,
        "baseline_mb": base_total / MB,
        "baseline_by_role_mb": {k: median(v) / MB for k, v in base_roles.items()},
        "peak_mb": peak[1] / MB,
        "peak_above_baseline_mb": (peak[1] - base_total) / MB,
        "baseline_anon_shmem_mb": None if base_own is None else base_own / MB,
        "peak_anon_shmem_mb": None if peak_own is None else peak_own / MB,
        "peak_by_role_mb": {k: v / MB for k, v in peak[2].items()},
        "peak_processes": peak[3],
        "peak_at_s": peak[0] - t0,
        "shm_baseline_mb": base_shm / MB,
        "shm_peak_mb": max(s[4] for s in sampler.samples) / MB,
        "samples": len(sampler.samples),
        "sample_interval_median_ms": (median(intervals) or 0) * 1e3,
        "sample_interval_max_ms": max(intervals, default=0) * 1e3,
        "foldgraph_worker_pids": pids,
        **budget,
    }


# -- driver ---------------------------------------------------------------------
def run_subprocess(config: str, n_rows: int) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--one", config, "--rows", str(n_rows)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARKER)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{config} failed (exit code {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len(MARKER) :])


DEFINITIONS = {
    "peak_mb": "max over samples (every ~20 ms during the fit) of the sum of PSS "
    "of this process and all its descendants, in 1e6 bytes",
    "baseline_mb": "median of 5 samples after a warm-up fit on 1,000 rows "
    "(workers started, estimators imported), before the measured fit",
    "peak_anon_shmem_mb": "max over samples of the sum of Pss_Anon + Pss_Shmem "
    "(PSS without file-backed pages, which unrelated processes mapping the same "
    "libraries also share)",
    "shm_peak_mb": "bytes in /dev/shm held by this process's foldgraph segments "
    "and joblib memmap folders (not all in PSS)",
    "ratios": "of medians over repetitions, each configuration in a fresh interpreter",
    "npy": "X saved to a temporary .npy file and passed as a path: the parent keeps "
    "no in-memory copy; workers and parent memory-map the file",
}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--one", choices=CONFIGS + LIMIT_CONFIGS, help="run one configuration, print JSON")
    parser.add_argument("--rows", type=int, default=None, help="rows of X (default 200,000)")
    parser.add_argument("--quick", action="store_true", help="20,000 rows, 1 repetition")
    parser.add_argument("--repeat", type=int, default=None, help="default 3 (1 with --quick)")
    parser.add_argument(
        "--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS), help="default: all"
    )
    parser.add_argument(
        "--limits", action="store_true",
        help="the budget runs instead: sequential, then 2 workers under memory_limit = idle + "
        "buffers + k x the largest node, k = 1 (smallest feasible) ... unlimited",
    )  # fmt: skip
    parser.add_argument("--output", default=None)
    return parser.parse_args(argv)


def run_all(configs, n_rows: int, repeat: int, started: float) -> dict:
    """Each configuration ``repeat`` times, each run in a fresh interpreter."""
    runs: dict = {c: [] for c in configs}
    for rep in range(repeat):
        for config in configs:
            runs[config].append(run_subprocess(config, n_rows))
            r = runs[config][-1]
            print(
                f"  rep {rep + 1}/{repeat} {config:>26}: peak {r['peak_mb']:.0f} MB, "
                f"+{r['peak_above_baseline_mb']:.0f} MB, fit {r['fit_s']:.1f}s "
                f"({time.perf_counter() - started:.0f}s elapsed)",
                file=sys.stderr,
            )
    return runs


def print_report(result: dict, env: dict, main_ratio, out) -> None:
    print(
        f"\nfoldgraph memory benchmark, X {result['n_rows']:,} x 50 float64 "
        f"({result['x_mb']:.0f} MB), median of {result['repeat']} run(s), {env['cpus']} CPU(s), "
        f"{env['date']}\n"
    )
    print(table(result["results"]))
    print()
    for r in result["ratios"]:
        own = f", anon+shmem {r['anon_shmem']:.2f}x" if "anon_shmem" in r else ""
        print(
            f"- {r['what']}: peak {r['peak']:.2f}x, above baseline "
            f"{r['above_baseline']:.2f}x{own}"
        )
    if main_ratio is not None:
        ok = main_ratio["peak"] <= 1.4
        print(
            f"- target (foldgraph multiprocessing / sequential <= 1.4): {'met' if ok else 'NOT met'}"
        )
    print("- reference from the issue: sklearn n_jobs=2 / n_jobs=1 = 3.0x (1007 MB vs 336 MB)")
    print(f"\nwrote {display(out)} ({result['total_seconds']}s)")


def main(argv=None) -> int:
    args = parse_args(argv)
    n_rows = args.rows or (20_000 if args.quick else 200_000)
    if args.one:
        print(MARKER + json.dumps(run_one(args.one, n_rows)), flush=True)
        return 0

    repeat = args.repeat or (1 if args.quick else 3)
    env = environment()
    configs = [c for c in CONFIGS if c in args.configs]
    started = time.perf_counter()
    if args.limits:
        return main_limits(args, n_rows, repeat, env, started)
    runs = run_all(configs, n_rows, repeat, started)
    summary = {c: summarize(runs[c]) for c in configs}
    found = ratios(summary)
    main_ratio = next((r for r in found if r["what"] == RATIOS[0][2]), None)
    result = {
        "benchmark": "memory",
        "environment": env,
        "n_rows": n_rows,
        "n_features": 50,
        "x_mb": rnd(n_rows * 50 * 8 / MB, 1),
        "repeat": repeat,
        "definitions": DEFINITIONS,
        "ratios": found,
        "target_ratio_le_1.4": None if main_ratio is None else main_ratio["peak"] <= 1.4,
        "results": summary,
        "runs": runs,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    default = RESULTS / ("memory_quick.json" if args.quick else "memory.json")
    out = Path(args.output) if args.output else default
    write_json(out, result)
    print_report(result, env, main_ratio, out)
    return 0


def main_limits(args, n_rows: int, repeat: int, env: dict, started: float) -> int:
    """``--limits``: every budget configuration and the sequential run, ``repeat`` times."""
    runs = run_all(["foldgraph-sequential", *LIMIT_CONFIGS], n_rows, repeat, started)
    table = limits_table(runs)
    result = {
        "benchmark": "memory-limits",
        "environment": env,
        "git": git_state(),
        "n_rows": n_rows,
        "repeat": repeat,
        "definitions": {**DEFINITIONS, "limit_mb": "idle_memory of the process tree after "
                        "the warm-up + the base graph's buffers + k x its largest node "
                        "estimate + slack, measured in the run's own interpreter"},
        "table": table,
        "runs": runs,
        "total_seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip
    default = RESULTS / ("memory_limits_quick.json" if args.quick else "memory_limits.json")
    out = Path(args.output) if args.output else default
    write_json(out, result)
    print(f"\n{table}\n\nwrote {display(out)} ({result['total_seconds']}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
