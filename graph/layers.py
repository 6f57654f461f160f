"""Layers: several tasks reading one input and writing one output buffer.

A layer is what an ensemble stacks: its learners share an input buffer and
write column blocks of one output buffer ``P:<layer>`` (of ``graph.dtype``), laid out as
``[propagated features][learner 1][learner 2]...`` (learners in the order
given). Transformers of the layer (preprocessing cases) write nothing; the
learners naming them in ``preprocess=`` apply them fold by fold.
``propagate_features`` copies columns of the input (its output rows) into
the leftmost columns, through one ``<layer>/propagate/full`` node.
"""

from __future__ import annotations

import numpy as np

from foldgraph.errors import GraphError

from .builders import add_planned, plan_task
from .nodes import BufferSpec, node_key
from .taskgraph import TaskGraph

__all__ = ["add_layer"]


def add_layer(
    graph: TaskGraph, name: str, tasks, names, input: str = "X", propagate_features=None
) -> str:
    """Add a layer of ``tasks`` (named ``names``) reading ``input``; return its buffer.

    Raises
    ------
    GraphError
        A name clash, learners with different numbers of output rows, or a
        propagated column out of range. Nothing is added then.

    Examples
    --------
    Two learners and the first input column, side by side in one buffer:

    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, TaskGraph
    >>> from foldgraph.testing import OLS
    >>> g = TaskGraph("fit", X=np.arange(24.0).reshape(12, 2), y=np.arange(12.0))
    >>> tasks = [Learner(OLS(), FoldIndex(3)), Learner(OLS(offset=1), FoldIndex(3))]
    >>> out = add_layer(g, "layer-1", tasks, ["a", "b"], propagate_features=[0])
    >>> out, g.buffers[out].shape, g.layers["layer-1"]["blocks"]
    ('P:layer-1', (12, 3), {'a': (1, 2), 'b': (2, 3)})
    """
    if name in graph.layers or name in graph.tasks or "/" in name:
        raise GraphError(f"layer name {name!r} is taken or contains '/': choose another")
    infos = [plan_task(graph, task, n, input) for task, n in zip(tasks, names)]
    learners = [(t, n, i) for t, n, i in zip(tasks, names, infos) if t.kind == "learner"]
    if not learners:
        raise GraphError(f"layer '{name}' has no learner: add at least one estimator")
    rows = {i["n_out"] for _, _, i in learners}
    if len(rows) > 1:
        sizes = ", ".join(f"'{n}': {i['n_out']}" for _, n, i in learners)
        raise GraphError(
            f"layer '{name}': its learners predict different numbers of rows ({sizes}): "
            f"give them indexers of the same kind"
        )
    n_in, n_out = infos[0]["n_in"], rows.pop()
    props = _check_columns(name, propagate_features, graph.buffers[input].shape[1])
    out = f"P:{name}"
    col = len(props)
    blocks = {}
    for _, n, info in learners:
        blocks[n] = (col, col + info["n_cols"])
        col += info["n_cols"]
    graph.buffers[out] = BufferSpec(out, (n_out, col), graph.dtype)
    graph.layers[name] = {"out": out, "tasks": list(names), "blocks": blocks,
                          "propagate": props, "x": input}  # fmt: skip
    for task, n, info in zip(tasks, names, infos):
        add_planned(graph, task, n, info, out if n in blocks else None, blocks.get(n, (0,))[0])
    if props:
        _add_propagate(graph, name, input, out, props, n_in, n_out)
    graph.outputs.append(name)
    return out


def _check_columns(name, columns, n_features) -> tuple[int, ...]:
    if columns is None:
        return ()
    if isinstance(columns, str) and columns == "all":  # a skip connection: every input column
        return tuple(range(n_features))
    bad = [c for c in columns if isinstance(c, (str, bool, float))]
    if isinstance(columns, str) or bad:
        raise GraphError(
            f"layer '{name}': propagate_features={columns!r}: pass column positions (ints), "
            f"'all', or column names of a DataFrame given to an ensemble's first layer"
        )
    cols = tuple(int(c) for c in columns)
    bad = [c for c in cols if not 0 <= c < n_features]
    if bad:
        raise GraphError(
            f"layer '{name}': propagate_features {bad} out of range: the input has "
            f"{n_features} columns (0 to {n_features - 1})"
        )
    return cols


def _add_propagate(graph, name, input, out, props, n_in, n_out) -> None:
    rows = ((n_in - n_out, n_in),)
    out_rows = ((0, n_out),)
    cols = (0, len(props))
    key = node_key(name, graph.job, "full")
    itemsize = np.dtype(graph.buffers[input].dtype).itemsize
    out_size = np.dtype(graph.buffers[out].dtype).itemsize
    graph.add_node(
        key, task=name, kind="propagate", op=graph.job, fold="full", partition=0,
        index=0, x=input, y=None, y_offset=0, train=(), test=rows, out=out,
        out_rows=out_rows, cols=cols, columns=props, preprocess=None,
        reads=((input, rows, None),), writes=((out, out_rows, cols),),
        cost=1e-7 * n_out * len(props), nbytes=n_out * len(props) * (itemsize + out_size),
        bytes_read=n_out * len(props) * itemsize, bytes_written=n_out * len(props) * out_size,
    )  # fmt: skip
    for writer, _rows in graph.writers.get(input, ()):
        graph.add_edge(writer, key, via=input)
