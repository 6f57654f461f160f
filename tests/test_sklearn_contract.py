"""The ensembles behave like scikit-learn estimators: splitters, set_params, row order.

Each test pins a behaviour of issue 15 against an independent computation
(scikit-learn's own cross_val_predict, StackingRegressor/Classifier, a loop).
"""

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, make_friedman1
from sklearn.ensemble import StackingClassifier, StackingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    PredefinedSplit,
    RepeatedKFold,
    RepeatedStratifiedKFold,
    StratifiedKFold,
    TimeSeriesSplit,
    cross_val_predict,
    cross_val_score,
)
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVR
from sklearn.tree import DecisionTreeRegressor

from foldgraph import (
    BlendEnsemble,
    GraphError,
    Learner,
    ParallelProcessing,
    SuperLearner,
    TemporalEnsemble,
)

X, Y = make_friedman1(240, n_features=6, noise=0.3, random_state=0)
XI, YI = load_iris(return_X_y=True)  # sorted by class, as loaded


def regressor(**kw):
    ens = SuperLearner(backend="sequential", **kw)
    return ens.add([Ridge(), DecisionTreeRegressor(max_depth=4, random_state=0)]).add_meta(
        LinearRegression()
    )


def oof(est, cv, X=X, y=Y, **kw):
    return cross_val_predict(clone(est), X, y, cv=cv, **kw)


