"""simulate(): replay the scheduler loop on node costs, with no worker.

A discrete-event simulation of :func:`foldgraph.engine.scheduler.run_graph`:
the same :class:`~foldgraph.engine.scheduler.RunState`, the same admission
(:func:`~foldgraph.engine.scheduler.admit`) and
:func:`~foldgraph.engine.scheduler.finish`, the same strategy objects; only
time is simulated. Followers (a process backend's prefetch behind a
predecessor) are not modelled: a node starts when a worker is free. Whenever workers are free and nodes are ready, the
strategy's best ready nodes start on the free workers (lowest id first); the
clock then jumps to the next node end. The schedule is therefore a greedy
list schedule, and obeys Graham's bounds:
``max(critical path, W / P) <= makespan <= W / P + critical path x (1 - 1/P)``.

Memory: an output buffer (``P:...``) is live from the start of its first
writer until its last reader finishes; a buffer nobody reads (a result)
stays live until the end. ``peak_live_bytes`` is the largest sum of live
buffer bytes (inputs X and y excluded: they are live throughout).

Under a budget (``node_memory``, ``memory_limit``), nodes are admitted by
the loop's own :class:`~foldgraph.engine.admission.Budget`: every buffer is
live from the start, as in a real run, until the loop would release it (its
last reader finished, it is at least
:data:`~foldgraph.engine.admission.MIN_RELEASE` bytes and some node reads
it: a buffer nobody reads is a result); ``peak_memory`` is the largest sum
of idle memory, live buffers and the running nodes' peaks.
"""

from __future__ import annotations

import heapq
import math
from typing import NamedTuple

import numpy as np

from foldgraph.graph._gc import gc_paused

from .admission import make_budget, parse_memory_limit
from .scheduler import admit, finish, start_state
from .strategies import resolve, selector
from .tail import Tail
from .trace import Trace, TraceEvent

__all__ = ["simulate", "SimResult", "Slot"]


class Slot(NamedTuple):
    """One node of a simulated schedule: which worker ran it, from when to when.

    Examples
    --------
    >>> from foldgraph.graph import TaskGraph
    >>> g = TaskGraph()
    >>> g.add_node("a", cost=2.0); g.add_node("b", cost=1.0); g.add_edge("a", "b")
    >>> simulate(g, 2).schedule
    [Slot(node='a', worker=0, start=0.0, end=2.0), Slot(node='b', worker=0, start=2.0, end=3.0)]
    """

    node: str
    worker: int
    start: float
    end: float


class SimResult:
    """The outcome of :func:`simulate`.

    Attributes: ``makespan``, ``utilization``, ``peak_live_bytes``,
    ``peak_memory`` (idle + live buffers + running nodes' peaks, bytes),
    ``raised`` (``{node: threads}`` the tail policy gave),
    ``schedule`` (list of :class:`Slot`), ``critical_path``, ``work``,
    ``n_workers``, ``lower_bound``, and ``trace``: a
    :class:`~foldgraph.engine.trace.Trace` of the schedule, built on first
    access (it costs as much as the simulation on large graphs).

    Examples
    --------
    >>> from foldgraph.graph import TaskGraph
    >>> g = TaskGraph()  # a -> c, and b on its own
    >>> for key, cost in [("a", 2.0), ("b", 1.0), ("c", 1.0)]:
    ...     g.add_node(key, cost=cost)
    >>> g.add_edge("a", "c")
    >>> r = simulate(g, 2)
    >>> r
    SimResult(makespan=3, utilization=0.667, critical_path=3, work=4, n_workers=2, peak_live_bytes=0)
    >>> r.lower_bound, [event.key for event in r.trace.events]
    (3.0, ['b', 'a', 'c'])
    """

    __slots__ = ("makespan", "utilization", "peak_live_bytes", "schedule", "critical_path",
                 "work", "n_workers", "_graph", "_view", "_trace", "peak_memory",
                 "raised")  # fmt: skip

    def __init__(self, makespan, utilization, peak_live_bytes, schedule, critical_path, work,
                 n_workers, graph=None, view=None):  # fmt: skip
        self.makespan, self.utilization = makespan, utilization
        self.peak_live_bytes, self.schedule = peak_live_bytes, schedule
        self.critical_path, self.work, self.n_workers = critical_path, work, n_workers
        self._graph, self._view, self._trace = graph, view, None
        self.peak_memory, self.raised = 0, {}

    def __repr__(self) -> str:
        return (f"SimResult(makespan={self.makespan:.4g}, utilization={self.utilization:.3f}, "
                f"critical_path={self.critical_path:.4g}, work={self.work:.4g}, "
                f"n_workers={self.n_workers}, peak_live_bytes={self.peak_live_bytes})")  # fmt: skip

    @property
    def lower_bound(self) -> float:
        """``max(critical path, work / P)``: no schedule can beat it."""
        return max(self.critical_path, self.work / self.n_workers)

    @property
    def trace(self) -> Trace:
        """The schedule as a Trace (events in end order), built once on first access."""
        if self._trace is None:
            trace = Trace(self.n_workers, graph=self._graph)
            attrs = self._view.attrs
            for s in sorted(self.schedule, key=lambda s: (s.end, s.node)):
                a = attrs(s.node)
                trace.record(TraceEvent(s.node, a.get("task", s.node), s.worker, 0,
                                        s.start, s.end, a.get("nbytes", 0)))  # fmt: skip
            self._trace = trace
        return self._trace

    def gantt(self, path=None, ax=None, title=None, dpi: float = 150):
        """A Gantt chart of the simulated schedule (see :meth:`Trace.gantt`)."""
        return self.trace.gantt(path=path, ax=ax, title=title, dpi=dpi)


