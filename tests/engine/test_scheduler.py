"""The scheduler's state machine, with no worker (dask's test_finish_task)."""

import networkx as nx
import numpy as np
import pytest

from foldgraph import FoldIndex, Learner, ParallelProcessing
from foldgraph.engine.scheduler import finish, pick, start_state
from foldgraph.engine.strategies import resolve
from foldgraph.graph import TaskGraph
from foldgraph.testing import OLS


def diamond():
    r"""
        a
       / \
      b   c
       \ /
        d
    """
    return nx.DiGraph([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])


def test_start_state_has_roots_ready():
    s = start_state(diamond(), {k: i for i, k in enumerate("abcd")})
    assert [k for *_, k in s.ready] == ["a"]
    assert s.remaining == {"b": 1, "c": 1, "d": 2}
    assert not s.running and not s.done


def test_finish_releases_dependents_in_priority_order():
    s = start_state(diamond(), {"a": 0, "b": 5, "c": 1, "d": 0})
    assert pick(s, 2) == ["a"]
    assert finish(s, "a", "ra") == ["b", "c"]
    assert pick(s, 2) == ["c", "b"]  # lower priority value first
    assert finish(s, "b", "rb") == []
    assert s.remaining == {"d": 1}
    assert finish(s, "c", "rc") == ["d"]
    assert s.results == {"a": "ra", "b": "rb", "c": "rc"}


def test_finish_twice_is_refused():
    s = start_state(diamond(), dict.fromkeys("abcd", 0))
    finish(s, "a", None)
    with pytest.raises(ValueError, match="node 'a' was already marked done"):
        finish(s, "a", None)


def test_ties_break_by_build_order():
    g = nx.DiGraph()
    g.add_nodes_from(["z", "y", "x"])
    s = start_state(g, dict.fromkeys("zyx", 0))
    assert pick(s, 3) == ["z", "y", "x"]


def test_select_callable_orders_ready_nodes():
    g = nx.DiGraph()
    g.add_nodes_from(["a", "b", "c"])
    s = start_state(g, dict.fromkeys("abc", 0))
    assert pick(s, 2, None, lambda ready, graph, state: sorted(ready, reverse=True)) == ["c", "b"]
    assert [k for *_, k in s.ready] == ["a"]
    with pytest.raises(ValueError, match="expected keys among the ready nodes"):
        pick(s, 1, None, lambda ready, graph, state: ["nope"])


def chain_and_fan():
    r"""
    slow1 -> slow2 -> slow3        (cost 3 each: bottom levels 9, 6, 3)
    quick-0 ... quick-3            (cost 1, independent)
    """
    g = TaskGraph()
    for i in range(1, 4):
        g.add_node(f"slow{i}", cost=3.0)
    for i in range(4):
        g.add_node(f"quick-{i}", cost=1.0)
    g.add_edge("slow1", "slow2")
    g.add_edge("slow2", "slow3")
    return g


@pytest.mark.parametrize("name", ["fifo", "lpt", "critical_path"])
def test_strategy_priorities_cover_every_node(name):
    g = chain_and_fan()
    prio = resolve(name).priorities(g, 2)
    assert set(prio) == set(g.nx)


def test_critical_path_prefers_the_head_of_the_longest_chain():
    g = chain_and_fan()
    g.add_node("big", cost=5.0)  # long but alone: bottom level 5 < 9
    prio = resolve("critical_path").priorities(g, 2)
    assert prio["slow1"] < prio["big"] < prio["quick-0"]
    lpt = resolve("lpt").priorities(g, 2)
    assert lpt["big"] < lpt["slow1"]


def test_fifo_is_build_order():
    prio = resolve("fifo").priorities(chain_and_fan(), 2)
    assert sorted(prio, key=prio.get) == ["slow1", "slow2", "slow3",
                                          "quick-0", "quick-1", "quick-2", "quick-3"]  # fmt: skip


