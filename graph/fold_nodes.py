"""A task cut into fold-level nodes and added to a graph, with its edges.

:func:`add_task` serves every builder and graphs built by hand; it is
:func:`plan_task` (check the task, cut its folds) then :func:`add_planned`
(add the nodes, connect them), so that a caller can lay several tasks'
outputs side by side in between (``add_layer``). The nodes a task gets per
job are listed in :mod:`foldgraph.graph.builders`; their attributes in
:class:`~foldgraph.graph.nodes.NodeAttrs`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from foldgraph.errors import GraphError
from foldgraph.tasks.indexers import ClusteredSubsetIndex, FoldIndex
from foldgraph.tasks.learner import check_fitted
from foldgraph.tasks.splitters import SplitIndex, as_indexer, fold_repeats, is_splitter

from .checks import check_task, task_input
from .estimate import estimate_cost
from .naming import free_name
from .nodes import BufferSpec, node_key, rows_overlap, shift_rows

if TYPE_CHECKING:  # TaskGraph.add_task calls add_task: this module does not import it
    from .taskgraph import TaskGraph

__all__ = ["add_task", "plan_task", "add_planned"]


def add_task(graph: TaskGraph, task, input: str = "X", name: str | None = None) -> str:
    """Add ``task``'s nodes to ``graph``, reading buffer ``input``; returns its name.

    A learner gets its own output buffer ``P:<name>`` (of ``graph.dtype``). Nothing is added if
    a check fails. The graph is not validated: call ``graph.validate()``
    once every task is in.

    Parameters
    ----------
    graph : TaskGraph
        Built with data: ``TaskGraph(job, X=X, y=y)``.
    task : Learner or Transformer
    input : str, default="X"
        The buffer the task reads (``"P:<task>"`` to read a learner's output).
    name : str, optional
        Default: the task's own name, or a free name made from its estimator.

    Returns
    -------
    str
        The task's name in ``graph``.

    Raises
    ------
    GraphError
        The name is taken, the graph has no data, the folds cannot be cut, ...

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner
    >>> from foldgraph.graph import TaskGraph
    >>> from foldgraph.testing import OLS
    >>> g = TaskGraph("fit", X=np.ones((6, 2)), y=np.ones(6))
    >>> add_task(g, Learner(OLS(), FoldIndex(2))), add_task(g, Learner(OLS(), FoldIndex(2)))
    ('ols', 'ols-1')
    >>> add_task(g, Learner(OLS(), FoldIndex(2), name="meta"), input="P:ols")
    'meta'
    >>> g.validate()
    TaskGraph(job='fit', tasks=['ols', 'ols-1', 'meta'], nodes=9, edges=6)
    """
    if name is None:
        check_task(task, "task")
        name = task.name if task.name is not None else free_name(graph, task)
    info = plan_task(graph, task, name, input)
    out = None
    if task.kind == "learner" and (graph.job != "fit" or any(f.test for f in info["folds"])):
        out = f"P:{name}"
        graph.buffers[out] = BufferSpec(out, (info["n_out"], info["n_cols"]), graph.dtype)
    add_planned(graph, task, name, info, out)
    return name


def plan_task(graph: TaskGraph, task, name: str, input: str) -> dict:
    """Check ``task`` and cut its folds for ``graph``'s job; the graph is not changed.

    Returns the task's ``info``: input buffer, rows, folds, output width...
    :func:`add_planned` then adds the nodes; in between, a caller can lay
    several tasks' outputs side by side in one buffer (as ``add_layer``
    does).

    Raises
    ------
    GraphError
        As :func:`add_task`.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner
    >>> from foldgraph.graph import TaskGraph
    >>> from foldgraph.testing import OLS
    >>> g = TaskGraph("fit", X=np.ones((6, 2)), y=np.ones(6))
    >>> info = plan_task(g, Learner(OLS(), FoldIndex(3)), "ols", "X")
    >>> [f.fold for f in info["folds"]], info["n_out"], info["n_cols"], len(g)
    ([0, 1, 2, 'full'], 6, 1, 0)
    """
    check_task(task, name)
    if name in graph.tasks:
        raise GraphError(f"duplicate task name {name!r}: rename one of the tasks")
    if graph.X is None:
        raise GraphError(
            f"cannot add task '{name}': the graph has no data; build it with "
            f"TaskGraph(job, X=X, y=y)"
        )
    info = task_input(graph, task, name, input)
    info["folds"] = _folds_for_job(graph, task, name, info)
    info["n_cols"] = info["n_partitions"] * info["width"]
    return info


def add_planned(graph: TaskGraph, task, name: str, info: dict, out=None, col0: int = 0):
    """Add a planned task's nodes; a learner writes columns from ``col0`` of ``out``.

    Parameters
    ----------
    graph : TaskGraph
    task : Learner or Transformer
    name : str
    info : dict
        What :func:`plan_task` returned for this task and name.
    out : str, optional
        The output buffer, already in ``graph.buffers``; None: the task
        writes nothing.
    col0 : int, default=0
        First column of ``out`` the task writes.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner
    >>> from foldgraph.graph import BufferSpec, TaskGraph
    >>> from foldgraph.testing import OLS
    >>> g = TaskGraph("fit", X=np.ones((6, 2)), y=np.ones(6))
    >>> ols = Learner(OLS(), FoldIndex(2))
    >>> info = plan_task(g, ols, "ols", "X")
    >>> g.buffers["P:both"] = BufferSpec("P:both", (6, 2), g.dtype)  # room for two learners
    >>> add_planned(g, ols, "ols", info, out="P:both", col0=1)
    >>> sorted(g.nx), g.attrs("ols/fit/fold-0")["writes"]
    (['ols/fit/fold-0', 'ols/fit/fold-1', 'ols/fit/full'], (('P:both', ((0, 3),), (1, 2)),))
    """
    graph.tasks[name] = task
    graph.info[name] = info
    info["out"], info["col0"] = out, col0
    info["out_itemsize"] = 0 if out is None else np.dtype(graph.buffers[out].dtype).itemsize
    if out is not None:
        graph.outputs.append(name)
    for index, fold in enumerate(info["folds"]):
        _add_fold_node(graph, task, name, info, index, fold)


def _folds_for_job(graph, task, name, info):
    """The folds whose nodes the job needs, as a list of Fold."""
    if graph.job == "fit":
        return _fit_folds(graph, task, name, info)
    check_fitted(task, name)
    info["n_partitions"] = 1 + max(f.partition for f in task.folds_)
    if task.kind == "transformer":
        info["n_out"] = info["n_in"]
        return []
    fitted_features = getattr(task, "n_features_in_", info["n_features"])
    if fitted_features != info["n_features"]:
        raise GraphError(
            f"task '{name}' was fitted on {fitted_features} features but its input "
            f"{info['x']!r} has {info['n_features']}: pass data with the same columns"
        )
    if graph.job == "predict":
        return _predict_folds(task, info)
    return _transform_folds(task, name, info)


def _fit_folds(graph, task, name, info):
    """A fit cuts the folds: the task's indexer (FoldIndex(2) if none) on its input."""
    indexer = as_indexer(task.indexer, f"task '{name}'") or FoldIndex(2)
    if info["x"] != "X" and isinstance(indexer, ClusteredSubsetIndex):
        raise GraphError(
            f"task '{name}' reads {info['x']!r}, which is computed during the run, "
            f"but ClusteredSubsetIndex clusters its input while the graph is built: "
            f"use it on tasks that read X, or use SubsetIndex"
        )
    X_in = graph.X if info["x"] == "X" else np.empty((info["n_in"], 0))
    try:
        folds = indexer.make_folds(X_in, info["y_values"], job="fit")
    except ValueError as exc:
        raise GraphError(f"task '{name}': {exc}") from exc
    info["n_out"] = indexer.n_test_samples_
    info["n_partitions"] = indexer.n_partitions_
    info["indexer"] = indexer
    info["repeats"] = getattr(indexer, "repeats_", None)  # repeated splitters only
    return folds


