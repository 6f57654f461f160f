"""DataFrames end to end: every learner and preprocessing step gets the frame itself.

Checked against scikit-learn's own results (cross_val_predict, a pipeline
fitted by hand) and across backends, which must agree exactly.
"""

import os

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.compose import make_column_transformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from foldgraph import (
    BlendEnsemble,
    FoldIndex,
    Learner,
    ParallelProcessing,
    SuperLearner,
)
from foldgraph.engine.buffers import segment_names

pd = pytest.importorskip("pandas")


def _frame(n=120, seed=0):
    rng = np.random.RandomState(seed)
    X = pd.DataFrame({
        "a": rng.randn(n),
        "s": rng.choice(["u", "v", "w"], n),
        "c": pd.Categorical(rng.choice(["p", "q", "r"], n)),
        "b": rng.rand(n) > 0.5,
        "i": rng.randint(0, 5, n).astype(np.int32),
    })
    y = (2 * X["a"] + (X["s"] == "u") + 3 * (X["c"] == "p") + X["b"] + 0.1 * rng.randn(n))
    return X, y.to_numpy()


def _onehot_ridge():
    encode = make_column_transformer((OneHotEncoder(), ["s", "c"]), remainder="passthrough")
    return make_pipeline(encode, Ridge(alpha=0.1))


def _hgb():
    """Native categorical support: the category column is used as such, the strings dropped."""
    drop = make_column_transformer(("drop", ["s"]), remainder="passthrough",
                                   verbose_feature_names_out=False).set_output(transform="pandas")
    return make_pipeline(drop, HistGradientBoostingRegressor(
        max_iter=15, categorical_features="from_dtype", random_state=0))


class Recorder(BaseEstimator, RegressorMixin):
    """Remembers what ``fit`` and ``predict`` were given."""

    def fit(self, X, y):
        self.seen_ = (type(X).__name__, tuple(map(str, X.columns)),
                      tuple(str(t) for t in X.dtypes))
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        assert type(X).__name__ == "DataFrame", type(X)
        return np.full(len(X), self.mean_)