# -- row order and splitters -------------------------------------------------------
@pytest.mark.parametrize("backend", ["sequential", "threading", "multiprocessing"])
def test_shuffled_folds_come_back_in_the_users_row_order(backend):
    ens = regressor(folds=3, shuffle=True, random_state=0).set_params(backend=backend, n_jobs=2)
    Z = ens.fit_transform(X, Y)
    cv = KFold(3, shuffle=True, random_state=0)
    np.testing.assert_allclose(Z[:, 0], oof(Ridge(), cv), rtol=1e-6, atol=1e-6)
    tree = oof(DecisionTreeRegressor(max_depth=4, random_state=0), cv)
    np.testing.assert_allclose(Z[:, 1], tree, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(ens.meta_rows_, np.arange(len(Y)))


def test_int_folds_are_stratified_for_classifiers_as_in_scikit_learn():
    est = LogisticRegression(max_iter=1000)
    ens = SuperLearner(folds=3, backend="sequential").add([est], proba=True).add_meta(clone(est))
    Z = ens.fit_transform(XI, YI)
    np.testing.assert_allclose(Z, oof(est, 3, XI, YI, method="predict_proba"), atol=1e-6)
    sk = StackingClassifier([("lr", est)], final_estimator=clone(est), cv=3).fit(XI, YI)
    assert ens.score(XI, YI) == pytest.approx(sk.score(XI, YI))
    assert ens.score(XI, YI) > 0.9  # contiguous folds on iris as loaded scored 0.0


def test_a_shuffled_stratified_splitter_with_a_random_state_object():
    est = LogisticRegression(max_iter=1000)
    ens = SuperLearner(folds=4, shuffle=True, random_state=np.random.RandomState(0),
                       backend="sequential").add([est], proba=True).add_meta(clone(est))  # fmt: skip
    Z = ens.fit_transform(XI, YI)
    assert Z.shape == (150, 3) and ens.score(XI, YI) > 0.9


def test_group_splitter_gets_the_groups_of_fit():
    groups = np.repeat(np.arange(12), 20)
    ens = regressor(folds=GroupKFold(4))
    Z = ens.fit_transform(X, Y, groups=groups)
    ref = oof(Ridge(), GroupKFold(4), groups=groups)
    np.testing.assert_allclose(Z[:, 0], ref, rtol=1e-6, atol=1e-6)
    for learner in ens.layers_[0].values():  # no fold mixes a group into train and test
        for fold in learner.folds_[:-1]:
            train = np.concatenate([np.arange(a, b) for a, b in fold.train])
            test = np.concatenate([np.arange(a, b) for a, b in fold.test])
            assert not set(groups[train]) & set(groups[test])


def test_time_series_split_trains_the_meta_learner_on_the_predicted_tail():
    ens = regressor(folds=TimeSeriesSplit(3))
    Z = ens.fit_transform(X, Y)
    first_test = next(TimeSeriesSplit(3).split(X))[1][0]
    np.testing.assert_array_equal(ens.meta_rows_, np.arange(first_test, len(Y)))
    manual = np.concatenate([Ridge().fit(X[tr], Y[tr]).predict(X[te])
                             for tr, te in TimeSeriesSplit(3).split(X)])  # fmt: skip
    np.testing.assert_allclose(Z[:, 0], manual, rtol=1e-6, atol=1e-6)
    meta = LinearRegression().fit(Z, Y[first_test:])
    np.testing.assert_allclose(ens.meta_.estimator_.coef_, meta.coef_, rtol=1e-6, atol=1e-9)


def test_predefined_split_and_a_low_level_learner_with_a_splitter():
    test_fold = np.arange(len(Y)) % 3
    Z = regressor(folds=PredefinedSplit(test_fold)).fit_transform(X, Y)
    np.testing.assert_allclose(Z[:, 0], oof(Ridge(), PredefinedSplit(test_fold)), atol=1e-6)
    with ParallelProcessing("threading", n_jobs=2) as pp:
        cv = StratifiedKFold(3, shuffle=True, random_state=1)
        P = pp.map(Learner(LogisticRegression(max_iter=1000), cv, name="lr", proba=True),
                   "fit", XI, YI, return_preds=True)  # fmt: skip
    ref = oof(LogisticRegression(max_iter=1000), cv, XI, YI, method="predict_proba")
    np.testing.assert_allclose(P, ref, atol=1e-6)


def repeated_oof(est, cv, X=X, y=Y, method="predict"):
    """Out-of-fold predictions averaged over repeats, by a plain loop."""
    splits = list(cv.split(X, y))
    n_repeats = cv.get_n_splits() // len(list(KFold(cv.cvargs["n_splits"]).split(X)))
    out = 0.0
    for train, test in splits:
        pred = getattr(clone(est).fit(X[train], y[train]), method)(X[test])
        block = np.zeros((len(y),) + np.shape(pred)[1:])
        block[test] = pred
        out = out + block / n_repeats
    return out


@pytest.mark.parametrize("backend", ["sequential", "threading", "multiprocessing"])
def test_a_repeated_splitter_averages_out_of_fold_predictions_over_repeats(backend):
    cv = RepeatedKFold(n_splits=3, n_repeats=3, random_state=0)
    ens = regressor(folds=cv).set_params(backend=backend, n_jobs=2)
    Z = ens.fit_transform(X, Y)
    np.testing.assert_allclose(Z[:, 0], repeated_oof(Ridge(), cv), rtol=1e-9, atol=1e-9)
    tree = DecisionTreeRegressor(max_depth=4, random_state=0)
    np.testing.assert_allclose(Z[:, 1], repeated_oof(tree, cv), rtol=1e-9, atol=1e-9)
    assert len(ens.layers_[0]["ridge"].fold_estimators_) == 9
    meta = LinearRegression().fit(Z, Y)
    np.testing.assert_allclose(ens.meta_.estimator_.coef_, meta.coef_, rtol=1e-6)
    with ParallelProcessing(backend, n_jobs=2) as pp:  # a transform job replays the average
        T = pp.map(list(ens.layers_[0].values()), "transform", X, return_preds=True)
    np.testing.assert_allclose(T[1] if isinstance(T, list) else T, Z[:, [1]], rtol=1e-12)


def test_repeated_stratified_folds_for_a_classifier_and_the_node_memory():
    cv = RepeatedStratifiedKFold(n_splits=3, n_repeats=2, random_state=0)
    est = LogisticRegression(max_iter=1000)
    ens = SuperLearner(folds=cv, backend="sequential").add([est], proba=True)
    Z = ens.add_meta(clone(est)).fit_transform(XI, YI)
    ref = repeated_oof(est, cv, XI, YI, method="predict_proba")
    np.testing.assert_allclose(Z, ref, rtol=1e-9, atol=1e-12)
    again = ens.fit(XI, YI)  # every node restored from the node memory: the same average
    assert len(again.trace_.cached) == len(again.graph_.nx)
    np.testing.assert_allclose(again.fit_transform_, ref, rtol=1e-9, atol=1e-12)


def test_an_irregular_overlapping_splitter_is_refused():
    from sklearn.model_selection import ShuffleSplit

    with pytest.raises(ValueError, match="different number of times|once per repeat"):
        regressor(folds=ShuffleSplit(3, test_size=0.3, random_state=0)).fit(X, Y)
    # dask averages the repeats too since it runs the scheduler's loop (issue 17):
    # tests/engine/test_one_loop.py::test_repeated_splitters_average_on_dask


def test_blend_shuffle_returns_rows_in_the_users_order():
    ens = BlendEnsemble(test_size=0.25, shuffle=True, random_state=0, backend="sequential")
    ens.add([Ridge()]).add_meta(LinearRegression()).fit(X, Y)
    rows = ens.meta_rows_
    assert len(rows) == 60 and np.all(np.diff(rows) > 0)
    train = np.setdiff1d(np.arange(len(Y)), rows)
    manual = Ridge().fit(X[train], Y[train]).predict(X[rows])
    np.testing.assert_allclose(ens.fit_transform_[:, 0], manual, rtol=1e-6, atol=1e-6)


# -- parameters take effect -----------------------------------------------------------
def test_ensemble_settings_are_read_at_fit_not_at_add():
    ens = regressor(folds=3)
    ens.set_params(folds=5).fit(X, Y)
    assert len(ens.layers_[0]["ridge"].fold_estimators_) == 5
    blend = BlendEnsemble(test_size=0.5, backend="sequential").add([Ridge()])
    blend.add_meta(LinearRegression()).set_params(test_size=0.2).fit(X, Y)
    assert blend.fit_transform_.shape == (48, 1)


def test_the_node_memory_refits_every_fold_after_folds_change():
    ens = regressor(folds=3).fit(X, Y)
    ens.set_params(folds=4).fit(X, Y)
    fold_nodes = [k for k in ens.trace_.cached if "/fold-" in k]
    assert fold_nodes == []
    np.testing.assert_allclose(ens.fit_transform_[:, 0], oof(Ridge(), KFold(4)), atol=1e-6)


def test_every_key_of_get_params_can_be_set():
    ens = SuperLearner(backend="sequential").add([Ridge(), KNeighborsRegressor()],
                                                 preprocessing=[StandardScaler()])  # fmt: skip
    ens.add_meta(LinearRegression())
    params = ens.get_params(deep=True)
    assert "layer-1__pr.standardscaler__with_mean" in params
    for key, value in params.items():
        ens.set_params(**{key: value})
    ens.set_params(**{"layer-1__ridge": SVR(), "layer-1__pr.standardscaler": MinMaxScaler(),
                      "meta": Ridge(alpha=2.0)})  # fmt: skip
    ens.fit(X, Y)
    assert isinstance(ens.layers_[0]["ridge"].estimator_, SVR)
    assert isinstance(ens.layers_[0]["pr"].estimator_.steps[0][1], MinMaxScaler)
    assert ens.meta_.estimator_.alpha == 2.0


def test_grid_search_over_folds_learners_preprocessing_and_meta():
    ens = SuperLearner(backend="sequential").add([Ridge(), KNeighborsRegressor()],
                                                 preprocessing=[StandardScaler()])  # fmt: skip
    ens.add_meta(LinearRegression())
    grid = {"folds": [2, 6], "layer-1__ridge": [Ridge(), SVR()],
            "layer-1__pr.standardscaler__with_std": [True, False],
            "meta": [LinearRegression(), Ridge(alpha=50.0)]}  # fmt: skip
    gs = GridSearchCV(ens, grid, cv=KFold(3)).fit(X, Y)
    scores = gs.cv_results_["mean_test_score"]
    assert len(set(np.round(scores, 12))) == len(scores) == 16
    best = clone(ens).set_params(**gs.best_params_)
    manual = cross_val_score(best, X, Y, cv=KFold(3)).mean()
    assert gs.best_score_ == pytest.approx(manual, rel=1e-9)


def test_add_meta_twice_is_refused():
    ens = regressor()
    with pytest.raises(GraphError, match="meta learner was already added .*set_params"):
        ens.add_meta(Ridge())


def test_random_state_accepts_what_check_random_state_accepts():
    for rs in (None, 0, np.random.RandomState(0)):
        regressor(folds=3, shuffle=True, random_state=rs).fit(X, Y)
    with pytest.raises(ValueError, match="random_state|seed"):
        regressor(folds=3, shuffle=True, random_state="zero").fit(X, Y)


# -- classes and probabilities -----------------------------------------------------
def test_predict_proba_columns_follow_classes_when_the_meta_learner_misses_one():
    labels = np.array(["a", "b", "c"])[YI]  # sorted: the tail (rows 90-149) misses "a"
    blend = BlendEnsemble(test_size=0.4, backend="sequential")
    blend.add([LogisticRegression(max_iter=1000)], proba=True)
    blend.add_meta(LogisticRegression(max_iter=1000)).fit(XI, labels)
    P = blend.predict_proba(XI)
    assert P.shape == (150, 3)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    seen = blend.meta_.estimator_.classes_
    missing = np.setdiff1d(np.arange(3), seen)
    assert missing.size and np.all(P[:, missing] == 0)


def test_meta_without_predict_proba_is_named():
    ens = SuperLearner(backend="sequential").add([Ridge()]).add_meta(("lin", LinearRegression()))
    with pytest.raises(AttributeError, match="meta learner 'lin' \\(LinearRegression\\)"):
        ens.predict_proba  # noqa: B018


@pytest.mark.parametrize("data", [load_diabetes, load_breast_cancer])
def test_equal_to_scikit_learn_stacking_with_the_same_folds(data):
    Xd, yd = data(return_X_y=True)
    cv = KFold(5, shuffle=True, random_state=0)
    if data is load_diabetes:
        base = [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3, random_state=0))]
        ens = SuperLearner(folds=cv, backend="sequential").add([(n, clone(e)) for n, e in base])
        ens.add_meta(LinearRegression()).fit(Xd, yd)
        sk = StackingRegressor(base, final_estimator=LinearRegression(), cv=cv).fit(Xd, yd)
        np.testing.assert_allclose(ens.predict(Xd), sk.predict(Xd), rtol=1e-5)
    else:
        base = [("lr", make_pipeline(StandardScaler(), LogisticRegression()))]
        ens = SuperLearner(folds=cv, backend="sequential").add([(n, clone(e)) for n, e in base])
        ens.add_meta(LogisticRegression()).fit(Xd, yd)
        sk = StackingClassifier(base, final_estimator=LogisticRegression(), cv=cv,
                                stack_method="predict").fit(Xd, yd)  # fmt: skip
        np.testing.assert_array_equal(ens.predict(Xd), sk.predict(Xd))
        np.testing.assert_allclose(ens.predict_proba(Xd), sk.predict_proba(Xd), atol=1e-6)


