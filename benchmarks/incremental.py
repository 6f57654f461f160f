"""Incremental fitting: add one learner to a fitted super learner and refit, with a node cache.

The workload is the stacking workload of ``stacking.py`` (``make_friedman1(
n_samples=20000, n_features=20, noise=1.0, random_state=0)``), as one
``SuperLearner(folds=5, backend="multiprocessing", n_jobs=2)``: ten base
learners (the six of ``stacking.make_estimators`` plus four cheap ones:
LinearRegression, Lasso, a depth-4 tree, HuberRegressor), a LinearRegression
meta learner. 10 x (5 folds + 1 full fit) + 1 meta = 61 nodes.

Per repetition, each with a fresh cache directory, in this order:

- ``full-10``: the 10-learner ensemble, ``cache=False`` (no cache at all);
- ``fit-10``: the same with ``cache=<dir>``: every node runs and is written;
- ``refit-11``: a new ensemble, the same ten learners plus
  ``GradientBoostingRegressor(n_estimators=10, max_depth=3)`` (about the
  ten learners' average cost; ``--new-trees`` changes it), ``cache=<dir>``:
  the 60 nodes of the ten are restored, the new learner's 6 nodes and the
  meta node run;
- ``full-11``: the 11-learner ensemble, ``cache=False`` (what a refit costs
  without a cache).

Measured: wall time of each ``fit`` (a new manager each, so each pays for
starting its two workers; a warm-up fit starts the forkserver first); from
the refit's own trace, the node work W of what ran (new learner + meta) and
``refit wall / W`` (target <= 1.1), and the stricter ``refit wall / ideal``
with ``ideal = max(critical path, W / 2 workers)``; the speed-up ``full-11 / refit-11``
(expect > 5); the cost of writing the cache ``fit-10 / full-10``; where the
refit's own time goes (fingerprints and restoring the hits, running, writing
the new entries: the manager's two cache calls are timed); the cache's size.
``refit-11`` must give bit-identical out-of-fold predictions and predictions
to ``full-11``.

Usage::

    .venv/bin/python benchmarks/incremental.py             # the issue's size, 1 repetition
    .venv/bin/python benchmarks/incremental.py --repeat 3  # medians of 3
    .venv/bin/python benchmarks/incremental.py --quick     # 2,000 rows, small estimators

Writes ``benchmarks/results/incremental.json`` (``incremental_quick.json``
with ``--quick``) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings

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
from _stacking_runs import make_estimators
from sklearn.datasets import make_friedman1
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import HuberRegressor, Lasso, LinearRegression
from sklearn.tree import DecisionTreeRegressor

import foldgraph.engine.manager as manager_module
from foldgraph import NodeCache, SuperLearner

N_JOBS = 2
META = "meta.linearregression"
NEW = "gbr"
CONFIGS = ("full-10", "fit-10", "refit-11", "full-11")


def ten_learners(quick: bool) -> list[tuple[str, object]]:
    """The six learners of the stacking workload and four cheap ones."""
    return make_estimators(quick) + [
        ("ols", LinearRegression()),
        ("lasso", Lasso(alpha=0.01, random_state=0)),
        ("tree4", DecisionTreeRegressor(max_depth=4, random_state=0)),
        ("huber", HuberRegressor(max_iter=200)),
    ]


def new_learner(n_estimators: int) -> tuple[str, object]:
    """Gradient boosting; with 10 trees about the ten learners' average cost."""
    return NEW, GradientBoostingRegressor(n_estimators=n_estimators, max_depth=3,
                                          random_state=0)  # fmt: skip


def ensemble(learners, cache) -> SuperLearner:
    ens = SuperLearner(folds=5, backend="multiprocessing", n_jobs=N_JOBS, cache=cache)
    return ens.add(list(learners)).add_meta(LinearRegression())


