"""Graphs before data: structure first, rows bound when a run gets its data."""

import threading

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import GroupKFold, KFold, LeaveOneOut, TimeSeriesSplit

from foldgraph import (
    BlendEnsemble,
    FoldIndex,
    Learner,
    ParallelProcessing,
    Subsemble,
    SuperLearner,
    TaskGraph,
    TemporalEnsemble,
    TemporalIndex,
    map_graph,
    stack_graph,
)
from foldgraph.errors import GraphError
from foldgraph.graph.binding import bind
from foldgraph.testing import OLS

rng = np.random.RandomState(0)


def _data(n):
    X = rng.rand(n, 3)
    return X, X @ np.array([1.0, -2.0, 0.5]) + 0.01 * rng.randn(n)


def _learners():
    return [Learner(OLS(), FoldIndex(3), name="a"), Learner(Ridge(), KFold(4), name="b")]


def _structure(graph):
    return sorted(graph.nx.nodes), sorted(graph.nx.edges)


@pytest.mark.parametrize("build", [map_graph, stack_graph])
def test_a_graph_without_data_has_the_nodes_and_edges_of_one_with_data(build):
    X, y = _data(40)
    template = build(_learners(), "fit")
    assert template.template and template.X is None
    assert _structure(template) == _structure(build(_learners(), "fit", X=X, y=y))


@pytest.mark.parametrize("backend", ["sequential", "multiprocessing"])
def test_one_graph_runs_on_data_sets_of_any_length(backend):
    template = stack_graph(_learners(), "fit")
    with ParallelProcessing(backend=backend, n_jobs=2) as pp:
        for n in (30, 77):
            X, y = _data(n)
            got = pp.run(template, X, y, return_preds=True)
            expected = pp.run(stack_graph(_learners(), "fit", X=X, y=y), X, y,
                              return_preds=True)
            assert got.shape == (n, 1)
            np.testing.assert_allclose(got, expected, atol=1e-12)


def test_a_builders_graph_is_rebuilt_for_data_of_another_length():
    X, y = _data(30)
    graph = map_graph(_learners(), "fit", X=X, y=y)
    X2, y2 = _data(45)
    with ParallelProcessing("sequential") as pp:
        got = pp.run(graph, X2, y2, return_preds=["a"])
    a = Learner(OLS(), FoldIndex(3), name="a")
    with ParallelProcessing("sequential") as pp:
        expected = pp.map(a, "fit", X2, y2, return_preds=True)
    np.testing.assert_allclose(np.asarray(got)[0], expected, atol=1e-12)


def test_a_graph_built_by_hand_is_not_rebuilt():
    X, y = _data(30)
    graph = TaskGraph("fit", X=X, y=y)
    graph.add_task(Learner(OLS(), FoldIndex(2), name="a"))
    X2, y2 = _data(31)
    with ParallelProcessing("sequential") as pp, \
            pytest.raises(GraphError, match=r"built for X of shape \(30, 3\), got \(31, 3\)"):
        pp.run(graph.validate(), X2, y2)


@pytest.mark.parametrize("indexer, reason", [
    (TemporalIndex(5), "its number of steps depends on the number of rows"),
    (LeaveOneOut(), "its number of splits needs X or groups"),
])
def test_folds_that_depend_on_the_data_are_named(indexer, reason):
    with pytest.raises(GraphError, match=rf"task 'x': .*{reason}.*pass X"):
        map_graph(Learner(OLS(), indexer, name="x"), "fit")


def test_a_splitter_needing_groups_is_named():
    with pytest.raises(GraphError, match=r"needs groups.*GroupKFold.*fit\(X, y, groups=groups\)"):
        map_graph(Learner(OLS(), GroupKFold(3), name="x"), "fit")


def test_many_folds_need_no_data_either():
    template = map_graph(Learner(OLS(), FoldIndex(2500), name="x"), "fit")
    assert len(template) == 2501


def test_a_predict_graph_is_built_for_its_data():
    with pytest.raises(GraphError, match="X is None: pass the input data"):
        map_graph(Learner(OLS(), FoldIndex(2), name="x"), "predict")


def test_templates_bound_from_several_threads_get_their_own_rows():
    template = stack_graph([Learner(OLS(), FoldIndex(3), name="a"),
                            Learner(OLS(), FoldIndex(2), name="b")], "fit")
    sizes, wrong = (20, 200), []

    def work(n):
        X, y = _data(n)
        for _ in range(30):
            bound = bind(template, X, y)
            if bound.buffers["X"].shape != (n, 3) or bound.buffers["P:b"].shape[0] != n:
                wrong.append(n)

    threads = [threading.Thread(target=work, args=(n,)) for n in sizes * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_a_bagged_ensembles_template_has_no_full_fits():
    ens = SuperLearner(folds=3, refit=False).add([Ridge()]).add_meta(LinearRegression())
    before = ens.graph("fit")
    assert "layer-1.ridge/fit/full" not in before and "meta.linearregression/fit/full" in before
    X, y = _data(40)
    assert _structure(before) == _structure(ens.fit(X, y).graph_)


def test_plan_of_a_template_lists_every_node():
    X, y = _data(20)
    template = map_graph(_learners(), "fit")
    with ParallelProcessing("sequential", cache={}) as pp:
        plan = pp.plan(template, X, y)
    assert sorted(plan.run) == sorted(template.nx.nodes) and plan.cached == ()


@pytest.mark.parametrize("make", [
    lambda: SuperLearner(folds=TimeSeriesSplit(3)).add([Ridge(), OLS()],
                                                       propagate_features=[0, 2]),
    lambda: BlendEnsemble(test_size=0.3).add([Ridge()]),
    lambda: Subsemble(partitions=3, folds=2).add([Ridge(), OLS()]),
    lambda: SuperLearner(folds=4).add([LogisticRegression()], proba=True),
])
def test_an_ensembles_graph_before_fit_is_the_graph_its_fit_runs(make):
    ens = make()
    classifier = isinstance(ens.layers[0].estimators[0], LogisticRegression)
    ens.add_meta(LogisticRegression() if classifier else LinearRegression())
    before = ens.graph("fit")
    assert before.template and before.X is None
    X, y = _data(60)
    ens.fit(X, (y > np.median(y)).astype(int) if classifier else y)
    assert _structure(before) == _structure(ens.graph_)
    assert "task graph a fit will run" in make().add_meta(LinearRegression())._repr_html_()


@pytest.mark.parametrize("ens, culprit", [
    (TemporalEnsemble(step_size=5), "TemporalIndex.*pass X"),
    (Subsemble(partition_estimator=KMeans(2, n_init=1)), "ClusteredSubsetIndex.*pass X"),
    (SuperLearner(folds=GroupKFold(3)), r"needs groups.*GroupKFold.*groups=groups\)"),
])
def test_an_ensemble_whose_folds_need_the_data_says_so(ens, culprit):
    ens.add([Ridge()]).add_meta(LinearRegression())
    with pytest.raises(GraphError, match=culprit):
        ens.graph("fit")
    page = ens._repr_html_()  # the notebook view shows the layers, without a graph
    assert "layer-1" in page and "task graph" not in page
