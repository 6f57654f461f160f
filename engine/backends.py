"""Backends: how a node runs, never which node runs next.

Every backend subclasses :class:`Backend`, the one contract between the
scheduler loop of :mod:`foldgraph.engine.scheduler` and the workers: four
calls (dask's ``get_async`` split) ``start(job)``, ``submit(payload)``,
``wait() -> list[Done]`` and ``shutdown(abort=False)``, and, with neutral
defaults, ``prepare(graph)``, ``free_slots()``, ``release()``, ``pids``,
``timeout`` and the followers capability (``follow_below``, ``placed()``,
``has_room(slot)``). The loop is the same for every backend, dask's included
(:mod:`foldgraph.engine.dask_backend`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from ._skconfig import caller_config, config_applied
from ._timeouts import DaemonPool
from .worker import Done, Payload, execute

__all__ = ["Backend", "Sequential", "Threads", "BACKENDS", "PLANNED", "backend_class",
           "make_backend"]


class Backend(ABC):
    """What the scheduler needs from a backend: every name it uses is declared here.

    The scheduler loop calls, per run: ``prepare(graph)``, ``start(job)``,
    then ``submit(payload)`` while ``free_slots()`` is positive and nodes
    are ready, ``wait()`` for completions, and ``shutdown(abort=True)`` if
    the run fails; the manager calls ``release()`` after each run and
    ``shutdown()`` when it is cleared. Nothing is looked up with ``getattr``:
    a capability is a class attribute with its default here.

    Attributes
    ----------
    n_workers : int
        How many nodes may run at once.
    timeout : float or None
        Seconds per node, set by the manager before a run: ``wait()`` wakes
        up in time to report a node over it as a
        :class:`~foldgraph.errors.NodeTimeout`. None: no limit.
    in_flight : int
        Nodes submitted and not yet returned by ``wait()``, for backends
        that use the default :meth:`free_slots` (they count it in ``submit``
        and ``wait``).
    follow_below : float or None
        The followers capability. None (the default): the backend takes no
        followers. A number of seconds: the scheduler may queue a waiting
        node cheaper than that on the worker running its last unfinished
        predecessors, before they end (``submit(payload, slot)``, with
        :meth:`placed` and :meth:`has_room` telling where and whether).
    pids : list of int
        Process ids of the workers (empty for in-process backends).
    moldable : bool
        Whether a node's granted threads take effect where it runs, so the
        tail policy may raise them (:class:`~foldgraph.engine.tail.Tail`):
        threads and worker processes, not dask (its workers place nodes).

    Examples
    --------
    The calls the scheduler makes, by hand, for one node:

    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, map_graph
    >>> from foldgraph.engine.job import Job
    >>> from foldgraph.engine.payload import make_payload
    >>> from foldgraph.engine.scheduler import start_state
    >>> from foldgraph.testing import OLS
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> g = map_graph(Learner(OLS(), FoldIndex(2), name="ols"), "fit", X=X, y=X @ [1.0, 2.0])
    >>> job = Job("fit", X, X @ [1.0, 2.0])
    >>> buffers = job.allocate(g)
    >>> state = start_state(g.nx, dict.fromkeys(g.nx, 0))
    >>> backend = Threads(n_jobs=2)
    >>> isinstance(backend, Backend), backend.follow_below, backend.placed()
    (True, None, {})
    >>> backend.prepare(g); backend.start(job)
    >>> backend.free_slots()
    2
    >>> backend.submit(make_payload(g, "ols/fit/fold-0", state))
    >>> [(done.key, done.error) for done in backend.wait()]
    [('ols/fit/fold-0', None)]
    >>> backend.release(); backend.shutdown()
    >>> buffers["P:ols"].ravel().round(6)  # fold 0 predicted its held-out rows 0 and 1
    array([2., 8., 0., 0.])
    >>> job.release()
    """

    n_workers: int = 1
    timeout: float | None = None
    in_flight: int = 0
    follow_below: float | None = None
    moldable = False

    def prepare(self, graph) -> None:
        """Called once per run, before :meth:`start` (e.g. which modules workers preload)."""
        return None  # neutral: nothing to prepare

    @abstractmethod
    def start(self, job) -> None:
        """Before a run: reach ``job``'s buffers (start the workers if needed)."""

    @abstractmethod
    def submit(self, payload: Payload, slot: int | None = None) -> None:
        """Run one node; must not block until it ends. ``slot``: a follower's worker."""

    @abstractmethod
    def wait(self) -> list[Done]:
        """Block until at least one submitted node is done; return their records."""

    @abstractmethod
    def shutdown(self, abort: bool = False) -> None:
        """Stop the workers; with ``abort``, drop queued nodes, do not wait for running ones."""

    def free_slots(self) -> int:
        """How many more nodes to submit now: by default one per idle worker."""
        return self.n_workers - self.in_flight

    def release(self) -> None:
        """After a run (success or not): let go of the run's buffers."""
        return None  # neutral: in-process backends hold no buffer of their own

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers (empty for in-process backends)."""
        return []

    def placed(self) -> dict:
        """``{key: worker slot}`` of the nodes in flight (followers only)."""
        return {}

    def has_room(self, slot: int) -> bool:
        """Can worker ``slot`` take one more node now (followers only)?"""
        return False


class Sequential(Backend):
    """Runs each node inline, in the calling thread, at submit time.

    ``wait()`` then returns what the earlier submits did; there is one
    worker, with id 0. Useful to debug a run: a breakpoint in an estimator
    stops in the calling thread. Each node's peak memory (``peak_bytes``) is
    measured in the calling process, as a worker process measures its own.

    Parameters
    ----------
    n_jobs : int, default=1
        Ignored: there is always one worker.
    timeout : float, optional
        Seconds per node. When set, each node runs in a helper (daemon)
        thread that the calling thread waits for at most ``timeout``: a node
        over it fails with :class:`~foldgraph.errors.NodeTimeout` and its
        thread is abandoned (it runs on until the estimator returns).

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, map_graph
    >>> from foldgraph.engine.job import Job
    >>> from foldgraph.engine.payload import make_payload
    >>> from foldgraph.engine.scheduler import start_state
    >>> from foldgraph.testing import OLS
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> g = map_graph(Learner(OLS(), FoldIndex(2), name="ols"), "fit", X=X, y=X @ [1.0, 2.0])
    >>> job = Job("fit", X, X @ [1.0, 2.0])
    >>> buffers = job.allocate(g)
    >>> state = start_state(g.nx, dict.fromkeys(g.nx, 0))
    >>> backend = Sequential()
    >>> backend.start(job)
    >>> backend.submit(make_payload(g, "ols/fit/fold-1", state))
    >>> buffers["P:ols"].ravel().round(6)  # already written: the node ran inside submit()
    array([ 0.,  0., 14., 20.])
    >>> [(done.key, done.worker) for done in backend.wait()]
    [('ols/fit/fold-1', 0)]
    >>> backend.shutdown(); job.release()
    """

    n_workers = 1

    def __init__(self, n_jobs: int = 1, timeout=None):
        self.timeout = timeout
        self._buffers: dict = {}
        self._done: list[Done] = []
        self._helper: DaemonPool | None = None
        self._config: dict | None = None

    def start(self, job) -> None:
        self._buffers = job.buffers
        self._config = caller_config()  # for the helper thread of a node timeout

    def _helped(self, payload: Payload, slot: int) -> Done:
        with config_applied(self._config):  # thread-local: see engine/_skconfig.py
            return execute(payload, self._buffers, 0)

    def submit(self, payload: Payload, slot: int | None = None) -> None:
        self.in_flight += 1
        if self.timeout is None:
            self._done.append(execute(payload, self._buffers, 0))
            return
        # with a timeout the node runs in a helper thread, waited for at most timeout
        if self._helper is None:
            self._helper = DaemonPool(1, self._helped)
        self._helper.timeout = self.timeout
        self._helper.submit(payload)

    def wait(self) -> list[Done]:
        if self._helper is not None and self._helper._pending:
            done = self._helper.wait()
        else:
            done, self._done = self._done, []
        self.in_flight -= len(done)
        return done

    def shutdown(self, abort: bool = False) -> None:
        helper, self._helper = self._helper, None
        if helper is not None:
            helper.abandon()
        self._buffers, self._done, self.in_flight = {}, [], 0


class Threads(Backend):
    """A pool of ``n_jobs`` threads over the parent's arrays, kept until shutdown.

    Worker ids are 0..n_jobs-1, one per thread. Threads share the parent's
    memory, so nothing is copied or pickled; estimators that release the
    GIL (numpy, most of scikit-learn's compiled code) run in parallel.

    Parameters
    ----------
    n_jobs : int, default=1
        Number of threads.
    timeout : float, optional
        Seconds per node: a node over it fails with
        :class:`~foldgraph.errors.NodeTimeout` and its thread is abandoned.

    Notes
    -----
    Peak memory (``peak_bytes``) is measured in the one process the threads
    share: the kernel's high-water mark is reset only when no node runs, so
    with overlapping nodes a node's peak is an upper bound that includes the
    others' memory (exact with ``n_jobs=1``; see docs/memory.md).

    The threads are daemon threads, never joined after a failure: a node
    over its timeout or a Ctrl-C returns control at once, and an abandoned
    thread runs on in the background until its estimator returns (Python
    cannot stop a thread), without blocking the interpreter's exit.

    Examples
    --------
    A whole run, the way :class:`~foldgraph.engine.ParallelProcessing` does it:

    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, map_graph
    >>> from foldgraph.engine.job import Job
    >>> from foldgraph.engine.scheduler import run_graph
    >>> from foldgraph.engine.strategies import resolve
    >>> from foldgraph.engine.trace import Trace
    >>> from foldgraph.testing import OLS
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> g = map_graph(Learner(OLS(), FoldIndex(2), name="ols"), "fit", X=X, y=X @ [1.0, 2.0])
    >>> job = Job("fit", X, X @ [1.0, 2.0])
    >>> buffers = job.allocate(g)
    >>> backend = Threads(n_jobs=2)
    >>> results = run_graph(g, job, backend, resolve("fifo"), Trace(backend.n_workers))
    >>> sorted(results), buffers["P:ols"].ravel().round(6)
    (['ols/fit/fold-0', 'ols/fit/fold-1', 'ols/fit/full'], array([ 2.,  8., 14., 20.]))
    >>> backend.shutdown(); job.release()
    """

    moldable = True

    def __init__(self, n_jobs: int = 1, timeout=None):
        self.n_workers = n_jobs
        self.timeout = timeout
        self._pool: DaemonPool | None = None
        self._buffers: dict = {}
        self._config: dict | None = None

    def _run(self, payload: Payload, slot: int) -> Done:
        with config_applied(self._config):  # the caller's, thread-local: engine/_skconfig.py
            return execute(payload, self._buffers, slot)

    def start(self, job) -> None:
        self._buffers = job.buffers
        self._config = caller_config()  # start() runs in the calling thread
        if self._pool is None:
            self._pool = DaemonPool(self.n_workers, self._run)
        self._pool.timeout = self.timeout

    def submit(self, payload: Payload, slot: int | None = None) -> None:
        self.in_flight += 1
        self._pool.submit(payload)

    def wait(self) -> list[Done]:
        done = self._pool.wait()
        self.in_flight -= len(done)
        return done

    def shutdown(self, abort: bool = False) -> None:
        """Stop the threads; with ``abort``, drop queued nodes and abandon running ones.

        Without ``abort`` every node has ended (the scheduler waited for
        them). With it (a failed or interrupted run), running nodes are not
        waited for: their daemon threads run on in the background until
        their estimators return, and never block the interpreter's exit.
        """
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.abandon()
        self._buffers, self.in_flight = {}, 0


BACKENDS = {"sequential": Sequential, "threading": Threads, "multiprocessing": None, "dask": None}
#: backends with a planned implementation, refused with a clear message for now
PLANNED = ()
#: backends whose workers reach buffers through shared memory
SHARED = ("multiprocessing",)


def backend_class(name: str) -> type:
    """The class of backend ``name`` (the optional ones imported only when asked for).

    Examples
    --------
    >>> [backend_class(name).__name__ for name in BACKENDS]
    ['Sequential', 'Threads', 'Processes', 'Dask']
    """
    if name == "multiprocessing":
        from .processes import Processes

        return Processes
    if name == "dask":  # distributed is optional: imported when a Dask backend runs
        from .dask_backend import Dask

        return Dask
    return BACKENDS[name]


def make_backend(name: str, n_jobs: int, **options):
    """Instantiate backend ``name`` with ``n_jobs`` workers (validated by the caller).

    Parameters
    ----------
    name : {"sequential", "threading", "multiprocessing", "dask"}
    n_jobs : int
        Workers, already resolved (a positive int).
    **options
        Passed to :class:`~foldgraph.engine.processes.Processes` (e.g.
        ``start_method``, ``retries``, ``timeout``) or to the dask backend;
        the in-process backends take ``timeout`` only.

    Returns
    -------
    Backend
        Not started: worker processes start at the first run.

    Examples
    --------
    >>> make_backend("threading", 2).n_workers
    2
    >>> type(make_backend("multiprocessing", 2, retries=0)).__name__  # no process started yet
    'Processes'
    """
    return backend_class(name)(n_jobs, **options)