def _predict_folds(task, info):
    """A predict runs the full-data fits on every row (the fold fits, with refit=False)."""
    info["n_out"] = info["n_in"]
    full = ((0, info["n_in"]),)
    if not task.partition_estimators_:  # fitted without full-data fits (refit=False):
        # every fold model predicts every row; the output is their mean
        folds = [f._replace(train=(), test=full) for f in task.folds_ if f.fold != "full"]
        info["repeats"] = fold_repeats(folds)
        return folds
    return [f._replace(train=(), test=full) for f in task.folds_ if f.fold == "full"]


def _transform_folds(task, name, info):
    """A transform replays the fit-time folds: each fold model predicts its held-out rows."""
    n_fit = max(stop for f in task.folds_ for _, stop in f.train + f.test)
    if info["n_in"] != n_fit:
        raise GraphError(
            f"task '{name}' was fitted on {n_fit} rows but its input has {info['n_in']}: "
            f"a 'transform' job replays the fit-time folds; use 'predict' for new data"
        )
    info["n_out"] = n_fit - min(start for f in task.folds_ for start, _ in f.test)
    if isinstance(task.indexer, SplitIndex) or is_splitter(task.indexer):
        info["repeats"] = [r for r, f in zip(fold_repeats(task.folds_), task.folds_) if f.test]
    return [f for f in task.folds_ if f.test]


