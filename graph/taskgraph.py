"""TaskGraph: a thin wrapper over ``networkx.DiGraph`` of fold-level nodes.

The graph holds three things: ``nx`` (nodes with the attributes of
:class:`~foldgraph.graph.nodes.NodeAttrs`, edges with ``via``), ``tasks``
(the Learner/Transformer objects by their resolved name) and ``buffers``
(a :class:`~foldgraph.graph.nodes.BufferSpec` per array of the run). It
knows nothing of processes or memory: the engine allocates the buffers and
runs the nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import networkx as nx
import numpy as np

from foldgraph.errors import GraphError
from foldgraph.tasks.frames import data_dtype

from .checks import as_csr, check_sample_weight
from .fold_nodes import add_task
from .nodes import DTYPES, BufferSpec, check_dtype, check_job

__all__ = ["TaskGraph", "check_job", "check_dtype", "DTYPES"]

class TaskGraph:
    """A task graph of fold-level nodes for one job.

    Parameters
    ----------
    job : {"fit", "predict", "transform"}
        What the graph computes.
    X : array-like of shape (n_samples, n_features), optional
        Input the folds are cut for. Needed by :meth:`add_task`.
    y : array-like of shape (n_samples,) or (n_samples, n_targets), optional
        Targets (needed to fit learners, and for class columns).
    sample_weight : array-like of shape (n_samples,), optional
        Weights sliced per fold and passed to every learner's ``fit``.
    dtype : np.float64 or np.float32, default=np.float64
        Of the buffers the run computes (predictions, propagated features):
        float64 keeps what scikit-learn returns; float32 halves their memory
        but keeps ~7 significant digits and overflows beyond ~3.4e38.
        ``ParallelProcessing.run`` sets the manager's dtype (:meth:`set_dtype`).

    Attributes
    ----------
    nx : networkx.DiGraph
        Nodes keyed like ``"ols-2/fit/fold-1"``; edges are data dependencies.
    tasks : dict of str to Learner or Transformer
        Tasks by resolved name, in build order.
    buffers : dict of str to BufferSpec
        Every array of the run: ``"X"``, ``"y"`` and one ``"P:<task>"`` per
        output-producing learner.
    dtype : str
        ``"float64"`` or ``"float32"``: the dtype of the computed buffers.
    writers : dict of str to list
        Per buffer, the ``(node, rows)`` that write it.
    outputs : list of str
        Names of the tasks and layers with an output, in build order
        (see :meth:`output_of`).
    layers : dict of str to dict
        Layers added by :func:`~foldgraph.graph.layers.add_layer`: their
        output buffer, tasks and propagated columns.
    info : dict of str to dict
        Per task: its input buffer, folds, output columns and classes.
    template : bool
        Built without data (``map_graph(tasks, "fit")``): nodes and edges
        are real, row ranges and buffer shapes placeholders until a run
        binds it to its data (:mod:`foldgraph.graph.binding`).
    recipe : tuple or None
        How a builder made the graph, so that a run on data of another
        length rebuilds it; None for a graph built by hand.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import Learner, FoldIndex
    >>> from foldgraph.testing import OLS
    >>> g = TaskGraph("fit", X=np.ones((10, 2)), y=np.ones(10))
    >>> g.add_task(Learner(OLS(), FoldIndex(2), name="ols"))
    'ols'
    >>> sorted(g.nx)
    ['ols/fit/fold-0', 'ols/fit/fold-1', 'ols/fit/full']
    """

    def __init__(self, job: str = "fit", X=None, y=None, sample_weight=None, dtype=np.float64):
        self.job = check_job(job)
        self.dtype = check_dtype(dtype)
        self.nx = nx.DiGraph()
        self.tasks: dict = {}
        self.buffers: dict[str, BufferSpec] = {}
        self.outputs: list[str] = []
        self.info: dict[str, dict] = {}
        self.writers: dict[str, list] = {}
        self.layers: dict[str, dict] = {}
        self._task_nodes: dict[str, list] = {}
        self._suffixes: dict[str, int] = {}  # automatic names: last suffix used per base
        self.template, self.recipe = False, None
        self.X = None if X is None else np.asarray(X) if not hasattr(X, "shape") else as_csr(X)
        self.y = None if y is None else np.asarray(y)
        if self.X is not None:
            self.buffers["X"] = BufferSpec("X", tuple(self.X.shape), data_dtype(self.X))
        if self.y is not None:
            self.buffers["y"] = BufferSpec("y", tuple(self.y.shape), str(self.y.dtype))
        self.sample_weight = None
        if sample_weight is not None:
            if self.X is None:
                raise GraphError("sample_weight given without X: pass X too")
            w = check_sample_weight(sample_weight, self.X.shape[0])
            self.sample_weight = w
            self.buffers["w"] = BufferSpec("w", w.shape, str(w.dtype))

    # -- building -----------------------------------------------------------
    def add_task(self, task, input: str = "X", name: str | None = None) -> str:
        """Add a Learner or Transformer as fold-level nodes reading ``input``.

        Edges come from the nodes writing the rows each new node reads, and
        from the transformer named in ``preprocess=``. Returns the task's
        resolved name.
        """
        return add_task(self, task, input=input, name=name)

    def add_node(self, key: str, **attrs) -> None:
        """Add a node by hand; ``attrs`` follow :class:`NodeAttrs`."""
        if key in self.nx:
            raise GraphError(f"node {key!r} is already in the graph")
        attrs.setdefault("order", self.nx.number_of_nodes())
        attrs.setdefault("cost", 1.0)
        attrs.setdefault("reads", ())
        attrs.setdefault("writes", ())
        self.nx.add_node(key, **attrs)
        self._task_nodes.setdefault(attrs.get("task"), []).append(key)
        for buffer, rows, _ in attrs["writes"]:
            self.writers.setdefault(buffer, []).append((key, rows))

    def remove_node(self, key: str) -> None:
        """Remove a node and its edges (e.g. fits a job does not need)."""
        attrs = self.nx.nodes[key]
        self._task_nodes[attrs.get("task")].remove(key)
        for buffer, _, _ in attrs["writes"]:
            self.writers[buffer] = [(k, r) for k, r in self.writers[buffer] if k != key]
        self.nx.remove_node(key)

    def add_edge(self, u: str, v: str, via: str = "") -> None:
        """Add a dependency ``u -> v`` (``v`` runs after ``u``); ``via`` names what flows."""
        for node in (u, v):
            if node not in self.nx:
                raise GraphError(f"cannot add edge {u!r} -> {v!r}: no node {node!r}")
        self.nx.add_edge(u, v, via=via)

    def set_dtype(self, dtype) -> TaskGraph:
        """Store every computed buffer (not ``X``, ``y``, ``w``) in ``dtype``; returns self.

        The nodes' ``bytes_written`` and ``nbytes`` follow the new item size.

        Examples
        --------
        >>> from foldgraph import FoldIndex, Learner, map_graph
        >>> from foldgraph.testing import OLS
        >>> g = map_graph(Learner(OLS(), FoldIndex(2), name="ols"), "fit",
        ...               X=np.ones((10, 2)), y=np.ones(10))
        >>> g.buffers["P:ols"].dtype, g.attrs("ols/fit/fold-0")["bytes_written"]
        ('float64', 40)
        >>> g.set_dtype(np.float32).buffers["P:ols"].dtype, g.attrs("ols/fit/fold-0")["bytes_written"]
        ('float32', 20)
        """
        name = check_dtype(dtype)
        self.dtype = name
        size = np.dtype(name).itemsize
        ratio = {}
        for buf, spec in list(self.buffers.items()):
            if buf not in ("X", "y", "w") and spec.dtype != name:
                ratio[buf] = size / np.dtype(spec.dtype).itemsize
                self.buffers[buf] = spec._replace(dtype=name)
        if ratio:
            for key in self.nx:
                attrs = self.attrs(key)
                changed = [ratio[b] for b, _, _ in attrs["writes"] if b in ratio]
                if changed and "bytes_written" in attrs:
                    old = attrs["bytes_written"]
                    attrs["bytes_written"] = int(old * changed[0])
                    if "nbytes" in attrs:
                        attrs["nbytes"] += attrs["bytes_written"] - old
        return self

    def validate(self) -> TaskGraph:
        """Check the graph (cycles, links, disjoint writes, fitted tasks); returns self."""
        from .validate import validate

        validate(self)
        return self

    # -- queries ------------------------------------------------------------
    def __len__(self) -> int:
        return self.nx.number_of_nodes()

    def __contains__(self, key) -> bool:
        return key in self.nx

    def __repr__(self) -> str:
        return (
            f"TaskGraph(job={self.job!r}, tasks={list(self.tasks)}, "
            f"nodes={self.nx.number_of_nodes()}, edges={self.nx.number_of_edges()})"
        )

    # networkx's own adjacency dicts: its views (``.nodes``, ``.succ``, ``.pred``)
    # build an object per access, which the scheduler's hot loop cannot afford.
    # This class is the one place that reads them.
    @property
    def children(self) -> dict[str, dict[str, dict]]:
        """Read-only: per node, its children and the data of the edges to them.

        networkx's own successor dict (no copy, no view): iterate it, never
        change it; add edges with :meth:`add_edge`.

        Examples
        --------
        >>> g = TaskGraph()
        >>> g.add_node("a"); g.add_node("b"); g.add_edge("a", "b", via="P:a")
        >>> g.children["a"], dict(g.children["b"])
        ({'b': {'via': 'P:a'}}, {})
        """
        return self.nx._succ

    @property
    def parents(self) -> dict[str, dict[str, dict]]:
        """Read-only: per node, its parents and the data of the edges from them.

        networkx's own predecessor dict (no copy, no view): iterate it, never
        change it.

        Examples
        --------
        >>> g = TaskGraph()
        >>> g.add_node("a"); g.add_node("b"); g.add_edge("a", "b", via="P:a")
        >>> list(g.parents["b"]), len(g.parents["a"])
        (['a'], 0)
        """
        return self.nx._pred

    @property
    def node_attrs(self) -> dict[str, dict]:
        """Read-only mapping: per node, its attribute dict (see :class:`NodeAttrs`).

        networkx's own node dict: iterate it and read the attributes; add and
        remove nodes with :meth:`add_node` and :meth:`remove_node`.

        Examples
        --------
        >>> g = TaskGraph()
        >>> g.add_node("a", cost=2.0)
        >>> g.node_attrs["a"]["cost"], list(g.node_attrs)
        (2.0, ['a'])
        """
        return self.nx._node

    @property
    def task_nodes(self) -> Mapping[str, list[str]]:
        """Read-only: per task name, the keys of its nodes in build order.

        A view of the graph's own index (the lists are not copied: do not
        change them); :meth:`nodes_of` returns a copy of one list.

        Examples
        --------
        >>> g = TaskGraph()
        >>> g.add_node("a/fit/fold-0", task="a"); g.add_node("a/fit/full", task="a")
        >>> g.task_nodes["a"]
        ['a/fit/fold-0', 'a/fit/full']
        """
        return MappingProxyType(self._task_nodes)

    def unique_name(self, base: str) -> str:
        """``base`` if no task has it, else the next free ``<base>-<i>``.

        Suffixes are counted per graph and per base, so a name given once is
        not given again after its task is gone.

        Examples
        --------
        >>> g = TaskGraph()
        >>> g.unique_name("ols")
        'ols'
        >>> g.tasks["ols"] = None  # as add_task does
        >>> g.unique_name("ols"), g.unique_name("ols")
        ('ols-1', 'ols-2')
        """
        if base not in self.tasks:
            return base
        i = self._suffixes.get(base, 0)
        while f"{base}-{i + 1}" in self.tasks:
            i += 1
        self._suffixes[base] = i + 1
        return f"{base}-{i + 1}"

    def attrs(self, key: str) -> dict:
        """The attribute dict of node ``key`` (a fast ``self.nx.nodes[key]``)."""
        return self.nx._node[key]  # networkx builds a NodeView per .nodes access

    def nodes_of(self, task: str) -> list[str]:
        """Keys of the nodes of ``task``, in build order."""
        return list(self._task_nodes.get(task, ()))

    def roots(self) -> list[str]:
        """Nodes with no predecessor, in build order."""
        roots = [k for k in self.nx if self.nx.in_degree(k) == 0]
        return sorted(roots, key=lambda k: self.nx.nodes[k]["order"])

    def bottom_level(self, weight: str = "cost") -> dict[str, float]:
        """Longest path (summed node ``weight``) from each node to any sink, itself included.

        Examples
        --------
        >>> g = TaskGraph()
        >>> g.add_node("a", cost=1.0); g.add_node("b", cost=2.0); g.add_edge("a", "b")
        >>> g.bottom_level()
        {'b': 2.0, 'a': 3.0}
        """
        level: dict[str, float] = {}
        # raw dicts, no view per node; self.nx, not self.children: engine views of the
        # graph (simulate's _Costed) reuse this method
        succ, attrs = self.nx._succ, self.attrs
        for key in reversed(list(nx.topological_sort(self.nx))):
            below = max((level[s] for s in succ[key]), default=0.0)
            level[key] = float(attrs(key).get(weight, 1.0)) + below
        return level

    def output_of(self, name: str) -> tuple[str, tuple[int, int] | None]:
        """Where the output of task or layer ``name`` lives: ``(buffer, cols)``.

        ``cols`` is None for a whole buffer, or the column range of a learner
        inside its layer's buffer.
        """
        if name in self.layers:
            return self.layers[name]["out"], None
        info = self.info.get(name, {})
        if info.get("out") is None:
            raise KeyError(name)
        if info["out"] == f"P:{name}":
            return info["out"], None
        return info["out"], (info["col0"], info["col0"] + info["n_cols"])

    def total_cost(self) -> float:
        """Sum of the node costs."""
        return float(sum(d.get("cost", 1.0) for _, d in self.nx.nodes(data=True)))

    # -- pictures (graph/draw.py) -------------------------------------------
    def to_dot(self, level: str = "node", durations=None, title: str | None = None) -> str:
        """Graphviz DOT text: a cluster per task, shapes by node kind, edges labelled.

        See :func:`foldgraph.graph.draw.to_dot`.
        """
        from foldgraph.viz import to_dot

        return to_dot(self, level=level, durations=durations, title=title)

    def to_mermaid(self, level: str = "node", title: str | None = None) -> str:
        """A Mermaid flowchart; see :func:`foldgraph.graph.draw.to_mermaid`."""
        from foldgraph.viz import to_mermaid

        return to_mermaid(self, level=level, title=title)

    def draw(self, ax=None, level: str = "node", durations=None, title: str | None = None):
        """Draw the graph with matplotlib; returns the Axes.

        See :func:`foldgraph.graph.draw.draw`.
        """
        from foldgraph.viz import draw

        return draw(self, ax=ax, level=level, durations=durations, title=title)

    def _repr_html_(self) -> str:
        """Jupyter's view: the drawing inline (task level past 60 nodes), no script."""
        import html

        try:
            from foldgraph.viz import to_svg

            level = "node" if self.nx.number_of_nodes() <= 60 else "task"
            svg = to_svg(self, level=level)
        except ImportError:  # no matplotlib: the text view
            svg = ""
        return f'<div class="foldgraph-graph"><pre>{html.escape(repr(self))}</pre>{svg}</div>'

    def save(self, path, level: str = "node", durations=None, title: str | None = None,
             dpi: float = 150):
        """Write the picture to ``path`` (.svg .png .pdf .dot .mmd .html); returns the Path.

        See :func:`foldgraph.graph.draw.save`.
        """
        from foldgraph.viz import save

        return save(self, path, level=level, durations=durations, title=title, dpi=dpi)
