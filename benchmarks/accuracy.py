"""Accuracy benchmark: what a modeller gains from stacking, and from bagging.

On data sets that ship with scikit-learn or are generated (no download), the
same four base learners (a linear model, k-NN, a random forest, histogram
gradient boosting) are compared as:

- ``best single``: the learner with the best 5-fold CV score on the training
  rows, refitted on them;
- ``sklearn stacking``: ``StackingClassifier``/``StackingRegressor`` (cv=5, n_jobs=2);
- ``refit=True``: ``SuperLearner(folds=5)`` (full-data fits predict);
- ``refit=False``: the same, predicting with the mean of the fold models;
- ``bagged 5x3``: ``SuperLearner(folds=RepeatedKFold(5, 3), refit=False)``.

Each is scored on a 25 % holdout (accuracy or R^2), over several seeds
(mean and spread), with its fit wall time on 2 workers (foldgraph:
multiprocessing, n_jobs=2).

Usage::

    .venv/bin/python benchmarks/accuracy.py            # 3 seeds
    .venv/bin/python benchmarks/accuracy.py --quick    # 1 seed, small learners

Writes ``benchmarks/results/accuracy.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time

import _common  # noqa: F401  (first: it sets one BLAS thread per process before numpy loads)
import numpy as np
from _common import RESULTS, display, environment, markdown_table, rnd, write_json
from sklearn.base import clone, is_classifier
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_wine,
    make_classification,
    make_friedman1,
)
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
    StackingClassifier,
    StackingRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import (
    KFold,
    RepeatedKFold,
    RepeatedStratifiedKFold,
    StratifiedKFold,
    cross_val_score,
    train_test_split,
)
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from foldgraph import SuperLearner

CONFIGS = ("best single", "sklearn stacking", "refit=True", "refit=False", "bagged 5x3")


def categorical_classification(seed: int = 0):
    """make_classification with 3 columns cut into integer categories (ordinal codes)."""
    X, y = make_classification(1500, 12, n_informative=6, random_state=seed)
    for j in range(3):
        X[:, j] = np.digitize(X[:, j], np.quantile(X[:, j], [0.2, 0.4, 0.6, 0.8]))
    return X, y


DATASETS = {
    "breast_cancer": lambda: load_breast_cancer(return_X_y=True),
    "wine": lambda: load_wine(return_X_y=True),
    "digits": lambda: load_digits(return_X_y=True),
    "classification+categorical": categorical_classification,
    "diabetes": lambda: load_diabetes(return_X_y=True),
    "friedman1": lambda: make_friedman1(2000, noise=1.0, random_state=0),
}


def learners(classifier: bool, quick: bool) -> list:
    trees, iters = (20, 30) if quick else (100, 100)
    if classifier:
        return [("linear", make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))),
                ("knn", make_pipeline(StandardScaler(), KNeighborsClassifier(15))),
                ("forest", RandomForestClassifier(trees, random_state=0)),
                ("boosting", HistGradientBoostingClassifier(max_iter=iters, random_state=0))]
    return [("linear", make_pipeline(StandardScaler(), Ridge())),
            ("knn", make_pipeline(StandardScaler(), KNeighborsRegressor(15))),
            ("forest", RandomForestRegressor(trees, random_state=0)),
            ("boosting", HistGradientBoostingRegressor(max_iter=iters, random_state=0))]


def fit_one(config: str, base: list, classifier: bool, seed: int, X, y):
    """A fitted model of ``config``; the caller times it."""
    meta = LogisticRegression(max_iter=2000) if classifier else Ridge()
    cv = StratifiedKFold(5, shuffle=True, random_state=seed) if classifier else \
        KFold(5, shuffle=True, random_state=seed)
    if config == "best single":
        scores = [cross_val_score(clone(e), X, y, cv=cv, n_jobs=2).mean() for _, e in base]
        return clone(base[int(np.argmax(scores))][1]).fit(X, y)
    if config == "sklearn stacking":
        stack = StackingClassifier if classifier else StackingRegressor
        return stack([(n, clone(e)) for n, e in base], final_estimator=meta, cv=cv,
                     n_jobs=2).fit(X, y)  # fmt: skip
    folds, refit = cv, config == "refit=True"
    if config == "bagged 5x3":
        repeated = RepeatedStratifiedKFold if classifier else RepeatedKFold
        folds = repeated(n_splits=5, n_repeats=3, random_state=seed)
    ens = SuperLearner(folds=folds, refit=refit, backend="multiprocessing", n_jobs=2,
                       strategy="critical_path", cache=False)  # fmt: skip
    ens.add([(n, clone(e)) for n, e in base], proba=classifier).add_meta(meta)
    return ens.fit(X, y)


def run(quick: bool, seeds: int) -> dict:
    results = {}
    names = list(DATASETS)[:2] + ["diabetes"] if quick else list(DATASETS)
    for name in names:
        X, y = DATASETS[name]()
        classifier = len(np.unique(y)) <= 10 and np.issubdtype(np.asarray(y).dtype, np.integer)
        base = learners(classifier, quick)
        rows = {c: {"score": [], "fit_s": []} for c in CONFIGS}
        for seed in range(seeds):
            X_tr, X_te, y_tr, y_te = train_test_split(
                X, y, test_size=0.25, random_state=seed, stratify=y if classifier else None)
            for config in CONFIGS:
                start = time.perf_counter()
                model = fit_one(config, base, classifier, seed, X_tr, y_tr)
                rows[config]["fit_s"].append(time.perf_counter() - start)
                rows[config]["score"].append(float(model.score(X_te, y_te)))
                assert is_classifier(model) == classifier
            print(f"  {name} seed {seed}: " + ", ".join(
                f"{c} {rows[c]['score'][-1]:.4f}" for c in CONFIGS), flush=True)
        results[name] = {"metric": "accuracy" if classifier else "r2", "rows": X.shape[0],
                         "features": X.shape[1], "configs": rows}
    return results


def table(results: dict) -> str:
    header = ["data set (metric)"] + [f"{c}: score (spread), fit s" for c in CONFIGS]
    body = []
    for name, res in results.items():
        cells = [f"{name} ({res['metric']}, {res['rows']} x {res['features']})"]
        for c in CONFIGS:
            s, t = res["configs"][c]["score"], res["configs"][c]["fit_s"]
            spread = f" ({rnd(float(np.max(s) - np.min(s)), 3)})" if len(s) > 1 else ""
            cells.append(f"{np.mean(s):.4f}{spread}, {np.median(t):.1f}")
        body.append(cells)
    return markdown_table(header, body)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, 3 data sets, small learners")
    parser.add_argument("--seeds", type=int, default=None, help="seeds (default 3; quick 1)")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 3)
    start = time.time()
    results = run(args.quick, seeds)
    out = {"environment": environment(), "seeds": seeds, "quick": args.quick,
           "configs": list(CONFIGS), "results": results}  # fmt: skip
    path = args.output or RESULTS / ("accuracy_quick.json" if args.quick else "accuracy.json")
    write_json(path, out)
    print(table(results))
    print(f"\nwrote {display(path)} ({time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
