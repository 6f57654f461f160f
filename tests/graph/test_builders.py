"""Graph builders: node keys, attributes, edges, names, hand-built graphs."""

import networkx as nx
import numpy as np
import pytest
from sklearn.linear_model import Ridge

from foldgraph import (
    BlendIndex,
    FoldIndex,
    GraphError,
    Learner,
    ParallelProcessing,
    SubsetIndex,
    TaskGraph,
    Transformer,
    map_graph,
    stack_graph,
)
from foldgraph.graph import assign_names, node_key, parse_key
from foldgraph.testing import OLS, Scale

X = np.arange(40.0).reshape(20, 2)
Y = np.arange(20.0) % 7


class TestNodeKeys:
    @pytest.mark.parametrize("task, op, fold, part", [
        ("ols-2", "fit", 1, None), ("ols-2", "fit", "full", None),
        ("sub", "predict", "full", 1), ("a-b-c", "transform", 12, 0),
    ])  # fmt: skip
    def test_round_trip(self, task, op, fold, part):
        assert parse_key(node_key(task, op, fold, part)) == (task, op, fold, part or 0)

    def test_bad_key(self):
        with pytest.raises(ValueError, match="is not of the form"):
            parse_key("nonsense")


class TestNames:
    def test_auto_names_are_local_and_unique(self):
        tasks = [Learner(OLS()), Learner(Ridge()), Learner(OLS()), Learner(OLS(), name="ols-1")]
        assert assign_names(tasks) == ["ols-2", "ridge", "ols-3", "ols-1"]
        # the same list gives the same names, whatever ran before
        assert assign_names(tasks) == ["ols-2", "ridge", "ols-3", "ols-1"]

    def test_single_auto_name_has_no_suffix(self):
        g = map_graph([Learner(OLS()), Learner(Ridge())], "fit", X=X, y=Y)
        assert list(g.tasks) == ["ols", "ridge"]


class TestMapGraph:
    def test_nodes_and_attributes(self):
        g = map_graph(Learner(OLS(), FoldIndex(4), name="o"), "fit", X=X, y=Y)
        assert sorted(g.nx) == ["o/fit/fold-0", "o/fit/fold-1", "o/fit/fold-2",
                                "o/fit/fold-3", "o/fit/full"]  # fmt: skip
        a = g.nx.nodes["o/fit/fold-1"]
        assert (a["task"], a["op"], a["fold"], a["partition"]) == ("o", "fit", 1, 0)
        assert a["train"] == ((0, 5), (10, 20)) and a["test"] == ((5, 10),)
        assert a["writes"] == (("P:o", ((5, 10),), (0, 1)),)
        assert a["reads"][0] == ("X", ((0, 5), (10, 20)), None)
        assert g.nx.nodes["o/fit/full"]["writes"] == ()
        assert g.buffers["P:o"].shape == (20, 1) and g.buffers["P:o"].dtype == "float64"
        assert g.nx.number_of_edges() == 0

    def test_tail_outputs_and_partitions(self):
        g = map_graph([Learner(OLS(), BlendIndex(0.25), name="b"),
                       Learner(OLS(), SubsetIndex(2, 2), name="s")], "fit", X=X, y=Y)  # fmt: skip
        assert g.buffers["P:b"].shape == (5, 1)
        assert g.nx.nodes["b/fit/fold-0"]["out_rows"] == ((0, 5),)
        assert g.buffers["P:s"].shape == (20, 2)
        assert g.nx.nodes["s/fit/part-1.fold-0"]["cols"] == (1, 2)
        assert "s/fit/part-0.full" in g

    def test_preprocess_links_fold_to_fold(self):
        g = map_graph([Transformer(Scale(), FoldIndex(3), name="sc"),
                       Learner(OLS(), FoldIndex(3), preprocess="sc", name="o")],
                      "fit", X=X, y=Y)  # fmt: skip
        for k in (0, 1, 2):
            assert list(g.nx.predecessors(f"o/fit/fold-{k}")) == [f"sc/fit/fold-{k}"]
        assert list(g.nx.predecessors("o/fit/full")) == ["sc/fit/full"]
        assert g.outputs == ["o"] and "P:sc" not in g.buffers


