"""Trace: what ran where and when, recorded by every backend.

A :class:`TraceEvent` per node: key, task, worker, pid, start, end (seconds
on ``time.perf_counter``, relative to the run's start), and bytes moved:
``nbytes`` in all, ``bytes_read`` (input rows, targets) and
``bytes_written`` (prediction rows), and the memory the node added to the
process that ran it at its peak, ``peak_bytes`` (None where not measured;
the method and its error: :mod:`foldgraph.engine._peak` and docs/memory.md).
The trace feeds Gantt charts, benchmarks, the cost model and the memory
model (:mod:`foldgraph.engine.memmodel`).

A trace may know the dependencies of its graph (``Trace(n, graph=g)`` or
:meth:`Trace.set_graph`): then :meth:`Trace.critical_path` is the longest
chain of dependent nodes weighted by the run's own durations, and
:attr:`Trace.ideal`, the makespan no schedule of these durations on
``n_workers`` workers can beat, is ``max(critical path, work / n_workers)``.
Without the graph, the critical path shrinks to the longest node.

Nodes restored from a node cache did not run: they are kept apart, in
:attr:`Trace.hits` (zero-duration events on worker ``-1``, listed by
:attr:`Trace.cached`), so that every measure above is over nodes that ran.
"""

from __future__ import annotations

from graphlib import TopologicalSorter
from typing import NamedTuple

from ._tracetext import summary_text

__all__ = ["TraceEvent", "Trace"]


class TraceEvent(NamedTuple):
    """One node's execution.

    Times are ``time.perf_counter()`` seconds of the parent; ``worker`` is
    the slot that ran the node (-1 for a node restored from the cache) and
    ``pid`` its process. ``peak_bytes`` is what the node added to its
    process's resident memory at its peak, ``peak_rss`` that process's peak
    resident memory during the node (bytes; None: not measured).

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, ParallelProcessing
    >>> from foldgraph.testing import OLS
    >>> with ParallelProcessing("sequential") as manager:
    ...     manager.map(Learner(OLS(), FoldIndex(2), name="ols"), "fit",
    ...                 np.ones((4, 2)), np.ones(4))
    >>> event = manager.trace.events[0]
    >>> event.key, event.task, event.worker, event.duration >= 0, event.peak_bytes >= 0
    ('ols/fit/full', 'ols', 0, True, True)
    """

    key: str
    task: str
    worker: int
    pid: int
    start: float
    end: float
    nbytes: int
    bytes_read: int = 0
    bytes_written: int = 0
    peak_bytes: int | None = None
    peak_rss: int | None = None

    @property
    def duration(self) -> float:
        """Seconds the node ran."""
        return self.end - self.start


