"""The tail policy wired into the loop and the simulator (issue 19): idle cores at the
end of a run go to the critical node, whose predictions keep their last bits."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor

from foldgraph import FoldIndex, FullIndex, Learner, ParallelProcessing, map_graph
from foldgraph.engine.manager import available_cpus
from foldgraph.engine.payload import make_payload
from foldgraph.engine.scheduler import start_state
from foldgraph.engine.simulate import simulate
from foldgraph.engine.speedups import SPEEDUPS
from foldgraph.engine.worker import run_node
from foldgraph.graph import TaskGraph
from foldgraph.graph.resources import exact_predict, set_cores

rng = np.random.default_rng(3)
X = rng.standard_normal((400, 6))
Y = X @ rng.standard_normal(6) + 0.3 * rng.standard_normal(400)
TWO_CPUS = pytest.mark.skipif(available_cpus() < 2, reason="raising a node needs 2 free CPUs")


class ThreadsSeen(RandomForestRegressor):
    """A forest that records the ``n_jobs`` it fits and predicts with."""

    def fit(self, X, y, sample_weight=None):
        self.fit_n_jobs_ = self.n_jobs
        return super().fit(X, y, sample_weight=sample_weight)

    def predict(self, X):
        self.predict_n_jobs_ = self.n_jobs
        return super().predict(X)


class NeighborsSeen(KNeighborsRegressor):
    def predict(self, X):
        self.predict_n_jobs_ = self.n_jobs
        return super().predict(X)


def _fold_payload(estimator, threads):
    graph = map_graph(Learner(estimator, FoldIndex(2), name="m"), "fit", X, Y)
    set_cores(graph, n_cpus=2, n_workers=2)
    state = start_state(graph.nx, dict.fromkeys(graph.nx, 0))
    return make_payload(graph, "m/fit/fold-0", state, threads=threads)


def test_a_raised_forest_fits_on_its_threads_and_predicts_on_its_grant():
    raised = _fold_payload(ThreadsSeen(30, random_state=0), threads=2)
    assert (raised.threads, raised.predict_threads) == (2, 1)
    P2 = np.zeros((len(X), 1))
    fitted = run_node(raised, {"X": X, "y": Y, "P:m": P2}).estimator
    assert (fitted.fit_n_jobs_, fitted.predict_n_jobs_, fitted.n_jobs) == (2, 1, None)
    # the same fold on one thread: the same trees, and predictions to the last bit (a
    # forest predicting on 2 threads sums its trees in the order its threads finish)
    plain = _fold_payload(ThreadsSeen(30, random_state=0), threads=None)
    assert (plain.threads, plain.predict_threads) == (1, None)
    P1 = np.zeros((len(X), 1))
    run_node(plain, {"X": X, "y": Y, "P:m": P1})
    np.testing.assert_array_equal(P2, P1)


def test_a_raised_neighbour_search_predicts_on_its_raised_threads():
    """k-NN is exact per query row, and its predict is most of its work: it keeps them."""
    assert exact_predict(KNeighborsRegressor()) and not exact_predict(RandomForestRegressor())
    raised = _fold_payload(NeighborsSeen(5), threads=2)
    assert (raised.threads, raised.predict_threads) == (2, None)
    P = np.zeros((len(X), 1))
    fitted = run_node(raised, {"X": X, "y": Y, "P:m": P}).estimator
    assert fitted.predict_n_jobs_ == 2 and fitted.n_jobs is None


def _chain():
    """a -> c, b alone; c is left alone at the end: the tail's case."""
    g = TaskGraph()
    for key, cost in (("a", 2.0), ("b", 1.0), ("c", 4.0)):
        g.add_node(key, cost=cost)
    g.add_edge("a", "c")
    return g


def test_simulated_tail_gives_the_idle_core_and_shortens_the_run():
    g = _chain()
    fast = simulate(g, 2, "critical_path", tail=True, speedup=lambda k, t: 1.0 + 0.6 * (t - 1))
    plain = simulate(g, 2, "critical_path")
    assert plain.makespan == 6.0 and plain.raised == {}
    assert fast.raised == {"c": 2} and fast.makespan == pytest.approx(2.0 + 4.0 / 1.6)
    # a node whose threads may not be set (threads=None) is never raised
    g.nx.nodes["c"]["threads"] = None
    assert simulate(g, 2, "critical_path", tail=True).raised == {}