def test_fit_twice_on_other_data_and_other_classes():
    est = LogisticRegression(max_iter=1000)
    ens = SuperLearner(backend="sequential").add([est], proba=True).add_meta(clone(est))
    ens.fit(XI, np.array(["x", "y", "z"])[YI])
    keep = YI < 2
    ens.fit(XI[keep][:, :3], np.array(["p", "q"])[YI[keep]])
    np.testing.assert_array_equal(ens.classes_, ["p", "q"])
    assert ens.n_features_in_ == 3 and ens.predict_proba(XI[:4, :3]).shape == (4, 2)


# -- pickling holds no data ------------------------------------------------------------
@pytest.mark.parametrize("backend", ["sequential", "threading", "multiprocessing"])
def test_a_fitted_ensemble_pickles_without_its_training_rows(backend, tmp_path):
    Xb = np.random.default_rng(0).normal(size=(20_000, 10))
    yb = Xb[:, 0] + Xb[:, 1]
    with ParallelProcessing(backend, n_jobs=2) as pp:
        ens = SuperLearner(backend=pp).add([Ridge(), LinearRegression()])
        ens.add_meta(LinearRegression()).fit(Xb, yb)
        expected = ens.predict(Xb[:50])
        blob = pickle.dumps(ens)
        joblib.dump(ens, tmp_path / "ens.joblib")
    assert len(blob) < Xb.nbytes / 20  # X alone is 1.6 MB
    for loaded in (pickle.loads(blob), joblib.load(tmp_path / "ens.joblib")):
        np.testing.assert_allclose(loaded.predict(Xb[:50]), expected, rtol=1e-12)
        loaded.backend.clear()


