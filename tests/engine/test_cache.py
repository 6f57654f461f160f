"""The node cache: fingerprints, hits on every backend, the disk store, plans, pictures."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import Ridge
from sklearn.tree import DecisionTreeRegressor

from foldgraph import FoldIndex, Job, Learner, NodeCache, ParallelProcessing, map_graph, stack_graph
from foldgraph.engine.cache import MAGIC, SUFFIX, Entry, fingerprints
from foldgraph.graph.draw import to_dot, to_mermaid
from foldgraph.tasks.ops import NodeResult
from foldgraph.testing import OLS

BACKENDS = ("sequential", "threading", "multiprocessing")


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.1, size=60)
    return X, y


def learners(*specs):
    """Learners from (name, estimator, folds) triples."""
    return [Learner(est, FoldIndex(folds), name=name) for name, est, folds in specs]


def keys_of(graph, *tasks):
    return {k for t in tasks for k in graph.nodes_of(t)}


def ran(manager):
    return {e.key for e in manager.trace.events}


# -- fingerprints ------------------------------------------------------------------
class TestFingerprints:
    def fp(self, tasks, X, y, stack=False):
        build = stack_graph if stack else map_graph
        graph = build(tasks, "fit", X=X, y=y)
        return graph, fingerprints(graph, Job("fit", X, y))

    def test_content_not_names(self, data):
        X, y = data
        _, a = self.fp(learners(("a", Ridge(), 3)), X, y)
        _, b = self.fp(learners(("b", Ridge(), 3)), X, y)
        assert [a[f"a/fit/fold-{i}"] for i in range(3)] == [b[f"b/fit/fold-{i}"] for i in range(3)]
        assert len(set(a.values())) == 4  # three folds and the full fit all differ

    @pytest.mark.parametrize("change", ["param", "X", "y", "folds"])
    def test_a_change_changes_every_node_it_reaches(self, data, change):
        X, y = data
        base = (("ridge", Ridge(alpha=1.0), 3), ("tree", DecisionTreeRegressor(random_state=0), 3))
        _, before = self.fp(learners(*base), X, y)
        specs, X2, y2 = list(base), X, y
        if change == "param":
            specs[0] = ("ridge", Ridge(alpha=2.0), 3)
        elif change == "folds":
            specs[0] = ("ridge", Ridge(alpha=1.0), 4)
        elif change == "X":
            X2 = X.copy()
            X2[5, 1] += 1e-9
        else:
            y2 = y.copy()
            y2[0] += 1e-9
        graph, after = self.fp(learners(*specs), X2, y2)
        changed = {k for k in after if before.get(k) != after[k]}
        expected = set(graph.nx) if change in ("X", "y") else keys_of(graph, "ridge")
        if change == "folds":  # the full fit reads every row whatever the folds
            expected.discard("ridge/fit/full")
        assert changed == expected

    def test_upstream_change_reaches_downstream(self, data):
        """ridge -> meta: a new ridge changes every meta node; the meta template is the same."""
        X, y = data
        g1, a = self.fp(learners(("ridge", Ridge(alpha=1.0), 2), ("meta", OLS(), 2)), X, y, True)
        g2, b = self.fp(learners(("ridge", Ridge(alpha=3.0), 2), ("meta", OLS(), 2)), X, y, True)
        assert all(a[k] != b[k] for k in keys_of(g2, "ridge", "meta"))

    def test_lambdas_are_hashed_by_their_code(self, data):
        """Plain pickle refuses lambdas: their cloudpickle bytes are hashed instead,
        with no warning; another function body is another fingerprint."""
        X, y = data

        def graph_of(func):
            est = TransformedTargetRegressor(Ridge(), func=func, inverse_func=func)
            return map_graph(Learner(est, FoldIndex(2), name="lam"), "fit", X=X, y=y)

        same, other = (lambda v: v), (lambda v: v * 2)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            a = fingerprints(graph_of(same), Job("fit", X, y))
            b = fingerprints(graph_of(same), Job("fit", X, y))
            c = fingerprints(graph_of(other), Job("fit", X, y))
        assert None not in a.values()
        assert a == b and all(a[k] != c[k] for k in a)

    def test_unhashable_params_always_run_with_one_warning(self, data):
        X, y = data
        lam = TransformedTargetRegressor(Ridge(), check_inverse=threading.Lock())
        tasks = [Learner(lam, FoldIndex(2), name="lam"),
                 Learner(OLS(), FoldIndex(2), name="ols")]  # fmt: skip
        graph = stack_graph(tasks, "fit", X=X, y=y)
        with pytest.warns(UserWarning, match=r"task 'lam'.*cannot be hashed") as record:
            fp = fingerprints(graph, Job("fit", X, y))
        assert len([w for w in record if "cannot be hashed" in str(w.message)]) == 1
        assert {k for k, v in fp.items() if v is None} == set(graph.nx)  # downstream too

    def test_predict_jobs_are_not_cached(self, data):
        X, y = data
        task = Learner(OLS(), FoldIndex(2), name="ols")
        with ParallelProcessing("sequential", cache={}) as pp:
            pp.map(task, "fit", X, y)
            pp.map(task, "predict", X)
            pp.map(task, "predict", X)
            assert pp.trace.cached == [] and len(pp.trace.events) == 1
            assert set(pp.fingerprints.values()) == {None}


# -- running with a cache -------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_identical_results_and_full_hits_on_every_backend(data, tmp_path, backend, no_leaks):
    X, y = data
    specs = (("ridge", Ridge(), 3), ("tree", DecisionTreeRegressor(max_depth=3, random_state=0), 3))
    names = ["ridge", "tree"]
    with ParallelProcessing(backend, n_jobs=2) as pp:
        plain = pp.map(learners(*specs), "fit", X, y, return_preds=names)
    with ParallelProcessing(backend, n_jobs=2, cache=tmp_path) as pp:
        first = pp.map(learners(*specs), "fit", X, y, return_preds=names)
        assert pp.trace.cached == [] and len(pp.trace.events) == 8
        tasks = learners(*specs)
        second = pp.map(tasks, "fit", X, y, return_preds=names)
        assert ran(pp) == set() and set(pp.trace.cached) == set(pp.graph.nx)
    for a, b, c in zip(plain, first, second):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    # the restored estimators are fitted and predict as the originals did
    full = Ridge().fit(X, y)
    np.testing.assert_allclose(tasks[0].estimator_.predict(X), full.predict(X), rtol=1e-10)
    assert len(tasks[1].fold_estimators_) == 3
    assert tasks[0].cv_results_["fold"] == [0, 1, 2]


def test_exactly_the_changed_nodes_run(data, tmp_path):
    """ridge -> knn-like OLS stack: change each piece in turn; assert what ran from the trace."""
    X, y = data

    def stack(alpha=1.0, folds=3, offset=0.0):
        return [Learner(Ridge(alpha=alpha), FoldIndex(folds), name="ridge"),
                Learner(OLS(offset=offset), FoldIndex(2), name="meta")]  # fmt: skip

    with ParallelProcessing("threading", n_jobs=2, cache=tmp_path) as pp:
        pp.stack(stack(), "fit", X, y)
        assert len(ran(pp)) == len(pp.graph.nx)
        pp.stack(stack(offset=1.0), "fit", X, y)  # the last task only
        assert ran(pp) == keys_of(pp.graph, "meta")
        pp.stack(stack(alpha=2.0), "fit", X, y)  # upstream: everything below it
        assert ran(pp) == set(pp.graph.nx)
        pp.stack(stack(alpha=2.0), "fit", X, y)
        assert ran(pp) == set()
        pp.stack(stack(alpha=2.0, folds=4), "fit", X, y)  # new folds: all but the full fit
        assert ran(pp) == set(pp.graph.nx) - {"ridge/fit/full"}
        pp.stack(stack(alpha=2.0), "fit", X[::-1].copy(), y[::-1].copy())  # new data
        assert ran(pp) == set(pp.graph.nx)


def test_adding_a_learner_runs_only_its_nodes(data):
    X, y = data
    memory: dict = {}
    with ParallelProcessing("sequential", cache=memory) as pp:
        pp.map(learners(("b", Ridge(), 3)), "fit", X, y)
        both = learners(("a", OLS(), 3), ("b", Ridge(), 3))  # b moves to the second columns
        plan = pp.plan(map_graph(both, "fit", X=X, y=y), X, y)
        P = pp.map(both, "fit", X, y, return_preds=["a", "b"])
        assert ran(pp) == keys_of(pp.graph, "a") == set(plan.run)
        assert set(pp.trace.cached) == keys_of(pp.graph, "b") == set(plan.cached)
    with ParallelProcessing("sequential") as pp:
        expected = pp.map(learners(("a", OLS(), 3), ("b", Ridge(), 3)), "fit", X, y,
                          return_preds=["a", "b"])  # fmt: skip
    np.testing.assert_array_equal(P[1], expected[1])


def test_sample_weight_is_part_of_the_content(data, tmp_path):
    from foldgraph import TaskGraph
    from foldgraph.graph import add_layer

    X, y = data
    w = np.linspace(0.5, 1.5, len(y))

    def graph():
        g = TaskGraph("fit", X=X, y=y, sample_weight=w)
        add_layer(g, "l", learners(("ridge", Ridge(), 2)), ["ridge"])
        return g.validate()

    with ParallelProcessing("sequential", cache=tmp_path) as pp:
        pp.run(graph(), X, y, sample_weight=w)
        pp.run(graph(), X, y, sample_weight=w)
        assert ran(pp) == set()
        pp.run(graph(), X, y, sample_weight=w[::-1].copy())
        assert ran(pp) == set(pp.graph.nx)


# -- the disk store ---------------------------------------------------------------------
def entry(n: int, value: float = 1.0) -> Entry:
    return Entry(NodeResult(OLS(offset=value), 0.5), np.full((n, 1), value, dtype=np.float32))


class TestNodeCache:
    @pytest.mark.parametrize(
        "kwargs, exc, match",
        [
            ({"max_bytes": 0}, ValueError, r"max_bytes=0: pass a positive"),
            ({"max_bytes": -5}, ValueError, r"max_bytes=-5"),
            ({"max_bytes": 1.5}, ValueError, r"max_bytes=1.5"),
            ({"max_bytes": True}, ValueError, r"max_bytes=True"),
        ],
    )
    def test_bad_arguments(self, tmp_path, kwargs, exc, match):
        with pytest.raises(exc, match=match):
            NodeCache(tmp_path, **kwargs)

    def test_a_file_is_not_a_directory(self, tmp_path):
        path = tmp_path / "f"
        path.write_text("x")
        with pytest.raises(ValueError, match=r"is a file: pass a directory"):
            NodeCache(path)

    def test_manager_refuses_other_caches(self):
        with pytest.raises(TypeError, match=r"cache=42: pass None.*NodeCache"):
            ParallelProcessing(cache=42)

    def test_round_trip_and_atomic_files(self, tmp_path):
        cache = NodeCache(tmp_path / "c")
        cache["ab"] = entry(4, 2.0)
        got = cache["ab"]
        assert got.result.estimator.offset == 2.0 and got.result.fit_time == 0.5
        np.testing.assert_array_equal(got.block, np.full((4, 1), 2.0, np.float32))
        assert "ab" in cache and "cd" not in cache and cache.get("cd") is None
        assert os.listdir(tmp_path / "c") == [f"ab{SUFFIX}"]  # no temp file left
        with pytest.raises(KeyError):
            cache["cd"]

    @pytest.mark.parametrize("damage", ["flip", "truncate", "magic", "not-an-entry", "empty"])
    def test_a_corrupt_entry_is_recomputed_with_a_warning(self, data, tmp_path, damage):
        X, y = data
        with ParallelProcessing("sequential", cache=tmp_path) as pp:
            P1 = pp.map(learners(("r", Ridge(), 2)), "fit", X, y, return_preds=True)
            fp = pp.fingerprints["r/fit/fold-1"]
            path = tmp_path / f"{fp}{SUFFIX}"
            raw = path.read_bytes()
            if damage == "flip":
                raw = raw[:-10] + bytes([raw[-10] ^ 0xFF]) + raw[-9:]
            elif damage == "truncate":
                raw = raw[: len(raw) // 2]
            elif damage == "magic":
                raw = b"XXXXXX" + raw[6:]
            elif damage == "not-an-entry":
                import hashlib

                payload = pickle.dumps({"not": "an entry"})
                raw = MAGIC + hashlib.sha256(payload).digest() + payload
            else:
                raw = b""
            path.write_bytes(raw)
            with pytest.warns(RuntimeWarning, match=rf"entry {fp}{SUFFIX} is unreadable"):
                P2 = pp.map(learners(("r", Ridge(), 2)), "fit", X, y, return_preds=True)
            assert ran(pp) == {"r/fit/fold-1"}
            np.testing.assert_array_equal(P1, P2)
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                pp.map(learners(("r", Ridge(), 2)), "fit", X, y)  # rewritten: all hits
            assert ran(pp) == set()

    def test_an_unpicklable_result_is_skipped_with_a_warning(self, data, tmp_path):
        X, y = data

        class Locked(OLS):  # fitted state holds a lock: hashable params, unpicklable result
            def fit(self, X, y):
                self.lock_ = threading.Lock()
                return super().fit(X, y)

        with ParallelProcessing("sequential", cache=tmp_path) as pp:
            with pytest.warns(RuntimeWarning, match=r"could not write entry"):
                pp.map(Learner(Locked(), FoldIndex(2), name="locked"), "fit", X, y)
        assert len(NodeCache(tmp_path)) == 0 and os.listdir(tmp_path) == []

    def test_eviction_keeps_the_total_under_max_bytes_lru_first(self, tmp_path):
        cache = NodeCache(tmp_path)
        for i in range(4):
            cache[f"e{i}"] = entry(100, float(i))
            os.utime(tmp_path / f"e{i}{SUFFIX}", (1000 + i, 1000 + i))  # e0 oldest
        size = (tmp_path / f"e0{SUFFIX}").stat().st_size
        cache.get("e0")  # a hit refreshes e0: e1 is now the least recently used
        limited = NodeCache(tmp_path, max_bytes=int(4.5 * size))
        limited["e4"] = entry(100, 4.0)
        assert sorted(limited.keys()) == ["e0", "e2", "e3", "e4"]
        assert limited.nbytes <= 4.5 * size
        limited.evict(max_bytes=size)
        assert limited.keys() == ["e4"]
        limited.clear()
        assert len(limited) == 0

    def test_stale_temp_files_are_removed(self, tmp_path):
        cache = NodeCache(tmp_path)
        old, new = tmp_path / ".x.1.aa.tmp", tmp_path / ".y.1.bb.tmp"
        old.write_bytes(b"partial")
        new.write_bytes(b"in progress")
        os.utime(old, (0, 0))
        cache.evict()
        assert not old.exists() and new.exists()


WRITER = textwrap.dedent("""
    import sys, warnings
    import numpy as np
    from sklearn.linear_model import Ridge
    from foldgraph import FoldIndex, Learner, NodeCache, ParallelProcessing
    warnings.simplefilter("error")
    path, seed = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    cache = NodeCache(path, max_bytes=8_000)
    with ParallelProcessing("sequential", cache=cache) as pp:
        for i in range(25):
            alpha = float((i * 7 + seed) % 12)  # both writers share most alphas
            P = pp.map(Learner(Ridge(alpha=alpha), FoldIndex(3), name="r"), "fit", X, y,
                       return_preds=True)
            with ParallelProcessing("sequential") as plain:
                ref = plain.map(Learner(Ridge(alpha=alpha), FoldIndex(3), name="r"), "fit",
                                X, y, return_preds=True)
            assert np.array_equal(P, ref), alpha
    print("ok")