def test_simulated_tail_waits_for_a_node_about_to_be_ready():
    """b's child d is ready at t=1, before a ends: c (ready at 2) finds b's core busy,
    and at t=0 the spare core is not given away while d is to come."""
    g = _chain()
    g.add_node("d", cost=3.0)
    g.add_edge("b", "d")
    r = simulate(g, 2, "critical_path", tail=True, speedup=lambda k, t: float(t))
    assert r.raised == {}
    assert r.makespan == simulate(g, 2, "critical_path").makespan


def test_a_raised_node_keeps_the_other_worker_idle_until_it_ends():
    """Estimates can be wrong in a real run: a node ready while the raised one runs
    waits for its cores (the cores are never oversubscribed)."""
    from foldgraph.engine.scheduler import admit, finish
    from foldgraph.engine.tail import Tail

    g = _chain()
    state = start_state(g.nx, {"a": 0, "b": 1, "c": 2})
    tail = Tail(g, 2, moldable=True, speed=lambda key, threads: float(threads))
    first = admit(state, 2)
    assert tail.start(state, first, 0.0) == {} and tail.slots(2, state.running) == 2
    for key in first:
        finish(state, key, None)
        tail.finish(key)
    last = admit(state, 2)
    assert tail.start(state, last, 2.0) == {"c": 2}
    assert (tail.busy, tail.borrowed, tail.slots(1, state.running)) == (2, 1, 0)
    finish(state, "c", None)
    tail.finish("c")
    assert (tail.busy, tail.borrowed, tail.slots(2, state.running)) == (0, 0, 2)


def _alone_at_the_end():
    """A single forest full fit: nothing else runs, nothing follows."""
    return Learner(ThreadsSeen(40, random_state=0), FullIndex(), name="rf")


@TWO_CPUS
@pytest.mark.parametrize("backend", ["threading", "multiprocessing"])
def test_a_real_run_raises_the_lone_forest(backend, no_leaks, monkeypatch):
    # a forest gains from a second thread on a quiet machine (SPEEDUPS is re-measured)
    monkeypatch.setitem(SPEEDUPS, "forest", 1.8)
    learner = _alone_at_the_end()
    with ParallelProcessing(backend, n_jobs=2) as pp:
        pp.map(learner, "fit", X, Y)
        assert pp.trace.raised == {"rf/fit/full": 2}
    assert learner.estimator_.fit_n_jobs_ == 2 and learner.estimator_.n_jobs is None
    assert learner.estimator.n_jobs is None  # the user's template untouched
    off = _alone_at_the_end()
    with ParallelProcessing(backend, n_jobs=2, tail=False) as pp:
        pp.map(off, "fit", X, Y)
        assert pp.trace.raised == {}
    assert off.estimator_.fit_n_jobs_ == 1
    # the same trees: the fitted forests predict alike to the last bit
    np.testing.assert_array_equal(learner.estimator_.predict(X), off.estimator_.predict(X))


def test_no_tail_on_one_worker_nor_with_threads_none():
    for kwargs in ({"backend": "sequential"}, {"backend": "threading", "n_jobs": 1},
                   {"backend": "threading", "n_jobs": 2, "threads": None}):
        learner = _alone_at_the_end()
        with ParallelProcessing(**kwargs) as pp:
            pp.map(learner, "fit", X, Y)
            assert pp.trace.raised == {}, kwargs
        assert learner.estimator_.fit_n_jobs_ in (1, None)


@TWO_CPUS
def test_an_ensemble_with_the_tail_equals_the_sequential_fit():
    """Layer-1 forests may be raised at the tail; every prediction keeps its last bits."""
    from foldgraph import SuperLearner

    def fit(backend):
        ens = SuperLearner(folds=3, backend=backend, random_state=0)
        ens.add([Ridge(), RandomForestRegressor(25, random_state=0)])
        ens.add_meta(RandomForestRegressor(60, random_state=0))
        return ens.fit(X, Y).predict(X)

    with ParallelProcessing("threading", n_jobs=2) as pp:
        got = fit(pp)
    np.testing.assert_array_equal(got, fit(ParallelProcessing("sequential")))
