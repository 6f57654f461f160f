"""Graph builders: cut tasks into fold-level nodes and connect them.

``map_graph`` adds independent tasks that all read ``X``; ``stack_graph``
chains them, the output of one learner being the input of the next. Both go
through :func:`~foldgraph.graph.fold_nodes.add_task`, which also serves graphs
built by hand.

Nodes of one task, by job (``K`` folds, ``J`` partitions):

- ``"fit"``: a learner gets one node per fold fit (fit on the train rows,
  predict the held-out rows into ``P:<task>``) and one ``full`` node per
  partition (fit on all its rows; writes nothing, except with FullIndex);
  a transformer gets the same nodes, writing nothing.
- ``"predict"``: one ``full`` node per partition of each learner: its
  full-data estimator predicts every row. Transformers get no node: the
  learners apply their fitted pipelines.
- ``"transform"``: one node per fitted fold: the fold estimator predicts
  the rows it held out at fit time (reproduces the out-of-fold output).
"""

from __future__ import annotations

import numpy as np

from foldgraph.errors import GraphError

from ._gc import gc_paused
from .binding import template
from .checks import check_data
from .estimate import FAMILY_WEIGHTS, SIZE_WEIGHTS, estimate_cost  # noqa: F401 - moved, kept here
from .fold_nodes import add_planned, add_task, plan_task
from .naming import assign_names, checked_names
from .nodes import check_job
from .taskgraph import TaskGraph

__all__ = [
    "map_graph",
    "stack_graph",
    "add_task",
    "plan_task",
    "add_planned",
    "assign_names",
    "estimate_cost",
]


def _unpack_job(job, X, y):
    """Accept ``job`` as a string with X/y, or a Job-like object carrying them."""
    if hasattr(job, "job") and hasattr(job, "X"):
        X = job.X if X is None else X
        y = getattr(job, "y", None) if y is None else y
        job = job.job
    return job, X, y


def _as_list(caller) -> list:
    if isinstance(caller, (list, tuple)):
        return list(caller)
    return [caller]


def map_graph(caller, job, X=None, y=None, dtype=np.float64) -> TaskGraph:
    """Build the graph of independent tasks, each reading ``X``.

    Parameters
    ----------
    caller : Learner, Transformer or list of them
    job : {"fit", "predict", "transform"} or Job
        A Job carries ``X`` and ``y``; with a string, pass them as keywords.
    X, y : array-like
        Data the folds are cut for.
    dtype : np.float64 or np.float32, default=np.float64
        Of the prediction buffers (see :class:`TaskGraph`).

    Returns
    -------
    TaskGraph
        Validated.

    Raises
    ------
    GraphError
        Unknown job, duplicate names, dangling ``preprocess=``, cycles, ...

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import Learner
    >>> from foldgraph.testing import OLS
    >>> g = map_graph([Learner(OLS()), Learner(OLS())], "fit", X=np.ones((6, 2)), y=np.ones(6))
    >>> list(g.tasks), len(g)
    (['ols-1', 'ols-2'], 6)
    """
    job, X, y = _unpack_job(job, X, y)
    if X is None and job == "fit":  # the structure only: rows are bound at run time
        return template(map_graph, caller, job, dtype=dtype)
    graph = _new_graph(job, X, y, dtype)
    tasks = _as_list(caller)
    with gc_paused():
        for task, name in zip(tasks, checked_names(tasks)):
            add_task(graph, task, input="X", name=name)
        graph.recipe = (map_graph, tasks, job, {"dtype": dtype})
        return graph.validate()


def stack_graph(tasks, job, split: bool = True, X=None, y=None, dtype=np.float64) -> TaskGraph:
    """Build a sequence: each learner reads the previous learner's output.

    Transformers write nothing, so the task after a transformer reads the
    same input as the transformer. With ``split=True`` tasks are sealed off
    from each other, and a learner may not use an earlier task as its
    ``preprocess=``; ``split=False`` allows it (see the tutorial).

    Parameters
    ----------
    tasks : Learner, Transformer or list of them
    job : {"fit", "predict", "transform"} or Job
    split : bool, default=True
    X, y : array-like
    dtype : np.float64 or np.float32, default=np.float64
        Of the prediction buffers (see :class:`TaskGraph`).

    Returns
    -------
    TaskGraph
        Validated.

    Raises
    ------
    GraphError
        As :func:`map_graph`, and an earlier task of the stack used as
        ``preprocess=`` with ``split=True``.

    Examples
    --------
    Each ``meta`` fold reads rows of ``P:base`` that both ``base`` folds
    write, so it waits for both (but not for ``base/fit/full``):

    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner
    >>> from foldgraph.testing import OLS
    >>> g = stack_graph([Learner(OLS(), FoldIndex(2), name="base"),
    ...                  Learner(OLS(), FoldIndex(3), name="meta")],
    ...                 "fit", X=np.ones((6, 2)), y=np.ones(6))
    >>> g
    TaskGraph(job='fit', tasks=['base', 'meta'], nodes=7, edges=8)
    >>> g.attrs("meta/fit/fold-0")["x"], sorted(g.nx.predecessors("meta/fit/fold-0"))
    ('P:base', ['base/fit/fold-0', 'base/fit/fold-1'])
    """
    job, X, y = _unpack_job(job, X, y)
    if X is None and job == "fit":  # the structure only: rows are bound at run time
        return template(stack_graph, tasks, job, split=split, dtype=dtype)
    graph = _new_graph(job, X, y, dtype)
    tasks = _as_list(tasks)
    graph.recipe = (stack_graph, tasks, job, {"split": split, "dtype": dtype})
    names = checked_names(tasks)
    if split:
        _check_split(tasks, names)
    stream = "X"
    with gc_paused():
        for task, name in zip(tasks, names):
            add_task(graph, task, input=stream, name=name)
            if f"P:{name}" in graph.buffers:
                stream = f"P:{name}"
        return graph.validate()


def _new_graph(job, X, y, dtype=np.float64) -> TaskGraph:
    check_job(job)  # an unknown job is reported before any data problem
    X, y = check_data(X, y, job=job)
    return TaskGraph(job, X, y, dtype=dtype)


def _check_split(tasks, names) -> None:
    for task, name in zip(tasks, names):
        link = getattr(task, "preprocess", None)
        if link is not None and link in names:
            raise GraphError(
                f"task '{name}' has preprocess={link!r}, an earlier task of this stack, "
                f"but split=True seals tasks off from each other: pass split=False"
            )
