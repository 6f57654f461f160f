"""Fast by default? An ensemble with default settings beside scikit-learn's stacking, by size.

Five learners (Ridge, k-NN(10), tree(depth 8), RandomForest(20), HistGB(50))
x 5 folds + LinearRegression meta on make_friedman1 (20 features), at 300,
1,000, 3,000, 10,000 and 30,000 rows:

- ``foldgraph default``: ``SuperLearner(folds=KFold(5))`` with every other
  setting at its default (backend, n_jobs, strategy);
- ``foldgraph sequential``: the same with ``backend="sequential"``;
- ``sklearn n_jobs=2`` / ``sklearn n_jobs=None``:
  ``StackingRegressor(cv=KFold(5))``.

*warm*: median of ``--repeats`` fits after one untimed fit in the same
process; *cold*: the first fit of a fresh interpreter (imports excluded),
one subprocess per size. Then ``GridSearchCV`` (n_jobs=1 and 2) over 12
candidates (Ridge alpha x tree depth) of each on 1,000 rows.

Usage::

    .venv/bin/python benchmarks/sizes.py            # every size, 3 repeats
    .venv/bin/python benchmarks/sizes.py --quick    # 300 and 1,000 rows, 1 repeat

Writes ``benchmarks/results/sizes.json`` and prints markdown tables (ratios
are ours / scikit-learn's n_jobs=2, measured in the same run).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import _common  # noqa: F401  (first: it sets one BLAS thread per process before numpy loads)
from _common import (
    HERE,
    RESULTS,
    display,
    environment,
    loadavg,
    markdown_table,
    median,
    rnd,
    write_json,
)
from sklearn.datasets import make_friedman1
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor, StackingRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KNeighborsRegressor
from sklearn.tree import DecisionTreeRegressor

from foldgraph import SuperLearner

SIZES = (300, 1_000, 3_000, 10_000, 30_000)
VARIANTS = ("foldgraph default", "foldgraph sequential", "sklearn n_jobs=2", "sklearn n_jobs=None")


def learners() -> list:
    return [("ridge", Ridge()), ("knn", KNeighborsRegressor(10)),
            ("tree", DecisionTreeRegressor(max_depth=8, random_state=0)),
            ("forest", RandomForestRegressor(20, random_state=0)),
            ("hgb", HistGradientBoostingRegressor(max_iter=50, random_state=0))]


def make(variant: str):
    """A fresh estimator of ``variant``; every setting not named stays at its default."""
    if variant.startswith("sklearn"):
        n_jobs = 2 if variant.endswith("=2") else None
        return StackingRegressor(learners(), LinearRegression(), cv=KFold(5), n_jobs=n_jobs)
    kwargs = {"backend": "sequential"} if variant.endswith("sequential") else {}
    return SuperLearner(folds=KFold(5), **kwargs).add(learners()).add_meta(LinearRegression())


def data(n: int):
    return make_friedman1(n_samples=n, n_features=20, noise=1.0, random_state=0)


#: the backend each variant's last fit ran on (``backend="auto"`` picks per fit)
PICKED: dict = {}


def timed_fit(variant: str, X, y) -> float:
    estimator = make(variant)
    start = time.perf_counter()
    estimator.fit(X, y)
    seconds = time.perf_counter() - start
    PICKED[variant] = getattr(getattr(estimator, "trace_", None), "backend", "-")
    return seconds


def warm(n: int, repeats: int) -> dict:
    """Median fit seconds per variant, each after one untimed fit."""
    X, y = data(n)
    out = {}
    for variant in VARIANTS:
        timed_fit(variant, X, y)
        out[variant] = median([timed_fit(variant, X, y) for _ in range(repeats)])
    out["default ran"] = PICKED["foldgraph default"]
    return out


def cold(n: int) -> dict:
    """The first fit of a fresh interpreter, per variant (one subprocess per variant)."""
    out = {}
    for variant in VARIANTS:
        code = (f"import sizes; X, y = sizes.data({n}); "
                f"print(sizes.timed_fit({variant!r}, X, y), sizes.PICKED[{variant!r}])")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, cwd=str(HERE))
        seconds, picked = done.stdout.strip().splitlines()[-1].split()
        out[variant] = float(seconds)
        if variant == "foldgraph default":
            out["default ran"] = picked
    return out


def grid(n_jobs: int) -> dict:
    """GridSearchCV seconds over 12 candidates (ridge alpha x tree depth), 1,000 rows: our
    ensemble with its defaults, scikit-learn's stacking with its own (n_jobs=None)."""
    X, y = data(1_000)
    out = {}
    for name, est, prefix in (("foldgraph default", make("foldgraph default"), "layer-1__"),
                              ("StackingRegressor", make("sklearn n_jobs=None"), "")):
        params = {f"{prefix}ridge__alpha": [0.1, 1.0, 10.0, 100.0],
                  f"{prefix}tree__max_depth": [4, 8, 12]}
        start = time.perf_counter()
        GridSearchCV(est, params, cv=3, n_jobs=n_jobs).fit(X, y)
        out[name] = time.perf_counter() - start
    return out


def report(results: dict) -> str:
    lines = []
    for mode in ("warm", "cold"):
        rows = []
        for n, times in results[mode].items():
            ref = times["sklearn n_jobs=2"]
            rows.append([n] + [rnd(times[v], 2) for v in VARIANTS]
                        + [rnd(times["foldgraph default"] / ref, 2),
                           rnd(times["foldgraph sequential"] / times["foldgraph default"], 2),
                           times.get("default ran", "-")])
        header = ["rows"] + [f"{v} s" for v in VARIANTS] + ["default / sklearn(2)",
                                                            "sequential / default", "default ran"]
        lines += [f"\n{mode} fits (median)\n", markdown_table(header, rows)]
    rows = [[n_jobs, rnd(t["foldgraph default"], 2), rnd(t["StackingRegressor"], 2),
             rnd(t["foldgraph default"] / t["StackingRegressor"], 2)]
            for n_jobs, t in results["grid"].items()]
    lines += ["\nGridSearchCV, 12 candidates, 1,000 rows\n",
              markdown_table(["n_jobs", "over SuperLearner s", "over StackingRegressor s",
                              "ratio"], rows)]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 and 1,000 rows, 1 repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = SIZES[:2] if args.quick else SIZES
    repeats = 1 if args.quick else args.repeats
    results = {"environment": environment(), "load_before": loadavg(),
               "warm": {n: warm(n, repeats) for n in sizes},
               "cold": {n: cold(n) for n in sizes[:2 if args.quick else 3]},
               "grid": {n_jobs: grid(n_jobs) for n_jobs in (1, 2)}}
    results["load_after"] = loadavg()
    path = RESULTS / "sizes.json"
    write_json(path, json.loads(json.dumps(results, default=str)))
    print(report(results))
    print(f"\nwritten: {display(path)}")


if __name__ == "__main__":
    main()