# -- messages that name the culprit --------------------------------------------------
def test_a_regressor_meta_on_string_labels_names_the_meta_learner():
    with pytest.raises(ValueError, match="meta learner 'linearregression' .* is a regressor"):
        regressor().fit(XI, np.array(["a", "b", "c"])[YI])


def test_duplicate_names_name_the_layer():
    with pytest.raises(GraphError, match="layer-1: two estimators are named 'r'"):
        SuperLearner().add([("r", Ridge()), ("r", SVR())])


def test_a_string_dataframe_column_reaches_the_learners_which_name_it():
    """A frame goes to the learners as it is (a ColumnTransformer may encode the column):
    a learner that cannot read strings fails as it would alone, naming its node."""
    frame = pd.DataFrame({"num": np.arange(6.0), "word": list("abcabc")})
    with pytest.raises(ValueError, match=r"failed at node 'layer-1\.\w+/fit/(fold-0|full)': "
                                         r"ValueError: could not convert string to float: 'a'"):
        regressor().fit(frame, np.arange(6.0))
    numbers = np.array([[0.0, 1.0], [1.0, "a"]], dtype=object)  # an array is read as numbers
    with pytest.raises(ValueError, match="X column 1 holds non-numeric values such as 'a'"):
        regressor().fit(numbers, np.arange(2.0))


