"""The node schema of a task graph, written once.

A node is a string key (``"ols-2/fit/fold-1"``) with flat, picklable
attributes (the networkx way). ``reads`` and ``writes`` describe data as
``(buffer, rows, cols)`` accesses, where ``rows`` are half-open
``(start, stop)`` ranges and ``cols`` a ``(start, stop)`` column range or
``None`` for all columns. Edges carry ``via``: the buffer that flows
(``"P:ols-1"``) or ``"estimator"`` for a fitted transformer.
"""

from __future__ import annotations

from typing import NamedTuple, TypedDict

__all__ = [
    "JOBS",
    "OPS",
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

Rows = tuple[tuple[int, int], ...]
Access = tuple[str, Rows, "tuple[int, int] | None"]


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


class NodeAttrs(TypedDict, total=False):
    """Attributes of one node of a :class:`~foldgraph.graph.TaskGraph`.

    Keys
    ----
    task : str
        Name of the task the node belongs to.
    kind : str
        ``"learner"`` or ``"transformer"``.
    op : str
        ``"fit"``, ``"predict"`` or ``"transform"``.
    fold : int or "full"
        Fold index, or ``"full"`` for a fit on all rows of a partition.
    partition : int
        Partition of the indexer (0 unless subsets).
    index : int
        Position of the fold in the task's fold list (fold estimators order).
    x, y : str
        Buffers holding the task's input and targets (``y`` may be None).
    w : str or None
        Buffer of the sample weights (``"w"``) when the graph has them.
    y_offset : int
        The task's ``y`` is ``buffers[y][y_offset:]`` (tail-only inputs).
    train, test : Rows
        Rows of ``x`` fitted on / predicted.
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
        Estimated seconds of work (see ``foldgraph.graph.builders.estimate_cost``).
    nbytes : int
        Bytes read and written (``bytes_read + bytes_written``).
    bytes_read, bytes_written : int
        Input and target bytes read; prediction bytes written.
    order : int
        Position in build order (FIFO priority, deterministic ties).

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
    """

    task: str
    kind: str
    op: str
    fold: int | str
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
    reads: tuple
    writes: tuple
    cost: float
    nbytes: int
    bytes_read: int
    bytes_written: int
    order: int


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
