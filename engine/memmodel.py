"""Node memory estimates for admission under a budget: measured when known, modelled otherwise.

Every run measures each node's peak memory (``peak_bytes`` of its
:class:`~foldgraph.engine.trace.TraceEvent`: what the node added to its
process's resident memory at its peak; see docs/memory.md). A
:class:`MemoryModel` remembers those peaks as the
:class:`~foldgraph.engine.costs.CostModel` remembers durations, keyed by
``(task name, op, rows)`` (:func:`~foldgraph.engine.costs.cost_key`). Before a
run, :meth:`MemoryModel.apply` sets two attributes on every node:

- ``memory``: the estimated peak bytes (an int >= 0), what the scheduler's
  admission reads (``attrs.get("memory", 0)``);
- ``memory_source``: ``"trace"`` (a peak measured for this key) or
  ``"model"`` (an estimate).

An estimate is :func:`~foldgraph.graph.estimate.estimate_memory` (bytes the
node reads x a factor of its estimator family) plus the rows it copies to
gather them (:func:`~foldgraph.graph.estimate.copied_bytes`: a middle fold's
training rows are two ranges, gathered into a new array), refined as runs accumulate:
once nodes of an estimator class have been measured, the estimates of that
class are scaled by ``sum(measured peaks) / sum(their estimates)`` over its
measured nodes that read at least :data:`LEARN_ABOVE` bytes (smaller ones
measure mostly fixed costs: a module imported on first use, page
granularity). For a key measured several times the largest peak is kept: a
node may read lower in a later run, reusing memory its process kept from
earlier nodes.
"""

from __future__ import annotations

from foldgraph.graph.estimate import copied_bytes, estimate_memory

from .costs import cost_key

__all__ = ["MemoryModel", "LEARN_ABOVE"]

#: nodes reading fewer bytes than this do not refine a family's estimate
LEARN_ABOVE = 2**20
_UNIT = 2**30  # bytes at which apply() samples a task's (affine) estimate


def _key(attrs: dict) -> tuple:
    """A node's cost key, computed once and kept in its attributes (as CostModel does)."""
    key = attrs.get("cost_key")
    if key is None:
        key = attrs["cost_key"] = cost_key(attrs)
    return key


def _estimator(graph, attrs: dict):
    task = graph.tasks.get(attrs.get("task")) if hasattr(graph, "tasks") else None
    return getattr(task, "estimator", None)


class MemoryModel:
    """Measured node peaks, reused as memory estimates; a learned factor for the rest.

    Attributes
    ----------
    peaks : dict
        ``{(task, op, rows): bytes}``: the largest peak measured per key.
    scale : dict
        ``{estimator class name: (sum of peaks, sum of estimates)}`` over the
        measured nodes of that class that read at least :data:`LEARN_ABOVE`
        bytes; their ratio scales the estimates of unseen nodes of the class.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> from foldgraph import FoldIndex, Learner, map_graph
    >>> from foldgraph.engine.trace import Trace, TraceEvent
    >>> import numpy as np
    >>> X, y = np.ones((100_000, 4)), np.ones(100_000)
    >>> g = map_graph(Learner(Ridge(), FoldIndex(2), name="r"), "fit", X, y)
    >>> m = MemoryModel()
    >>> m.apply(g)  # nothing measured yet: every node estimated
    0
    >>> a = g.nx.nodes["r/fit/fold-0"]
    >>> a["memory"] == int(a["bytes_read"] * 1.5), a["memory_source"]
    (True, 'model')
    >>> t = Trace()
    >>> t.record(TraceEvent("r/fit/fold-0", "r", 0, 1, 0.0, 1.0, 0, peak_bytes=2_000_000))
    >>> m.update(g, t)
    >>> m.apply(g)  # fold-0 measured; fold-1 has the same rows, hence the same key
    2
    >>> a["memory"], a["memory_source"]
    (2000000, 'trace')
    >>> full = g.nx.nodes["r/fit/full"]  # unseen: the estimate, scaled by what fold-0 showed
    >>> full["memory"] == int(estimate_memory(Ridge(), full["bytes_read"]) * 2_000_000 /
    ...                       estimate_memory(Ridge(), a["bytes_read"])), full["memory_source"]
    (True, 'model')
    """

    def __init__(self):
        self.peaks: dict[tuple, int] = {}
        self.scale: dict[str, tuple[float, float]] = {}

    def __len__(self) -> int:
        return len(self.peaks)

    def estimate(self, estimator, bytes_read: int) -> int:
        """The modelled peak of an unseen node: the family estimate, scaled by the class's
        measured ratio when there is one.

        Examples
        --------
        >>> from foldgraph.testing import OLS
        >>> m = MemoryModel()
        >>> m.estimate(OLS(), 1000), m.estimate(None, 1000)
        (2000, 1000)
        >>> m.scale["OLS"] = (3000.0, 2000.0)  # measured 1.5 times the estimates
        >>> m.estimate(OLS(), 1000)
        3000
        """
        base = estimate_memory(estimator, bytes_read)
        seen = self.scale.get(type(estimator).__name__) if estimator is not None else None
        if seen is None or seen[1] <= 0:
            return base
        return int(base * seen[0] / seen[1])

    def apply(self, graph) -> int:
        """Set ``memory`` and ``memory_source`` on every node of ``graph``; return how many
        were measured before. A ``memory`` set by hand (no ``memory_source``) is kept."""
        known, peaks, factors = 0, self.peaks, {}
        for attrs in graph.node_attrs.values():  # the raw dicts: no view per node
            if "memory" in attrs and "memory_source" not in attrs:
                continue  # the user's estimate
            peak = peaks.get(_key(attrs))
            if peak is not None:
                attrs["memory"], attrs["memory_source"] = peak, "trace"
                known += 1
                continue
            task = attrs.get("task")
            if task not in factors:  # the estimate is affine in bytes read: two points per task
                estimator = _estimator(graph, attrs)
                fixed = self.estimate(estimator, 0)
                factors[task] = fixed, (self.estimate(estimator, _UNIT) - fixed) / _UNIT
            fixed, per_byte = factors[task]
            attrs["memory"] = int(fixed + attrs.get("bytes_read", 0) * per_byte + copied_bytes(attrs))
            attrs["memory_source"] = "model"
        return known

    def update(self, graph, trace) -> None:
        """Remember the peaks of ``trace``'s nodes (the largest per key) and refine the
        factor of each measured estimator class."""
        nodes, peaks = graph.node_attrs, self.peaks
        for event in trace.events:
            attrs = nodes.get(event.key)
            if attrs is None or event.peak_bytes is None:
                continue
            key = _key(attrs)
            peaks[key] = max(event.peak_bytes, peaks.get(key, 0))
            read = attrs.get("bytes_read", 0)
            estimator = _estimator(graph, attrs) if read >= LEARN_ABOVE else None
            if estimator is not None:
                name = type(estimator).__name__
                total, guessed = self.scale.get(name, (0.0, 0.0))
                self.scale[name] = (total + event.peak_bytes,
                                    guessed + estimate_memory(estimator, read))  # fmt: skip