def _add_fold_node(graph, task, name, info, index, fold) -> None:
    op = graph.job
    parts = info["n_partitions"]
    key = node_key(name, op, fold.fold, fold.partition if parts > 1 else None)
    width, col0 = info["width"], info["col0"]
    cols = (col0 + fold.partition * width, col0 + (fold.partition + 1) * width)
    out = info.get("out")
    writes = ()
    out_rows = ()
    if out is not None and fold.test:
        out_rows = shift_rows(fold.test, info["n_in"] - info["n_out"])
        writes = ((out, out_rows, cols),)
    reads = tuple((info["x"], rows, None) for rows in (fold.train, fold.test) if rows)
    n_train = sum(b - a for a, b in fold.train) or sum(b - a for a, b in fold.test)
    repeat = info["repeats"][index] if info.get("repeats") else 0
    graph.add_node(
        key,
        task=name, kind=task.kind, op=op, fold=fold.fold, partition=fold.partition,
        index=index, x=info["x"], y=info["y"], y_offset=info["y_offset"], w=info["w"],
        train=fold.train, test=fold.test, out=out if writes else None,
        out_rows=out_rows, cols=cols, preprocess=getattr(task, "preprocess", None),
        repeat=repeat,
        reads=reads, writes=writes,
        cost=estimate_cost(task.estimator, n_train, info["n_features"]),
        **_nbytes(fold, info, out_rows, cols),
    )  # fmt: skip
    _connect(graph, key, reads)
    if repeat:
        _after_earlier_repeats(graph, key, out, out_rows, cols)
    _link_preprocess(graph, task, name, key, fold)


def _after_earlier_repeats(graph, key, out, out_rows, cols) -> None:
    """A fold of a later repeat runs after the folds that wrote its rows before: it
    leaves the running mean of the repeats there (one writer at a time)."""
    for other, rows in graph.writers.get(out, ()):
        if other != key and graph.nx.nodes[other].get("cols") == cols and \
                rows_overlap(out_rows, rows):
            graph.add_edge(other, key, via="repeat")


def _nbytes(fold, info, out_rows, cols) -> dict:
    """Bytes a node reads (input rows, targets) and writes (predictions, in the buffer's dtype)."""
    rows = sum(b - a for a, b in fold.train + fold.test)
    read = rows * info["n_features"] * info["itemsize"]
    if info["y"] is not None:
        read += rows * info["y_itemsize"]
    written = sum(b - a for a, b in out_rows) * (cols[1] - cols[0]) * info["out_itemsize"]
    return {"nbytes": int(read + written), "bytes_read": int(read), "bytes_written": int(written)}


def _connect(graph, key, reads) -> None:
    """Edges from every node that writes rows this node reads (each edge once)."""
    linked = {key}
    for buffer, rows, _ in reads:
        for other, wrows in graph.writers.get(buffer, ()):
            if other not in linked and rows_overlap(rows, wrows):
                linked.add(other)
                graph.add_edge(other, key, via=buffer)


def _link_preprocess(graph, task, name, key, fold) -> None:
    link = getattr(task, "preprocess", None)
    if link is None or graph.job != "fit" or link not in graph.tasks:
        return  # dangling links are reported by validate()
    parts = graph.info[link]["n_partitions"]
    source = node_key(link, "fit", fold.fold, fold.partition if parts > 1 else None)
    if source in graph.nx:
        graph.add_edge(source, key, via="estimator")
