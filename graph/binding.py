"""Graphs before data: build the structure first, bind the rows when a run gets them.

For most indexers the nodes and edges of a graph do not depend on the data:
``FoldIndex(5)`` makes five folds and a full fit, whatever the number of
rows. :func:`template` builds such a graph without data, on placeholder
rows, so that a user can draw or count it, and keeps the recipe. A
manager's ``run(graph, X, y)`` then calls :func:`bind`, which builds the
same graph for the data it was given. Any graph that has a recipe can be
run on data sets of any length.

An indexer whose node count depends on the data (a ``TemporalIndex``'s
steps, a ``ClusteredSubsetIndex``'s clusters, a splitter whose
``get_n_splits()`` needs X or groups) cannot be cut without data, and the
error names it.
"""

from __future__ import annotations

import threading

import numpy as np

from foldgraph.errors import GraphError
from foldgraph.tasks.indexers import ClusteredSubsetIndex, TemporalIndex
from foldgraph.tasks.splitters import SplitIndex, as_indexer

__all__ = ["PLACEHOLDER_ROWS", "check_dataless", "placeholder_rows", "placeholder_data",
           "template", "bind", "explain"]

#: rows of a template graph; its row ranges are placeholders until bound
PLACEHOLDER_ROWS = 1000
_BINDING = threading.Lock()


def _indexer_of(task):
    indexer = getattr(task, "indexer", None)
    return as_indexer(indexer) if indexer is not None else None


def check_dataless(tasks, job: str = "fit") -> None:
    """Refuse tasks whose indexer needs the data to know its folds.

    Raises
    ------
    GraphError
        Naming the task, its indexer and why.

    Examples
    --------
    >>> from sklearn.model_selection import LeaveOneOut
    >>> from foldgraph import FoldIndex, Learner, TemporalIndex
    >>> from foldgraph.testing import OLS
    >>> check_dataless([Learner(OLS(), FoldIndex(3), name="a")])
    >>> check_dataless([Learner(OLS(), LeaveOneOut(), name="loo")])
    Traceback (most recent call last):
      ...
    foldgraph.errors.GraphError: task 'loo': SplitIndex(splitter=LeaveOneOut()) cannot cut its folds without data (its number of splits needs X or groups): pass X (and y) to build the graph
    """
    for task in tasks:
        indexer = _indexer_of(task)
        reason = None
        if isinstance(indexer, TemporalIndex):
            reason = "its number of steps depends on the number of rows"
        elif isinstance(indexer, ClusteredSubsetIndex) and job == "fit":
            reason = "its partitions are the clusters found in X"
        elif isinstance(indexer, SplitIndex):
            try:
                indexer.splitter.get_n_splits()
            except (TypeError, ValueError):
                reason = "its number of splits needs X or groups"
        if reason is not None:
            name = getattr(task, "name", None) or type(getattr(task, "estimator", task)).__name__
            raise GraphError(f"task {name!r}: {indexer!r} cannot cut its folds without data "
                             f"({reason}): pass X (and y) to build the graph")


def placeholder_rows(tasks) -> int:
    """Rows enough for the tasks' folds: :data:`PLACEHOLDER_ROWS`, or 4 rows per fold.

    Examples
    --------
    >>> from foldgraph import FoldIndex, Learner
    >>> from foldgraph.testing import OLS
    >>> placeholder_rows([Learner(OLS(), FoldIndex(3))]), placeholder_rows([Learner(OLS(), FoldIndex(5000))])
    (1000, 20000)
    """
    need = [1]
    for task in tasks:  # a task's folds times its partitions, each of at least 4 rows
        indexer = _indexer_of(task)
        counts = (getattr(indexer, "folds", None), getattr(indexer, "partitions", None),
                  getattr(getattr(indexer, "splitter", None), "n_splits", None))
        need.append(int(np.prod([c for c in counts
                                 if isinstance(c, int) and not isinstance(c, bool)])))
    return max(PLACEHOLDER_ROWS, 4 * max(need))


def placeholder_data(job: str, n_features: int = 1, n_rows: int = PLACEHOLDER_ROWS):
    """Placeholder ``(X, y)`` of a template graph: zeros, and two classes for a fit.

    Examples
    --------
    >>> X, y = placeholder_data("fit", 2, 6)
    >>> X.shape, y.tolist()
    ((6, 2), [0, 1, 0, 1, 0, 1])
    """
    X = np.zeros((n_rows, max(1, n_features)))
    y = np.arange(n_rows) % 2 if job == "fit" else None
    return X, y


def template(build, tasks, job: str, **kwargs):
    """``build(tasks, job, X=..., y=..., **kwargs)`` on placeholder rows, marked as a
    template and holding its recipe; its row ranges mean nothing until :func:`bind`.

    Examples
    --------
    >>> from foldgraph import FoldIndex, Learner, map_graph
    >>> from foldgraph.testing import OLS
    >>> g = template(map_graph, [Learner(OLS(), FoldIndex(3), name="a")], "fit")
    >>> g.template, len(g), g.X is None
    (True, 4, True)
    """
    tasks = list(tasks) if isinstance(tasks, (list, tuple)) else [tasks]
    check_dataless(tasks, job)
    X, y = placeholder_data(job, n_rows=placeholder_rows(tasks))
    try:
        graph = build(tasks, job, X=X, y=y, **kwargs)
    except (TypeError, ValueError) as exc:  # an indexer that needs groups, ...
        raise GraphError(f"the graph cannot be built without data: {explain(exc)}") from exc
    graph.X = graph.y = None  # placeholders: not data
    graph.template = True
    graph.recipe = (build, tasks, job, kwargs)
    return graph


def bind(graph, X, y=None):
    """``graph`` for the data ``X``, ``y``: a template or a builder's graph (it has a recipe)
    is rebuilt for rows of another length; any other graph is returned as it is, and a run
    refuses data of a shape it was not built for (so are other columns: likely a mistake).

    Examples
    --------
    >>> import threading

import numpy as np
    >>> from foldgraph import FoldIndex, Learner, map_graph
    >>> from foldgraph.testing import OLS
    >>> g = map_graph(Learner(OLS(), FoldIndex(2), name="a"), "fit")
    >>> bound = bind(g, np.ones((8, 2)), np.ones(8))
    >>> bound.template, bound.buffers["X"].shape, bind(bound, np.ones((8, 2)), np.ones(8)) is bound
    (False, (8, 2), True)
    """
    recipe = getattr(graph, "recipe", None)
    spec = graph.buffers.get("X")
    if recipe is None or X is None:
        return graph
    shape = tuple(np.shape(X)) if not hasattr(X, "shape") else tuple(X.shape)
    if not getattr(graph, "template", False) and spec is not None and (
            spec.shape == shape or spec.shape[1:] != shape[1:]):
        return graph  # the same rows; or other columns: refused by the run, not rebuilt
    build, tasks, job, kwargs = recipe
    with _BINDING:  # building fits the tasks' indexers: one graph at a time
        bound = build(tasks, job, X=X, y=y, **kwargs)
    bound.recipe = recipe
    return bound


def explain(exc: Exception) -> str:
    """Why a graph could not be built without data, and the fix.

    Examples
    --------
    >>> explain(ValueError("The 'groups' parameter should not be None."))
    "a splitter needs groups (The 'groups' parameter should not be None.): build the graph with its data, e.g. an ensemble's fit(X, y, groups=groups)"
    """
    if "groups" in str(exc):
        return (f"a splitter needs groups ({exc}): build the graph with its data, e.g. an "
                f"ensemble's fit(X, y, groups=groups)")
    return f"{exc}: pass X (and y)"