def test_a_temporal_ensemble_meta_rows_are_the_predicted_tail():
    ens = TemporalEnsemble(step_size=40, burn_in=80, backend="sequential")
    ens.add([Ridge()]).add_meta(LinearRegression()).fit(X, Y)
    np.testing.assert_array_equal(ens.meta_rows_, np.arange(80, 240))


def test_large_targets_keep_scikit_learns_precision():
    """y = signal + 1e8: float32 buffers gave RMSE 1.90 where scikit-learn gives 0.09."""
    y = Y + 1e8
    base = [("ridge", Ridge()), ("ols", LinearRegression())]
    ens = SuperLearner(folds=KFold(5), backend="sequential").add([(n, clone(e)) for n, e in base])
    ens.add_meta(LinearRegression()).fit(X, y)
    sk = StackingRegressor(base, final_estimator=LinearRegression(), cv=KFold(5)).fit(X, y)
    np.testing.assert_allclose(ens.predict(X), sk.predict(X), rtol=1e-12)
    assert ens.transform(X).dtype == np.float64
    small = SuperLearner(dtype=np.float32, backend="sequential").add([Ridge()])
    assert small.add_meta(LinearRegression()).fit(X, Y).transform(X).dtype == np.float32


def test_a_learner_can_be_dropped_as_in_scikit_learn():
    ens = regressor().set_params(**{"layer-1__decisiontreeregressor": "drop"}).fit(X, Y)
    assert list(ens.layers_[0]) == ["ridge"] and ens.transform(X).shape == (240, 1)
    ens.set_params(**{"layer-1__ridge": "drop"})
    with pytest.raises(GraphError, match="no estimators"):
        ens.fit(X, Y)


@pytest.mark.parametrize("backend", ["sequential", "multiprocessing"])
def test_multilabel_classification_stacks_one_block_of_probabilities_per_output(backend):
    from sklearn.datasets import make_multilabel_classification
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier

    Xm, Ym = make_multilabel_classification(150, n_classes=3, random_state=0)
    tree = DecisionTreeClassifier(max_depth=3, random_state=0)
    ens = SuperLearner(folds=KFold(3), backend=backend, n_jobs=2).add([tree], proba=True)
    Z = ens.add_meta(KNeighborsClassifier()).fit_transform(Xm, Ym)
    ref = np.hstack(cross_val_predict(clone(tree), Xm, Ym, cv=KFold(3), method="predict_proba"))
    np.testing.assert_allclose(Z, ref)  # 3 outputs x 2 classes
    meta = KNeighborsClassifier().fit(ref, Ym)
    full = clone(tree).fit(Xm, Ym)
    np.testing.assert_array_equal(ens.predict(Xm), meta.predict(np.hstack(full.predict_proba(Xm))))