class TestStackGraph:
    def test_each_learner_reads_the_previous_output(self):
        tasks = [Learner(OLS(), FoldIndex(2), name=f"o{i}") for i in range(3)]
        g = stack_graph(tasks, "fit", X=X, y=Y)
        assert g.info["o1"]["x"] == "P:o0" and g.info["o2"]["x"] == "P:o1"
        # fold k of o1 reads all rows of P:o0: both folds of o0 precede it
        assert set(g.nx.predecessors("o1/fit/fold-0")) == {"o0/fit/fold-0", "o0/fit/fold-1"}
        assert set(g.nx.predecessors("o1/fit/full")) == {"o0/fit/fold-0", "o0/fit/fold-1"}
        assert nx.is_directed_acyclic_graph(g.nx)

    def test_blend_then_fold_reads_the_tail_of_y(self):
        g = stack_graph([Learner(OLS(), BlendIndex(0.5), name="b"),
                         Learner(OLS(), FoldIndex(2), name="f")], "fit", X=X, y=Y)  # fmt: skip
        assert g.info["f"]["y_offset"] == 10 and g.buffers["P:f"].shape == (10, 1)

    def test_split_true_refuses_links_across_tasks(self):
        tasks = [Learner(OLS(), name="o1"), Transformer(Scale(), name="sc"),
                 Learner(OLS(), preprocess="sc", name="o2")]  # fmt: skip
        with pytest.raises(GraphError, match="split=True seals tasks off.*pass split=False"):
            stack_graph(tasks, "fit", X=X, y=Y, split=True)
        assert len(stack_graph(tasks, "fit", X=X, y=Y, split=False)) == 9


class TestHandBuilt:
    def test_diamond_of_tasks(self):
        r"""
              X
             / \
            a   b        a and b read X
             \ /
              c          c reads P:a only (one input buffer per task)
        """
        g = TaskGraph("fit", X=X, y=Y)
        g.add_task(Learner(OLS(), FoldIndex(2), name="a"))
        g.add_task(Learner(Ridge(), FoldIndex(2), name="b"))
        g.add_task(Learner(OLS(), FoldIndex(2), name="c"), input="P:a")
        g.validate()
        assert {parse_key(k)[0] for k in nx.ancestors(g.nx, "c/fit/fold-0")} == {"a"}
        with ParallelProcessing("sequential") as pp:
            P = pp.run(g, X, Y, return_preds=["a", "c"])
        expected = stack_graph([Learner(OLS(), FoldIndex(2), name="a"),
                                Learner(OLS(), FoldIndex(2), name="c")], "fit", X=X, y=Y)
        with ParallelProcessing("sequential") as pp:
            Q = pp.run(expected, X, Y, return_preds=["a", "c"])
        np.testing.assert_array_equal(P[1], Q[1])

    def test_unknown_input_buffer(self):
        g = TaskGraph("fit", X=X, y=Y)
        with pytest.raises(GraphError, match="reads buffer 'P:zz'.*known: 'X'"):
            g.add_task(Learner(OLS(), name="a"), input="P:zz")

    def test_cycle_is_drawn(self):
        g = TaskGraph()
        for k in "abc":
            g.add_node(k)
        g.add_edge("a", "b")
        g.add_edge("b", "c")
        g.add_edge("c", "a")
        with pytest.raises(GraphError, match=r"cycle detected: a -> b -> c -> a"):
            g.validate()

    def test_bottom_level_sums_costs_on_the_longest_path(self):
        g = TaskGraph()
        for k, c in zip("abcd", [1.0, 2.0, 5.0, 1.0]):
            g.add_node(k, cost=c)
        for u, v in [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]:
            g.add_edge(u, v)
        assert g.bottom_level() == {"d": 1.0, "c": 6.0, "b": 3.0, "a": 7.0}
        assert g.roots() == ["a"] and g.total_cost() == 9.0


def test_failed_add_task_leaves_the_graph_unchanged():
    g = TaskGraph("fit", X=X, y=Y)
    with pytest.raises(GraphError, match="task 'big': FoldIndex"):
        g.add_task(Learner(OLS(), FoldIndex(50), name="big"))
    assert g.tasks == {} and len(g) == 0 and g.buffers.keys() == {"X", "y"}
    g.add_task(Learner(OLS(), FoldIndex(2), name="big"))
    assert len(g) == 3


def test_clustered_subsets_need_known_input():
    from sklearn.cluster import KMeans

    from foldgraph import ClusteredSubsetIndex

    tasks = [Learner(OLS(), name="a"),
             Learner(OLS(), ClusteredSubsetIndex(KMeans(2, n_init=2)), name="c")]  # fmt: skip
    with pytest.raises(GraphError, match="task 'c' reads 'P:a'.*ClusteredSubsetIndex"):
        stack_graph(tasks, "fit", X=X, y=Y)
