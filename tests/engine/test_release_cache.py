"""Early release of buffers in runs with a node cache (issue #19).

A released buffer's pages are gone, so a run with a cache stores the entries
of the nodes that wrote a buffer (and copies it, if the run returns it)
before releasing it. These tests check that ensembles, which keep a cache by
default, now release their layers' buffers early, and that cached and
partial re-fits still give what a fresh fit gives.
"""

from __future__ import annotations

import numpy as np
import pytest

from foldgraph import FoldIndex, Learner, NodeCache, ParallelProcessing, SuperLearner, stack_graph
from foldgraph.engine.cache import Entry
from foldgraph.engine.job import Job
from foldgraph.testing import OLS

N = 70_000  # a 2-column float64 layer is 1.12 MB: over the 1 MiB worth releasing
EVENTS: list = []  # what happened in this process, in order: fits of Probe, buffers freed


class Probe(OLS):
    """OLS that notes when it fits (in-process backends only)."""

    def fit(self, X, y):
        EVENTS.append(("fit", type(self).__name__, self.offset))
        return super().fit(X, y)


@pytest.fixture
def frees(monkeypatch):
    """Record every buffer a Job frees, in EVENTS."""
    EVENTS.clear()
    free = Job.free

    def recording(job, name):
        EVENTS.append(("free", name))
        return free(job, name)

    monkeypatch.setattr(Job, "free", recording)
    return lambda: [e[1] for e in EVENTS if e[0] == "free"]


def _data(n=N):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, 3))
    return X, X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=n)


def _ensemble(backend="sequential", cache=None, offset=0.0, meta_offset=0.0):
    ens = SuperLearner(folds=2, backend=backend, n_jobs=2, strategy="memory", cache=cache)
    ens.add([OLS(), OLS(offset=1)])
    ens.add([OLS(offset=offset), OLS(offset=2)])
    ens.add([OLS(), OLS(offset=3)])
    return ens.add_meta(Probe(offset=meta_offset))


def _same(a, b, X):
    assert np.array_equal(a.predict(X), b.predict(X))
    for name, layer in a._oof["layers"].items():
        assert np.array_equal(layer, b._oof["layers"][name]), name


def test_an_ensemble_with_its_default_cache_releases_layers_before_the_meta_fit(frees):
    X, y = _data()
    ens = _ensemble().fit(X, y)  # cache=None: the ensemble's own node memory
    assert ens.node_memory_, "the default cache is on"
    freed = frees()
    assert {"P:layer-1", "P:layer-2", "P:layer-3"} <= set(freed)
    meta_fit = EVENTS.index(("fit", "Probe", 0.0))
    # layer 1 goes once layer 2 has read it, long before the meta learner fits
    assert EVENTS.index(("free", "P:layer-1")) < meta_fit
    assert EVENTS.index(("free", "P:layer-2")) < meta_fit
    _same(ens, _ensemble(cache=False).fit(X, y), X)  # the returned layers were copied first


def test_entries_stored_at_release_hold_the_blocks_a_fresh_fit_writes(frees):
    X, y = _data()
    ens = _ensemble().fit(X, y)
    fresh = _ensemble(cache=False).fit(X, y)
    fold0 = fresh._oof["layers"]["layer-2"][: N // 2]  # FoldIndex(2): rows of fold 0 first
    blocks = [e.block for e in ens.node_memory_.values()
              if isinstance(e, Entry) and e.block is not None and e.block.shape == (N // 2, 1)]  # fmt: skip
    # every fold's block of layer 2 (released before the end) is in the cache, as computed
    for col in range(2):
        assert any(np.array_equal(b[:, 0], fold0[:, col]) for b in blocks), col


@pytest.mark.parametrize(
    "change, reran",
    [({"layer-2__ols-1__offset": 0.5}, {"layer-2.ols-1", "layer-3.ols-1", "layer-3.ols-2"}),
     ({"meta__probe__offset": 0.25}, set())],
    ids=["one-layer-2-learner", "meta-only"],
)  # fmt: skip
def test_partial_refit_equals_a_fresh_fit(frees, change, reran):
    X, y = _data()
    ens = _ensemble().fit(X, y)
    ens.set_params(**change)
    EVENTS.clear()
    ens.fit(X, y)
    ran = {e.task for e in ens.trace_.events}
    assert ran - {"meta.probe"} == reran
    assert ens.trace_.cached  # layer 1 (at least) was restored, not run
    # restored layers that no node of the refit reads are let go too, copied first
    assert "P:layer-1" in frees()
    offset = change.get("layer-2__ols-1__offset", 0.0)
    fresh = _ensemble(cache=False, offset=offset,
                      meta_offset=change.get("meta__probe__offset", 0.0)).fit(X, y)  # fmt: skip
    _same(ens, fresh, X)


def test_disk_cache_refit_on_processes_matches_a_fresh_sequential_fit(tmp_path, frees):
    X, y = _data()
    cache = NodeCache(tmp_path / "nodes")
    first = _ensemble("multiprocessing", cache=cache).fit(X, y)
    assert {"P:layer-1", "P:layer-2"} <= set(frees())  # freed in the parent, entries on disk
    again = _ensemble("multiprocessing", cache=cache, offset=0.5).fit(X, y)
    assert again.trace_.cached
    fresh = _ensemble(offset=0.5, cache=False).fit(X, y)
    for a, b in ((first, _ensemble(cache=False).fit(X, y)), (again, fresh)):
        np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-10)  # BLAS per process


def test_a_manager_run_with_a_cache_releases_and_restores_identically(frees):
    """Plain manager runs: a stack of three, the middle one's output read by the last."""
    X, y = _data(140_000)  # one column of 140,000 float64 is 1.12 MB
    tasks = [Learner(OLS(offset=i), FoldIndex(2), name=n) for i, n in enumerate("abc")]
    graph = stack_graph(tasks, "fit", X=X, y=y)
    with ParallelProcessing("sequential") as pp:
        plain = pp.run(graph, X, y, return_preds=["a", "c"])
    assert sorted(frees()) == ["P:a", "P:b"]  # without a cache too
    EVENTS.clear()
    store: dict = {}
    with ParallelProcessing("threading", n_jobs=2, cache=store) as pp:
        first = pp.run(graph, X, y, return_preds=["a", "c"])
        assert sorted(frees()) == ["P:a", "P:b"]  # P:a returned: copied, then freed
        again = pp.run(graph, X, y, return_preds=["a", "c"])
        assert len(pp.trace.cached) == len(graph.nx) and not pp.trace.events
    for out in (first, again):
        for a, b in zip(plain, out):
            assert np.array_equal(a, b)


def test_ensemble_predict_with_the_cache_on_releases_the_inner_layers(frees):
    X, y = _data()
    ens = _ensemble().fit(X, y)
    EVENTS.clear()
    got = ens.predict(X)
    assert {"P:layer-1", "P:layer-2"} <= set(frees())  # read by the next layer, not returned
    assert np.array_equal(got, _ensemble(cache=False).fit(X, y).predict(X))
