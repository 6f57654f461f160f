"""High-level ensembles: scikit-learn equivalence, every kind, sklearn protocol, errors."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.cluster import KMeans
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import StackingClassifier, StackingRegressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from foldgraph import (
    BlendEnsemble,
    GraphError,
    SequentialEnsemble,
    Subsemble,
    SuperLearner,
    TemporalEnsemble,
)
from foldgraph.tasks.indexers import rows_to_array
from foldgraph.testing import OLS

X, Y = make_regression(240, 6, noise=5.0, random_state=0)
XC, YC = make_classification(240, 6, n_informative=4, n_classes=3, random_state=0)
LABELS = np.array(["ant", "bee", "cat"])[YC]


def bases():
    return [Ridge(), DecisionTreeRegressor(max_depth=4, random_state=0)]


@pytest.mark.parametrize("backend", ["sequential", "threading", "multiprocessing"])
def test_superlearner_equals_stacking_regressor(backend):
    ens = SuperLearner(folds=5, backend=backend, n_jobs=2).add(bases()).add_meta(LinearRegression())
    ens.fit(X, Y)
    sk = StackingRegressor(list(zip("ab", bases())), final_estimator=LinearRegression(),
                           cv=KFold(5)).fit(X, Y)  # fmt: skip
    np.testing.assert_allclose(ens.predict(X), sk.predict(X), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(ens.meta_.estimator_.coef_, sk.final_estimator_.coef_, rtol=1e-4)


def test_superlearner_equals_stacking_classifier_with_probabilities():
    est = [LogisticRegression(max_iter=1000), DecisionTreeClassifier(max_depth=3, random_state=0)]
    ens = SuperLearner(folds=4).add([clone(e) for e in est], proba=True)
    ens.add_meta(LogisticRegression(max_iter=1000)).fit(XC, LABELS)
    sk = StackingClassifier(list(zip("ab", est)), final_estimator=LogisticRegression(max_iter=1000),
                            cv=4, stack_method="predict_proba").fit(XC, LABELS)  # fmt: skip
    np.testing.assert_array_equal(ens.classes_, ["ant", "bee", "cat"])
    np.testing.assert_array_equal(ens.predict(XC), sk.predict(XC))
    np.testing.assert_allclose(ens.predict_proba(XC), sk.predict_proba(XC), atol=1e-5)
    assert ens.transform(XC[:5]).shape == (5, 6)  # 2 learners x 3 classes


def test_predict_proba_is_the_meta_learners_whatever_the_base_proba():
    ens = SuperLearner(folds=3).add([LogisticRegression(max_iter=500)])  # base: labels
    ens.add_meta(LogisticRegression(max_iter=500)).fit(XC, LABELS)
    proba = ens.predict_proba(XC)
    assert proba.shape == (240, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(ens.classes_[proba.argmax(axis=1)], ens.predict(XC))


@pytest.mark.parametrize("make", [
    lambda: BlendEnsemble(test_size=0.4),
    lambda: Subsemble(partitions=2, folds=3),
    lambda: Subsemble(partitions=2, partition_estimator=KMeans(2, n_init=3, random_state=0)),
    lambda: TemporalEnsemble(step_size=40, burn_in=80),
    lambda: SuperLearner(folds=3, shuffle=True, random_state=0),
], ids=["blend", "subsemble", "clustered", "temporal", "shuffled"])  # fmt: skip
def test_every_kind_fits_regression_and_classification(make):
    reg = make().add(bases()).add_meta(LinearRegression()).fit(X, Y)
    assert reg.score(X, Y) > 0.9
    clf = make().add([LogisticRegression(max_iter=500)], proba=True)
    clf.add_meta(LogisticRegression(max_iter=500)).fit(XC, LABELS)
    assert clf.score(XC, LABELS) > 0.6 and set(clf.predict(XC)) <= set(LABELS)


def test_temporal_ensemble_never_trains_on_the_future():
    ens = TemporalEnsemble(step_size=20, burn_in=60, window=50, lag=2)
    ens.add([Ridge()]).add_meta(LinearRegression()).fit(X, Y)
    learner = ens.layers_[0]["ridge"]
    folds = [f for f in learner.folds_ if f.fold != "full"]
    assert len(folds) == (240 - 60) // 20
    for fold in folds:
        train, test = rows_to_array(fold.train), rows_to_array(fold.test)
        assert train.max() < test.min() - 2 and len(train) <= 50


def test_sequential_ensemble_mixes_kinds_and_propagates_features():
    ens = SequentialEnsemble()
    ens.add("stack", [Ridge(), OLS()], folds=3, propagate_features=[0, 1])
    ens.add("blend", [Ridge()], test_size=0.5)
    ens.add("subsemble", [Ridge()], partitions=2, folds=2)
    ens.add_meta(LinearRegression()).fit(X, Y)
    g = ens.graph("fit")
    assert list(g.layers) == ["layer-1", "layer-2", "layer-3", "meta"]
    assert g.buffers["P:layer-1"].shape == (240, 4)  # 2 propagated + 2 learners
    assert g.buffers["P:layer-2"].shape == (120, 1)  # the blend predicts the tail
    assert g.buffers["P:layer-3"].shape == (120, 2)  # one column per partition
    first = ens.fit_transform_ if ens.fit_transform_.shape[1] == 2 else None
    assert first is not None
    Z = ens.transform(X[:10])
    assert Z.shape == (10, 2)
    P1 = ens.graph("predict", X[:10])
    assert "layer-1/predict/full" in P1  # the propagate node
    assert ens.score(X, Y) > 0.9


def test_fitted_learners_are_public_and_data_summarises_folds():
    mae = lambda t, p: float(np.mean(np.abs(t - p)))  # noqa: E731
    ens = SuperLearner(folds=4, scorer=mae).add([("lin", Ridge()), Ridge(alpha=10)])
    ens.add_meta(LinearRegression()).fit(X, Y)
    layer = ens.layers_[0]
    assert sorted(layer) == ["lin", "ridge"]
    assert layer["ridge"].estimator_.alpha == 10 and len(layer["ridge"].fold_estimators_) == 4
    rows = ens.data.to_dict()
    assert set(rows) == {"layer-1/lin", "layer-1/ridge"}
    scores = layer["lin"].cv_results_["score"]
    assert rows["layer-1/lin"]["score-m"] == pytest.approx(np.mean(scores))
    assert "layer-1/lin" in repr(ens.data) and "score-m" in repr(ens.data)


def test_preprocessing_cases():
    ens = SuperLearner(folds=3).add({"sc": [Ridge()], "raw": [Ridge(), OLS()]},
                                    preprocessing={"sc": [StandardScaler()]})  # fmt: skip
    ens.add_meta(LinearRegression()).fit(X, Y)
    assert sorted(ens.layers_[0]) == ["raw.ols", "raw.ridge", "sc", "sc.ridge"]
    assert ens.layers_[0]["sc.ridge"].preprocess == "layer-1.sc"
    assert ens.layers_[0]["raw.ridge"].preprocess is None
    expected = []
    for train, test in KFold(3).split(X):
        sc = StandardScaler().fit(X[train])
        expected.append(Ridge().fit(sc.transform(X[train]), Y[train]).predict(sc.transform(X[test])))
    np.testing.assert_allclose(ens.fit_transform_[:, 0], np.concatenate(expected), rtol=1e-5)


class WeightProbe(RegressorMixin, BaseEstimator):
    def fit(self, X, y, sample_weight=None):
        self.weight_sum_ = None if sample_weight is None else float(np.sum(sample_weight))
        self.mean_ = float(np.average(y, weights=sample_weight))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def test_sample_weight_is_sliced_per_fold():
    w = np.arange(1.0, 241.0)
    ens = SuperLearner(folds=4).add([WeightProbe()]).add_meta(LinearRegression())
    ens.fit(X, Y, sample_weight=w)
    learner = ens.layers_[0]["weightprobe"]
    for fold, est in zip([f for f in learner.folds_ if f.fold != "full"],
                         learner.fold_estimators_):  # fmt: skip
        assert est.weight_sum_ == w[rows_to_array(fold.train)].sum()
    assert learner.estimator_.weight_sum_ == w.sum()
    with pytest.raises(GraphError, match="KNeighborsRegressor.fit does not accept sample_weight"):
        SuperLearner().add([KNeighborsRegressor()]).add_meta(LinearRegression()).fit(
            X, Y, sample_weight=w)


def test_sklearn_protocol():
    ens = SuperLearner(folds=3, backend="sequential").add(bases()).add_meta(LinearRegression())
    params = ens.get_params(deep=True)
    assert params["layer-1__ridge__alpha"] == 1.0
    ens.set_params(**{"layer-1__ridge__alpha": 5.0, "folds": 3})
    assert ens.layers[0].estimators[0].alpha == 5.0
    twin = clone(ens)
    assert twin.layers[0].estimators[0].alpha == 5.0 and not hasattr(twin, "layers_")
    assert cross_val_score(clone(ens), X, Y, cv=3).mean() > 0.9
    search = GridSearchCV(ens, {"layer-1__ridge__alpha": [0.1, 10.0]}, cv=2).fit(X, Y)
    assert search.best_params_["layer-1__ridge__alpha"] in (0.1, 10.0)
    pipe = make_pipeline(StandardScaler(), clone(ens)).fit(X, Y)
    assert pipe.score(X, Y) > 0.9


def test_dataframe_input_keeps_feature_names():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    ens = SuperLearner(folds=3).add([Ridge()]).add_meta(LinearRegression()).fit(df, pd.Series(Y))
    assert list(ens.feature_names_in_) == [f"f{i}" for i in range(6)]
    np.testing.assert_allclose(ens.predict(df), ens.predict(X))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: SuperLearner().add_meta(LinearRegression()), GraphError, "add_meta before add"),
    (lambda: SuperLearner().add([Ridge()]).predict(X), NotFittedError, "not fitted"),
    (lambda: SequentialEnsemble().add("bagging", [Ridge()]), GraphError,
     "unknown layer kind 'bagging'.*'stack', 'blend'"),
    (lambda: SuperLearner().add([Ridge()]).add_meta(LinearRegression()).fit(X, Y[:-1]),
     ValueError, r"inconsistent numbers of samples: \[240, 239\]"),
    (lambda: SuperLearner().add([object()]).add_meta(LinearRegression()).fit(X, Y),
     TypeError, "does not implement fit"),
    (lambda: SuperLearner().add([Ridge()]).fit(X, Y), GraphError, "no meta learner"),
    (lambda: SuperLearner().fit(X, Y), GraphError, "no layers"),
    (lambda: SuperLearner(folds=500).add([Ridge()]).add_meta(LinearRegression()).fit(X, Y),
     GraphError, "layer-1.ridge.*FoldIndex\\(folds=500\\)"),
    (lambda: SuperLearner().add([("r", Ridge()), ("r", OLS())]).add_meta(OLS()).fit(X, Y),
     GraphError, "two estimators are named 'r'"),
    (lambda: SuperLearner().add([Ridge()]).add_meta(LinearRegression()).fit(X, Y, foo=1),
     TypeError, "fit parameters \\['foo'\\]"),
])  # fmt: skip
def test_bad_input_is_refused_before_any_node_runs(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("backend", ["sequential", "threading", "multiprocessing"])
def test_sparse_csr_input_gives_the_dense_results(backend, no_leaks):
    from scipy import sparse

    Xs = X.copy()
    Xs[np.abs(Xs) < 0.8] = 0.0  # about half zeros
    csr = sparse.csr_matrix(Xs)

    def make(backend):
        ens = SuperLearner(folds=3, backend=backend, n_jobs=2)
        ens.add([Ridge(), DecisionTreeRegressor(max_depth=3, random_state=0)],
                propagate_features=[0])  # fmt: skip
        return ens.add_meta(LinearRegression())

    sp, ref = make(backend).fit(csr, Y), make("sequential").fit(csr, Y)
    np.testing.assert_array_equal(sp.fit_transform_, ref.fit_transform_)  # any backend
    np.testing.assert_array_equal(sp.predict(csr), ref.predict(csr))
    dense = make("sequential").fit(Xs, Y)  # Ridge's sparse solver differs slightly
    np.testing.assert_allclose(sp.predict(csr), dense.predict(Xs), rtol=1e-3, atol=1e-2)
    np.testing.assert_array_equal(sp.fit_transform_[:, 0], Xs[:, 0])  # propagated column, in float64