def _costs(graph, costs) -> dict:
    """``{node: seconds}`` from a dict, a callable, a Trace, or the nodes' ``cost``."""
    attrs = {k: graph.attrs(k) for k in graph.nx}
    if costs is None:
        return {k: float(a.get("cost", 1.0)) for k, a in attrs.items()}
    if isinstance(costs, Trace):
        measured = costs.durations()
        return {k: float(measured.get(k, a.get("cost", 1.0))) for k, a in attrs.items()}
    if callable(costs):
        return {k: float(costs(k, a)) for k, a in attrs.items()}
    missing = [k for k in attrs if k not in costs]
    if missing:
        raise ValueError(f"costs has no entry for node {missing[0]!r} ({len(missing)} missing)")
    return {k: float(costs[k]) for k in attrs}


class _Costed:
    """The graph as strategies see it, with the simulation's costs as ``cost``.

    A view, not a copy: the structure is the graph's own ``nx``; ``attrs``
    returns each node's attributes with ``cost`` replaced (one small dict per
    node), and the bottom level is computed once.
    """

    def __init__(self, graph, cost: dict):
        self.nx, self.children, self.parents = graph.nx, graph.children, graph.parents
        attrs = graph.attrs
        self._attrs = {key: {**attrs(key), "cost": seconds} for key, seconds in cost.items()}
        self.tasks, self.buffers, self.info = graph.tasks, graph.buffers, graph.info
        self.job = graph.job
        self._levels: dict = {}

    def attrs(self, key):
        return self._attrs[key]

    def bottom_level(self, weight: str = "cost"):
        if weight not in self._levels:
            from foldgraph.graph.taskgraph import TaskGraph

            self._levels[weight] = TaskGraph.bottom_level(self, weight)
        return self._levels[weight]