class CacheTimer:
    """Time the manager's two cache calls (lookup + restore, write) during a fit."""

    def __init__(self):
        self.seconds = {"restore_hits": 0.0, "store_results": 0.0}
        self._saved = {}

    def __enter__(self):
        for name in self.seconds:
            fn = getattr(manager_module, name)
            self._saved[name] = fn

            def timed(*args, _fn=fn, _name=name, **kw):
                t0 = time.perf_counter()
                try:
                    return _fn(*args, **kw)
                finally:
                    self.seconds[_name] += time.perf_counter() - t0

            setattr(manager_module, name, timed)
        return self

    def __exit__(self, *exc):
        for name, fn in self._saved.items():
            setattr(manager_module, name, fn)


def timed_fit(learners, cache, X, y) -> dict:
    ens = ensemble(learners, cache)
    meter = CpuMeter()
    meter.start()
    with CacheTimer() as timer:
        t0 = time.perf_counter()
        ens.fit(X, y)
        wall = time.perf_counter() - t0
    load = meter.stop()
    trace = ens.trace_
    return {
        "wall_s": wall,
        "nodes_run": len(trace.events),
        "nodes_cached": len(trace.cached),
        "work_s": trace.work,
        "ideal_s": trace.ideal,
        "tasks_run": sorted({e.task for e in trace.events}),
        "restore_s": timer.seconds["restore_hits"],
        "store_s": timer.seconds["store_results"],
        "foreign_load_cpus": load["foreign_load_cpus"],
        "_ens": ens,
    }


def repetition(quick: bool, X, y, n_new: int) -> dict:
    ten = ten_learners(quick)
    eleven = ten + [new_learner(n_new)]
    out = {}
    with tempfile.TemporaryDirectory(prefix="foldgraph-incremental-") as tmp:
        cache = NodeCache(tmp)
        for config, learners, where in (("full-10", ten, False), ("fit-10", ten, cache),
                                        ("refit-11", eleven, cache),
                                        ("full-11", eleven, False)):  # fmt: skip
            out[config] = timed_fit(learners, where, X, y)
            print(f"    {config:>8}: {out[config]['wall_s']:.2f}s, "
                  f"{out[config]['nodes_run']} nodes run", file=sys.stderr)  # fmt: skip
        out["cache_bytes"] = cache.nbytes
        out["cache_entries"] = len(cache)
    refit, full = out["refit-11"], out["full-11"]
    ens_r, ens_f = refit.pop("_ens"), full.pop("_ens")
    # predict in-process: predict payloads carry the fitted estimators (see the README)
    ens_r.set_params(backend="sequential")
    ens_f.set_params(backend="sequential")
    out["identical"] = bool(np.array_equal(ens_r.fit_transform_, ens_f.fit_transform_)
                            and np.array_equal(ens_r.predict(X[:500]), ens_f.predict(X[:500])))  # fmt: skip
    out["refit_ran_only_new_and_meta"] = refit["tasks_run"] == sorted([f"layer-1.{NEW}", META])
    for config in ("full-10", "fit-10"):
        out[config].pop("_ens")
    out["refit_over_work"] = refit["wall_s"] / refit["work_s"]
    out["refit_over_ideal"] = refit["wall_s"] / refit["ideal_s"]
    out["new_share_of_work"] = refit["work_s"] / full["work_s"]
    out["speedup_vs_full"] = full["wall_s"] / refit["wall_s"]
    out["write_overhead"] = out["fit-10"]["wall_s"] / out["full-10"]["wall_s"]
    return out


