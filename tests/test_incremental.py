"""Incremental fitting of ensembles: what reruns after set_params, a new learner, new data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from foldgraph import BlendEnsemble, NodeCache, SequentialEnsemble, Subsemble, SuperLearner

BACKENDS = ("sequential", "threading", "multiprocessing")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 4))
    y = X[:, 0] - 2 * X[:, 1] + np.sin(X[:, 2]) + rng.normal(scale=0.1, size=90)
    return X, y


def base(extra=()):
    return [("ridge", Ridge(alpha=1.0)), ("tree", DecisionTreeRegressor(max_depth=3, random_state=0)),
            *extra]  # fmt: skip


def super_learner(extra=(), **kw):
    kw.setdefault("backend", "sequential")
    return SuperLearner(folds=3, **kw).add(base(extra)).add_meta(LinearRegression())


def ran(ens) -> set:
    return {e.key for e in ens.trace_.events}


def nodes(ens, *tasks) -> set:
    return {k for t in tasks for k in ens.graph_.nodes_of(t)}


META = "meta.linearregression"


@pytest.mark.parametrize("backend", BACKENDS)
def test_set_params_refits_one_learner_and_the_meta_layer(data, backend, no_leaks):
    X, y = data
    ens = super_learner(backend=backend, n_jobs=2).fit(X, y)
    assert len(ran(ens)) == len(ens.graph_.nx) == 9
    ens.set_params(**{"layer-1__ridge__alpha": 5.0}).fit(X, y)
    assert ran(ens) == nodes(ens, "layer-1.ridge", META)
    assert set(ens.trace_.cached) == nodes(ens, "layer-1.tree")
    fresh = super_learner(backend=backend, n_jobs=2, cache=False)
    fresh.set_params(**{"layer-1__ridge__alpha": 5.0}).fit(X, y)
    np.testing.assert_array_equal(ens.predict(X), fresh.predict(X))
    np.testing.assert_array_equal(ens.fit_transform_, fresh.fit_transform_)
    # the restored learner's fitted estimators are there, as after a full fit
    tree = ens.layers_[0]["tree"]
    np.testing.assert_array_equal(tree.estimator_.predict(X), fresh.layers_[0]["tree"].estimator_.predict(X))
    assert len(tree.fold_estimators_) == 3


def test_the_memory_keeps_the_last_fit_only(data):
    X, y = data
    ens = super_learner().fit(X, y)
    ens.fit(X[:60], y[:60])  # new data: every node runs
    assert ran(ens) == set(ens.graph_.nx)
    assert len(ens.node_memory_) == len(ens.graph_.nx)
    ens.fit(X, y)  # the first data again: forgotten, every node runs
    assert ran(ens) == set(ens.graph_.nx)
    ens.set_params(**{"layer-1__indexer_args": {"folds": 4}}).fit(X, y)  # all but full fits
    assert ran(ens) == set(ens.graph_.nx) - {"layer-1.ridge/fit/full", "layer-1.tree/fit/full"}


def test_cache_false_and_clone_start_from_nothing(data):
    X, y = data
    ens = super_learner(cache=False).fit(X, y)
    ens.fit(X, y)
    assert ran(ens) == set(ens.graph_.nx) and ens.trace_.cached == []
    warm = super_learner().fit(X, y)
    twin = clone(warm)
    assert twin.get_params()["cache"] is None and not hasattr(twin, "node_memory_")
    twin.fit(X, y)
    assert ran(twin) == set(twin.graph_.nx)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_new_ensemble_with_one_more_learner_runs_only_it(data, tmp_path, backend, no_leaks):
    X, y = data
    knn = ("knn", KNeighborsRegressor(n_neighbors=5))
    super_learner(backend=backend, n_jobs=2, cache=tmp_path).fit(X, y)
    grown = super_learner([knn], backend=backend, n_jobs=2, cache=str(tmp_path)).fit(X, y)
    assert ran(grown) == nodes(grown, "layer-1.knn", META)
    assert set(grown.trace_.cached) == nodes(grown, "layer-1.ridge", "layer-1.tree")
    plain = super_learner([knn], backend=backend, n_jobs=2, cache=False).fit(X, y)
    np.testing.assert_array_equal(grown.fit_transform_, plain.fit_transform_)
    np.testing.assert_array_equal(grown.predict(X), plain.predict(X))


def test_a_node_cache_object_and_eviction(data, tmp_path):
    X, y = data
    cache = NodeCache(tmp_path, max_bytes=10**7)
    super_learner(cache=cache).fit(X, y)
    assert len(cache) == 9
    again = super_learner(cache=cache).fit(X, y)
    assert ran(again) == set() and len(again.trace_.cached) == 9
    cache.evict(max_bytes=1)
    assert len(cache) == 0
    again.fit(X, y)
    assert ran(again) == set(again.graph_.nx)


def test_a_changed_upstream_layer_reruns_everything_below(data):
    """Two stacked layers: a change in layer 1 reruns layer 2 and the meta layer too."""
    X, y = data
    ens = SequentialEnsemble(backend="threading", n_jobs=2)
    ens.add("stack", base(), folds=2).add("blend", [("lr", LinearRegression())], test_size=0.4)
    ens.add_meta(LinearRegression()).fit(X, y)
    ens.set_params(**{"layer-1__tree__max_depth": 2}).fit(X, y)
    assert ran(ens) == nodes(ens, "layer-1.tree", "layer-2.lr", META)
    ens.set_params(**{"layer-2__lr__fit_intercept": False}).fit(X, y)
    assert ran(ens) == nodes(ens, "layer-2.lr", META)


def test_preprocessing_cases_and_subsembles(data):
    X, y = data
    ens = Subsemble(partitions=2, folds=2, backend="sequential")
    ens.add([("ridge", Ridge()), ("knn", KNeighborsRegressor(3))],
            preprocessing=[StandardScaler()]).add_meta(LinearRegression())  # fmt: skip
    ens.fit(X, y)
    before = ens.predict(X)
    ens.set_params(**{"layer-1__knn__n_neighbors": 4}).fit(X, y)
    knn = nodes(ens, "layer-1.knn")
    assert knn and ran(ens) == knn | nodes(ens, META)  # the scaler's nodes are restored
    ens.set_params(**{"layer-1__knn__n_neighbors": 3}).fit(X, y)  # back: only the last fit
    assert ran(ens) == knn | nodes(ens, META)  # is remembered, so knn runs again
    np.testing.assert_array_equal(ens.predict(X), before)


def test_classifier_probabilities_identical(data):
    X, y = data
    labels = np.where(y > 0, "pos", "neg")
    ens = BlendEnsemble(test_size=0.4, backend="sequential")
    ens.add([("lr", LogisticRegression()), ("tree", DecisionTreeClassifier(random_state=0))],
            proba=True).add_meta(LogisticRegression())  # fmt: skip
    ens.fit(X, labels)
    ens.set_params(**{"layer-1__lr__C": 0.5}).fit(X, labels)
    assert ran(ens) == nodes(ens, "layer-1.lr", "meta.logisticregression")
    fresh = clone(ens).set_params(cache=False).fit(X, labels)
    np.testing.assert_array_equal(ens.predict_proba(X), fresh.predict_proba(X))
    assert list(ens.classes_) == ["neg", "pos"]


def test_dask_restores_the_cached_nodes_too(data, tmp_path):
    """A dask manager given as ``backend=``: its ``cache=`` applies; the same numbers."""
    distributed = pytest.importorskip("distributed")  # in the dev extra
    import logging

    from foldgraph import ParallelProcessing

    X, y = data
    knn = ("knn", KNeighborsRegressor(n_neighbors=5))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=":0", silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client, \
            ParallelProcessing("dask", client=client, cache=tmp_path) as pp:  # fmt: skip
        super_learner(backend=pp).fit(X, y)
        grown = super_learner([knn], backend=pp).fit(X, y)
        assert ran(grown) == nodes(grown, "layer-1.knn", META)
    plain = super_learner([knn], cache=False).fit(X, y)
    np.testing.assert_array_equal(grown.fit_transform_, plain.fit_transform_)
