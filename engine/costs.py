"""Node cost estimates for the strategies: measured when known, modelled otherwise.

A graph's nodes come with a modelled ``cost`` (see
:func:`foldgraph.graph.builders.estimate_cost`: rows x features x an
estimator-family weight). A :class:`CostModel` remembers measured durations
from earlier traces, keyed by ``(task name, op, rows)``: the same task on a
fold of the same size is expected to take as long as last time. Before a
run, :meth:`CostModel.apply` replaces the modelled cost of every node it
has a measurement for (``cost_source`` becomes ``"trace"``); after a run,
:meth:`CostModel.update` records the new durations.
"""

from __future__ import annotations

__all__ = ["CostModel", "cost_key"]


def cost_key(attrs: dict) -> tuple:
    """``(task, op, rows)``: what a measured duration is remembered by.

    ``rows`` counts the training rows of a fit (the predicted rows
    otherwise), so folds of the same size share a measurement.

    Examples
    --------
    >>> cost_key({"task": "ols", "op": "fit", "train": ((0, 4), (8, 12))})
    ('ols', 'fit', 8)
    >>> cost_key({"task": "ols", "op": "predict", "test": ((0, 12),)})
    ('ols', 'predict', 12)
    """
    rows = sum(b - a for a, b in attrs.get("train") or attrs.get("test") or ())
    return attrs.get("task"), attrs.get("op"), rows


def _cached_key(attrs: dict) -> tuple:
    """A node's :func:`cost_key`, computed once and kept in its attributes."""
    key = attrs.get("cost_key")
    if key is None:
        key = attrs["cost_key"] = cost_key(attrs)
    return key


class CostModel:
    """Measured node durations, reused as cost estimates.

    Examples
    --------
    >>> from foldgraph.graph import TaskGraph
    >>> g = TaskGraph()
    >>> g.add_node("a/fit/fold-0", task="a", op="fit", train=((0, 10),), cost=1.0)
    >>> m = CostModel()
    >>> m.durations[("a", "fit", 10)] = 0.25
    >>> m.apply(g)
    1
    >>> g.nx.nodes["a/fit/fold-0"]["cost"], g.nx.nodes["a/fit/fold-0"]["cost_source"]
    (0.25, 'trace')
    """

    def __init__(self):
        self.durations: dict[tuple, float] = {}

    def __len__(self) -> int:
        return len(self.durations)

    def apply(self, graph) -> int:
        """Set measured costs on ``graph``'s nodes; return how many were known.

        Each node's :func:`cost_key` is kept in its attributes (``cost_key``)
        for :meth:`update` and later runs of the same graph.
        """
        known, durations = 0, self.durations
        for attrs in graph.node_attrs.values():  # the raw dicts: no view per node
            seconds = durations.get(_cached_key(attrs))
            if seconds is None:
                if "cost_source" not in attrs:
                    attrs["cost_source"] = "model"
            else:
                attrs["cost"], attrs["cost_source"] = seconds, "trace"
                known += 1
        return known

    def update(self, graph, trace) -> None:
        """Remember the durations of ``trace``'s nodes."""
        nodes, durations = graph.node_attrs, self.durations
        for event in trace.events:
            attrs = nodes.get(event.key)
            if attrs is not None:
                durations[_cached_key(attrs)] = event.end - event.start
