"""Graph builders: cut tasks into fold-level nodes and connect them.

``map_graph`` adds independent tasks that all read ``X``; ``stack_graph``
chains them, the output of one learner being the input of the next. Both go
through :func:`add_task`, which also serves graphs built by hand.

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

import gc
from collections import Counter
from contextlib import contextmanager

import numpy as np

from foldgraph.errors import GraphError
from foldgraph.tasks.indexers import ClusteredSubsetIndex, FoldIndex
from foldgraph.tasks.learner import check_fitted, default_name
from foldgraph.tasks.splitters import SplitIndex, as_indexer, fold_repeats, is_splitter

from .checks import check_data, check_task, task_input
from .nodes import BufferSpec, node_key, rows_overlap, shift_rows
from .taskgraph import TaskGraph, check_job

__all__ = [
    "map_graph",
    "stack_graph",
    "add_task",
    "plan_task",
    "add_planned",
    "assign_names",
    "estimate_cost",
]

#: relative cost of one (row x feature) for estimator families; see estimate_cost
FAMILY_WEIGHTS = {
    "linear": 1.0, "ols": 1.0, "ridge": 1.0, "lasso": 2.0, "logistic": 3.0,
    "neighbors": 2.0, "tree": 4.0, "forest": 40.0, "boost": 60.0, "mlp": 50.0,
    "svr": 30.0, "svc": 30.0,
}  # fmt: skip

#: families whose work grows with a size parameter: (class-name substring, parameter,
#: weight per unit). Checked before FAMILY_WEIGHTS; calibrated on the stacking
#: benchmark (20,000 x 20, one thread): a 50-tree forest of depth 10 and a
#: 200-iteration MLP take ~9 s per fold, 100-iteration histogram boosting ~0.8 s.
SIZE_WEIGHTS = (
    ("histgradientboost", "max_iter", 0.035), ("extratrees", "n_estimators", 0.5),
    ("forest", "n_estimators", 0.8), ("boost", "n_estimators", 0.6),
    ("mlp", "max_iter", 0.25),
)  # fmt: skip


def _family_weight(estimator) -> float:
    name = type(estimator).__name__.lower()
    for key, param, per_unit in SIZE_WEIGHTS:
        size = getattr(estimator, param, None)
        if key in name and isinstance(size, (int, float)) and size > 0:
            return per_unit * size
    return next((w for k, w in FAMILY_WEIGHTS.items() if k in name), 5.0)


def estimate_cost(estimator, n_rows: int, n_features: int) -> float:
    """A rough cost model: ``rows x features x family weight x 1e-7`` seconds.

    The family weight is looked up by a substring of the estimator's class
    name: for ensembles and iterative models in :data:`SIZE_WEIGHTS`, a
    weight per tree or iteration times ``n_estimators`` or ``max_iter``
    (histogram boosting is ~20 times cheaper per iteration than a forest's
    tree); otherwise in :data:`FAMILY_WEIGHTS` (``"tree"``, ``"svr"``, ...),
    5.0 if none matches. Strategies only compare costs, so the scale matters
    little; after a first run, measured durations replace the model
    (:class:`~foldgraph.engine.costs.CostModel`).

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
    >>> estimate_cost(Ridge(), 1000, 10)
    0.001
    >>> round(estimate_cost(RandomForestRegressor(50), 1000, 10), 4)
    0.04
    >>> round(estimate_cost(HistGradientBoostingRegressor(max_iter=100), 1000, 10), 4)
    0.0035
    """
    weight = _family_weight(estimator)
    return max(n_rows, 1) * max(n_features, 1) * weight * 1e-7


def assign_names(tasks) -> list[str]:
    """Resolve task names: explicit ones kept, automatic ones made unique.

    Automatic names are the estimator's class name in lower case; when two
    tasks share one, they become ``name-1``, ``name-2``... in list order,
    skipping names already taken. Nothing global is counted.

    Examples
    --------
    >>> from foldgraph import Learner
    >>> from foldgraph.testing import OLS, Scale
    >>> assign_names([Learner(OLS()), Learner(OLS()), Learner(Scale(), name="x")])
    ['ols-1', 'ols-2', 'x']
    """
    explicit = {t.name for t in tasks if getattr(t, "name", None) is not None}
    auto = Counter(default_name(t) for t in tasks if getattr(t, "name", None) is None)
    names, taken, counters = [], set(explicit), Counter()
    for task in tasks:
        if getattr(task, "name", None) is not None:
            names.append(task.name)
            continue
        base = default_name(task)
        if auto[base] == 1 and base not in taken:
            name = base
        else:
            counters[base] += 1
            while f"{base}-{counters[base]}" in taken:
                counters[base] += 1
            name = f"{base}-{counters[base]}"
        taken.add(name)
        names.append(name)
    return names


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


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while building: the many small dicts and
    tuples of the node attributes would otherwise trigger full collections that
    cost about 40 % of the build (nothing built here forms a reference cycle)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
    graph = _new_graph(job, X, y, dtype)
    tasks = _as_list(caller)
    with gc_paused():
        for task, name in zip(tasks, _checked_names(tasks)):
            add_task(graph, task, input="X", name=name)
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
    graph = _new_graph(job, X, y, dtype)
    tasks = _as_list(tasks)
    names = _checked_names(tasks)
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


def _checked_names(tasks) -> list[str]:
    for i, task in enumerate(tasks):
        check_task(task, f"task #{i}" if getattr(task, "estimator", None) is None
                   else task.name or default_name(task))
    names = assign_names(tasks)
    seen = Counter(names)
    dups = sorted(n for n, c in seen.items() if c > 1)
    if dups:
        raise GraphError(
            f"duplicate task name {dups[0]!r}: every task of a graph needs a unique "
            f"name; rename one (e.g. name='{dups[0]}-b') or leave name=None"
        )
    return names


def _check_split(tasks, names) -> None:
    for task, name in zip(tasks, names):
        link = getattr(task, "preprocess", None)
        if link is not None and link in names:
            raise GraphError(
                f"task '{name}' has preprocess={link!r}, an earlier task of this stack, "
                f"but split=True seals tasks off from each other: pass split=False"
            )


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
        name = task.name if task.name is not None else _free_name(graph, task)
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


def _free_name(graph, task) -> str:
    """The default name if free, else the next free ``<name>-<i>`` (counted per graph)."""
    return graph.unique_name(default_name(task))


def _folds_for_job(graph, task, name, info):
    """The folds whose nodes the job needs, as a list of Fold."""
    if graph.job == "fit":
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
    if task.kind == "transformer":
        check_fitted(task, name)
        info["n_out"] = info["n_in"]
        info["n_partitions"] = 1 + max(f.partition for f in task.folds_)
        return []
    check_fitted(task, name)
    fitted_features = getattr(task, "n_features_in_", info["n_features"])
    if fitted_features != info["n_features"]:
        raise GraphError(
            f"task '{name}' was fitted on {fitted_features} features but its input "
            f"{info['x']!r} has {info['n_features']}: pass data with the same columns"
        )
    bagged = not task.partition_estimators_  # fitted without full-data fits (refit=False)
    info["n_partitions"] = 1 + max(f.partition for f in task.folds_)
    if graph.job == "predict":
        info["n_out"] = info["n_in"]
        full = ((0, info["n_in"]),)
        if bagged:  # every fold model predicts every row; the output is their mean
            folds = [f._replace(train=(), test=full) for f in task.folds_ if f.fold != "full"]
            info["repeats"] = fold_repeats(folds)
            return folds
        return [f._replace(train=(), test=full) for f in task.folds_ if f.fold == "full"]
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