def simulate(graph, n_workers: int, strategy="fifo", costs=None, memory: bool = True,
             node_memory=None, memory_limit=None, idle_memory: int = 0, cores: int | None = None,
             policy=None, tail: bool = False, speedup=None) -> SimResult:  # fmt: skip
    """Simulate running ``graph`` on ``n_workers`` workers with ``strategy``.

    Parameters
    ----------
    graph : TaskGraph
    n_workers : int
    strategy : str, Strategy or callable, default="fifo"
        As for :class:`~foldgraph.engine.ParallelProcessing`.
    costs : dict, callable, Trace or None
        Seconds per node: ``{node: seconds}``, ``fn(node, attrs)``, a
        recorded Trace (its durations), or None for the nodes' ``cost``.
    memory : bool, default=True
        Track live output buffers (``peak_live_bytes``; 0 if False) and
        ``peak_memory``.
    node_memory : dict, callable, Trace or None
        Peak bytes per node, for admission and ``peak_memory``:
        ``{node: bytes}``, ``fn(node, attrs)``, a recorded Trace (the
        ``peak_bytes`` of its records), or None; a node missing from it
        takes its ``memory`` attribute (0 if absent).
    memory_limit : int or str, optional
        As for :class:`~foldgraph.engine.ParallelProcessing`: nodes start
        only while they fit (:func:`~foldgraph.engine.admission.first_fit`).
    idle_memory : int, default=0
        Bytes the processes hold before any node runs.
    cores : int, optional
        Cores of the simulated machine (nodes' ``cores`` attribute); default
        ``n_workers``.
    policy : callable, optional
        The admission rule (benchmarks compare
        :func:`~foldgraph.engine.admission.all_or_sequential`); default
        first fit.
    tail : bool, default=False
        The loop's tail policy (:class:`~foldgraph.engine.tail.Tail`): cores
        left idle go to the critical ready node, which then runs
        ``speedup(node, threads)`` times faster. A node whose ``threads``
        attribute is None is never raised; one without it may be.
    speedup : callable, optional
        ``speedup(node, threads)``; default
        :func:`~foldgraph.engine.tail.speedup` of the node's estimator family.

    Returns
    -------
    SimResult
        ``makespan``, ``utilization``, ``peak_live_bytes``, ``schedule``
        (list of Slot), ``trace`` (a Trace of the schedule), ``gantt()``.

    Examples
    --------
    >>> from foldgraph.graph import TaskGraph
    >>> g = TaskGraph()
    >>> for k, c in [("a", 2.0), ("b", 1.0), ("c", 1.0)]:
    ...     g.add_node(k, cost=c)
    >>> g.add_edge("a", "c")
    >>> r = simulate(g, 2, "critical_path")
    >>> r.makespan, [(s.node, s.worker, s.start) for s in r.schedule]
    (3.0, [('a', 0, 0.0), ('b', 1, 0.0), ('c', 0, 2.0)])

    Under a memory limit, ``b`` (60 bytes) cannot run beside ``a`` (50): it
    waits for ``a`` and then runs beside ``c``:

    >>> r = simulate(g, 2, "critical_path", node_memory={"a": 50, "b": 60, "c": 10},
    ...              memory_limit=100)
    >>> r.makespan, r.peak_memory, [(s.node, s.start) for s in r.schedule]
    (3.0, 70, [('a', 0.0), ('b', 2.0), ('c', 2.0)])

    With the tail policy, ``c`` runs alone after ``a`` and takes both cores;
    at a speed-up of 1.6 on 2 threads it ends sooner:

    >>> r = simulate(g, 2, "critical_path", tail=True, speedup=lambda k, t: 1.6 if t == 2 else 1.0)
    >>> r.makespan, r.raised, [(s.node, s.start, s.end) for s in r.schedule][-1]
    (2.625, {'c': 2}, ('c', 2.0, 2.625))
    """
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"n_workers={n_workers!r}: pass a positive int")
    limits = (parse_memory_limit(memory_limit), node_memory, idle_memory, cores, policy,
              (tail, speedup))  # fmt: skip
    with gc_paused():  # millions of small objects, no cycle: a full collection is waste
        return _simulate(graph, n_workers, strategy, costs, memory, limits)


def _node_memory(view, node_memory) -> dict | None:
    """``{node: bytes}`` from a dict, a callable or a Trace's ``peak_bytes`` (None: attributes)."""
    if node_memory is None:
        return None
    if isinstance(node_memory, Trace):
        peaks = {r["key"]: r.get("peak_bytes") for r in node_memory.records}
        return {k: v for k, v in peaks.items() if v is not None}
    if callable(node_memory):
        return {k: int(node_memory(k, view.attrs(k))) for k in view.nx}
    return dict(node_memory)


def _sim_budget(view, n_workers, memory, limits):
    limit, node_memory, idle, cores, policy, _ = limits
    if not memory and limit is None and policy is None:
        return None
    read = {b for k in view.nx for b, *_ in view.attrs(k).get("reads", ())}
    keep = {name for name in view.buffers if name not in read}  # a result: nobody reads it
    return make_budget(view, limit, cores or n_workers, keep=keep, idle=idle, policy=policy,
                       memory=_node_memory(view, node_memory), count=True)  # fmt: skip


def _sim_tail(view, n_workers, limits):
    on, speedup = limits[-1]
    if not on:
        return None
    tail = Tail(view, limits[3] or n_workers, moldable=True, speed=speedup)
    return tail if tail.raisable else None