def summarize(reps: list[dict], n: int, new_trees: int) -> dict:
    """Medians over the repetitions, and the targets."""

    def med(path):
        values = [r[path[0]] if len(path) == 1 else r[path[0]][path[1]] for r in reps]
        return rnd(median(values), 4)

    summary = {
        "repetitions": len(reps),
        "rows": n,
        "new_learner": f"GradientBoostingRegressor(n_estimators={new_trees}, max_depth=3)",
        "nodes": {"ten": 61, "eleven": 67},
        "wall_s": {c: med((c, "wall_s")) for c in CONFIGS},
        "refit_work_s": med(("refit-11", "work_s")),
        "refit_ideal_s": med(("refit-11", "ideal_s")),
        "refit_restore_s": med(("refit-11", "restore_s")),
        "refit_store_s": med(("refit-11", "store_s")),
        "fit10_store_s": med(("fit-10", "store_s")),
        "refit_over_work": med(("refit_over_work",)),
        "refit_over_ideal": med(("refit_over_ideal",)),
        "new_share_of_work": med(("new_share_of_work",)),
        "speedup_vs_full": med(("speedup_vs_full",)),
        "write_overhead": med(("write_overhead",)),
        "foreign_load_cpus": {c: med((c, "foreign_load_cpus")) for c in CONFIGS},
        "cache_mb": rnd(median([r["cache_bytes"] for r in reps]) / 2**20, 1),
        "identical": all(r["identical"] for r in reps),
        "refit_ran_only_new_and_meta": all(r["refit_ran_only_new_and_meta"] for r in reps),
    }
    summary["targets"] = {
        "refit_le_1.1x_new_plus_meta_work": summary["refit_over_work"] <= 1.1,
        "speedup_gt_5x": summary["speedup_vs_full"] > 5,
    }
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="2,000 rows and small estimators (a smoke run)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1, help="repetitions (medians reported)")
    parser.add_argument("--output", default=None)
    parser.add_argument("--new-trees", type=int, default=10,
                        help="trees of the added GradientBoostingRegressor (default 10: about "
                             "the average cost of the ten learners)")  # fmt: skip
    parser.add_argument("--quiet-timeout", type=float, default=60.0,
                        help="wait up to this many seconds for a quiet machine before each "
                             "repetition (0: never wait)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    output = args.output or str(RESULTS / ("incremental_quick.json" if args.quick
                                           else "incremental.json"))  # fmt: skip
    n = 2000 if args.quick else 20000
    X, y = make_friedman1(n_samples=n, n_features=20, noise=1.0, random_state=0)
    ensemble(make_estimators(quick=True)[:2], False).fit(X[:200], y[:200])  # forkserver up

    reps = []
    for rep in range(args.repeat):
        quiet = wait_for_quiet(timeout=args.quiet_timeout) if args.quiet_timeout > 0 else None
        print(f"  repetition {rep + 1}/{args.repeat}", file=sys.stderr)
        result = repetition(args.quick, X, y, args.new_trees)
        result["quiet_wait"] = quiet
        reps.append(result)
        summary = summarize(reps, n, args.new_trees)  # written after each repetition: a partial run counts
        write_json(output, {"environment": environment(), "summary": summary,
                            "repetitions": reps})  # fmt: skip

    w = summary["wall_s"]
    rows = [
        ["full fit, 10 learners, no cache", f"{w['full-10']:.2f}", "61", "0"],
        ["fit, 10 learners, cache (writes 61 entries)", f"{w['fit-10']:.2f}", "61", "0"],
        ["refit, 11 learners, cache", f"{w['refit-11']:.2f}", "7", "60"],
        ["full refit, 11 learners, no cache", f"{w['full-11']:.2f}", "67", "0"],
    ]
    print(markdown_table(["fit", "wall s", "nodes run", "nodes restored"], rows))
    print()
    print(f"refit: {w['refit-11']:.2f} s wall for {summary['refit_work_s']:.2f} s of node work "
          f"(new learner + meta): {summary['refit_over_work']:.3f}x (target <= 1.1); "
          f"{summary['refit_over_ideal']:.3f}x its ideal on {N_JOBS} workers "
          f"({summary['refit_ideal_s']:.2f} s); "
          f"restoring 60 nodes {summary['refit_restore_s']:.3f} s, writing 7 "
          f"{summary['refit_store_s']:.3f} s")  # fmt: skip
    print(f"speed-up over a full refit: {summary['speedup_vs_full']:.1f}x (expect > 5); "
          f"writing the cache costs {summary['write_overhead']:.3f}x a fit without it "
          f"({summary['fit10_store_s']:.2f} s for 61 entries, {summary['cache_mb']} MB)")  # fmt: skip
    print(f"refit identical to a full refit: {summary['identical']}; "
          f"ran only the new learner and the meta: {summary['refit_ran_only_new_and_meta']}")
    print(f"wrote {display(output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
