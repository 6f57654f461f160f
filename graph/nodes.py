"""The node schema of a task graph, written once.

A node is a string key (``"ols-2/fit/fold-1"``) with flat, picklable
attributes (the networkx way). ``reads`` and ``writes`` describe data as
``(buffer, rows, cols)`` accesses, where ``rows`` are half-open
``(start, stop)`` ranges and ``cols`` a ``(start, stop)`` column range or
``None`` for all columns. Edges carry ``via``: the buffer that flows
(``"P:ols-1"``) or ``"estimator"`` for a fitted transformer.
"""

from __future__ import annotations

from typing import Literal, NamedTuple, TypedDict

import numpy as np

from foldgraph.errors import GraphError

__all__ = [
    "JOBS",
    "OPS",
    "DTYPES",
    "check_job",
    "check_dtype",
    "Rows",
    "Access",
    "BufferSpec",
    "NodeAttrs",
    "node_key",
    "parse_key",
    "shift_rows",
    "rows_overlap",
]

#: the jobs a graph can be built for
JOBS = ("fit", "predict", "transform")
#: what a node does
OPS = ("fit", "predict", "transform")

#: dtypes a prediction buffer may have: float64 (the default: what scikit-learn
#: returns) or float32 (half the memory; ~7 significant digits, overflows past ~3.4e38)
DTYPES = ("float64", "float32")


def check_job(job: str) -> str:
    """Return ``job`` if it is a known job, else raise a GraphError listing them.

    Examples
    --------
    >>> check_job("fit")
    'fit'
    >>> check_job("score")
    Traceback (most recent call last):
      ...
    foldgraph.errors.GraphError: unknown job 'score': choose one of 'fit', 'predict', 'transform'
    """
    if job not in JOBS:
        raise GraphError(
            f"unknown job {job!r}: choose one of {', '.join(map(repr, JOBS))}"
        )
    return job


def check_dtype(dtype) -> str:
    """The name of ``dtype`` if prediction buffers may have it, else a ValueError.

    Examples
    --------
    >>> check_dtype(np.float64), check_dtype(np.float32), check_dtype("float32")
    ('float64', 'float32', 'float32')
    >>> check_dtype(np.float16)
    Traceback (most recent call last):
      ...
    ValueError: dtype=float16 is not supported for prediction buffers: pass np.float64 (the default, what scikit-learn returns) or np.float32 (half the memory, ~7 significant digits, values beyond ~3.4e38 overflow)
    """
    try:
        name = np.dtype(dtype).name if dtype is not None else None
    except (TypeError, ValueError):
        name = None
    if name in DTYPES:
        return name
    raise ValueError(
        f"dtype={name or repr(dtype)} is not supported for prediction buffers: pass "
        f"np.float64 (the default, what scikit-learn returns) or np.float32 (half the "
        f"memory, ~7 significant digits, values beyond ~3.4e38 overflow)"
    )


Rows = tuple[tuple[int, int], ...]
Access = tuple[str, Rows, "tuple[int, int] | None"]  # (buffer, rows, cols)


class BufferSpec(NamedTuple):
    """A named 2-D array of a run: the input ``X``, ``y``, or an output ``P:<task>``.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import TaskGraph
    >>> TaskGraph("fit", X=np.ones((4, 2)), y=np.ones(4)).buffers["X"]
    BufferSpec(name='X', shape=(4, 2), dtype='float64')
    """

    name: str
    shape: tuple[int, ...]
    dtype: str


class _Always(TypedDict):
    """The keys every node a builder adds carries (see NodeAttrs)."""

    task: str
    kind: Literal["learner", "transformer", "propagate"]
    op: Literal["fit", "predict", "transform"]
    fold: int | Literal["full"]
    partition: int
    index: int
    x: str
    y: str | None
    y_offset: int
    train: Rows
    test: Rows
    out: str | None
    out_rows: Rows
    cols: tuple[int, int]
    preprocess: str | None
    reads: tuple[Access, ...]
    writes: tuple[Access, ...]
    cost: float
    nbytes: int
    bytes_read: int
    bytes_written: int
    order: int