def _simulate(graph, n_workers, strategy, costs, memory, limits) -> SimResult:
    cost = _costs(graph, costs)
    view = _Costed(graph, cost)
    strat = resolve(strategy)
    state = start_state(view.nx, strat.priorities(view, n_workers), None, view.children)
    state.budget = _sim_budget(view, n_workers, memory, limits)
    tail = _sim_tail(view, n_workers, limits)
    select = selector(strat)
    live = _Live(view) if memory else None
    free = list(range(n_workers))  # a heap of idle worker ids
    events: list = []  # heap of (end, worker, key)
    now, schedule, raised = 0.0, [], {}
    while state.ready or events:
        # as in the loop: a raised node's borrowed cores keep workers idle
        if state.ready and (n := tail.slots(len(free), state.running) if tail else len(free)) > 0:
            keys = admit(state, n, view, select)  # the loop's own decision
            if tail is not None:
                raised.update(tail.start(state, keys, now))  # the ends are in tail.ends
            for key in keys:
                worker, end = heapq.heappop(free), tail.ends[key] if tail else now + cost[key]
                heapq.heappush(events, (end, worker, key))
                schedule.append(Slot(key, worker, now, end))
                if live is not None:
                    live.start(key)
        now, worker, key = heapq.heappop(events)
        finish(state, key, None)
        if tail is not None:
            tail.finish(key)
        heapq.heappush(free, worker)
        if live is not None:
            live.finish(key)
    result = _result(graph, view, cost, schedule, n_workers, live, state.budget)
    result.raised = raised
    return result


def _result(graph, view, cost, schedule, n_workers, live, budget) -> SimResult:
    makespan = max((s.end for s in schedule), default=0.0)
    work = float(sum(cost.values()))
    result = SimResult(
        makespan=makespan,
        utilization=work / (makespan * n_workers) if makespan > 0 else 0.0,
        peak_live_bytes=0 if live is None else live.peak,
        schedule=schedule, critical_path=_critical_path(view, cost, schedule),
        work=work, n_workers=n_workers, graph=graph, view=view,
    )  # fmt: skip
    result.peak_memory = 0 if budget is None else budget.peak
    return result


def _critical_path(view, cost: dict, schedule: list) -> float:
    """The longest path (summed costs): from the bottom levels if a strategy
    computed them, else from top levels along the schedule, whose start order
    is topological (a node starts only after its predecessors ended)."""
    if "cost" in view._levels:
        return max(view._levels["cost"].values(), default=0.0)
    pred, top, longest = view.parents, {}, 0.0
    for slot in schedule:
        key = slot.node
        start = max((top[u] + cost[u] for u in pred[key]), default=0.0)
        top[key] = start
        longest = max(longest, start + cost[key])
    return longest


class _Live:
    """Live output-buffer bytes over the simulated run."""

    def __init__(self, view):
        self.size = {}
        for name, spec in view.buffers.items():
            if name.startswith("P:"):
                self.size[name] = math.prod(spec.shape) * np.dtype(spec.dtype).itemsize
        self.readers: dict[str, int] = dict.fromkeys(self.size, 0)
        self.pending_writers: dict[str, int] = dict.fromkeys(self.size, 0)
        self.writes, self.reads = {}, {}  # only nodes touching an output buffer
        size = self.size
        for key in view.nx if size else ():
            a = view.attrs(key)
            writes = {b for b, _, _ in a.get("writes", ()) if b in size}
            reads = {b for b, _, _ in a.get("reads", ()) if b in size}
            if writes:
                self.writes[key] = writes
                for b in writes:
                    self.pending_writers[b] += 1
            if reads:
                self.reads[key] = reads
                for b in reads:
                    self.readers[b] += 1
        self.open: set = set()
        self.current = self.peak = 0

    def start(self, key) -> None:
        writes = self.writes.get(key)
        if writes:
            for b in writes - self.open:
                self.open.add(b)
                self.current += self.size[b]
            self.peak = max(self.peak, self.current)

    def finish(self, key) -> None:
        for b in self.writes.get(key, ()):
            self.pending_writers[b] -= 1
        for b in self.reads.get(key, ()):
            self.readers[b] -= 1
            if self.readers[b] == 0 and self.pending_writers[b] == 0 and b in self.open:
                self.open.discard(b)
                self.current -= self.size[b]
