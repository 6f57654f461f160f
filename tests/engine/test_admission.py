"""Admission under a memory budget (issue 19): the pure rule, the simulator, the real loop."""

import os
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foldgraph import FoldIndex, Learner, ParallelProcessing, SuperLearner, map_graph
from foldgraph.engine import simulate
from foldgraph.engine.admission import (
    Budget,
    MemoryBudgetWarning,
    all_or_sequential,
    first_fit,
    parse_memory_limit,
)
from foldgraph.engine.backends import Sequential
from foldgraph.engine.buffers import SharedBuffer
from foldgraph.engine.job import Job
from foldgraph.engine.liveness import idle_memory, tree_pids
from foldgraph.engine.scheduler import run_graph
from foldgraph.engine.strategies import resolve
from foldgraph.engine.trace import Trace
from foldgraph.graph import TaskGraph, stack_graph
from foldgraph.testing import OLS

GB = 10**9


# -- parsing ------------------------------------------------------------------------
@pytest.mark.parametrize("value, expected", [
    (None, None), (1024, 1024), ("6GB", 6 * GB), ("512MiB", 512 * 2**20), ("1.5 gb", 1.5 * GB),
    ("250 kB", 250_000), ("50%", 4000),
])  # fmt: skip
def test_parse_memory_limit(value, expected):
    assert parse_memory_limit(value, total=8000) == expected


@pytest.mark.parametrize("value", ["lots", "-1GB", 0, -5, "0%", "150%", True, "6 XB", 1.5j, [1]])
def test_parse_memory_limit_refuses(value):
    with pytest.raises(ValueError, match=r"memory_limit=.* is not understood: pass None, a "
                                         r"number of bytes \(int\), a string like '6GB'"):
        parse_memory_limit(value, total=8000)


def test_percent_is_of_the_machine_memory():
    import psutil

    assert parse_memory_limit("75%") == int(psutil.virtual_memory().total * 0.75)


def test_manager_refuses_a_bad_limit_at_construction():
    with pytest.raises(ValueError, match="memory_limit='6 gigs' is not understood"):
        ParallelProcessing("sequential", memory_limit="6 gigs")
    assert ParallelProcessing("sequential", memory_limit="2GB")._memory_limit == 2 * GB


# -- the pure rule ------------------------------------------------------------------
def test_first_fit_skips_a_big_node_for_a_smaller_one():
    need = {"big": (70, 1), "a": (50, 1), "small": (30, 1), "c": (20, 1)}
    b = Budget(limit=100, cores=8, need=need)
    b.start("a")  # 50 used: big (70) does not fit, small (30) does, c (20) then does too
    assert first_fit(["big", "small", "c"], 8, b) == ["small", "c"]
    assert first_fit(["big", "small", "c"], 1, b) == ["small"]  # one free worker
    assert b.used == 50 and b.running == {"a": (50, 1)}  # pure: nothing changed


def test_first_fit_counts_cores_and_idle_and_live():
    b = Budget(limit=100, cores=4, need={"rf": (10, 4), "knn": (10, 2), "ols": (10, 1)}, idle=40,
               live=30)  # fmt: skip
    b.start("knn")
    assert first_fit(["rf", "ols"], 4, b) == ["ols"]  # rf wants 4 cores, 2 are free
    b.start("ols")
    assert first_fit(["rf"], 4, b) == []  # 40 + 30 + 20 + 10 = 100 fits, the cores do not


def test_too_large_node_runs_alone_with_a_warning():
    b = Budget(limit=100, cores=2, need={"huge": (500, 1), "a": (10, 1)}, live=20)
    b.start("a")
    assert first_fit(["huge"], 1, b) == []  # something runs: it waits
    b.finish("a")
    with pytest.warns(MemoryBudgetWarning, match=r"node 'huge' needs an estimated 500 bytes, "
                                                 r"over memory_limit=100 even alone .*hold 20"):
        assert first_fit(["huge", "a"], 2, b) == ["huge"]  # alone: a waits for it


def test_all_or_sequential():
    b = Budget(limit=100, cores=4, need=dict.fromkeys("abcd", (30, 1)))
    assert all_or_sequential(list("abc"), 4, b) == list("abc")  # 90 fits at once
    assert all_or_sequential(list("abcd"), 4, b) == ["a"]  # 120 does not: one at a time
    b.start("a")
    assert all_or_sequential(list("bcd"), 3, b) == []
    assert first_fit(list("bcd"), 3, b) == ["b", "c"]  # first fit packs two beside a


@st.composite
def budgeted_dags(draw):
    """A random layered DAG with random costs and memory estimates, and a limit."""
    g = TaskGraph()
    previous = []
    for i, width in enumerate(draw(st.lists(st.integers(1, 6), min_size=1, max_size=5))):
        current = []
        for j in range(width):
            key = f"n{i}-{j}"
            g.add_node(key, cost=draw(st.floats(0.1, 5.0)), memory=draw(st.integers(0, 100)),
                       cores=draw(st.integers(1, 3)))  # fmt: skip
            for parent in previous:
                if draw(st.booleans()):
                    g.add_edge(parent, key)
            current.append(key)
        previous = current
    return g, draw(st.integers(1, 250))