def test_user_strategy_is_called_with_ready_graph_state():
    calls = []

    def newest_first(ready, graph, state):
        calls.append((tuple(ready), len(state.done)))
        return list(reversed(ready))

    X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    learners = [Learner(OLS(), FoldIndex(2), name=f"o{i}") for i in range(3)]
    with ParallelProcessing("sequential", strategy=newest_first) as pp:
        pp.map(learners, "fit", X, y)
        order = [r["key"] for r in pp.trace.records]
    assert calls and calls[0][1] == 0
    assert order[0] == "o2/fit/full"


def test_trace_records_every_node_once():
    X, y = np.arange(40.0).reshape(20, 2), np.arange(20.0)
    learners = [Learner(OLS(), FoldIndex(4), name=f"o{i}") for i in range(3)]
    with ParallelProcessing("threading", n_jobs=2) as pp:
        pp.map(learners, "fit", X, y)
        trace, graph = pp.trace, pp.graph
    keys = [r["key"] for r in trace.records]
    assert sorted(keys) == sorted(graph.nx)
    assert {r["worker"] for r in trace.records} <= {0, 1}
    for r in trace.records:
        assert 0 <= r["start"] <= r["end"]
        assert r["nbytes"] > 0
    span = max(r["end"] for r in trace.records) - min(r["start"] for r in trace.records)
    assert trace.makespan == pytest.approx(span)
    assert 0 < trace.utilization <= 1


def two_chains():
    r"""
    a1 -> a2 -> a3      two independent stacks, built a-first
    b1 -> b2 -> b3
    """
    g = TaskGraph()
    for k in ["a1", "b1", "a2", "b2", "a3", "b3"]:  # interleaved build order
        g.add_node(k)
    for c in "ab":
        g.add_edge(f"{c}1", f"{c}2")
        g.add_edge(f"{c}2", f"{c}3")
    return g


def test_memory_strategy_finishes_one_chain_before_opening_the_next():
    g = two_chains()
    prio = resolve("memory").priorities(g, 1)
    assert set(prio) == set(g.nx)
    # every node of chain a comes before every node of chain b
    assert max(prio[f"a{i}"] for i in (1, 2, 3)) < min(prio[f"b{i}"] for i in (1, 2, 3))
    # it is a topological order
    for u, v in g.nx.edges:
        assert prio[u] < prio[v]
    # FIFO, by contrast, opens chain b before finishing chain a
    fifo = resolve("fifo").priorities(g, 1)
    assert fifo["b1"] < fifo["a2"]


def test_memory_strategy_runs_bit_identical():
    X, y = np.arange(40.0).reshape(20, 2), np.arange(20.0)
    out = {}
    for strategy in ("fifo", "memory"):
        tasks = [Learner(OLS(), FoldIndex(2), name=f"o{i}") for i in range(3)]
        with ParallelProcessing("threading", n_jobs=2, strategy=strategy) as pp:
            out[strategy] = pp.stack(tasks, "fit", X, y, return_preds=True)
    np.testing.assert_array_equal(out["fifo"], out["memory"])


def test_costs_come_from_the_previous_trace_of_the_same_tasks():
    X, y = np.arange(40.0).reshape(20, 2), np.arange(20.0)
    with ParallelProcessing("sequential") as pp:
        pp.map(Learner(OLS(), FoldIndex(2), name="o"), "fit", X, y)
        first = {k: d["cost_source"] for k, d in pp.graph.nx.nodes(data=True)}
        measured = pp.trace.durations()
        pp.map([Learner(OLS(), FoldIndex(2), name="o"), Learner(OLS(), name="new")], "fit", X, y)
        second = pp.graph.nx.nodes(data=True)
        assert set(first.values()) == {"model"}
        assert second["o/fit/fold-0"]["cost_source"] == "trace"
        # both folds train on 10 rows: the estimate is one of their durations
        same_size = {measured["o/fit/fold-0"], measured["o/fit/fold-1"]}
        assert second["o/fit/fold-0"]["cost"] in same_size
        assert second["o/fit/full"]["cost"] == measured["o/fit/full"]
        assert second["new/fit/fold-0"]["cost_source"] == "model"
        # a different fold size is a different measurement
        pp.map(Learner(OLS(), FoldIndex(4), name="o"), "fit", X, y)
        assert pp.graph.nx.nodes["o/fit/fold-0"]["cost_source"] == "model"