""")


@pytest.mark.slow
def test_two_processes_share_one_directory(tmp_path):
    """Two writers, overlapping keys, eviction racing reads: no warning, no corrupt entry."""
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(seed)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for seed in (0, 5)]  # fmt: skip
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and out.strip() == "ok", err[-2000:]
    cache = NodeCache(tmp_path)
    assert 0 < cache.nbytes <= 8_000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fp in cache.keys():
            assert isinstance(cache[fp].result.estimator, Ridge)
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


# -- plans, traces and pictures ---------------------------------------------------------
def test_plan_runs_nothing_and_draws_cached_nodes(data, tmp_path):
    X, y = data
    with ParallelProcessing("sequential", cache=tmp_path) as pp:
        pp.map(learners(("a", Ridge(), 2)), "fit", X, y)
        files = sorted(os.listdir(tmp_path))
        graph = map_graph(learners(("a", Ridge(), 2), ("b", OLS(), 2)), "fit", X=X, y=y)
        plan = pp.plan(graph, X, y)
        assert sorted(os.listdir(tmp_path)) == files and pp.trace.cached == []
    assert set(plan.cached) == keys_of(graph, "a") and set(plan.run) == keys_of(graph, "b")
    assert plan.uncacheable == () and repr(plan) == "Plan(run=3, cached=3)"
    dot = plan.to_dot()
    assert dot.count("(cached)") == 3 and dot.count("filled,dashed") == 3
    assert '"b/fit/fold-0" [label="fold-0", ' in dot
    assert to_dot(graph, cached=plan.cached) == dot
    mermaid = to_mermaid(graph, cached=plan.cached)
    assert mermaid.splitlines()[-1] == "  class n0,n1,n2 cached"
    assert "(cached)" not in to_dot(graph) and "cached" not in to_mermaid(graph)
    assert ParallelProcessing().plan(graph, X, y).cached == ()  # no cache: all run


def test_trace_counts_hits(data):
    X, y = data
    with ParallelProcessing("sequential", cache={}) as pp:
        pp.map(learners(("a", Ridge(), 2)), "fit", X, y)
        pp.map(learners(("a", Ridge(), 2), ("b", OLS(), 2)), "fit", X, y)
        trace = pp.trace
    assert trace.summary().splitlines()[0] == (
        "3 nodes on 1 worker, 3 nodes restored from the cache (not run)"
    )
    assert all(e.duration == 0.0 and e.worker == -1 for e in trace.hits)
    assert {r["key"] for r in trace.records} == {e.key for e in trace.events}
    assert pp.costs.durations[("a", "fit", 60)] > 0  # hits add no zero durations