@settings(max_examples=80, deadline=None)
@given(case=budgeted_dags(), workers=st.integers(1, 4),
       strategy=st.sampled_from(["fifo", "lpt", "critical_path", "memory"]),
       policy=st.sampled_from([None, all_or_sequential]))  # fmt: skip
def test_never_over_the_limit_never_starves(case, workers, strategy, policy):
    g, limit = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MemoryBudgetWarning)
        r = simulate(g, workers, strategy, memory_limit=limit, policy=policy)
    attrs = dict(g.nx.nodes(data=True))
    assert sorted(s.node for s in r.schedule) == sorted(g.nx)  # every node ran, once
    eps = 1e-9
    for s in r.schedule:  # at each start: what runs then, from the schedule alone
        now = [o for o in r.schedule if o.start <= s.start + eps and o.end > s.start + eps]
        memory = sum(attrs[o.node]["memory"] for o in now)
        cores = sum(min(attrs[o.node]["cores"], workers) for o in now)
        if len(now) > 1:  # a node over the limit or the cores runs alone
            assert memory <= limit and cores <= workers, (s, now)
        assert memory <= r.peak_memory or len(now) == 1
    assert r.peak_memory <= max(limit, max(a["memory"] for a in attrs.values()))


def test_simulated_peak_memory_counts_running_nodes():
    g = TaskGraph()
    for key, cost, memory in [("a", 2.0, 50), ("b", 1.0, 60), ("c", 1.0, 10)]:
        g.add_node(key, cost=cost, memory=memory)
    assert simulate(g, 3).peak_memory == 120  # all three at once, no limit
    r = simulate(g, 3, node_memory={"a": 5}, memory_limit=100)  # a dict overrides attributes
    assert r.peak_memory == 75 and r.makespan == 2.0
    r = simulate(g, 3, node_memory=lambda key, attrs: 2 * attrs["memory"], memory_limit=130)
    # a (100) and c (20) fit together, b (120) only once a has ended
    assert r.peak_memory == 120 and [(s.node, s.start) for s in r.schedule] == [
        ("a", 0.0), ("c", 0.0), ("b", 2.0)]


# -- the real loop ------------------------------------------------------------------
def _chain_graph(n_rows=40):
    X = np.random.RandomState(0).normal(size=(n_rows, 3))
    y = X @ [1.0, -2.0, 0.5]
    tasks = [Learner(OLS(offset=i), FoldIndex(2), name=f"ols-{i}") for i in range(4)]
    return map_graph(tasks, "fit", X, y), X, y


