"""The ``foldgraph`` command line (also ``python -m foldgraph``).

``foldgraph demo`` fits a two-layer stacked ensemble on scikit-learn's
diabetes data set (shipped with scikit-learn, no download) with the
low-level API and prints what a newcomer wants to see: per-learner
cross-validated scores, the ensemble's holdout score beside the best single
learner, and the schedule. Errors print one line and exit non-zero.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

__all__ = ["main", "demo"]


def _rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.ravel(a) - np.ravel(b)) ** 2)))


def demo(backend: str = "threading", n_jobs: int = -1, folds: int = 5) -> dict:
    """Run the demo; print a report and return its numbers."""
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.svm import SVR

    from foldgraph import FoldIndex, FullIndex, Learner, ParallelProcessing
    from foldgraph.graph import assign_names

    X, y = load_diabetes(return_X_y=True)
    Xtr, Xho, ytr, yho = train_test_split(X, y, test_size=0.25, random_state=0)
    base = [
        Learner(Ridge(alpha=0.1), FoldIndex(folds)),
        Learner(KNeighborsRegressor(15), FoldIndex(folds)),
        Learner(RandomForestRegressor(100, max_depth=5, random_state=0), FoldIndex(folds)),
        Learner(SVR(C=100.0), FoldIndex(folds)),
    ]
    meta = Learner(LinearRegression(), FullIndex(), name="meta")
    print(f"foldgraph demo: diabetes, {len(ytr)} training rows, {len(yho)} holdout rows; "
          f"{len(base)} base learners x {folds} folds + a meta learner; backend={backend!r}")
    with ParallelProcessing(backend=backend, n_jobs=n_jobs, strategy="critical_path") as pp:
        t0 = time.perf_counter()
        names = assign_names(base)
        oof = pp.map(base, "fit", Xtr, ytr, return_preds=names)
        fit_trace, fit_graph = pp.trace, pp.graph
        Z = np.hstack(oof)
        pp.map(meta, "fit", Z, ytr)
        Zho = np.hstack(pp.map(base, "predict", Xho, return_preds=names))
        ens = pp.map(meta, "predict", Zho, return_preds=True)
        elapsed = time.perf_counter() - t0
    print(f"\nlayer 1 graph: {len(fit_graph)} nodes, {fit_graph.nx.number_of_edges()} edges")
    print(f"{'learner':<26}{'cv rmse':>10}{'holdout rmse':>14}{'fit s/fold':>12}")
    scores = {}
    for i, (name, task) in enumerate(zip(names, base)):
        cv = _rmse(Z[:, i], ytr)
        ho = _rmse(Zho[:, i], yho)
        scores[name] = ho
        fit_s = np.mean(task.cv_results_["fit_time"])
        print(f"{name:<26}{cv:>10.2f}{ho:>14.2f}{fit_s:>12.4f}")
    best = min(scores, key=scores.get)
    ens_rmse = _rmse(ens, yho)
    print(f"\nensemble holdout rmse: {ens_rmse:.2f}   best single learner ({best}): "
          f"{scores[best]:.2f}")
    print(f"schedule of the layer-1 fit: {len(fit_trace)} nodes on {fit_trace.n_workers} "
          f"worker(s), makespan {fit_trace.makespan * 1e3:.1f} ms, utilization "
          f"{fit_trace.utilization:.0%}; whole demo {elapsed:.2f} s")
    return {"ensemble": ens_rmse, "best": scores[best], "learners": scores}


def main(argv=None) -> int:
    """Entry point of the ``foldgraph`` console script."""
    parser = argparse.ArgumentParser(prog="foldgraph", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="fit a stacked ensemble on a built-in data set")
    p_demo.add_argument("--backend", default="threading", help="sequential or threading")
    p_demo.add_argument("--n-jobs", type=int, default=-1, help="workers (-1: every CPU)")
    p_demo.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            demo(args.backend, args.n_jobs, args.folds)
    except (ValueError, TypeError, RuntimeError) as exc:
        print(f"foldgraph: error: {exc}", file=sys.stderr)
        return 2
    return 0
