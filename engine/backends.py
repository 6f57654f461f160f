"""Backends: how a node runs, never which node runs next.

Every backend implements four calls (dask's ``get_async`` split):
``start(job)``, ``submit(payload)``, ``wait() -> list[Done]`` and
``shutdown(abort=False)``, plus ``n_workers``. The scheduler loop in
:mod:`foldgraph.engine.scheduler` is the same for all of them, except
``"dask"`` (:mod:`foldgraph.engine.dask_backend`), whose ``run_graph`` hands
the whole graph to dask's own scheduler.
"""

from __future__ import annotations

from typing import Protocol

from ._timeouts import DaemonPool
from .worker import Done, Payload, execute

__all__ = ["Backend", "Sequential", "Threads", "BACKENDS", "PLANNED", "make_backend"]


class Backend(Protocol):
    """What the scheduler needs from a backend.

    Attributes
    ----------
    n_workers : int
        How many nodes may run at once.

    Methods: ``start(job)`` (before a run: reach ``job``'s buffers),
    ``submit(payload)`` (run one node; must not block until it ends),
    ``wait()`` (block until at least one submitted node is done; return their
    :class:`~foldgraph.engine.worker.Done` records) and
    ``shutdown(abort=False)`` (stop the workers; with ``abort``, drop queued
    nodes and do not wait for running ones). A backend with a ``timeout``
    attribute (seconds per node, or None) makes ``wait()`` wake up in time
    to report a node over it as a :class:`~foldgraph.errors.NodeTimeout`. A backend may also offer ``free_slots()`` (how many more nodes
    to submit now), ``prepare(graph)`` (called once before ``start``), and
    followers: ``placed()`` (``{key: worker slot}`` of the nodes in
    flight), ``has_room(slot)``, ``submit(payload, slot)`` and
    ``follow_below`` (seconds): the scheduler then queues a cheap node on
    the worker running its last unfinished predecessors, before they end.

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
    >>> backend: Backend = Threads(n_jobs=2)
    >>> backend.start(job)
    >>> backend.submit(make_payload(g, "ols/fit/fold-0", state))
    >>> [(done.key, done.error) for done in backend.wait()]
    [('ols/fit/fold-0', None)]
    >>> backend.shutdown()
    >>> buffers["P:ols"].ravel().round(6)  # fold 0 predicted its held-out rows 0 and 1
    array([2., 8., 0., 0.])
    >>> job.release()
    """

    n_workers: int

    def start(self, job) -> None: ...

    def submit(self, payload: Payload) -> None: ...

    def wait(self) -> list[Done]: ...

    def shutdown(self, abort: bool = False) -> None: ...


class Sequential:
    """Runs each node inline, in the calling thread, at submit time.

    ``wait()`` then returns what the earlier submits did; there is one
    worker, with id 0. Useful to debug a run: a breakpoint in an estimator
    stops in the calling thread.

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

    def start(self, job) -> None:
        self._buffers = job.buffers

    def submit(self, payload: Payload) -> None:
        if self.timeout is None:
            self._done.append(execute(payload, self._buffers, 0))
            return
        # with a timeout the node runs in a helper thread, waited for at most timeout
        if self._helper is None:
            self._helper = DaemonPool(1, lambda p, slot: execute(p, self._buffers, 0))
        self._helper.timeout = self.timeout
        self._helper.submit(payload)

    def wait(self) -> list[Done]:
        if self._helper is not None and self._helper._pending:
            return self._helper.wait()
        done, self._done = self._done, []
        return done

    def shutdown(self, abort: bool = False) -> None:
        helper, self._helper = self._helper, None
        if helper is not None:
            helper.abandon()
        self._buffers, self._done = {}, []


class Threads:
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

    def __init__(self, n_jobs: int = 1, timeout=None):
        self.n_workers = n_jobs
        self.timeout = timeout
        self._pool: DaemonPool | None = None
        self._buffers: dict = {}

    def _run(self, payload: Payload, slot: int) -> Done:
        return execute(payload, self._buffers, slot)

    def start(self, job) -> None:
        self._buffers = job.buffers
        if self._pool is None:
            self._pool = DaemonPool(self.n_workers, self._run)
        self._pool.timeout = self.timeout

    def submit(self, payload: Payload) -> None:
        self._pool.submit(payload)

    def wait(self) -> list[Done]:
        return self._pool.wait()

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
        self._buffers = {}


BACKENDS = {"sequential": Sequential, "threading": Threads, "multiprocessing": None, "dask": None}
#: backends with a planned implementation, refused with a clear message for now
PLANNED = ()
#: backends whose workers reach buffers through shared memory
SHARED = ("multiprocessing",)


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
    if name == "multiprocessing":
        from .processes import Processes

        return Processes(n_jobs, **options)
    if name == "dask":  # runs whole graphs itself: see engine/dask_backend.py
        from .dask_backend import Dask

        return Dask(n_jobs, **options)
    return BACKENDS[name](n_jobs, **options)