@pytest.mark.parametrize("backend", ["sequential", "threading"])
def test_simulator_and_loop_agree_on_the_order(backend):
    g, X, y = _chain_graph()
    # estimates by hand: each node 1 GB, so a limit of idle + 1.5 GB runs one at a time,
    # except the small full fits, which pack beside a fold
    for key in g.nx:
        g.nx.nodes[key]["memory"] = GB // 10 if key.endswith("full") else GB
    limit = idle_memory(tree_pids()) + 3 * GB // 2  # what the loop measures
    with ParallelProcessing(backend, n_jobs=2, strategy="fifo", memory_limit=limit) as pp:
        pp.run(g, X, y)  # the with block stops the threads
    started = [e.key for e in sorted(pp.trace.events, key=lambda e: e.start)]
    sim = simulate(g, pp._n_workers, "fifo", costs=pp.trace, memory_limit=limit,
                   idle_memory=limit - 3 * GB // 2)  # fmt: skip
    simulated = [s.node for s in sim.schedule]  # in admission order
    # the 1 GB folds run one at a time, in the same order in both; the full fits are
    # packed beside them (when exactly depends on the real durations)
    folds = [k for k in g.nx if not k.endswith("full")]
    assert [k for k in started if k in folds] == [k for k in simulated if k in folds] == folds
    assert sorted(started) == sorted(simulated)
    assert sim.peak_memory <= limit
    if backend == "threading":  # a full fit starts beside the first fold in the simulator
        assert simulated[:2] == ["ols-0/fit/fold-0", "ols-0/fit/full"]


def test_a_limit_gives_bit_identical_results():
    X = np.random.RandomState(1).normal(size=(2000, 4))
    y = np.sin(X[:, 0]) + X[:, 1]
    names = ["a0", "a1", "b"]
    outs = []
    for limit in (None, idle_memory([os.getpid()]) + 10**8):
        g = stack_graph([Learner(OLS(offset=i), FoldIndex(3), name=n) for i, n in enumerate(names)],
                        "fit", X=X, y=y)  # fmt: skip
        for key in g.nx:
            g.nx.nodes[key]["memory"] = 6 * 10**7  # one node at a time
        with ParallelProcessing("threading", n_jobs=2, memory_limit=limit) as pp:
            outs.append(pp.run(g, X, y, return_preds=names))
        assert limit is None or max(_overlap(pp.trace)) == 1
    for a, b in zip(*outs):
        assert np.array_equal(a, b)


# -- releasing buffers --------------------------------------------------------------
@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm (not Linux)")
def test_free_gives_pages_back_to_dev_shm():
    buf = SharedBuffer({"P:a": ((1000, 64), "float64"), "P:b": ((1000, 64), "float64")})
    try:
        buf.arrays["P:a"][:] = 1.0
        buf.arrays["P:b"][:] = 2.0
        path = os.path.join("/dev/shm", buf.segment)
        before = os.stat(path).st_blocks * 512
        assert buf.free("P:a")
        after = os.stat(path).st_blocks * 512
        assert before - after >= 1000 * 64 * 8 - 4096  # its whole pages, at most one kept
        assert buf.arrays["P:b"].min() == 2.0  # the neighbour is untouched
    finally:
        buf.release()


def _stack(n_rows):
    X = np.random.RandomState(2).normal(size=(n_rows, 3))
    y = X @ [0.5, 1.0, -1.0]
    tasks = [Learner(OLS(offset=i), FoldIndex(2), name=n) for i, n in enumerate(["a", "b", "c"])]
    return stack_graph(tasks, "fit", X=X, y=y), X, y


@pytest.mark.parametrize("shared", [False, True])
def test_release_after_the_last_reader_is_bit_identical(shared):
    """P:a (read by b) and P:b (read by c) are released; P:c, returned, survives."""
    n = 140_000  # P:a is 140,000 x 1 float64 = 1.12 MB: over the 1 MiB worth releasing
    g, X, y = _stack(n)
    outs, freed = [], []
    for keep in (None, {"P:c"}):
        job = Job("fit", X, y)
        buffers = job.allocate(g, shared=shared)
        released = []
        free = job.free
        job.free = lambda name, free=free, released=released: released.append(name) or free(name)
        run_graph(g, job, Sequential(), resolve("memory"), Trace(1), keep=keep)
        outs.append(np.array(job.buffers["P:c"]))
        freed.append(released)
        if keep is not None and not shared:
            assert job.buffers["P:b"].shape == (0, 1)  # dropped in process
        elif keep is not None:
            assert not buffers["P:b"][:-512].any()  # its whole pages read as zeros now
        job.release()
    assert freed[0] == [] and sorted(freed[1]) == ["P:a", "P:b"]
    assert np.array_equal(*outs)


def test_manager_returns_what_it_released_nothing_of():
    g, X, y = _stack(140_000)
    with ParallelProcessing("sequential") as pp:
        plain = pp.run(g, X, y, return_preds=["a", "c"])
    with ParallelProcessing("multiprocessing", n_jobs=2, memory_limit="90%") as pp:
        again = pp.run(g, X, y, return_preds=["a", "c"])  # P:b is released, P:a is not
    for a, b in zip(plain, again):
        np.testing.assert_allclose(a, b, rtol=1e-12)  # BLAS may differ between processes


# -- ensembles ----------------------------------------------------------------------
def test_ensemble_memory_limit_flows_and_set_params_takes_effect():
    X = np.random.RandomState(3).normal(size=(60, 3))
    y = X @ [1.0, 2.0, 3.0]
    est = SuperLearner(backend="threading", n_jobs=2, folds=2, memory_limit="bad", cache=False)
    est.add([OLS(), OLS(offset=1)]).add_meta(OLS())
    with pytest.raises(ValueError, match="memory_limit='bad' is not understood"):
        est.fit(X, y)
    est.set_params(memory_limit=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MemoryBudgetWarning)
        free = est.fit(X, y).predict(X)
    est.set_params(memory_limit=1)  # below the idle processes: every node runs alone, warned
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tight = est.fit(X, y).predict(X)
    budget = [str(w.message) for w in caught if w.category is MemoryBudgetWarning]
    assert len(budget) == 2  # once per run (fit and predict), not once per node
    # it points at the user's line, not at the engine's check
    assert {w.filename for w in caught if w.category is MemoryBudgetWarning} == {__file__}
    assert all(m.startswith("memory_limit=1 bytes is below what the run holds before any "
                            "node runs (idle processes ") for m in budget)  # fmt: skip
    assert np.array_equal(free, tight)
    assert max(_overlap(est.trace_)) == 1  # one node at a time


def _overlap(trace):
    events = trace.events
    return [sum(1 for o in events if o.start <= e.start < o.end) for e in events]


def test_simulator_reads_node_memory_from_a_trace():
    """A record's ``peak_bytes`` when it has one, else the node's ``memory`` attribute."""
    g, X, y = _chain_graph()
    for i, key in enumerate(g.nx):
        g.nx.nodes[key]["memory"] = 1000 * (i + 1)
    with ParallelProcessing("sequential") as pp:
        pp.run(g, X, y)
    expected = {r["key"]: g.nx.nodes[r["key"]]["memory"] if r.get("peak_bytes") is None
                else r["peak_bytes"] for r in pp.trace.records}  # fmt: skip (0 is a measure)
    buffers = sum(int(np.prod(s.shape)) * np.dtype(s.dtype).itemsize for s in g.buffers.values())
    sim = simulate(g, 1, costs=pp.trace, node_memory=pp.trace)
    assert sim.peak_memory == buffers + max(expected.values())  # one node at a time