BACKENDS = ["sequential", "threading", "multiprocessing"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_learners_get_the_frame_with_names_and_dtypes(backend):
    X, y = _frame()
    learner = Learner(Recorder(), FoldIndex(3), name="rec")
    with ParallelProcessing(backend=backend, n_jobs=2) as pp:
        pp.map(learner, "fit", X, y)
    seen = {est.seen_ for est in learner.fold_estimators_ + [learner.estimator_]}
    assert seen == {("DataFrame", ("a", "s", "c", "b", "i"),
                     ("float64", "str", "category", "bool", "int32"))}


def _ensemble(backend, **kwargs):
    ens = SuperLearner(folds=KFold(4), backend=backend, n_jobs=2, **kwargs)
    ens.add({"onehot": [("ridge", _onehot_ridge())], "native": [("hgb", _hgb())]})
    return ens.add_meta(LinearRegression())


def test_fit_transform_equals_cross_val_predict_of_each_pipeline():
    X, y = _frame()
    ens = _ensemble("sequential").fit(X, y)
    for j, est in enumerate([_hgb(), _onehot_ridge()]):
        expected = cross_val_predict(est, X, y, cv=KFold(4))
        got = ens.fit_transform_[:, j]
        if not np.allclose(got, expected, atol=1e-8):  # columns in case order
            got = ens.fit_transform_[:, 1 - j]
        np.testing.assert_allclose(got, expected, atol=1e-8)


def test_every_backend_gives_identical_results():
    X, y = _frame()
    X_new, _ = _frame(30, seed=1)
    results = []
    for backend in BACKENDS:
        ens = _ensemble(backend).fit(X, y)
        results.append((ens.fit_transform_, ens.predict(X_new)))
    for oof, pred in results[1:]:  # to rounding: BLAS may differ between processes
        np.testing.assert_allclose(oof, results[0][0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(pred, results[0][1], rtol=1e-12, atol=1e-12)
    assert segment_names(os.getpid()) == []


@pytest.mark.slow
def test_dask_gives_the_same_results_as_sequential():
    pytest.importorskip("distributed")
    X, y = _frame()
    ref = _ensemble("sequential").fit(X, y)
    ens = _ensemble("dask").fit(X, y)
    np.testing.assert_allclose(ens.fit_transform_, ref.fit_transform_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ens.predict(X.iloc[:7]), ref.predict(X.iloc[:7]), rtol=1e-12, atol=1e-12)


def test_hist_gradient_boosting_uses_the_categorical_column_natively():
    X, y = _frame()
    ens = _ensemble("multiprocessing").fit(X, y)
    fitted = [ens.layers_[0]["native.hgb"].estimator_]
    fitted += ens.layers_[0]["native.hgb"].fold_estimators_
    for pipeline in fitted:
        hgb = pipeline[-1]
        assert list(hgb.feature_names_in_) == ["a", "c", "b", "i"]
        assert hgb.is_categorical_.tolist() == [False, True, False, False]


def test_column_transformer_as_preprocessing_step():
    X, y = _frame()
    encode = make_column_transformer((OneHotEncoder(), ["s", "c"]), remainder="passthrough")
    ens = SuperLearner(folds=KFold(3), backend="multiprocessing", n_jobs=2)
    ens.add([("ridge", Ridge(alpha=0.1))], preprocessing=[("encode", encode)])
    ens.add_meta(LinearRegression()).fit(X, y)
    expected = cross_val_predict(make_pipeline(clone(encode), Ridge(alpha=0.1)), X, y,
                                 cv=KFold(3))
    np.testing.assert_allclose(ens.fit_transform_[:, 0], expected, atol=1e-8)
    by_hand = make_pipeline(clone(encode), Ridge(alpha=0.1)).fit(X, y)
    base = ens.transform(X.iloc[:10])
    np.testing.assert_allclose(base[:, 0], by_hand.predict(X.iloc[:10]), atol=1e-8)


def test_a_string_column_fails_in_the_learner_that_cannot_read_it():
    X, y = _frame()
    ens = SuperLearner(folds=3, backend="sequential").add([Ridge()]).add_meta(Ridge())
    with pytest.raises(ValueError, match="could not convert string to float"):
        ens.fit(X, y)


@pytest.mark.parametrize("columns, missing", [(["i", "a", "b"], False), (["a", "b"], True)])
def test_predict_with_reordered_or_missing_columns_gives_scikit_learns_error(columns, missing):
    X, y = _frame()
    X = X[["a", "b", "i"]]
    ens = SuperLearner(folds=3, backend="sequential").add([Ridge()])
    ens.add_meta(LinearRegression()).fit(X, y)
    reference = Ridge().fit(X, y)  # a scikit-learn estimator checks the names so
    with pytest.raises(ValueError) as theirs:
        reference.predict(X[columns])
    with pytest.raises(ValueError) as ours:
        ens.predict(X[columns])
    assert str(ours.value) == str(theirs.value)
    assert ("missing" in str(ours.value)) == missing


def test_a_frame_with_any_index_gives_the_same_results():
    X, y = _frame()
    shuffled = X.set_index(np.random.RandomState(3).permutation(len(X)) * 7)
    a = _ensemble("sequential").fit(X, y)
    b = _ensemble("sequential").fit(shuffled, y)
    np.testing.assert_array_equal(a.fit_transform_, b.fit_transform_)
    np.testing.assert_array_equal(a.predict(X), b.predict(shuffled))


def test_propagated_columns_by_name_are_copied_from_the_frame():
    X, y = _frame()
    ens = SuperLearner(folds=KFold(3), backend="multiprocessing", n_jobs=2)
    ens.add([("ridge", _onehot_ridge())], propagate_features=["i", "a"])
    ens.add_meta(LinearRegression()).fit(X, y)
    np.testing.assert_array_equal(ens.fit_transform_[:, :2], X[["i", "a"]].to_numpy(float))
    np.testing.assert_array_equal(ens.transform(X.iloc[:5])[:, :2],
                                  X[["i", "a"]].iloc[:5].to_numpy(float))


def test_propagating_a_string_column_is_refused_before_any_node_runs():
    X, y = _frame()
    ens = SuperLearner(folds=3, backend="sequential")
    ens.add([Recorder()], propagate_features=["a", "s"]).add_meta(LinearRegression())
    with pytest.raises(ValueError, match=r"column 's' \(#1\) has dtype str, not numbers"):
        ens.fit(X, y)
    assert not hasattr(ens, "trace_")


def test_shuffled_blend_on_a_frame_keeps_rows_in_the_users_order():
    X, y = _frame()
    ens = BlendEnsemble(test_size=0.5, shuffle=True, random_state=4, backend="threading")
    ens.add([("rec", Recorder()), ("ridge", _onehot_ridge())]).add_meta(LinearRegression())
    ens.fit(X, y)
    rows = ens.meta_rows_
    ridge = _onehot_ridge().fit(X.drop(index=rows), np.delete(y, rows))
    np.testing.assert_allclose(ens.fit_transform_[:, 1], ridge.predict(X.iloc[rows]),
                               atol=1e-8)


def test_classifier_on_a_frame_with_probabilities():
    X, y = _frame()
    labels = np.where(y > np.median(y), "high", "low")
    ens = SuperLearner(folds=3, backend="multiprocessing", n_jobs=2)
    ens.add([("hgb", make_pipeline(_hgb()[0], HistGradientBoostingClassifier(
                max_iter=10, categorical_features="from_dtype"))),
             ("logit", make_pipeline(_onehot_ridge()[0], LogisticRegression()))], proba=True)
    ens.add_meta(LogisticRegression()).fit(X, labels)
    proba = ens.predict_proba(X.iloc[:6])
    assert proba.shape == (6, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert set(ens.predict(X)) <= {"high", "low"}
    assert ens.feature_dtypes_ == {"a": "float64", "s": "str", "c": "category",
                                   "b": "bool", "i": "int32"}


def test_fitted_on_arrays_a_frame_at_predict_is_read_as_numbers():
    X, y = _frame()
    numeric = X[["a", "i"]]
    ens = SuperLearner(folds=3, backend="sequential").add([Ridge()]).add_meta(Ridge())
    ens.fit(numeric.to_numpy(), y)
    assert not hasattr(ens, "feature_dtypes_")
    with pytest.warns(UserWarning, match="feature names"):
        pred = ens.predict(numeric)
    np.testing.assert_array_equal(pred, ens.predict(numeric.to_numpy()))


def test_polars_frames_are_read_as_pandas_frames():
    pl = pytest.importorskip("polars")
    X, y = _frame()
    X_pl = pl.DataFrame({
        "a": X["a"].to_numpy(), "s": X["s"].tolist(),
        "c": pl.Series(X["c"].astype(str).tolist(), dtype=pl.Enum(["p", "q", "r"])),
        "b": X["b"].to_numpy(), "i": X["i"].to_numpy(),
    })
    ref = _ensemble("sequential").fit(X, y)
    ens = _ensemble("multiprocessing").fit(X_pl, y)
    np.testing.assert_allclose(ens.fit_transform_, ref.fit_transform_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ens.predict(X_pl[:9]), ref.predict(X.iloc[:9]), rtol=1e-12, atol=1e-12)


def test_the_evaluator_gives_learners_the_frame():
    """Its scores equal cross_val_score's on a frame with a category column."""
    from sklearn.metrics import r2_score
    from sklearn.model_selection import cross_val_score

    from foldgraph import Evaluator

    X, y = _frame()
    hgb = _hgb()
    ev = Evaluator(r2_score, cv=KFold(3), shuffle=False, backend="multiprocessing", n_jobs=2)
    ev.fit(X, y, [("hgb", hgb)])
    expected = cross_val_score(clone(hgb), X, y, cv=KFold(3), scoring="r2").mean()
    assert ev.results["hgb"]["test_score-m"] == pytest.approx(expected, abs=1e-9)
