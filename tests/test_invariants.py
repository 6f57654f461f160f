"""Invariants of DESIGN.md, over backend x strategy x n_jobs.

- the same graph gives bit-identical numbers everywhere;
- out-of-fold predictions equal a manual loop over the indexer's folds
  (and over sklearn's KFold for FoldIndex);
- "predict" uses the full-data estimators, "transform" replays the folds.
"""

import itertools

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold
from sklearn.neighbors import KNeighborsRegressor
from sklearn.tree import DecisionTreeRegressor

from foldgraph import (
    BlendIndex,
    ClusteredSubsetIndex,
    FoldIndex,
    FullIndex,
    Learner,
    ParallelProcessing,
    SubsetIndex,
    TemporalIndex,
)
from foldgraph.tasks.indexers import rows_to_array
from foldgraph.testing import OLS

CONFIGS = [
    ("sequential", "fifo", 1),
    *itertools.product(["threading"], ["fifo", "lpt", "critical_path"], [1, 2, 4]),
    *itertools.product(["multiprocessing"], ["fifo", "lpt", "critical_path"], [1, 2]),
]
REGRESSORS = {
    "ridge": Ridge(alpha=1.0),
    "tree": DecisionTreeRegressor(max_depth=3, random_state=0),
    "knn": KNeighborsRegressor(3),
    "ols": OLS(),
}
INDEXERS = {
    "fold": FoldIndex(3),
    "blend": BlendIndex(0.4),
    "full": FullIndex(),
    "subset": SubsetIndex(2, 3),
    "temporal": TemporalIndex(step_size=4, burn_in=8, window=6, lag=1),
    "clustered": ClusteredSubsetIndex(KMeans(2, n_init=3, random_state=0), 2, 3),
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.rand(30, 4)
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.randn(30)
    return X, y


def manual_oof(estimator, indexer, X, y):
    """The expected out-of-fold matrix: a plain loop over the indexer's folds."""
    folds = clone(indexer).make_folds(X, y)
    fitted = clone(indexer).fit(X, y)
    offset = fitted.n_samples_ - fitted.n_test_samples_
    P = np.zeros((fitted.n_test_samples_, fitted.n_partitions_), dtype=np.float64)
    for fold in folds:
        if not fold.test:
            continue
        train, test = rows_to_array(fold.train), rows_to_array(fold.test)
        pred = clone(estimator).fit(X[train], y[train]).predict(X[test])
        P[test - offset, fold.partition] = pred
    return P


def run_all(manager, learners, X, y):
    fit = manager.map(learners, "fit", X, y, return_preds=[f"l{i}" for i in range(len(learners))])
    return fit


@pytest.mark.parametrize("backend, strategy, n_jobs", CONFIGS)
def test_identical_on_every_backend(data, backend, strategy, n_jobs):
    X, y = data
    reference = None
    learners = [Learner(clone(est), FoldIndex(4), name=f"l{i}")
                for i, est in enumerate(REGRESSORS.values())]  # fmt: skip
    with ParallelProcessing("sequential") as pp:
        reference = run_all(pp, learners, X, y)
    learners = [Learner(clone(est), FoldIndex(4), name=f"l{i}")
                for i, est in enumerate(REGRESSORS.values())]  # fmt: skip
    with ParallelProcessing(backend, n_jobs=n_jobs, strategy=strategy) as pp:
        got = run_all(pp, learners, X, y)
        pred = pp.map(learners, "predict", X, return_preds=["l0", "l3"])
        trace = pp.trace
    for a, b in zip(reference, got):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(pred[1].ravel(), OLS().fit(X, y).predict(X), rtol=1e-5)
    assert len(trace) == 4 and {r["task"] for r in trace.records} == {"l0", "l1", "l2", "l3"}


@pytest.mark.parametrize("name", list(REGRESSORS))
def test_oof_equals_sklearn_kfold(data, name):
    X, y = data
    est = REGRESSORS[name]
    expected = np.zeros((len(y), 1))
    for train, test in KFold(5).split(X):
        expected[test, 0] = clone(est).fit(X[train], y[train]).predict(X[test])
    learner = Learner(est, FoldIndex(5), name=name)
    with ParallelProcessing("threading", n_jobs=2) as pp:
        out = pp.map(learner, "fit", X, y, return_preds=True)
    np.testing.assert_allclose(out, expected, rtol=1e-10)  # BLAS: last bits vary by CPU
    assert len(learner.fold_estimators_) == 5
    # fold estimators are distinct fitted clones, never the template
    assert learner.estimator is est and all(f is not est for f in learner.fold_estimators_)


@pytest.mark.parametrize("backend", ["sequential", "threading", "multiprocessing"])
@pytest.mark.parametrize("kind", list(INDEXERS))
def test_oof_equals_manual_loop_for_every_indexer(data, kind, backend):
    X, y = data
    indexer = INDEXERS[kind]
    learner = Learner(Ridge(), indexer, name="r")
    with ParallelProcessing(backend, n_jobs=2) as pp:
        fit = pp.map(learner, "fit", X, y, return_preds=True)
        transform = pp.map(learner, "transform", X, y, return_preds=True)
        predict = pp.map(learner, "predict", X[:7], return_preds=True)
    np.testing.assert_allclose(fit, manual_oof(Ridge(), indexer, X, y), rtol=1e-10)
    np.testing.assert_array_equal(transform, fit)
    # predict: each partition's full-data estimator on every new row
    fitted = clone(indexer).fit(X, y)
    expected = np.column_stack([
        Ridge().fit(X[rows_to_array(rows)], y[rows_to_array(rows)]).predict(X[:7])
        for rows in fitted.partition()
    ])  # fmt: skip
    np.testing.assert_allclose(predict, expected, rtol=1e-10)
    assert len(learner.partition_estimators_) == fitted.n_partitions_


def test_proba_columns_align_on_every_class():
    """A training fold missing a class still fills that class's column with zeros."""
    X = np.arange(24, dtype=float).reshape(12, 2)
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    learner = Learner(LogisticRegression(), FoldIndex(3), proba=True, name="lr")
    with ParallelProcessing("sequential") as pp:
        P = pp.map(learner, "fit", X, y, return_preds=True)
    assert P.shape == (12, 3)
    np.testing.assert_array_equal(learner.classes_, [0, 1, 2])
    # fold 0 (rows 0-3) was fitted on classes 1 and 2 only: class 0 gets 0
    np.testing.assert_array_equal(P[:4, 0], 0)
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-6)
    expected = LogisticRegression().fit(X[4:], y[4:]).predict_proba(X[:4])
    np.testing.assert_allclose(P[:4, 1:], expected, rtol=1e-6)


def test_multi_output_targets(data):
    X, y = data
    Y = np.column_stack([y, -y])
    learner = Learner(Ridge(), FoldIndex(3), name="r")
    with ParallelProcessing("threading", n_jobs=2) as pp:
        P = pp.map(learner, "fit", X, Y, return_preds=True)
        Q = pp.map(learner, "predict", X, return_preds=True)
    assert P.shape == Q.shape == (30, 2)
    np.testing.assert_allclose(P[:, 0], -P[:, 1], rtol=1e-5)


def test_scorer_and_cv_results(data):
    X, y = data

    def mae(t, p):
        return float(np.mean(np.abs(t - p)))

    learner = Learner(OLS(), FoldIndex(3), scorer=mae, name="o")
    with ParallelProcessing("sequential") as pp:
        P = pp.map(learner, "fit", X, y, return_preds=True)
    res = learner.cv_results_
    assert res["fold"] == [0, 1, 2]
    expected = [mae(y[a:b], P[a:b, 0]) for a, b in [(0, 10), (10, 20), (20, 30)]]
    np.testing.assert_allclose(res["score"], expected, rtol=1e-5)
    assert all(t >= 0 for t in res["fit_time"])
