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