class NodeAttrs(_Always, total=False):
    """Attributes of one node of a :class:`~foldgraph.graph.TaskGraph`.

    The keys a builder gives every node are required
    (``NodeAttrs.__required_keys__``); the optional ones belong to some
    nodes only, or are added by the engine. A node added by hand with
    :meth:`~foldgraph.graph.TaskGraph.add_node` gets ``order``, ``cost``,
    ``reads`` and ``writes`` by default and may omit the rest: the engine
    reads those with defaults. ``tests/graph/test_nodes.py`` checks this
    schema against the nodes the builders write, for every kind of graph.

    Attributes
    ----------
    task : str
        Name of the task the node belongs to (of the layer, for ``"propagate"``).
    kind : {"learner", "transformer", "propagate"}
        What runs: a learner's or a transformer's fold fit or prediction, or
        the copy of a layer's ``propagate_features`` into its output.
    op : {"fit", "predict", "transform"}
        The graph's job.
    fold : int or "full"
        Fold index, or ``"full"`` for a fit on all rows of a partition.
    partition : int
        Partition of the indexer (0 unless subsets).
    index : int
        Position of the fold in the task's fold list (fold estimators order).
    x : str
        Buffer holding the task's input.
    y : str or None
        Buffer holding the targets (``"y"``), None when the node needs none.
    y_offset : int
        The task's ``y`` is ``buffers[y][y_offset:]`` (tail-only inputs).
    train, test : Rows
        Rows of ``x`` fitted on / predicted (copied, for ``"propagate"``).
    out : str or None
        Output buffer written, ``None`` for a node that writes nothing.
    out_rows : Rows
        Rows of ``out`` written, one per ``test`` row.
    cols : (int, int)
        Columns of ``out`` owned by the node.
    preprocess : str or None
        Name of the transformer applied to the input.
    reads, writes : tuple of Access
        Data accesses, used for edges, validation and memory accounting.
    cost : float
        Estimated seconds of work (see :func:`~foldgraph.graph.estimate.estimate_cost`).
    nbytes : int
        Bytes read and written (``bytes_read + bytes_written``).
    bytes_read, bytes_written : int
        Input and target bytes read; prediction bytes written.
    order : int
        Position in build order (FIFO priority, deterministic ties).
    w : str or None, optional
        Learner and transformer nodes: the buffer of the sample weights
        (``"w"``) when the graph has them, else None.
    repeat : int, optional
        Learner and transformer nodes: the repeat of a repeated splitter
        (``RepeatedKFold``) the fold belongs to; 0 otherwise. A fold of a later
        repeat runs after the earlier ones writing its rows (edge ``via="repeat"``).
    columns : tuple of int, optional
        ``"propagate"`` nodes: the input columns copied into ``cols`` of ``out``.
    cost_key : tuple, optional
        Added by the engine: ``(task, op, rows)``, what measured durations are
        remembered by (:func:`~foldgraph.engine.costs.cost_key`).
    cost_source : {"model", "trace"}, optional
        Added by the engine: whether ``cost`` is the builders' estimate or a
        measured duration.
    model_cost : float, optional
        Added by ``backend="auto"``: the builders' estimate, kept when a
        measured duration replaces ``cost`` (part of what
        :mod:`foldgraph.engine.auto` remembers durations by).
    memory : int, optional
        Added by the engine before a run: the node's estimated peak memory in
        bytes (>= 0), what it adds to the process running it
        (:class:`~foldgraph.engine.memmodel.MemoryModel`).
    memory_source : {"model", "trace"}, optional
        Added by the engine: whether ``memory`` was measured in an earlier run
        or estimated (:func:`~foldgraph.graph.estimate.estimate_memory`).
    cores : int, optional
        Added by the engine before a run: the cores the node occupies (its
        estimator's threads, or its grant; :func:`~foldgraph.graph.resources.set_cores`).
    threads : int or None, optional
        Added by the engine: the threads granted to the node, or None (its
        estimator's threads are left as they are).
    thread_params : tuple of str, optional
        Added by the engine: the ``n_jobs`` parameters a grant sets on the clone.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, map_graph
    >>> from foldgraph.testing import OLS
    >>> g = map_graph([Learner(OLS(), FoldIndex(2), name="a")], "fit",
    ...               X=np.ones((4, 2)), y=np.ones(4))
    >>> attrs = g.nx.nodes["a/fit/fold-0"]
    >>> attrs["task"], attrs["op"], attrs["fold"], attrs["train"], attrs["out_rows"]
    ('a', 'fit', 0, ((2, 4),), ((0, 2),))
    >>> sorted(NodeAttrs.__optional_keys__)
    ['columns', 'cores', 'cost_key', 'cost_source', 'memory', 'memory_source', 'model_cost',
     'repeat', 'thread_params', 'threads', 'w']
    """

    w: str | None
    repeat: int
    columns: tuple[int, ...]
    cost_key: tuple
    cost_source: Literal["model", "trace"]
    model_cost: float
    memory: int
    memory_source: Literal["model", "trace"]
    cores: int
    threads: int | None
    thread_params: tuple[str, ...]


def node_key(task: str, op: str, fold: int | str, partition: int | None = None) -> str:
    """Make a readable, sortable node key.

    Examples
    --------
    >>> node_key("ols-2", "fit", 1)
    'ols-2/fit/fold-1'
    >>> node_key("ols-2", "fit", "full")
    'ols-2/fit/full'
    >>> node_key("sub", "fit", 0, partition=1)
    'sub/fit/part-1.fold-0'
    """
    label = "full" if fold == "full" else f"fold-{fold}"
    if partition is not None:
        label = f"part-{partition}.{label}"
    return f"{task}/{op}/{label}"


def parse_key(key: str) -> tuple[str, str, int | str, int]:
    """Split a node key into ``(task, op, fold, partition)``.

    Examples
    --------
    >>> parse_key("ols-2/fit/fold-1")
    ('ols-2', 'fit', 1, 0)
    >>> parse_key("sub/predict/part-1.full")
    ('sub', 'predict', 'full', 1)
    """
    try:
        task, op, label = key.rsplit("/", 2)
        partition = 0
        if label.startswith("part-"):
            part, label = label.split(".", 1)
            partition = int(part[len("part-") :])
        fold: int | str = "full" if label == "full" else int(label[len("fold-") :])
    except ValueError:
        raise ValueError(
            f"node key {key!r} is not of the form '<task>/<op>/fold-<k>' or '<task>/<op>/full'"
        ) from None
    return task, op, fold, partition


def shift_rows(rows: Rows, offset: int) -> Rows:
    """Shift every range by ``-offset`` (input rows to tail-output rows).

    Examples
    --------
    >>> shift_rows(((5, 8),), 5)
    ((0, 3),)
    """
    return tuple((start - offset, stop - offset) for start, stop in rows)


def rows_overlap(a: Rows, b: Rows) -> bool:
    """Whether two row sets share a row.

    Examples
    --------
    >>> rows_overlap(((0, 4),), ((4, 6),)), rows_overlap(((0, 5),), ((4, 6),))
    (False, True)
    """
    return any(s1 < e2 and s2 < e1 for s1, e1 in a for s2, e2 in b)
