"""``backend="auto"``: each run picks sequential or worker processes.

The choice is a comparison of two estimated times for the run:

- **sequential**: the work ``W``, the sum of the nodes' costs: durations
  measured in earlier runs of this process (any manager, any ensemble:
  a process-wide table keyed like :class:`~foldgraph.engine.costs.CostModel`
  plus the node's modelled cost, so candidates of a grid search with other
  sizes are told apart), otherwise the modelled cost
  (:func:`~foldgraph.graph.estimate.estimate_cost`) plus :data:`NODE_FLOOR`;
- **processes**: ``max(W / P, longest node) + N x NODE_OVERHEAD / P +
  RUN_OVERHEAD + wake``, with ``P`` workers, ``N`` nodes, and ``wake`` the
  cost of the workers the pool (:mod:`foldgraph.engine.pool`) cannot lend:
  :data:`FIRST_START` seconds when this process has started no worker yet
  (the fork server imports numpy and scikit-learn once), then the measured
  start time per worker.

Processes win when they are at least :data:`MARGIN` faster. A run that
loses only by the start of cold workers still counts: the time it could
have saved with warm workers is added up, and once the sum reaches the
start cost the pool is started anyway (the ski-rental rule: never pay
more than twice the best choice made knowing the future). Runs of the
same shape later find the pool warm.

Such a run also starts the workers in a background thread (the run itself
goes on sequential in yours, on one core): the next run finds them idle in
the pool. A run that comes while they are still starting counts only the
time left of that start as ``wake``; if processes win, it waits for them
(:class:`~foldgraph.engine._backend_set.BackendSet`) rather than start as
many others beside them on the same cores. Sequential is also chosen, and the reason said, with one worker, with a
single node, when an estimator cannot be pickled for a worker process, and
inside another pool's worker: a daemonic process (a foldgraph worker, a
multiprocessing pool, most dask workers), a dask worker, or a joblib worker
(``GridSearchCV(ensemble, n_jobs=2)``), so 2 candidates x 2 processes never
run on 2 cores. The choice is recorded on the run's trace (``trace.backend``,
``trace.reason``) and printed with ``verbose=True``.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from typing import NamedTuple

from .costs import cost_key

__all__ = ["Choice", "choose", "nested_in", "learn", "forget", "estimated_work", "start_seconds",
           "NODE_FLOOR",
           "NODE_OVERHEAD", "RUN_OVERHEAD", "FIRST_START", "MARGIN"]  # fmt: skip

#: seconds added to a node's modelled cost (input checks, cloning: scikit-learn's fixed cost)
NODE_FLOOR = 5e-4
#: seconds per node of the process backend (payload, round trip, the fitted estimator back)
NODE_OVERHEAD = 4e-4
#: seconds per run of the process backend (segment, copy of X, attaching)
RUN_OVERHEAD = 0.01
#: seconds to start the first workers of a process (the fork server's imports)
FIRST_START = 1.5
#: seconds to start one more worker once the fork server runs (until measured)
WORKER_START = 0.08
#: processes must be this much faster than sequential (estimates are rough)
MARGIN = 0.85

# what this process has learned (plain data; the GIL makes each update atomic enough:
# a lost update only costs an estimate)
_DURATIONS: dict[tuple, float] = {}
_STARTS = {"first": None, "per_worker": None}
_FORGONE = {"seconds": 0.0}


class Choice(NamedTuple):
    """The backend a run of ``backend="auto"`` takes, and why; ``prewarm``: start the
    pool's workers in the background meanwhile, for the next runs.

    Examples
    --------
    >>> Choice("sequential", "one worker").backend
    'sequential'
    """

    backend: str
    reason: str
    prewarm: bool = False


def _key(attrs: dict) -> tuple:
    model = attrs.get("model_cost")
    if model is None:  # the builder's estimate, kept before measured costs replace it
        model = attrs["model_cost"] = attrs.get("cost", 0.0)
    return (*cost_key(attrs), round(float(model), 12))


def estimated_work(graph) -> tuple[float, float]:
    """``(sum, max)`` of the estimated seconds of ``graph``'s nodes (see the module docstring).

    Examples
    --------
    >>> from foldgraph.graph import TaskGraph
    >>> g = TaskGraph()
    >>> g.add_node("a/fit/fold-0", task="a", op="fit", train=((0, 10),), cost=0.2)
    >>> g.add_node("a/fit/fold-1", task="a", op="fit", train=((0, 10),), cost=0.1)
    >>> [round(s, 4) for s in estimated_work(g)]
    [0.301, 0.2005]
    """
    total = longest = 0.0
    for attrs in graph.node_attrs.values():
        seconds = _DURATIONS.get(_key(attrs))
        if seconds is None:
            seconds = attrs.get("model_cost", 0.0) + NODE_FLOOR
        total += seconds
        longest = max(longest, seconds)
    return total, longest


def learn(graph, trace, start_seconds: float = 0.0, started: int = 0, first: bool = False) -> None:
    """Remember the durations of ``trace``'s nodes and how long starting workers took.

    Examples
    --------
    >>> from foldgraph.engine.trace import Trace, TraceEvent
    >>> from foldgraph.graph import TaskGraph
    >>> g = TaskGraph()
    >>> g.add_node("b/fit/fold-0", task="b", op="fit", train=((0, 10),), cost=0.001)
    >>> trace = Trace()
    >>> trace.record(TraceEvent("b/fit/fold-0", "b", 0, 1, 0.0, 0.25, 0))
    >>> learn(g, trace)
    >>> round(estimated_work(g)[0], 3)  # measured: 0.25 s, not the model's 0.0015
    0.25
    """
    nodes = graph.node_attrs
    for event in trace.events:
        attrs = nodes.get(event.key)
        if attrs is not None:
            _DURATIONS[_key(attrs)] = event.end - event.start
    if started:
        if first:
            _STARTS["first"] = start_seconds
        else:
            _STARTS["per_worker"] = start_seconds / started


def forget() -> None:
    """Forget what this process learned: durations, worker start times, time forgone.

    Examples
    --------
    >>> forget(); len(_DURATIONS)
    0
    """
    _DURATIONS.clear()
    _STARTS.update(first=None, per_worker=None)
    _FORGONE["seconds"] = 0.0


def nested_in() -> str | None:
    """What parallel pool this code runs in, if any (then ``"auto"`` runs sequential).

    Examples
    --------
    >>> nested_in() is None  # the main process of a test run
    True
    """
    if mp.current_process().daemon:
        return "a daemonic process (a foldgraph, multiprocessing or dask worker)"
    if "distributed" in sys.modules:
        try:
            sys.modules["distributed"].get_worker()
            return "a dask worker"
        except (ValueError, AttributeError):
            pass
    if "joblib" in sys.modules:
        try:
            from joblib.parallel import get_active_backend

            backend, _ = get_active_backend()
        except Exception:  # noqa: BLE001 - a joblib too old or too new to say
            return None
        if (getattr(backend, "nesting_level", 0) or 0) > 0:
            return f"a joblib worker ({type(backend).__name__})"
    return None


def start_seconds(n_workers: int, idle: int) -> float:
    """Seconds to start the workers the pool cannot lend: learned in this process, else
    :data:`FIRST_START` for the first ones of a process and ``WORKER_START`` each after.

    Examples
    --------
    >>> start_seconds(2, idle=2)  # the pool lends both: nothing to start
    0.0
    """
    missing = n_workers - idle
    if missing <= 0:
        return 0.0
    from .pool import worker_pool

    if worker_pool().started == 0:
        first = _STARTS["first"]
        return FIRST_START if first is None else first
    per = _STARTS["per_worker"]
    return missing * (WORKER_START if per is None else per)


def _unpicklable(graph) -> str | None:
    import cloudpickle

    for name, task in graph.tasks.items():
        try:
            cloudpickle.dumps(getattr(task, "estimator", task))
        except Exception as exc:  # noqa: BLE001 - any reason a worker could not get it
            return f"the estimator of task {name!r} cannot be pickled ({type(exc).__name__})"
    return None


def choose(graph, n_workers: int, idle: int = 0, wake: float | None = None) -> Choice:
    """Pick the backend of one run of ``graph`` (see the module docstring).

    Parameters
    ----------
    graph : TaskGraph
    n_workers : int
        Workers the run may use.
    idle : int
        Of those, workers the pool can lend at once.
    wake : float, optional
        Seconds to start the missing ones; default: learned in this process.

    Examples
    --------
    >>> from foldgraph.graph import TaskGraph
    >>> g = TaskGraph()
    >>> for i in range(4):
    ...     g.add_node(f"a/fit/fold-{i}", task="a", op="fit", train=((0, i + 1),), cost=0.5)
    >>> choose(g, 2, idle=2)
    Choice(backend='multiprocessing', reason='2.00 s of work: about 1.01 s on 2 worker processes', prewarm=False)
    >>> choose(g, 1).reason
    'one worker'
    """
    if n_workers <= 1:
        return Choice("sequential", "one worker")
    if len(graph.nx) <= 1:
        return Choice("sequential", "a single node")
    pool = nested_in()
    if pool is not None:
        return Choice("sequential", f"running inside {pool}: no nested worker processes")
    work, longest = estimated_work(graph)
    spread = max(work / n_workers, longest)
    busy = spread + len(graph.nx) * NODE_OVERHEAD / n_workers + RUN_OVERHEAD
    wake = start_seconds(n_workers, idle) if wake is None else wake
    text = f"{work:.2f} s of work"
    if busy + wake <= MARGIN * work:
        why = _unpicklable(graph)
        if why is not None:
            return Choice("sequential", why)
        return Choice("multiprocessing", f"{text}: about {busy + wake:.2f} s on "
                                         f"{n_workers} worker processes")  # fmt: skip
    if busy <= MARGIN * work:  # warm workers would win: pay for them once it adds up
        _FORGONE["seconds"] += work - busy
        if _FORGONE["seconds"] >= wake and _unpicklable(graph) is None:
            _FORGONE["seconds"] = 0.0
            return Choice("multiprocessing", f"{text}: starting worker processes ({wake:.2f} s) "
                                             "now pays for itself over this and earlier runs")  # fmt: skip
        prewarm = _unpicklable(graph) is None
        later = "; starting them in the background for the next runs" if prewarm else ""
        return Choice("sequential", f"{text}: starting worker processes ({wake:.2f} s) would "
                                    f"cost more than they save ({work - busy:.2f} s){later}",
                      prewarm)  # fmt: skip
    return Choice("sequential", f"{text}: too little for {n_workers} worker processes "
                                f"(about {busy:.2f} s with them)")  # fmt: skip