class Trace:
    """The events of one run.

    Parameters
    ----------
    n_workers : int
        Workers available to the run (for utilization).
    graph : TaskGraph or networkx.DiGraph, optional
        The graph that ran: its edges give :meth:`critical_path` and
        :attr:`ideal`, its task order the colours of :meth:`gantt`.

    Attributes
    ----------
    events : list of TraceEvent
        One per finished node, in completion order.
    hits : list of TraceEvent
        One per node restored from the cache instead of running (zero
        duration, worker -1); see :attr:`cached`.
    predecessors : dict of str to tuple of str, or None
        Dependencies of each node, when the graph is known.
    tasks : list of str or None
        Task names in build order, when the graph is known.
    backend : str or None
        The backend the run took (set by the manager).
    reason : str
        Why ``backend="auto"`` took it; empty for a backend given by name.
    raised : dict of str to int
        Nodes the tail policy gave more threads, and how many
        (:class:`~foldgraph.engine.tail.Tail`).

    Examples
    --------
    >>> t = Trace(n_workers=2)
    >>> t.record(TraceEvent("a/fit/fold-0", "a", 0, 1, 0.0, 2.0, 0))
    >>> t.record(TraceEvent("a/fit/fold-1", "a", 1, 1, 0.0, 1.0, 0))
    >>> t.makespan, t.utilization
    (2.0, 0.75)
    """

    def __init__(self, n_workers: int = 1, graph=None):
        self.n_workers = n_workers
        self.events: list[TraceEvent] = []
        self.hits: list[TraceEvent] = []
        self.predecessors: dict[str, tuple[str, ...]] | None = None
        self.tasks: list[str] | None = None
        # the backend the run took, and why when backend="auto" chose it (engine/auto.py)
        self.backend: str | None = None
        self.reason = ""
        self.raised: dict[str, int] = {}
        if graph is not None:
            self.set_graph(graph)

    def set_graph(self, graph) -> Trace:
        """Remember the dependencies and task order of the graph that ran; returns self.

        Only plain data is kept (node keys and task names), not the graph.
        """
        g = getattr(graph, "nx", graph)
        # a TaskGraph's raw adjacency (a networkx g.pred[k] builds a view per node)
        pred = graph.parents if hasattr(graph, "parents") else g.pred
        self.predecessors = {str(k): tuple(map(str, p)) for k, p in pred.items()}
        tasks = list(getattr(graph, "tasks", None) or ())
        if not tasks:
            tasks = [str(d.get("task") or k) for k, d in g.nodes(data=True)]
        self.tasks = list(dict.fromkeys(tasks))
        return self

    def record(self, event: TraceEvent) -> None:
        """Append one event."""
        self.events.append(event)

    def record_hit(self, key: str, task: str) -> None:
        """Note that node ``key`` of ``task`` was restored from the cache (it did not run).

        Examples
        --------
        >>> t = Trace()
        >>> t.record_hit("a/fit/fold-0", "a")
        >>> t.cached, len(t)
        (['a/fit/fold-0'], 0)
        """
        self.hits.append(TraceEvent(key, task, -1, 0, 0.0, 0.0, 0))

    @property
    def cached(self) -> list[str]:
        """Keys of the nodes restored from the cache, in topological order."""
        return [e.key for e in self.hits]

    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        return f"Trace(nodes={len(self.events)}, makespan={self.makespan:.4f}s)"

    @property
    def records(self) -> list[dict]:
        """The events as a list of dicts (one per node, in completion order)."""
        return [e._asdict() | {"duration": e.duration} for e in self.events]

    @property
    def makespan(self) -> float:
        """Seconds from the first start to the last end."""
        if not self.events:
            return 0.0
        return max(e.end for e in self.events) - min(e.start for e in self.events)

    @property
    def work(self) -> float:
        """Total node seconds."""
        return sum(e.duration for e in self.events)

    @property
    def utilization(self) -> float:
        """Busy fraction of the workers over the makespan (0 to 1)."""
        span = self.makespan
        return self.work / (span * self.n_workers) if span > 0 else 0.0

    def durations(self) -> dict[str, float]:
        """Seconds per node key (a cost table for strategies)."""
        return {e.key: e.duration for e in self.events}

    def peaks(self) -> dict[str, int]:
        """Peak bytes per node key, for the nodes whose peak was measured.

        Examples
        --------
        >>> t = Trace()
        >>> t.record(TraceEvent("a", "a", 0, 1, 0.0, 1.0, 0, peak_bytes=2**20))
        >>> t.record(TraceEvent("b", "b", 0, 1, 1.0, 2.0, 0))  # not measured
        >>> t.peaks()
        {'a': 1048576}
        """
        return {e.key: e.peak_bytes for e in self.events if e.peak_bytes is not None}

    # -- the schedule's quality ---------------------------------------------
    @property
    def start(self) -> float:
        """Time of the first start (seconds from the run's start), 0.0 if empty."""
        return min((e.start for e in self.events), default=0.0)

    def critical_path(self) -> tuple[list[str], float]:
        """The longest chain of dependent nodes, weighted by the run's durations.

        Returns ``(keys, seconds)``. Without the graph (see :meth:`set_graph`)
        the chain is the single longest node.

        Examples
        --------
        >>> import networkx as nx
        >>> t = Trace(2, graph=nx.DiGraph([("a", "b")]))
        >>> for key, start, end in [("a", 0.0, 1.0), ("c", 0.0, 1.5), ("b", 1.0, 2.5)]:
        ...     t.record(TraceEvent(key, key, 0, 1, start, end, 0))
        >>> t.critical_path()
        (['a', 'b'], 2.5)
        """
        if not self.events:
            return [], 0.0
        seconds = {e.key: e.duration for e in self.events}
        if self.predecessors is None:
            key = max(seconds, key=seconds.get)
            return [key], seconds[key]
        deps = {k: [p for p in self.predecessors.get(k, ()) if p in seconds] for k in seconds}
        finish: dict[str, float] = {}
        via: dict[str, str | None] = {}
        for key in TopologicalSorter(deps).static_order():
            best = max(deps[key], key=finish.get, default=None)
            finish[key] = seconds[key] + (finish[best] if best is not None else 0.0)
            via[key] = best
        key: str | None = max(finish, key=finish.get)
        total = finish[key]
        chain = []
        while key is not None:
            chain.append(key)
            key = via[key]
        return chain[::-1], total

    @property
    def ideal(self) -> float:
        """A lower bound on the makespan: ``max(critical path, work / n_workers)``.

        The critical path is weighted by this run's own durations (the
        longest node when the graph is unknown), so the bound ignores
        scheduling overhead only: ``makespan - ideal`` is what a better
        order or a faster scheduler could win at most.

        Examples
        --------
        >>> t = Trace(n_workers=2)
        >>> t.record(TraceEvent("a", "a", 0, 1, 0.0, 3.0, 0))
        >>> t.record(TraceEvent("b", "b", 0, 1, 3.0, 4.0, 0))
        >>> t.ideal, t.makespan
        (3.0, 4.0)
        """
        return max(self.critical_path()[1], self.work / max(self.n_workers, 1))

    def workers(self) -> list[int]:
        """Worker ids of the run: ``0..n_workers-1`` and any other id seen."""
        return sorted(set(range(self.n_workers)) | {e.worker for e in self.events})

    def busy(self) -> dict[int, float]:
        """Seconds each worker spent running nodes."""
        out = dict.fromkeys(self.workers(), 0.0)
        for e in self.events:
            out[e.worker] += e.duration
        return out

    def task_order(self) -> list[str]:
        """Task names: the graph's build order if known, else by first start."""
        seen = [e.task for e in sorted(self.events, key=lambda e: (e.start, e.key))]
        return list(dict.fromkeys((self.tasks or []) + seen))

    def summary(self, slowest: int = 5) -> str:
        """A text table: makespan, ideal, work, per-worker utilization and idle time,
        the largest node by peak memory and the slowest nodes (with their peaks).

        Memory lines appear when peaks were measured (``peak_bytes``); MiB
        are 2**20 bytes.

        Examples
        --------
        >>> t = Trace(n_workers=2)
        >>> t.record(TraceEvent("a/fit/fold-0", "a", 0, 1, 0.0, 2.0, 0))
        >>> t.record(TraceEvent("a/fit/fold-1", "a", 1, 1, 0.0, 1.0, 0))
        >>> print(t.summary(slowest=1))
        2 nodes on 2 workers
        makespan    2.000 s
        ideal       2.000 s   longest node 2.000 s (graph unknown), work / workers 1.500 s
        work        3.000 s   utilization 75%
        worker  nodes     busy s     idle s  utilization
             0      1      2.000      0.000         100%
             1      1      1.000      1.000          50%
        slowest nodes
          a/fit/fold-0  2.000 s  worker 0

        With peaks measured:

        >>> t = Trace(n_workers=1)
        >>> t.record(TraceEvent("a/fit/fold-0", "a", 0, 1, 0.0, 2.0, 0, peak_bytes=30 * 2**20))
        >>> t.record(TraceEvent("a/fit/fold-1", "a", 0, 1, 2.0, 2.5, 0, peak_bytes=45 * 2**20))
        >>> print("\\n".join(t.summary(slowest=2).splitlines()[-4:]))
        memory      largest node a/fit/fold-1, peak 45.0 MiB (2 of 2 nodes measured)
        slowest nodes
          a/fit/fold-0  2.000 s  worker 0  peak 30.0 MiB
          a/fit/fold-1  0.500 s  worker 0  peak 45.0 MiB
        """
        return summary_text(self, slowest)

    def gantt(self, path=None, ax=None, title: str | None = None, dpi: float = 150,
              memory: bool | None = None):
        """Draw the schedule: one row per worker, one bar per node coloured by task.

        A dashed line marks the ideal makespan (:attr:`ideal`), a solid one
        the makespan. Bars wide enough carry their node's fold label. Under
        the bars, a panel shows the memory over time (the sum of the running
        nodes' ``peak_bytes``) when peaks were recorded and ``ax`` is not
        given (``memory=False``: never). Drawn by
        :func:`foldgraph.viz.gantt.gantt` from :attr:`records`.

        Parameters
        ----------
        path : str or Path, optional
            Save the chart there (``.png``, ``.svg`` or ``.pdf``).
        ax : matplotlib Axes, optional
            Where to draw; by default a new figure (made without pyplot
            when ``path`` is given).
        title : str, optional
            Default: nodes, workers, makespan, ideal and utilization.
        dpi : float, default=150
            Resolution of a ``.png``.

        Returns
        -------
        matplotlib.axes.Axes

        Raises
        ------
        ImportError
            matplotlib is not installed (``pip install 'foldgraph[viz]'``).
        """
        from foldgraph.viz.gantt import gantt  # the pictures layer draws; the trace hands data

        return gantt(self.records, n_workers=self.n_workers, tasks=self.task_order(),
                     ideal=self.ideal, path=path, ax=ax, title=title, dpi=dpi, memory=memory)