def test_the_ensembles_timeout_reaches_its_nodes():
    import threading
    import time

    from sklearn.base import BaseEstimator, RegressorMixin

    from foldgraph import NodeTimeout

    release = threading.Event()  # the abandoned threads end with the test

    class Slow(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            release.wait(30)
            return self

        def predict(self, X):
            return np.zeros(len(X))

    ens = SuperLearner(backend="threading", n_jobs=2, timeout=0.5).add([Slow()])
    start = time.monotonic()
    with pytest.raises(NodeTimeout, match="slow"):
        ens.add_meta(LinearRegression()).fit(X, Y)
    assert time.monotonic() - start < 5
    release.set()


@pytest.mark.parametrize("folds", [1, 0, "five", 2.5, True])
def test_bad_folds_are_refused_before_any_node_runs(folds):
    with pytest.raises(ValueError, match=f"folds={folds!r}: pass an int >= 2, or a CV splitter"):
        regressor(folds=folds).fit(X, Y)


def test_an_unknown_nested_key_names_the_layer():
    with pytest.raises(ValueError, match="layer-1__nope: invalid parameter 'nope' .* 'ridge'"):
        regressor().set_params(**{"layer-1__nope": 1})


def test_sample_weight_equals_scikit_learn_stacking():
    w = np.random.default_rng(0).uniform(0.1, 3.0, len(Y))
    base = [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3, random_state=0))]
    ens = SuperLearner(folds=KFold(4), backend="sequential").add([(n, clone(e)) for n, e in base])
    ens.add_meta(LinearRegression()).fit(X, Y, sample_weight=w)
    sk = StackingRegressor(base, final_estimator=LinearRegression(), cv=KFold(4))
    sk.fit(X, Y, sample_weight=w)
    np.testing.assert_allclose(ens.predict(X), sk.predict(X), rtol=1e-9)
    unweighted = clone(ens).fit(X, Y).predict(X)
    assert not np.allclose(unweighted, ens.predict(X))  # the weights were used


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_input_in_every_format_equals_dense(fmt):
    import scipy.sparse as sp

    Xs = X.copy()
    Xs[Xs < 0.5] = 0.0
    sparse = sp.random(1, 1).asformat(fmt).__class__(Xs)
    make = lambda: SuperLearner(folds=3, backend="sequential").add(  # noqa: E731
        [DecisionTreeRegressor(max_depth=4, random_state=0), LinearRegression()]
    ).add_meta(LinearRegression())
    dense = make().fit(Xs, Y)
    ens = make().fit(sparse, Y)
    # the tree is exact; LinearRegression solves sparse input iteratively (lsqr)
    np.testing.assert_allclose(ens.fit_transform_[:, 0], dense.fit_transform_[:, 0], rtol=1e-12)
    np.testing.assert_allclose(ens.fit_transform_, dense.fit_transform_, rtol=1e-4)
    np.testing.assert_allclose(ens.predict(sparse), dense.predict(Xs), rtol=1e-4)


def test_feature_names_out_and_predict_params_as_in_scikit_learn():
    from sklearn.linear_model import BayesianRidge

    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    est = LogisticRegression(max_iter=1000)
    clf = SuperLearner(backend="sequential").add([("lr", est)], proba=True, propagate_features=[1])
    clf.add_meta(clone(est)).fit(frame, Y > Y.mean())
    names = clf.get_feature_names_out()
    assert names.tolist() == ["f1", "superlearner_lr"]  # binary: P(second class) only
    assert len(names) == clf.transform(frame).shape[1]
    reg = SuperLearner(backend="sequential").add([Ridge()]).add_meta(BayesianRidge()).fit(X, Y)
    mean, std = reg.predict(X[:5], return_std=True)
    meta_mean, meta_std = reg.meta_.estimator_.predict(reg.transform(X[:5]), return_std=True)
    np.testing.assert_allclose(mean, meta_mean)
    np.testing.assert_allclose(std, meta_std)


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_a_meta_learner_that_overflows_is_named_not_returned():
    ens = SuperLearner(backend="sequential").add([Ridge()]).add_meta(LinearRegression())
    ens.fit(X, Y)
    ens.meta_.estimator_.coef_ = ens.meta_.estimator_.coef_ * 1e308  # its sums overflow
    with pytest.raises(ValueError, match="meta learner 'linearregression' .* non-finite"):
        ens.predict(X)


# -- bagged stacking (refit=False) ------------------------------------------------------
def fold_models_mean(est, cv, X_new, X=X, y=Y):
    """Mean of the predictions of ``est`` fitted on each training fold of ``cv``."""
    return np.mean([clone(est).fit(X[tr], y[tr]).predict(X_new) for tr, _ in cv.split(X, y)],
                   axis=0)  # fmt: skip


