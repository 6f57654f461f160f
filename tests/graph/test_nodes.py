"""The node schema: NodeAttrs lists every attribute the builders write, with its type.

Graphs of every kind are built (map and stack, fit, predict and transform,
preprocessing, every indexer, a repeated splitter, sample weights, layers
propagating features, ensembles fitted without full refits) and each node's
attributes are checked against ``NodeAttrs``: no key it does not list, every
key it requires, and values of the listed types.
"""

from __future__ import annotations

import types
import typing

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import RepeatedKFold
from sklearn.preprocessing import StandardScaler

from foldgraph import (
    BlendEnsemble,
    BlendIndex,
    FoldIndex,
    FullIndex,
    Learner,
    ParallelProcessing,
    Subsemble,
    SubsetIndex,
    SuperLearner,
    TaskGraph,
    TemporalEnsemble,
    TemporalIndex,
    Transformer,
    map_graph,
    stack_graph,
)
from foldgraph.graph.nodes import NodeAttrs
from foldgraph.testing import OLS, Scale

X = np.arange(60.0).reshape(30, 2) % 11
Y = np.arange(30.0) % 7
W = np.linspace(0.5, 1.5, 30)
HINTS = typing.get_type_hints(NodeAttrs)


def conforms(value, tp) -> bool:
    """Whether ``value`` is of the type annotation ``tp`` (the subset NodeAttrs uses)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if not args:
            return True
        if len(args) == 2 and args[1] is Ellipsis:
            return all(conforms(v, args[0]) for v in value)
        return len(value) == len(args) and all(map(conforms, value, args))
    if tp is tuple:
        return isinstance(value, tuple)
    if tp is int:  # plain ints: node attributes are pickled and compared
        return type(value) is int
    if tp is float:
        return type(value) is float
    if tp is str:
        return type(value) is str
    raise AssertionError(f"conforms() does not know {tp!r}")


def check_nodes(graph) -> set[str]:
    """Assert every node of ``graph`` follows NodeAttrs; return the keys seen."""
    seen: set[str] = set()
    for key, attrs in graph.node_attrs.items():
        unknown = set(attrs) - set(HINTS)
        assert not unknown, f"{key}: keys not in NodeAttrs: {sorted(unknown)}"
        missing = NodeAttrs.__required_keys__ - set(attrs)
        assert not missing, f"{key}: required keys missing: {sorted(missing)}"
        for name, value in attrs.items():
            assert conforms(value, HINTS[name]), f"{key}: {name}={value!r} is not {HINTS[name]}"
        seen |= set(attrs)
    return seen


def fitted(graph, backend="sequential"):
    with ParallelProcessing(backend) as pp:
        pp.run(graph, graph.X, graph.y, sample_weight=graph.sample_weight)
    return graph


def map_tasks():
    return [
        Learner(Ridge(), FoldIndex(3), name="fold"),
        Learner(Ridge(), BlendIndex(0.4), name="blend"),
        Learner(Ridge(), SubsetIndex(2, 2), name="subset"),
        Learner(Ridge(), TemporalIndex(step_size=5, burn_in=10), name="temporal"),
        Learner(Ridge(), FullIndex(), name="full"),
        Learner(Ridge(), RepeatedKFold(n_splits=2, n_repeats=2, random_state=0), name="repeated"),
        Transformer(StandardScaler(), FoldIndex(3), name="scale"),
        Learner(Ridge(), FoldIndex(3), name="pre", preprocess="scale"),
    ]


def weighted_map(job_tasks):
    g = TaskGraph("fit", X=X, y=Y, sample_weight=W)
    for task in job_tasks:
        g.add_task(task)
    return g.validate()


def graphs():
    """(label, graph) of every kind."""
    tasks = map_tasks()
    fit = weighted_map(tasks)
    yield "map fit (sample_weight, every indexer, repeats)", fit
    fitted(fit)
    yield "map predict", map_graph(tasks, "predict", X=X)
    yield "map transform", map_graph(tasks, "transform", X=X, y=Y)
    stack = [Transformer(Scale(), FoldIndex(2), name="scale"),
             Learner(OLS(), FoldIndex(2), name="base", preprocess="scale"),
             Learner(Ridge(), FoldIndex(3), name="meta")]
    fit = stack_graph(stack, "fit", split=False, X=X, y=Y)
    yield "stack fit (preprocess)", fit
    fitted(fit, "auto")
    yield "stack predict", stack_graph(stack, "predict", split=False, X=X)
    yield "stack transform", stack_graph(stack, "transform", split=False, X=X, y=Y)
    ensembles = [
        SuperLearner(folds=3, backend="sequential").add([OLS(), Ridge()], propagate_features=[0])
        .add({"a": [OLS()], "b": [Ridge()]}, preprocessing={"a": [Scale()], "b": []})
        .add_meta(OLS()),
        Subsemble(partitions=2, folds=2, backend="sequential").add([OLS(), Ridge()])
        .add_meta(OLS()),
        BlendEnsemble(backend="sequential").add([OLS()], propagate_features="all")
        .add_meta(OLS()),
        TemporalEnsemble(step_size=5, burn_in=10, backend="sequential").add([OLS(), Ridge()])
        .add_meta(OLS()),
        SuperLearner(folds=2, backend="sequential", refit=False).add([OLS(), Ridge()])
        .add_meta(OLS()),
    ]
    for ensemble in ensembles:
        name = type(ensemble).__name__
        yield f"{name} fit", ensemble.graph("fit", X, Y)
        ensemble.fit(X, Y)
        yield f"{name} predict", ensemble.graph("predict", X)
        yield f"{name} transform", ensemble.graph("transform", X, Y)


GRAPHS = list(graphs())


@pytest.mark.parametrize("label, graph", GRAPHS, ids=[label for label, _ in GRAPHS])
def test_nodes_follow_the_schema(label, graph):
    assert len(graph) > 0
    check_nodes(graph)


def test_every_key_of_the_schema_is_written():
    """No key listed that no graph has: the schema does not drift the other way either
    (the fitted graphs carry the engine's keys too)."""
    seen = set().union(*(check_nodes(g) for _, g in GRAPHS))
    assert set(HINTS) == seen
    kinds = {a["kind"] for _, g in GRAPHS for a in g.node_attrs.values()}
    assert kinds == {"learner", "transformer", "propagate"}
    values = [a for _, g in GRAPHS for a in g.node_attrs.values()]
    assert any(a.get("repeat") for a in values) and any(a.get("w") == "w" for a in values)


def test_the_engine_keys_follow_the_schema():
    graph = weighted_map([Learner(Ridge(), FoldIndex(2), name="a")])
    assert not {"cost_key", "cost_source", "model_cost"} & check_nodes(graph)
    fitted(graph)
    assert {"cost_key", "cost_source"} <= check_nodes(graph)
    fitted(graph, "auto")
    assert "model_cost" in check_nodes(graph)


def test_conforms():
    assert conforms(((0, 2), (4, 6)), HINTS["train"])
    assert not conforms(((0, 2.0),), HINTS["train"])
    assert conforms(("P:a", ((0, 2),), None), typing.get_args(HINTS["reads"])[0])
    assert conforms("full", HINTS["fold"]) and conforms(3, HINTS["fold"])
    assert not conforms("half", HINTS["fold"])
    assert not conforms(np.int64(3), HINTS["order"])
