"""The simulator: the scheduler loop on node costs, obeying list-scheduling bounds."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foldgraph import FoldIndex, Learner, ParallelProcessing
from foldgraph.engine import simulate
from foldgraph.graph import TaskGraph, stack_graph
from foldgraph.testing import OLS

STRATEGIES = ["fifo", "lpt", "critical_path", "memory"]


@st.composite
def layered_dags(draw):
    """A random layered DAG: 1-6 layers of 1-8 nodes, random edges, random costs."""
    g = TaskGraph()
    layers = draw(st.lists(st.integers(1, 8), min_size=1, max_size=6))
    previous = []
    for i, width in enumerate(layers):
        current = []
        for j in range(width):
            key = f"n{i}-{j}"
            g.add_node(key, cost=draw(st.floats(0.01, 10.0)))
            for parent in previous:
                if draw(st.booleans()):
                    g.add_edge(parent, key)
            current.append(key)
        previous = current
    return g


@settings(max_examples=60, deadline=None)
@given(g=layered_dags(), workers=st.integers(1, 8), strategy=st.sampled_from(STRATEGIES))
def test_graham_bounds(g, workers, strategy):
    r = simulate(g, workers, strategy)
    costs = {k: d["cost"] for k, d in g.nx.nodes(data=True)}
    work = sum(costs.values())
    cp = max(g.bottom_level().values())
    eps = 1e-9 * (work + 1)
    assert r.makespan >= max(cp, work / workers) - eps
    assert r.makespan <= work / workers + cp * (1 - 1 / workers) + eps
    assert r.lower_bound == pytest.approx(max(cp, work / workers))
    assert r.critical_path == pytest.approx(cp)  # top levels along the schedule, or bottom levels
    assert sorted(e.key for e in r.trace.events) == sorted(g.nx)  # the lazily built trace
    # a valid schedule: every node once, after its predecessors, one node per worker at a time
    start = {s.node: s for s in r.schedule}
    assert set(start) == set(g.nx)
    for u, v in g.nx.edges:
        assert start[v].start >= start[u].end - eps
    by_worker = {}
    for s in r.schedule:
        by_worker.setdefault(s.worker, []).append(s)
    for slots in by_worker.values():
        slots.sort(key=lambda s: s.start)
        for a, b in zip(slots, slots[1:]):
            assert b.start >= a.end - eps


def test_critical_path_beats_fifo_on_a_long_chain():
    r"""
    q0 ... q5 (cost 1 each, built first)     c0 -> c1 -> c2 (cost 3 each)
    FIFO starts the quick nodes first and leaves the chain for last.
    """
    g = TaskGraph()
    for i in range(6):
        g.add_node(f"q{i}", cost=1.0)
    for i in range(3):
        g.add_node(f"c{i}", cost=3.0)
    g.add_edge("c0", "c1")
    g.add_edge("c1", "c2")
    fifo, cp = simulate(g, 2, "fifo"), simulate(g, 2, "critical_path")
    assert cp.makespan == 9.0 == cp.lower_bound
    assert fifo.makespan > cp.makespan


def test_costs_from_dict_callable_and_trace():
    X, y = np.arange(60.0).reshape(30, 2), np.arange(30.0)
    g = stack_graph([Learner(OLS(), FoldIndex(3), name=f"o{i}") for i in range(2)], "fit",
                    X=X, y=y)  # fmt: skip
    ones = simulate(g, 1, costs={k: 1.0 for k in g.nx})
    assert ones.makespan == len(g) and ones.utilization == 1.0
    double = simulate(g, 1, costs=lambda key, attrs: 2.0)
    assert double.makespan == 2 * len(g)
    with ParallelProcessing("sequential") as pp:
        pp.run(g, X, y)
        trace = pp.trace
    replay = simulate(g, 1, costs=trace)
    assert replay.makespan == pytest.approx(trace.work)
    with pytest.raises(ValueError, match="costs has no entry for node"):
        simulate(g, 2, costs={})


def test_peak_live_bytes_of_a_chain_keeps_two_buffers():
    X, y = np.arange(60.0).reshape(30, 2), np.arange(30.0)
    tasks = [Learner(OLS(), FoldIndex(3), name=f"o{i}") for i in range(4)]
    g = stack_graph(tasks, "fit", X=X, y=y)
    size = 30 * 1 * 8  # one float64 column of 30 rows
    r = simulate(g, 1, "fifo")
    # o{i} writes P:o{i} while reading P:o{i-1}; the last buffer is a result
    assert r.peak_live_bytes == 2 * size
    assert simulate(g, 1, memory=False).peak_live_bytes == 0


def test_memory_strategy_lowers_the_peak_on_parallel_chains():
    r"""Four independent chains of three tasks (map of stacks, built breadth-first).

    c0t0 -> c0t1 -> c0t2     ...     c3t0 -> c3t1 -> c3t2
    The last task of each chain writes nothing (like a full fit).
    """
    g = TaskGraph()
    size = (100, 1)
    from foldgraph.graph.nodes import BufferSpec

    for c in range(4):
        for t in range(3):
            out = f"P:c{c}t{t}"
            g.buffers[out] = BufferSpec(out, size, "float32")
    for t in range(3):
        for c in range(4):
            reads = () if t == 0 else ((f"P:c{c}t{t - 1}", ((0, 100),), None),)
            writes = () if t == 2 else ((f"P:c{c}t{t}", ((0, 100),), (0, 1)),)
            g.add_node(f"c{c}t{t}", cost=1.0, reads=reads, writes=writes)
            if t:
                g.add_edge(f"c{c}t{t - 1}", f"c{c}t{t}")
    fifo, mem = simulate(g, 1, "fifo"), simulate(g, 1, "memory")
    assert fifo.peak_live_bytes == 5 * 400  # all four t0 buffers, then a t1 one
    assert mem.peak_live_bytes == 2 * 400  # one chain at a time
    assert mem.makespan == fifo.makespan == 12.0


def test_large_graph():
    """A random tree of 20,000 nodes (each node's parent drawn among earlier nodes)."""
    rng = np.random.default_rng(0)
    tg = TaskGraph()
    for k in range(20_000):
        tg.add_node(str(k), cost=float(rng.uniform(0.5, 2.0)))
        if k:
            tg.add_edge(str(rng.integers(0, k)), str(k))
    r = simulate(tg, 64, "critical_path")
    assert len(r.schedule) == 20_000
    assert r.lower_bound <= r.makespan <= r.work / 64 + r.critical_path * (1 - 1 / 64) + 1e-6
