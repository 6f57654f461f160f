"""Cores per node (issue 19): threads counted, granted on the fit's clone, the tail policy."""

from __future__ import annotations

import math

import joblib
import networkx as nx
import numpy as np
import pytest
from sklearn.ensemble import (
    HistGradientBoostingRegressor,
    RandomForestRegressor,
    VotingRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from foldgraph import FoldIndex, Learner, ParallelProcessing, map_graph
from foldgraph.engine.cache import fingerprints
from foldgraph.engine.job import Job
from foldgraph.engine.manager import available_cpus
from foldgraph.engine.payload import make_payload
from foldgraph.engine.scheduler import admit, finish, start_state
from foldgraph.engine.tail import (
    SPEEDUPS,
    earliest_ready,
    family_of,
    grant_tail,
    scaled_cost,
    speedup,
    tail_threads,
    waiting_frontier,
)
from foldgraph.engine.worker import run_node
from foldgraph.graph.resources import (
    THREAD_SAFE,
    check_thread_mode,
    node_threads,
    set_cores,
    thread_params,
)

rng = np.random.default_rng(0)
X = rng.standard_normal((240, 5))
Y = X @ rng.standard_normal(5) + 0.1 * rng.standard_normal(240)


class RecordingForest(RandomForestRegressor):
    """A forest that records, inside its fit, the threads it is about to use."""

    def fit(self, X, y, sample_weight=None):
        from threadpoolctl import threadpool_info

        self.seen_n_jobs_ = self.n_jobs
        with joblib.parallel_config(backend="threading"):  # what the forest's fit uses
            self.seen_effective_ = joblib.effective_n_jobs(self.n_jobs)
        self.seen_pools_ = max((p["num_threads"] for p in threadpool_info()), default=1)
        return super().fit(X, y, sample_weight=sample_weight)


# -- node_threads ---------------------------------------------------------------
@pytest.mark.parametrize(
    "estimator, n_cpus, expected",
    [
        (Ridge(), 2, 1),
        (RandomForestRegressor(n_jobs=None), 2, 1),
        (RandomForestRegressor(n_jobs=3), 2, 3),
        (RandomForestRegressor(n_jobs=-1), 8, 8),
        (RandomForestRegressor(n_jobs=-2), 8, 7),
        (make_pipeline(StandardScaler(), KNeighborsRegressor(n_jobs=4)), 2, 4),
        (make_pipeline(StandardScaler(), RandomForestRegressor(n_jobs=-1)), 6, 6),
        (VotingRegressor([("a", RandomForestRegressor(n_jobs=3)), ("b", Ridge())], n_jobs=2),
         8, 6),
        (VotingRegressor([("a", KNeighborsRegressor(n_jobs=5)),
                          ("b", RandomForestRegressor(n_jobs=2))]), 8, 5),
    ],
    ids=["ridge", "none", "plain", "minus-one", "minus-two", "pipeline", "pipeline-minus-one",
         "meta-times-nested", "largest-path"],
)  # fmt: skip
def test_node_threads(estimator, n_cpus, expected):
    assert node_threads(estimator, n_cpus) == expected


def test_node_threads_of_a_non_estimator_is_one():
    assert node_threads(object(), 4) == 1


def test_thread_params_by_mode():
    pipe = make_pipeline(StandardScaler(), RandomForestRegressor(), LogisticRegression())
    assert thread_params(pipe, "safe") == ("randomforestregressor__n_jobs",)
    assert set(thread_params(pipe, "auto")) == {
        "randomforestregressor__n_jobs", "logisticregression__n_jobs"
    }
    assert thread_params(pipe, None) == ()
    # every class of the allowlist exists where the allowlist says
    for module, names in THREAD_SAFE.items():
        mod = __import__(module, fromlist=["_"])
        assert all(hasattr(mod, name) for name in names), module


@pytest.mark.parametrize("bad", ["fast", 2, True])
def test_bad_threads_option_is_refused_before_any_work(bad):
    with pytest.raises(ValueError, match=f"threads={bad!r}: pass 'safe'"):
        ParallelProcessing("sequential", threads=bad)
    assert check_thread_mode("auto") == "auto"


# -- cores on graph nodes -------------------------------------------------------
def _layer():
    return [
        Learner(RandomForestRegressor(10, n_jobs=4, random_state=0), FoldIndex(2), name="rf"),
        Learner(KNeighborsRegressor(n_jobs=4), FoldIndex(2), name="knn"),
        Learner(Ridge(), FoldIndex(2), name="ridge"),
        Learner(HistGradientBoostingRegressor(max_iter=5), FoldIndex(2), name="hgb"),
    ]


def _cores(graph):
    return {task: {(graph.attrs(k)["cores"], graph.attrs(k)["threads"]) for k in keys}
            for task, keys in graph.task_nodes.items()}  # fmt: skip


@pytest.mark.parametrize(
    "mode, n_workers, expected",
    [
        ("safe", 2, {"rf": {(1, 1)}, "knn": {(1, 1)}, "ridge": {(1, None)}, "hgb": {(1, None)}}),
        ("safe", 1, {"rf": {(2, 2)}, "knn": {(2, 2)}, "ridge": {(1, None)}, "hgb": {(1, None)}}),
        (None, 2, {"rf": {(2, None)}, "knn": {(2, None)}, "ridge": {(1, None)},
                   "hgb": {(1, None)}}),
        ("auto", 2, {"rf": {(1, 1)}, "knn": {(1, 1)}, "ridge": {(1, 1)}, "hgb": {(1, 1)}}),
    ],
)  # fmt: skip
def test_set_cores_on_every_node(mode, n_workers, expected):
    """2 CPUs: a grant is min(n_jobs, 2 // workers); cores never exceed the CPUs."""
    graph = map_graph(_layer(), "fit", X, Y)
    set_cores(graph, n_cpus=2, n_workers=n_workers, threads=mode)
    assert _cores(graph) == expected
    assert all(a["cores"] >= 1 for a in graph.node_attrs.values())


def test_predict_nodes_are_counted_not_granted():
    layer = _layer()
    with ParallelProcessing("sequential") as pp:
        pp.map(layer, "fit", X, Y)
    graph = map_graph(layer, "predict", X)
    set_cores(graph, n_cpus=2, n_workers=2)
    assert _cores(graph)["rf"] == {(2, None)}  # the fitted forest runs its 4 jobs on 2 CPUs


def test_payload_carries_the_grant_and_the_tail_may_raise_it():
    graph = map_graph(_layer(), "fit", X, Y)
    set_cores(graph, n_cpus=2, n_workers=2)
    state = start_state(graph.nx, dict.fromkeys(graph.nx, 0))
    rf = make_payload(graph, "rf/fit/fold-0", state)
    assert (rf.threads, rf.thread_params) == (1, ("n_jobs",))
    assert make_payload(graph, "rf/fit/fold-0", state, threads=2).threads == 2
    ridge = make_payload(graph, "ridge/fit/fold-0", state, threads=2)
    assert (ridge.threads, ridge.thread_params) == (None, ())  # never raised: not allowed


def test_run_node_sets_the_clone_and_gives_back_the_users_n_jobs():
    from threadpoolctl import threadpool_info

    template = RecordingForest(5, n_jobs=4, random_state=0)
    graph = map_graph(Learner(template, FoldIndex(2), name="rf"), "fit", X, Y)
    set_cores(graph, n_cpus=2, n_workers=2)
    state = start_state(graph.nx, dict.fromkeys(graph.nx, 0))
    payload = make_payload(graph, "rf/fit/full", state, threads=3)
    pools = [p["num_threads"] for p in threadpool_info()]
    fitted = run_node(payload, {"X": X, "y": Y}).estimator
    assert (fitted.seen_n_jobs_, fitted.seen_effective_) == (3, 3)
    assert fitted.seen_pools_ == max(pools, default=1)  # in-process: process-wide pools untouched
    assert fitted.n_jobs == 4 and template.n_jobs == 4 and not hasattr(template, "seen_n_jobs_")


# -- real runs --------------------------------------------------------------------
@pytest.mark.slow
def test_threads_bounded_in_a_two_worker_run(no_leaks):
    """RandomForest(n_jobs=4) on 2 workers: each node uses its share of the CPUs."""
    share = max(1, available_cpus() // 2)
    learner = Learner(RecordingForest(8, n_jobs=4, random_state=0), FoldIndex(3), name="rf")
    with ParallelProcessing("multiprocessing", n_jobs=2) as pp:
        got = pp.map(learner, "fit", X, Y, return_preds=True)
    fitted = [*learner.fold_estimators_, learner.estimator_]
    assert {(e.seen_n_jobs_, e.seen_effective_) for e in fitted} == {(min(4, share),) * 2}
    assert max(e.seen_pools_ for e in fitted) <= share  # BLAS/OpenMP: threads_per_worker
    assert learner.estimator.n_jobs == 4 and {e.n_jobs for e in fitted} == {4}
    # the same forest on one thread in one process (n_jobs as given): the same numbers
    plain = Learner(RecordingForest(8, n_jobs=share, random_state=0), FoldIndex(3), name="rf")
    with ParallelProcessing("sequential", threads=None) as pp:
        want = pp.map(plain, "fit", X, Y, return_preds=True)
    if share == 1:  # one thread each (2 CPUs): exactly the one-thread forest
        np.testing.assert_array_equal(got, want)
    # left at n_jobs=4, a forest sums its trees' predictions in the order its threads
    # finish (scikit-learn's own behaviour): the trees are the same, the sums to ~1e-16
    with ParallelProcessing("sequential", threads=None) as pp:
        many = pp.map(learner, "fit", X, Y, return_preds=True)
    assert learner.estimator_.seen_n_jobs_ == 4
    np.testing.assert_allclose(got, many, rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(available_cpus() < 2, reason="a grant of 2 threads needs 2 CPUs")
def test_a_worker_sets_its_pools_to_the_grant_for_the_node_only():
    """One worker on 2+ CPUs: a forest is granted 2; BLAS/OpenMP follow, then go back to 1."""
    from threadpoolctl import threadpool_info

    from foldgraph.testing import OLS

    class PoolProbe(OLS):
        def fit(self, X, y):
            self.pools_ = max((p["num_threads"] for p in threadpool_info()), default=1)
            return super().fit(X, y)

    forest = Learner(RecordingForest(4, n_jobs=4, random_state=0), FoldIndex(2), name="rf")
    probe = Learner(PoolProbe(), FoldIndex(2), name="probe")
    with ParallelProcessing("multiprocessing", n_jobs=1, threads_per_worker=1,
                            strategy="fifo") as pp:  # fmt: skip
        pp.map([forest, probe], "fit", X, Y)
    fitted = [*forest.fold_estimators_, forest.estimator_]
    assert {(e.seen_n_jobs_, e.seen_pools_) for e in fitted} == {(2, 2)}
    assert {e.pools_ for e in probe.fold_estimators_} == {1}  # restored after the forest


def test_threads_none_leaves_n_jobs_as_given():
    learner = Learner(RecordingForest(4, n_jobs=3, random_state=0), FoldIndex(2), name="rf")
    with ParallelProcessing("threading", n_jobs=2, threads=None) as pp:
        pp.map(learner, "fit", X, Y)
    assert {e.seen_n_jobs_ for e in learner.fold_estimators_} == {3}


# -- the node cache ignores n_jobs -------------------------------------------------
def test_fingerprint_does_not_change_with_n_jobs():
    def fps(estimator):
        graph = map_graph(Learner(make_pipeline(StandardScaler(), estimator), FoldIndex(2),
                                  name="m"), "fit", X, Y)  # fmt: skip
        return fingerprints(graph, Job("fit", X, Y))

    one = fps(RandomForestRegressor(5, n_jobs=1, random_state=0))
    assert fps(RandomForestRegressor(5, n_jobs=-1, random_state=0)) == one
    assert fps(RandomForestRegressor(5, n_jobs=1, random_state=1)) != one  # still sensitive


def test_cache_hit_across_n_jobs():
    store: dict = {}
    with ParallelProcessing("sequential", cache=store) as pp:
        first = pp.map(Learner(RandomForestRegressor(5, n_jobs=1, random_state=0), FoldIndex(2),
                               name="rf"), "fit", X, Y, return_preds=True)  # fmt: skip
        again = pp.map(Learner(RandomForestRegressor(5, n_jobs=2, random_state=0), FoldIndex(2),
                               name="rf"), "fit", X, Y, return_preds=True)  # fmt: skip
        assert len(pp.trace.cached) == 3
    np.testing.assert_array_equal(first, again)


# -- the tail policy, on hand-made states ----------------------------------------
@pytest.mark.parametrize(
    "ready, ends, free, next_ready, raisable, expected",
    [
        # one forest left, a ridge ends at 3, nothing else comes: it takes both cores
        ({"rf": 1}, {"ridge": 3.0}, 2, math.inf, None, {"rf": 2}),
        # the last node, nothing running: every core
        ({"rf": 1}, {}, 4, math.inf, None, {"rf": 4}),
        # as many ready nodes as free cores: nothing to give
        ({"rf": 1, "knn": 1}, {}, 2, math.inf, None, {}),
        # a node becomes ready (t=1) before the running one ends (t=3): keep the core
        ({"rf": 1}, {"ridge": 3.0}, 2, 1.0, None, {}),
        # becomes ready exactly when the longest ends: give
        ({"rf": 1}, {"ridge": 3.0}, 2, 3.0, None, {"rf": 2}),
        # two ready, four free: the critical one (largest level) takes the spare two
        ({"rf": 1, "knn": 1}, {"a": 9.0}, 4, math.inf, None, {"knn": 3}),
        # the critical one may not be raised: the next one is
        ({"rf": 1, "knn": 1}, {}, 4, math.inf, {"rf"}, {"rf": 3}),
        ({"ridge": 1}, {}, 4, math.inf, set(), {}),
        # a node granted 2 already, 3 free: it gets 3
        ({"rf": 2}, {}, 3, math.inf, None, {"rf": 3}),
    ],
)  # fmt: skip
def test_tail_threads(ready, ends, free, next_ready, raisable, expected):
    levels = {"rf": 5.0, "knn": 8.0, "ridge": 1.0}
    assert tail_threads(ready, ends, free, levels, next_ready, raisable=raisable) == expected


def test_tail_on_a_run_state():
    """
    a(run, ends 5) -> c
    b(ready, cost 1) -> d
    e(ready, cost 9, critical) (no successor)
    """
    g = nx.DiGraph([("a", "c"), ("b", "d")])
    g.add_node("e")
    state = start_state(g, {"a": 0, "b": 1, "e": 2, "c": 3, "d": 4})
    assert admit(state, 1) == ["a"]
    frontier = waiting_frontier(state, g.pred, starting=["b", "e"])
    assert frontier == {"c": ["a"], "d": ["b"]}
    # d becomes ready at now + 1 = 1 < 5: no tail
    soon = earliest_ready(frontier, {"a": 5.0}, {"b": 1.0, "e": 9.0}, now=0.0)
    assert soon == 1.0
    levels = {"a": 6.0, "b": 2.0, "e": 9.0, "c": 1.0, "d": 1.0}
    assert tail_threads({"b": 1, "e": 1}, {"a": 5.0}, 4, levels, soon) == {}
    # b takes 6: d comes at 6 > 5, so e (critical) takes the two spare cores
    later = earliest_ready(frontier, {"a": 5.0}, {"b": 6.0, "e": 9.0}, now=0.0)
    assert tail_threads({"b": 1, "e": 1}, {"a": 5.0}, 4, levels, later) == {"e": 3}
    # the same two decisions in one call each
    costs = {"b": 1.0, "e": 9.0}
    assert grant_tail(state, g.pred, {"b": 1, "e": 1}, {"a": 5.0}, 4, levels, costs, 0.0) == {}
    costs["b"] = 6.0
    assert grant_tail(state, g.pred, {"b": 1, "e": 1}, {"a": 5.0}, 4, levels, costs,
                      0.0) == {"e": 3}  # fmt: skip


def test_speedup_model():
    assert set(SPEEDUPS) == {"forest", "neighbors", "boost", "linear"}
    assert family_of(RandomForestRegressor()) == "forest"
    assert family_of(make_pipeline(StandardScaler(), KNeighborsRegressor())) == "neighbors"
    assert family_of(HistGradientBoostingRegressor()) == "boost"
    assert family_of(DecisionTreeRegressor()) is None
    table = {"forest": 1.9, "linear": 0.8}
    # Amdahl through the measured point: p = 2 (1 - 1/1.9)
    p = 2 * (1 - 1 / 1.9)
    assert speedup("forest", 2, table) == pytest.approx(1.9)
    assert speedup("forest", 8, table) == pytest.approx(1 / ((1 - p) + p / 8))
    assert speedup("linear", 4, table) == 1.0  # measured slower: modelled as no gain
    assert speedup(DecisionTreeRegressor(), 4, table) == 1.0
    assert all(speedup(f, 1) == 1.0 for f in SPEEDUPS)
    assert scaled_cost(19.0, "forest", 2, table=table) == pytest.approx(10.0)
    assert scaled_cost(10.0, "forest", 2, base=2, table=table) == pytest.approx(10.0)


def test_loop_grants_charge_the_budget_until_the_node_ends():
    """The raised node holds its extra cores in the admission Budget while it runs."""
    from foldgraph.engine.admission import Budget
    from foldgraph.engine.tail import loop_grants

    graph = map_graph(Learner(RandomForestRegressor(5, n_jobs=4), FoldIndex(2), name="rf"),
                      "fit", X, Y)  # fmt: skip
    set_cores(graph, n_cpus=2, n_workers=2)
    state = start_state(graph.nx, dict.fromkeys(graph.nx, 0))
    state.budget = Budget(None, 2, {k: (0, 1) for k in graph.nx})
    levels = graph.bottom_level()
    first = admit(state, 2)  # two folds: as many as the cores, nothing to give
    assert loop_grants(graph, state, first, {}, 2, levels, 0.0) == {}
    for key in first:
        finish(state, key, None)
        state.budget.finish(key)
    last = admit(state, 2)  # the full fit alone, nothing after it: both cores
    assert last == ["rf/fit/full"]
    assert loop_grants(graph, state, last, {}, 2, levels, 1.0) == {"rf/fit/full": 2}
    assert state.budget.busy == 2 and state.budget.running["rf/fit/full"] == (0, 2)
    state.budget.finish("rf/fit/full")
    assert state.budget.busy == 0
