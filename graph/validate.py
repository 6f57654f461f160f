"""validate(graph): every check that must pass before a node runs.

Covers cycles (drawn as ``a -> b -> a``), ``preprocess=`` links (dangling,
not a transformer, different folds or input), and disjoint writes: two
nodes writing overlapping cells of a buffer must be ordered by a path, so
every backend and strategy computes the same numbers.
"""

from __future__ import annotations

import networkx as nx

from foldgraph.errors import GraphError

from .nodes import rows_overlap

__all__ = ["validate"]


def validate(graph) -> None:
    """Raise GraphError on the first problem found; return None if the graph is sound.

    ``TaskGraph.validate()`` calls it, and ``ParallelProcessing.run`` does
    before any node runs.

    Examples
    --------
    Two nodes writing overlapping rows of ``P`` must be ordered:

    >>> from foldgraph import TaskGraph
    >>> g = TaskGraph()
    >>> g.add_node("x", writes=(("P", ((0, 2),), None),))
    >>> g.add_node("y", writes=(("P", ((1, 3),), None),))
    >>> validate(g)
    Traceback (most recent call last):
      ...
    foldgraph.errors.GraphError: nodes 'x' and 'y' both write rows of 'P' with no order between them: give them different rows or columns, or add an edge
    >>> g.add_edge("x", "y")
    >>> validate(g)
    """
    _check_cycles(graph)
    _check_links(graph)
    _check_disjoint_writes(graph)


def _check_cycles(graph) -> None:
    if nx.is_directed_acyclic_graph(graph.nx):
        return
    try:
        cycle = nx.find_cycle(graph.nx)
    except nx.NetworkXNoCycle:
        return
    path = " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
    raise GraphError(f"cycle detected: {path}; edges must point from producer to consumer")


def _check_links(graph) -> None:
    transformers = [n for n, t in graph.tasks.items() if t.kind == "transformer"]
    for name, task in graph.tasks.items():
        link = getattr(task, "preprocess", None)
        if link is None:
            continue
        if link not in graph.tasks or graph.tasks[link].kind != "transformer":
            known = ", ".join(map(repr, transformers)) or "none"
            what = "no transformer" if link not in graph.tasks else "a learner, not a transformer,"
            raise GraphError(
                f"task '{name}' has preprocess={link!r}, but {what} is named {link!r} "
                f"in this graph (known transformers: {known}): add the Transformer to "
                f"the same map/stack call, or fix the name"
            )
        if graph.job == "fit":
            _check_same_folds(graph, name, link)


def _check_same_folds(graph, name: str, link: str) -> None:
    mine, theirs = graph.info[name], graph.info[link]
    if mine["x"] != theirs["x"]:
        raise GraphError(
            f"task '{name}' reads {mine['x']!r} but its preprocess '{link}' reads "
            f"{theirs['x']!r}: a transformer must see the same input as its learners"
        )
    cut = [(f.partition, f.fold, f.train) for f in mine["folds"]]
    other = [(f.partition, f.fold, f.train) for f in theirs["folds"]]
    if cut != other:
        raise GraphError(
            f"task '{name}' and its preprocess '{link}' cut rows differently: "
            f"give them the same indexer"
        )


def _check_disjoint_writes(graph) -> None:
    for buffer, writers in graph.writers.items():
        for i, (a, rows_a) in enumerate(writers):
            cols_a = _cols(graph, a, buffer)
            for b, rows_b in writers[i + 1 :]:
                cols_b = _cols(graph, b, buffer)
                if not (rows_overlap(rows_a, rows_b) and _overlap(cols_a, cols_b)):
                    continue
                if nx.has_path(graph.nx, a, b) or nx.has_path(graph.nx, b, a):
                    continue
                raise GraphError(
                    f"nodes {a!r} and {b!r} both write rows of {buffer!r} with no "
                    f"order between them: give them different rows or columns, or "
                    f"add an edge"
                )


def _cols(graph, key, buffer):
    for wbuf, _, cols in graph.nx.nodes[key]["writes"]:
        if wbuf == buffer:
            return cols
    return None


def _overlap(a, b) -> bool:
    if a is None or b is None:
        return True
    return a[0] < b[1] and b[0] < a[1]