@pytest.mark.parametrize("backend", ["sequential", "multiprocessing"])
def test_refit_false_predicts_with_the_mean_of_the_fold_models(backend):
    cv = KFold(4, shuffle=True, random_state=0)
    ens = regressor(folds=cv, refit=False).set_params(backend=backend, n_jobs=2).fit(X, Y)
    assert [k for k in ens.graph_.nx if k.endswith("/full")] == ["meta.linearregression/fit/full"]
    Xn = X[:25] + 0.1
    T = ens.transform(Xn)
    np.testing.assert_allclose(T[:, 0], fold_models_mean(Ridge(), cv, Xn), rtol=1e-9)
    tree = DecisionTreeRegressor(max_depth=4, random_state=0)
    np.testing.assert_allclose(T[:, 1], fold_models_mean(tree, cv, Xn), rtol=1e-9)
    np.testing.assert_allclose(ens.predict(Xn), ens.meta_.estimator_.predict(T), rtol=1e-12)
    refit = regressor(folds=cv).fit(X, Y)  # the same out-of-fold rows: the same meta learner
    np.testing.assert_allclose(ens.fit_transform_, refit.fit_transform_, rtol=1e-12)
    assert pickle.loads(pickle.dumps(ens)).predict(Xn) == pytest.approx(ens.predict(Xn))


def test_refit_false_with_a_repeated_splitter_averages_every_fold_model():
    cv = RepeatedKFold(n_splits=3, n_repeats=2, random_state=0)
    ens = regressor(folds=cv, refit=False).fit(X, Y)
    np.testing.assert_allclose(ens.transform(X[:10])[:, 0], fold_models_mean(Ridge(), cv, X[:10]),
                               rtol=1e-9)  # fmt: skip
    assert len(ens.layers_[0]["ridge"].fold_estimators_) == 6



@pytest.mark.parametrize("kw, match", [({"timeout": 0}, "timeout"), ({"dtype": np.int32}, "dtype")])
def test_bad_manager_settings_of_an_ensemble_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        regressor(**kw).fit(X, Y)


def test_propagate_features_all_and_by_column_name():
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    ens = SuperLearner(backend="sequential").add([Ridge()], propagate_features=["f2", "f0"])
    ens.add([LinearRegression()], propagate_features="all").add_meta(LinearRegression())
    ens.fit(frame, Y)
    assert ens.get_feature_names_out().tolist() == [
        "f2", "f0", "superlearner_ridge", "superlearner_linearregression"]
    Z = ens.transform(frame)
    np.testing.assert_array_equal(Z[:, :2], X[:, [2, 0]])  # copied, not predicted
    with pytest.raises(ValueError, match="names 'nope', which X does not have"):
        SuperLearner().add([Ridge()], propagate_features=["nope"]).add_meta(Ridge()).fit(frame, Y)
    with pytest.raises(GraphError, match="propagate_features='some': pass column positions"):
        SuperLearner().add([Ridge()], propagate_features="some").add_meta(Ridge()).fit(X, Y)


def test_binary_probabilities_stack_one_column_each_as_in_scikit_learn():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.preprocessing import scale

    Xb, yb = load_breast_cancer(return_X_y=True)
    Xb = scale(Xb)
    base = [("lr", LogisticRegression()), ("rf", RandomForestClassifier(10, random_state=0))]
    ens = SuperLearner(folds=5, backend="sequential").add([(n, clone(e)) for n, e in base],
                                                          proba=True)  # fmt: skip
    ens.add_meta(LogisticRegression()).fit(Xb, np.array(["no", "yes"])[yb])
    sk = StackingClassifier(base, final_estimator=LogisticRegression(), cv=5)
    sk.fit(Xb, np.array(["no", "yes"])[yb])
    assert ens.transform(Xb).shape == (len(yb), 2)
    np.testing.assert_allclose(ens.transform(Xb), sk.transform(Xb), rtol=1e-9)
    np.testing.assert_allclose(ens.predict_proba(Xb), sk.predict_proba(Xb), rtol=1e-9)
    np.testing.assert_array_equal(ens.predict(Xb), sk.predict(Xb))
    low = Learner(LogisticRegression(), KFold(2), name="lr", proba=True)  # the low-level API
    with ParallelProcessing("sequential") as pp:  # keeps every column unless asked
        assert pp.map(low, "fit", Xb, yb, return_preds=True).shape == (len(yb), 2)
