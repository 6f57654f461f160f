"""Fold fits come back from worker processes pickled and are loaded when first read."""

import pickle

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import KFold

from foldgraph import FoldIndex, Learner, ParallelProcessing, SuperLearner
from foldgraph.tasks.deferred import Pickled

rng = np.random.default_rng(3)
X = rng.normal(size=(90, 4))
y = X @ np.array([1.0, -1.0, 2.0, 0.0]) + rng.normal(scale=0.1, size=90)


def fitted(backend):
    task = Learner(Ridge(alpha=2.0), FoldIndex(3), name="r")
    with ParallelProcessing(backend, n_jobs=2) as pp:
        pp.map(task, "fit", X, y)
    return task


def test_fold_fits_stay_pickled_until_read_then_equal_sequential():
    task, ref = fitted("multiprocessing"), fitted("sequential")
    raw = task.__dict__["fold_estimators_"]
    assert [type(e) for e in raw] == [Pickled] * 3  # nothing unpickled in the parent yet
    assert isinstance(task.estimator_, Ridge)  # the full fit predicts: it came back loaded
    for got, want in zip(task.fold_estimators_, ref.fold_estimators_):
        assert isinstance(got, Ridge)
        np.testing.assert_allclose(got.coef_, want.coef_, rtol=1e-12)
    assert task.fold_estimators_ is raw and not any(type(e) is Pickled for e in raw)


def test_a_task_pickled_before_reading_keeps_its_fold_fits():
    task = fitted("multiprocessing")
    again = pickle.loads(pickle.dumps(task))
    assert [type(e) for e in again.__dict__["fold_estimators_"]] == [Pickled] * 3
    np.testing.assert_allclose([e.coef_ for e in again.fold_estimators_],
                               [e.coef_ for e in fitted("sequential").fold_estimators_],
                               rtol=1e-12)  # fmt: skip


def test_unfitted_and_reset_tasks_have_no_fold_fits():
    task = Learner(Ridge(), FoldIndex(2))
    assert not hasattr(task, "fold_estimators_")
    task = fitted("multiprocessing")
    task.reset()
    assert not hasattr(task, "fold_estimators_")


def test_a_bagged_ensemble_predicts_with_its_deferred_fold_fits():
    """refit=False predicts with the fold fits: loaded at the first predict."""
    def make(backend):
        return SuperLearner(folds=KFold(3), refit=False, backend=backend).add(
            [Ridge(), RandomForestRegressor(10, random_state=0)]).add_meta(LinearRegression())

    ours = make("multiprocessing").fit(X, y)
    ref = make("sequential").fit(X, y)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-10, atol=1e-12)
