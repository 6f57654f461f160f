"""The scheduler: one loop, shared by every backend.

State (plain data in one :class:`RunState`, written down before the code):

- ``remaining``  :: {key: int}   unfinished predecessors of each waiting node
- ``dependents`` :: {key: iterable of keys} successors of each node (the
  graph's own adjacency, not a copy)
- ``priority``   :: {key: float} the strategy's order, lower first
- ``ready``      :: heap of (priority, order, key): nodes whose inputs are done
- ``running``    :: {key: None}  submitted, not yet finished (a *follower*, see
  ``engine/_follow.py``, is submitted while still waiting for its predecessors)
- ``done``       :: {key}        finished nodes
- ``results``    :: {key: NodeResult} fitted estimators and timings
- ``budget``     :: Budget or None  memory and cores admission (see
  ``engine/admission.py``); None: every free worker takes the best ready node

:func:`start_state` and :func:`finish` are pure functions of that state
(tests call them with no worker). :func:`run_graph` is the loop: while
nodes are ready or running, submit the best ready nodes to free workers
(and, on a backend that takes them, cheap followers behind their
predecessors), wait for completions, finish them, record the trace; any
exception (a failed node, KeyboardInterrupt) aborts the backend and
propagates.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field

from foldgraph.errors import NodeTimeout, TaskError, WorkerDied, wrap_error
from foldgraph.graph._gc import gc_paused

from ._follow import follow
from ._options import available_cpus
from ._progress import Progress
from .admission import admit, make_budget, pick
from .liveness import idle_memory, tree_pids
from .payload import make_payload
from .strategies import selector
from .tail import Tail
from .trace import Trace, TraceEvent

__all__ = ["RunState", "start_state", "finish", "pick", "admit", "task_error", "run_graph"]


@dataclass(slots=True)
class RunState:
    """Bookkeeping of one run (see the module docstring).

    Made by :func:`start_state`, changed only by :func:`pick` and
    :func:`finish` (and the loop, which marks picked nodes ``running``).

    Attributes
    ----------
    remaining : dict of str to int
        Unfinished predecessors of each waiting node.
    dependents : dict
        Successors of each node (the graph's own adjacency).
    priority : dict of str to float
        The strategy's order, lower first.
    ready : list
        Heap of ``(priority, order, key)``: nodes whose inputs are done.
    running : dict
        Submitted nodes, not yet finished.
    done : set of str
    results : dict of str to NodeResult
    order : dict of str to int
        Build order of the nodes: breaks priority ties.
    budget : Budget or None
        Memory and cores admission (:mod:`~foldgraph.engine.admission`).

    Examples
    --------
    >>> import networkx as nx
    >>> state = start_state(nx.DiGraph([("a", "c"), ("b", "c")]), {"a": 1, "b": 0, "c": 2})
    >>> state.ready, state.remaining
    ([(0, 2, 'b'), (1, 0, 'a')], {'c': 2})
    """

    remaining: dict
    dependents: dict
    priority: dict
    ready: list = field(default_factory=list)
    running: dict = field(default_factory=dict)
    done: set = field(default_factory=set)
    results: dict = field(default_factory=dict)
    order: dict = field(default_factory=dict)
    budget: object = None


def _push(state: RunState, key: str) -> None:
    heapq.heappush(state.ready, (state.priority[key], state.order[key], key))


def start_state(g, priority: dict, cached: dict | None = None,
                children: dict | None = None) -> RunState:  # fmt: skip
    """Initial state of a run over DiGraph ``g``: roots are ready.

    ``cached`` maps nodes that need not run (a cache hit) to their result:
    they start done, and a node whose predecessors are all cached is ready.
    ``children`` is ``g``'s successor adjacency as plain dicts
    (:attr:`TaskGraph.children <foldgraph.graph.TaskGraph.children>`, which
    the loop iterates faster than networkx's views); default ``g.succ``.

    Examples
    --------
    >>> import networkx as nx
    >>> s = start_state(nx.DiGraph([("a", "b")]), {"a": 0, "b": 1})
    >>> [k for *_, k in s.ready], s.remaining
    (['a'], {'b': 1})
    >>> s = start_state(nx.DiGraph([("a", "b")]), {"a": 0, "b": 1}, cached={"a": None})
    >>> [k for *_, k in s.ready], s.done
    (['b'], {'a'})
    """
    cached = cached or {}
    order = {key: i for i, key in enumerate(g)}
    if cached:
        pred = g.pred
        remaining = {k: sum(1 for p in pred[k] if p not in cached) for k in g if k not in cached}
    else:
        remaining = dict(g.in_degree())
    state = RunState(
        remaining={k: d for k, d in remaining.items() if d},
        dependents=g.succ if children is None else children,  # iterating gives the children
        priority=priority,
        order=order,
        done=set(cached),
        results=dict(cached),
    )
    for key, degree in remaining.items():
        if degree == 0:
            _push(state, key)
    return state


def finish(state: RunState, key: str, result) -> list[str]:
    """Mark ``key`` done with ``result``; return the nodes it made ready.

    Raises
    ------
    ValueError
        ``key`` was already marked done.

    Examples
    --------
    >>> import networkx as nx
    >>> state = start_state(nx.DiGraph([("a", "c"), ("b", "c")]), {"a": 0, "b": 0, "c": 0})
    >>> pick(state, 2)
    ['a', 'b']
    >>> finish(state, "a", "result of a"), finish(state, "b", None)
    ([], ['c'])
    >>> state.results["a"], [key for *_, key in state.ready]
    ('result of a', ['c'])
    >>> finish(state, "a", None)
    Traceback (most recent call last):
      ...
    ValueError: node 'a' was already marked done
    """
    if key in state.done:
        raise ValueError(f"node {key!r} was already marked done")
    state.running.pop(key, None)
    state.done.add(key)
    state.results[key] = result  # before the budget releases buffers: a release may store it
    if state.budget is not None:
        state.budget.finish(key)
    newly = []
    running = state.running
    for child in state.dependents[key]:
        state.remaining[child] -= 1
        if state.remaining[child] == 0:
            del state.remaining[child]
            if child not in running:  # a follower (see _follow.py) already queued on a worker
                _push(state, child)
            newly.append(child)
    return newly


def task_error(graph, done) -> TaskError:
    """The ``TaskError[E]`` of a failed node (see :func:`foldgraph.errors.wrap_error`).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from foldgraph.engine.worker import Done
    >>> graph = SimpleNamespace(attrs=lambda key: {"task": "ols"})
    >>> task_error(graph, Done("ols/fit/full", None, ValueError("bad"), "", 0, 0, 0.0, 0.0))
    TaskError[ValueError]("task 'ols' failed at node 'ols/fit/full': ValueError: bad")
    """
    return wrap_error(done.error, graph.attrs(done.key)["task"], done.key, done.tb)


def _failed(graph, done) -> TaskError:
    """Raise the TaskError of a failed node; a death or a timeout has no cause to chain."""
    bare = isinstance(done.error, (WorkerDied, NodeTimeout))
    raise task_error(graph, done) from (None if bare else done.error)


def _event(done, attrs: dict, t0: float) -> TraceEvent:
    """The trace event of a finished node (times from the run's start ``t0``)."""
    return TraceEvent(
        done.key, attrs["task"], done.worker, done.pid, done.start - t0, done.end - t0,
        attrs.get("nbytes", 0), attrs.get("bytes_read", 0), attrs.get("bytes_written", 0),
        done.peak_bytes, done.peak_rss,
    )  # fmt: skip


def run_graph(graph, job, backend, strategy, trace: Trace, verbose: bool = False,
              cached: dict | None = None, memory_limit: int | None = None, keep=None,
              policy=None, release=None, tail: bool = False) -> dict:  # fmt: skip
    """Run every node of ``graph`` on ``backend``; return ``{key: NodeResult}``.

    Nodes in ``cached`` (``{key: NodeResult}``, cache hits already restored
    into the job's buffers) are not run; their results are returned as given.

    With ``verbose``, a progress bar over the nodes (tqdm, when installed)
    shows the running nodes on stderr.

    The cyclic garbage collector is paused during the loop (as while
    building a graph): a full collection walks every node's attributes, which
    costs tens of microseconds per node on large graphs; results form no
    reference cycle, and collection resumes when the run ends.

    Parameters
    ----------
    graph : TaskGraph
        Validated.
    job : Job
        Its buffers allocated for ``graph`` (shared for process workers).
    backend : Backend
        Started here; not shut down at the end (a manager reuses it), but
        aborted if the run fails.
    strategy : Strategy
        A resolved strategy (see :func:`~foldgraph.engine.strategies.resolve`).
    trace : Trace
        Receives one event per node run.
    verbose : bool, default=False
    cached : dict of str to NodeResult, optional
    memory_limit : int, optional
        Bytes the run may hold: idle processes, live buffers and the running
        nodes' ``memory`` estimates (see :mod:`~foldgraph.engine.admission`).
    keep : set of str, optional
        Buffers that must survive the run (its outputs); every other output
        buffer is released when its last reader finished. None keeps all.
    policy : callable, optional
        The admission rule (default :func:`~foldgraph.engine.admission.first_fit`).
    release : callable, optional
        ``release(buffer, results) -> bool`` frees a buffer (default ``job.free``):
        a :class:`~foldgraph.engine.liveness.Keeper` saves what it must first.
    tail : bool, default=False
        Give the cores left idle at the tail to the critical node
        (:class:`~foldgraph.engine.tail.Tail`), on a backend of several
        workers that can raise a node's threads.

    Returns
    -------
    dict of str to NodeResult

    Raises
    ------
    TaskError
        A node raised; the original exception is chained as ``__cause__``.
    NodeTimeout
        A node ran longer than ``backend.timeout`` seconds (the backend's
        ``wait()`` wakes up in time to tell).

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, map_graph
    >>> from foldgraph.engine.backends import Sequential
    >>> from foldgraph.engine.job import Job
    >>> from foldgraph.engine.strategies import resolve
    >>> from foldgraph.engine.trace import Trace
    >>> from foldgraph.testing import OLS
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> g = map_graph(Learner(OLS(), FoldIndex(2), name="ols"), "fit", X=X, y=X @ [1.0, 2.0])
    >>> job = Job("fit", X, X @ [1.0, 2.0])
    >>> buffers = job.allocate(g)
    >>> trace = Trace(1)
    >>> results = run_graph(g, job, Sequential(), resolve("fifo"), trace)
    >>> [event.key for event in trace.events]
    ['ols/fit/fold-0', 'ols/fit/fold-1', 'ols/fit/full']
    >>> results["ols/fit/full"].estimator.coef_.round(6), buffers["P:ols"].ravel().round(6)
    (array([1., 2.]), array([ 2.,  8., 14., 20.]))
    >>> job.release()

    A failed node stops the run, naming its task and node:

    >>> class Broken(OLS):
    ...     def fit(self, X, y):
    ...         raise ZeroDivisionError("no luck")
    >>> g = map_graph(Learner(Broken(), FoldIndex(2), name="broken"), "fit", X=X, y=X[:, 0])
    >>> buffers = job.allocate(g)
    >>> run_graph(g, job, Sequential(), resolve("fifo"), Trace(1))
    Traceback (most recent call last):
      ...
    foldgraph.errors.TaskError[ZeroDivisionError]: task 'broken' failed at node 'broken/fit/fold-0': ZeroDivisionError: no luck
    >>> job.release()
    """
    with gc_paused():
        return _run(graph, job, backend, strategy, trace, verbose, cached,
                    (memory_limit, keep, policy, release, tail))  # fmt: skip


def _budget(graph, job, backend, limits, state):
    """The run's Budget (None: the fast path), once the backend's workers are up."""
    limit, keep, policy, release, _ = limits
    cores = max(available_cpus(), backend.n_workers)
    free = job.free if release is None else lambda name: release(name, state.results)
    return make_budget(graph, limit, cores, keep=keep, release=free, policy=policy,
                       idle=lambda: idle_memory(tree_pids()), done=state.done)  # fmt: skip


def _tail(graph, backend, limits):
    """The run's Tail (None: no node may be raised, or one worker, or cores it cannot raise)."""
    cores = min(available_cpus(), backend.n_workers)
    if not limits[-1] or not backend.moldable or cores < 2:
        return None
    tail = Tail(graph, cores)
    return tail if tail.raisable else None


def _run(graph, job, backend, strategy, trace, verbose, cached, limits) -> dict:
    t0 = time.perf_counter()
    backend.prepare(graph)  # e.g. which modules worker processes preload
    backend.start(job)
    trace.n_workers = backend.n_workers  # a dask cluster says how many it has once started
    priority = strategy.priorities(graph, backend.n_workers)
    state = start_state(graph.nx, priority, cached, graph.children)
    state.budget = _budget(graph, job, backend, limits, state)
    tail = _tail(graph, backend, limits)
    select = selector(strategy)
    # a strategy with its own select() orders every node itself, and a budget admits
    # every node itself: nothing follows
    gated = state.budget is not None and state.budget.gates
    follows = select is None and not gated and backend.follow_below is not None
    total, n_cached = len(graph.nx), len(cached or ())
    progress = Progress(total - n_cached) if verbose else None
    # bound once: this loop runs once per node
    running, dependents = state.running, state.dependents
    submit, wait, free_slots, record = backend.submit, backend.wait, backend.free_slots, trace.record
    attrs_of, fresh = graph.attrs, []  # fresh: submitted or finished since follow() ran
    try:
        while state.ready or running:
            while state.ready:
                free = free_slots()
                if tail is not None:  # a raised node's borrowed cores keep workers idle
                    free = tail.slots(free, running)
                if free <= 0:
                    break
                keys = admit(state, free, graph, select)
                if not keys:  # a budget: what is ready does not fit beside what runs
                    break
                grants = tail.start(state, keys, time.perf_counter() - t0) if tail else {}
                if grants:
                    trace.raised.update(grants)
                for key in keys:
                    submit(make_payload(graph, key, state, grants.get(key)))
                    if follows and dependents[key]:
                        fresh.append(key)
            if fresh and not state.ready:
                fresh = follow(graph, state, backend, fresh)
            for done in wait():
                if done.error is not None:
                    _failed(graph, done)
                finish(state, done.key, done.result)
                if tail is not None:
                    tail.finish(done.key)
                if follows and dependents[done.key]:
                    fresh.append(done.key)  # its dependents may follow now
                record(_event(done, attrs_of(done.key), t0))
                if progress is not None:
                    progress.advance(done.key, running, done.end - done.start,
                                     len(state.done) - n_cached)  # fmt: skip
    except BaseException:
        backend.shutdown(abort=True)
        raise
    finally:
        if progress is not None:
            progress.close()
    if len(state.done) != total:  # unreachable for a validated (acyclic) graph
        raise RuntimeError(f"{total - len(state.done)} nodes never became ready")
    return state.results
