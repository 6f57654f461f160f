"""The node cache: content fingerprints of nodes, and where fitted nodes are kept.

Model (plain data, written down first):

- **fingerprint** :: {key: str | None}. A node's fingerprint is a
  ``joblib.hash`` of everything its result depends on: its op and kind, the
  rows it fits on and predicts, its estimator (class and
  ``clone(estimator).get_params(deep=True)`` less every ``n_jobs``: the
  threads an estimator runs change no result), the learner's options
  (``proba``, classes, scorer), a hash of each input buffer it reads (``X``,
  ``y``, ``sample_weight``: hashed once per run) and, as in a Merkle tree, the
  fingerprints of its predecessors with where they wrote (rows, columns): a
  change upstream changes everything downstream. Task names and node keys
  are left out, so renaming a learner or adding another beside it does not
  invalidate it. ``None`` means "never cached, always run": a predict or
  transform job, an estimator whose parameters cannot be hashed (a one-time
  warning names the task), or a node with such a predecessor.
- **Entry** :: ``(result, block)``: the node's
  :class:`~foldgraph.tasks.ops.NodeResult` (fitted estimator, timings,
  score) and a copy of the prediction block it wrote (``None`` if it writes
  nothing). A hit writes the block back at the node's rows and columns and
  hands the result to the scheduler (``run_graph(..., cached=hits)``).
- **store** :: any object with ``fp in store``, ``store.get(fp)`` and
  ``store.update({fp: Entry})``: a ``dict`` (in memory) or a
  :class:`NodeCache` (a private directory of signed pickles: trust it like
  code; its defences are in ``_cachefs``).
- **hits** are closed under predecessors: a node is restored only when every
  node it waits for is restored too, so a node that reruns always reruns
  whatever reads its output.

Only ``"fit"`` jobs are cached: predicting is cheap next to fitting, and a
predict node's key would have to hash the fitted estimator.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, field

import joblib
import networkx as nx
import numpy as np
import sklearn
from sklearn.base import clone

from foldgraph.graph.resources import without_n_jobs
from foldgraph.tasks.ops import put, take

# MAGIC and SUFFIX are re-exported: they are the disk store's file format
from ._cachefs import MAGIC, SUFFIX, Entry, NodeCache, UnsafeCacheError  # noqa: F401

__all__ = [
    "NodeCache",
    "UnsafeCacheError",
    "Entry",
    "Plan",
    "resolve_cache",
    "fingerprints",
    "make_plan",
    "restore_hits",
    "store_results",
]

#: bump when the fingerprint content or the entry format changes (2: signed entries,
#: 3: n_jobs left out)
FORMAT = 3
_INPUTS = ("X", "y", "w")


# -- fingerprints ------------------------------------------------------------------
def _input_hashes(job) -> dict:
    """``joblib.hash`` of each input buffer (computed lazily, once per run)."""
    values = {"X": job.X, "y": job.y, "w": job.sample_weight}
    hashes: dict = {}

    def get(name):
        if name not in hashes:
            value = values[name]
            hashes[name] = None if value is None else joblib.hash(value)
        return hashes[name]

    return get


def _task_token(graph, name: str, warned: set) -> str | None:
    """Hash of what a task contributes to its nodes (None: unhashable, warned once)."""
    task = graph.tasks.get(name)
    if task is None:
        return ""
    est = task.estimator
    info = graph.info.get(name, {})
    try:
        token = (
            type(est).__module__, type(est).__qualname__,
            without_n_jobs(clone(est)),  # the threads it runs change no result
            task.kind, bool(getattr(task, "proba", False)), info.get("classes"),
            getattr(task, "scorer", None),
        )  # fmt: skip
        return _hash(token)
    except Exception as exc:  # noqa: BLE001 - locks, open files, anything unpicklable
        if name not in warned:
            warned.add(name)
            reason = str(exc).splitlines()[0][:160]
            warnings.warn(
                f"task {name!r}: the parameters of its {type(est).__name__} (or its "
                f"scorer) cannot be hashed ({type(exc).__name__}: {reason}); its nodes "
                f"are not cached and always run",
                stacklevel=4,
            )
        return None


def _hash(token) -> str:
    """``joblib.hash``; lambdas and local functions (which plain pickle refuses)
    are hashed by their cloudpickle bytes: their code, defaults and closure."""
    try:
        return joblib.hash(token)
    except Exception:  # noqa: BLE001 - PicklingError, AttributeError on local objects
        import cloudpickle

        return hashlib.sha256(cloudpickle.dumps(token)).hexdigest()


def fingerprints(graph, job) -> dict:
    """Content fingerprint of every node of ``graph`` for ``job``'s data.

    Returns ``{key: str or None}``; ``None`` means the node is never cached.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Job, Learner, map_graph
    >>> from foldgraph.testing import OLS
    >>> X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    >>> g = map_graph([Learner(OLS(), FoldIndex(2), name="a"),
    ...                Learner(OLS(), FoldIndex(2), name="b")], "fit", X, y)
    >>> fp = fingerprints(g, Job("fit", X, y))
    >>> fp["a/fit/fold-0"] == fp["b/fit/fold-0"] != fp["a/fit/fold-1"]
    True
    """
    g = graph.nx
    if graph.job != "fit":
        return dict.fromkeys(g)
    inputs = _input_hashes(job)
    tokens: dict = {}
    warned: set = set()
    out: dict = {}
    salt = (FORMAT, sklearn.__version__)
    for key in nx.topological_sort(g):
        a = g.nodes[key]
        name = a.get("task")
        if a.get("kind") == "propagate":
            token = ""
        else:
            if name not in tokens:
                tokens[name] = _task_token(graph, name, warned)
            token = tokens[name]
        preds = []
        for p in g.pred[key]:
            if out[p] is None:
                token = None
                break
            pa = g.nodes[p]
            preds.append((out[p], g.edges[p, key].get("via"), pa.get("out"),
                          pa.get("out_rows"), pa.get("cols")))  # fmt: skip
        if token is None:
            out[key] = None
            continue
        x = a.get("x", "X")
        source = inputs(x) if x in _INPUTS else _buffer_token(graph.buffers[x])
        cols = a.get("cols") or (0, 0)
        # a block cached from a float32 run must not be restored into a float64 one
        written = str(graph.buffers[a["out"]].dtype) if a.get("out") else None
        out[key] = joblib.hash((
            salt, a.get("kind"), a.get("op"), a.get("train"), a.get("test"), source,
            inputs(a["y"]) if a.get("y") else None, a.get("y_offset", 0),
            inputs(a["w"]) if a.get("w") else None, a.get("columns"),
            written, cols[1] - cols[0], token, sorted(preds, key=repr),
        ))  # fmt: skip
    return out


def _buffer_token(spec) -> tuple:
    return ("buffer", tuple(spec.shape), str(spec.dtype))


# -- entries: capture after a run, restore before one -------------------------------
def capture(attrs: dict, buffers: dict, result) -> Entry:
    """The entry of a node that ran: its result and a copy of the block it wrote."""
    out, rows = attrs.get("out"), attrs.get("out_rows")
    if out is None or not rows:
        return Entry(result)
    c0, c1 = attrs["cols"]
    return Entry(result, np.array(take(buffers[out], rows)[:, c0:c1]))


def _restore(attrs: dict, buffers: dict, entry: Entry) -> bool:
    """Write ``entry``'s block back at the node's rows; False if it does not fit there."""
    out, rows = attrs.get("out"), attrs.get("out_rows")
    if out is None or not rows:
        return entry.block is None
    c0, c1 = attrs["cols"]
    shape = (sum(b - a for a, b in rows), c1 - c0)
    if entry.block is None or entry.block.shape != shape:
        return False
    put(buffers[out], rows, (c0, c1), entry.block)
    return True


def _select(graph, fps: dict, take_hit) -> dict:
    """``{key: value}`` of the hits, in topological order, closed under predecessors.

    ``take_hit(key, fp)`` returns a value (the node is a hit) or None.
    """
    g = graph.nx
    hits: dict = {}
    for key in nx.topological_sort(g):
        fp = fps.get(key)
        if fp is None or any(p not in hits for p in g.pred[key]):
            continue
        value = take_hit(key, fp)
        if value is not None:
            hits[key] = value
    return hits


def restore_hits(graph, job, store, trace=None) -> tuple[dict, dict]:
    """Look every node up in ``store``; restore the hits into ``job.buffers``.

    Returns ``(fingerprints, {key: NodeResult})`` for ``run_graph(..., cached=)``;
    each hit is recorded in ``trace`` (:meth:`Trace.record_hit`).
    """
    if store is None:
        return {}, {}
    fps = fingerprints(graph, job)

    def take_hit(key, fp):
        entry = store.get(fp)
        if not isinstance(entry, Entry) or not _restore(graph.attrs(key), job.buffers, entry):
            return None
        return entry.result

    hits = _select(graph, fps, take_hit)
    if trace is not None:
        for key in hits:
            trace.record_hit(key, graph.attrs(key).get("task", key))
    return fps, hits


def store_results(graph, job, store, fps: dict, results: dict, hits: dict, stored=()) -> int:
    """Put the entries of the nodes that ran into ``store``; return how many.

    ``stored``: fingerprints already put during the run (before their buffer was released).
    """
    if store is None:
        return 0
    new = {}
    for key, fp in fps.items():
        if fp is not None and key not in hits and fp not in new and fp not in stored:
            new[fp] = capture(graph.attrs(key), job.buffers, results[key])
    if new:
        store.update(new)
    return len(new)


# -- the plan ----------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """Which nodes of a graph would run and which would come from the cache.

    Attributes
    ----------
    run : tuple of str
        Nodes that would run, in topological order.
    cached : tuple of str
        Nodes that would be restored from the cache.
    fingerprints : dict of str to str or None
        Each node's content fingerprint (None: never cached).
    graph : TaskGraph
        The graph planned (for the drawings).

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, ParallelProcessing, map_graph
    >>> from foldgraph.testing import OLS
    >>> X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    >>> g = map_graph(Learner(OLS(), FoldIndex(2), name="ols"), "fit", X, y)
    >>> ParallelProcessing("sequential", cache={}).plan(g, X, y)
    Plan(run=3, cached=0)
    """

    run: tuple
    cached: tuple
    fingerprints: dict = field(repr=False)
    graph: object = field(repr=False, default=None)

    def __repr__(self) -> str:
        return f"Plan(run={len(self.run)}, cached={len(self.cached)})"

    @property
    def uncacheable(self) -> tuple:
        """Nodes that are never cached (fingerprint None)."""
        return tuple(k for k, fp in self.fingerprints.items() if fp is None)

    def to_dot(self, level: str = "node", title: str | None = None) -> str:
        """The graph as DOT text, cached nodes greyed out (see ``foldgraph.viz.text.to_dot``)."""
        from foldgraph.viz.text import to_dot

        return to_dot(self.graph, level=level, title=title, cached=self.cached)

    def to_mermaid(self, level: str = "node", title: str | None = None) -> str:
        """The graph as a Mermaid flowchart, cached nodes greyed out."""
        from foldgraph.viz.text import to_mermaid

        return to_mermaid(self.graph, level=level, title=title, cached=self.cached)


def make_plan(graph, job, store) -> Plan:
    """The :class:`Plan` of running ``graph`` on ``job``'s data with ``store`` (no side effect)."""
    fps = fingerprints(graph, job) if store is not None else dict.fromkeys(graph.nx)
    hits = _select(graph, fps, lambda key, fp: True if fp in store else None)
    order = list(nx.topological_sort(graph.nx))
    return Plan(tuple(k for k in order if k not in hits), tuple(k for k in order if k in hits),
                fps, graph)  # fmt: skip


# -- the stores --------------------------------------------------------------------
def resolve_cache(cache):
    """The store behind a ``cache=`` argument: None, a dict, or a NodeCache.

    Raises
    ------
    TypeError
        Anything but None, a directory path, a NodeCache or a dict.
    """
    if cache is None or isinstance(cache, (NodeCache, dict)):
        return cache
    if isinstance(cache, (str, os.PathLike)):
        return NodeCache(cache)
    raise TypeError(
        f"cache={cache!r}: pass None (no cache), a directory path, a "
        f"foldgraph.NodeCache(path, max_bytes=...) or a dict (in memory)"
    )
