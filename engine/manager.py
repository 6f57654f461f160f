"""ParallelProcessing: build the graph of a job, run it, return its outputs.

The user-facing manager of the "Parallel Mechanics" tutorial. ``map`` and
``stack`` are ``initialize`` followed by ``process``; ``run`` executes a graph
built by hand. Every run validates its graph before any node runs, records
a :class:`~foldgraph.engine.trace.Trace` on ``manager.trace`` and releases
its buffers on success, error or interrupt; ``clear()`` (or leaving a
``with`` block) also stops the backend's workers.
"""

from __future__ import annotations

import sys
import threading

import numpy as np

from foldgraph.graph._gc import gc_paused
from foldgraph.graph.binding import bind
from foldgraph.graph.resources import check_thread_mode, set_cores
from foldgraph.graph.taskgraph import check_dtype

from ._backend_set import BackendSet
from ._handle import Handle
from ._options import (
    available_cpus,
    check_backend,
    check_n_jobs,
    check_retries,
    check_threads,
    check_weights_built,
)
from ._timeouts import check_timeout
from ._tutorial import TutorialAPI
from .admission import parse_memory_limit
from .assemble import attach_fitted, check_return_preds, collect_outputs
from .backends import SHARED
from .cache import make_plan, resolve_cache, restore_hits
from .costs import CostModel
from .dask_backend import check_options as _check_dask
from .job import Job
from .liveness import Keeper, kept_buffers
from .memmodel import MemoryModel
from .processes import check_start_method
from .scheduler import run_graph
from .strategies import resolve
from .trace import Trace

__all__ = ["ParallelProcessing", "available_cpus"]


class ParallelProcessing(TutorialAPI, Handle):
    """Run task graphs of learners and transformers on a backend.

    Parameters
    ----------
    backend : {"auto", "sequential", "threading", "multiprocessing", "dask"}, default="auto"
        How nodes run. ``"auto"`` picks, run by run, ``"sequential"`` or
        ``"multiprocessing"`` from the estimated work and what starting or
        waking worker processes costs (:mod:`foldgraph.engine.auto`; the
        choice is on ``trace.backend`` and ``trace.reason``). Otherwise: one
        by one in the calling thread, a pool of threads over the parent's
        arrays, worker processes attached to shared-memory buffers (taken
        from this process's pool of idle workers at the first run, given
        back by :meth:`clear`: :mod:`foldgraph.engine.pool`), or a
        dask.distributed cluster (``client=``, ``address=``, or a LocalCluster
        of ``n_jobs`` workers started at the first run and closed by
        :meth:`clear`; ``pip install 'foldgraph[dask]'``).
    n_jobs : int, default=-1
        Workers; -1 means every CPU this process may use.
    strategy : str, Strategy or callable, default="critical_path"
        Order of the ready nodes: ``"fifo"``, ``"lpt"``, ``"critical_path"``
        or ``fn(ready, graph, state) -> ordered keys``.
    retries : int, default=1
        Times a node is retried when its worker dies (process backends).
    verbose : bool, default=False
        Show a progress bar over the nodes on stderr (tqdm, naming the
        running nodes; one line per node if tqdm is not installed).
    start_method : {"forkserver", "spawn", "fork"}, optional
        How worker processes start (``"multiprocessing"`` backend).
        Default: ``"forkserver"`` where available, which is safe with
        threads in the parent; ``"fork"`` is not.
    threads_per_worker : int, "auto" or None, default="auto"
        BLAS/OpenMP threads per worker process. ``"auto"``: 1 when there
        are several workers (no oversubscription), no cap otherwise;
        ``None``: never cap.
    cache : None, str, Path, NodeCache or dict, default=None
        Reuse the results of nodes whose content did not change (see
        :mod:`foldgraph.engine.cache`): a directory path or a
        :class:`~foldgraph.engine.cache.NodeCache` keeps them on disk, a
        ``dict`` in memory; ``None`` runs every node. A hit restores the
        node's fitted estimator and prediction rows without running it;
        ``trace.cached`` lists the hits. Only ``"fit"`` jobs are cached.
    client : distributed.Client, optional
        With ``backend="dask"``: run on this client's cluster (never closed
        by foldgraph).
    address : str, optional
        With ``backend="dask"``: connect to the scheduler at this address
        (``"tcp://host:8786"``); the connection is closed by :meth:`clear`.
    dtype : np.float64 or np.float32, default=np.float64
        Of the buffers a run computes (predictions, propagated features) and
        of the arrays returned, for ``map``, ``stack`` and ``run`` (which
        sets it on the graph: :meth:`TaskGraph.set_dtype`). float64 keeps
        the precision scikit-learn gives. float32 halves the memory of those
        buffers (and of what workers send back) but keeps ~7 significant
        digits (a target near 1e8 loses its last units) and cannot hold
        values beyond ~3.4e38: a node whose predictions would overflow fails,
        naming the node. Any other dtype is refused (ValueError).
    timeout : float or None, default=None
        Seconds a node may run; a positive number, or None for no limit. A
        node over it fails the run with :class:`~foldgraph.errors.NodeTimeout`
        (a ``TaskError`` and a ``TimeoutError``, naming the node; never
        retried). ``"multiprocessing"`` kills the node's worker and starts a
        fresh one. ``"sequential"`` and ``"threading"`` run it in a daemon
        thread and return control at once: the abandoned thread runs on in
        the background until its estimator returns (Python cannot stop a
        thread) but never blocks the interpreter's exit. ``"dask"`` cancels
        the run and restarts the node's worker (its nanny starts a fresh
        one; a worker without a nanny is closed); a node's clock starts when
        it runs on a worker (as its heartbeats tell the scheduler), never
        while it is queued. On ``"multiprocessing"`` a node's
        clock starts when the parent sees it start: one queued behind cheap
        nodes may time out up to a quarter of ``timeout`` late.
    memory_limit : None, int or str, default=None
        Bytes a run may hold (``"6GB"``, ``"512MiB"``, ``"75%"`` of the machine's):
        nodes start, in the strategy's order, while idle processes + live buffers +
        running nodes' ``memory`` estimates fit (see :mod:`~foldgraph.engine.admission`).
    threads : {"safe", "auto"} or None, default="safe"
        Whose ``n_jobs`` foldgraph sets on a fit's clone (:mod:`~foldgraph.graph.resources`):
        "safe" forests, k-NN; "auto" all (BLAS/OpenMP may differ in the last bits); None none.
    tail : bool, default=True
        Give cores left idle near a run's end to the critical node whose threads may be
        set (:mod:`~foldgraph.engine.tail`); predictions keep their last bits.

    Attributes
    ----------
    job : Job or None
        The job set by :meth:`initialize`, until :meth:`clear`.
    graph : TaskGraph or None
        The graph of the last run.
    trace : Trace or None
        What ran where and when in the last run.
    costs : CostModel
        Durations measured in earlier runs of this manager, used as the
        nodes' cost estimates (by task name, op and fold size) when the same
        tasks run again; other nodes keep the modelled estimate.
    memory : MemoryModel
        Node peaks measured in earlier runs, set before each run as the nodes'
        ``memory`` estimates like ``costs`` (see :mod:`foldgraph.engine.memmodel`).
    fingerprints : dict
        Content fingerprint of each node of the last run (empty without a
        cache; None for a node that is never cached).

    Notes
    -----
    A manager may be shared between threads (say, one ensemble built with
    ``backend=ParallelProcessing(...)`` predicting in a web service): its
    runs are serialized. ``map``, ``stack`` (initialize and process as one
    step), ``run``, ``plan`` and ``clear`` hold a per-manager lock, so a
    second caller waits for the current run to end, then runs on the same
    workers; every caller gets its own run's results. ``job``, ``graph``
    and ``trace`` describe the last run (of whichever thread). Calling
    ``initialize`` and ``process`` separately from several threads can pair
    one thread's job with another's tasks: use ``map`` or ``stack`` there.
    A node may not call the manager running it (RuntimeError). For runs in
    parallel, give each thread its own manager.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import Learner, FoldIndex
    >>> from foldgraph.testing import OLS
    >>> X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    >>> with ParallelProcessing(n_jobs=2) as manager:
    ...     P = manager.map(Learner(OLS(), FoldIndex(2)), "fit", X, y, return_preds=True)
    >>> P.shape, P.dtype
    ((10, 1), dtype('float64'))
    """

    def __init__(
        self,
        backend: str = "auto",
        n_jobs: int = -1,
        strategy="critical_path",
        retries: int = 1,
        verbose: bool = False,
        start_method: str | None = None,
        threads_per_worker="auto",
        cache=None,
        client=None,
        address=None,
        dtype=np.float64,
        timeout=None,
        memory_limit=None,
        threads="safe",
        tail=True,
    ):
        self.backend, self._dtype, self.dtype = check_backend(backend), check_dtype(dtype), dtype
        _check_dask(self.backend, client, address)
        self.client, self.address = client, address
        self.n_jobs, n_workers = n_jobs, check_n_jobs(n_jobs)
        self._n_workers = 1 if backend == "sequential" else n_workers
        self.strategy, self._strategy = strategy, resolve(strategy)
        self.retries, self.verbose = check_retries(retries), verbose
        self.start_method = check_start_method(start_method)
        self.threads_per_worker = check_threads(threads_per_worker)
        self.timeout, self.threads = check_timeout(timeout), check_thread_mode(threads)
        self.tail = bool(tail)
        self.memory_limit, self._memory_limit = memory_limit, parse_memory_limit(memory_limit)
        self.job = self.graph = self.trace = None  # a Job, TaskGraph and Trace once run
        self.costs = CostModel()
        self.memory = MemoryModel()
        self._backends = BackendSet(self.backend, self._n_workers, retries=self.retries,
                                    start_method=self.start_method, client=client,
                                    threads_per_worker=self.threads_per_worker, address=address)  # fmt: skip
        self.cache, self._cache, self.fingerprints = cache, resolve_cache(cache), {}
        self._lock, self._running = threading.RLock(), False  # one run at a time (class doc)

    def __repr__(self) -> str:
        dtype = "" if self._dtype == "float64" else f", dtype=np.{self._dtype}"
        return (
            f"ParallelProcessing(backend={self.backend!r}, n_jobs={self.n_jobs!r}, "
            f"strategy={self.strategy!r}{dtype})"
        )

    # -- the tutorial's API -------------------------------------------------
    def exclusive(self):
        """A context in which no other thread runs on this manager.

        Runs are serialized anyway; hold this to make several calls and the
        reading of ``trace`` one step (as an ensemble's ``fit`` does).

        Examples
        --------
        >>> with ParallelProcessing("sequential") as manager, manager.exclusive():
        ...     manager.trace is None
        True
        """
        return self._lock

    def run(self, graph, X, y=None, return_preds=False, sample_weight=None):
        """Run a graph built by hand (or by a builder) on ``X`` and ``y``.

        ``sample_weight`` must be given if (and only if) the graph was built
        with weights: ``TaskGraph(job, X, y, sample_weight=w)``. The graph's
        computed buffers take the manager's ``dtype`` (``graph.set_dtype``).
        """
        graph.validate()
        check_weights_built(graph, sample_weight)
        job = Job(graph.job, X, y, return_preds=return_preds, sample_weight=sample_weight)
        graph = bind(graph, job.X, job.y)  # a builder's graph, for these rows
        with self._lock:
            graph.set_dtype(self._dtype)
            self.job = job
            return self._execute(graph, job, return_preds)

    def plan(self, graph, X, y=None, sample_weight=None):
        """Which nodes of ``graph`` would run on ``X``, ``y`` and which come from the cache.

        Nothing runs and nothing is written. A cached entry found corrupt
        at run time is recomputed, so the run may do more than planned.

        Returns
        -------
        Plan
            ``plan.run`` and ``plan.cached`` (node keys); ``plan.to_dot()``
            draws the graph with the cached nodes greyed out.

        Examples
        --------
        >>> import numpy as np
        >>> from foldgraph import FoldIndex, Learner, map_graph
        >>> from foldgraph.testing import OLS
        >>> X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
        >>> pp = ParallelProcessing("sequential", cache={})
        >>> _ = pp.run(map_graph(Learner(OLS(), FoldIndex(2), name="a"), "fit", X, y), X, y)
        >>> g = map_graph([Learner(OLS(), FoldIndex(2), name="a"),
        ...                Learner(OLS(offset=1), FoldIndex(2), name="b")],
        ...               "fit", X, y)
        >>> pp.plan(g, X, y).run
        ('b/fit/fold-0', 'b/fit/fold-1', 'b/fit/full')
        """
        graph.validate()
        job = Job(graph.job, X, y, sample_weight=sample_weight)
        graph = bind(graph, job.X, job.y)
        with self._lock:  # the cache is read while no run writes it
            return make_plan(graph, job, self._cache)

    def clear(self) -> None:
        """Release the job's buffers and stop the workers (idempotent).

        Called while another thread runs a graph on this manager, it waits
        for that run to end.
        """
        with self._lock:
            if self.job is not None:
                self.job.release()
            self.job = None
            self._backends.shutdown()

    # -- internals ----------------------------------------------------------
    def _execute(self, graph, job: Job, return_preds):
        # called with self._lock held: runs of one manager never overlap
        if self._running:  # only the running thread itself gets here (the lock is reentrant)
            raise RuntimeError(
                "a node called the manager that is running it: give the estimator its "
                "own ParallelProcessing (or backend='sequential')"
            )
        self._running = True
        # the cyclic GC is paused for the whole run (allocation, loop, attaching results):
        # a full collection walks every node's attributes, tens of us per node on big graphs
        try:
            with gc_paused():
                return self._execute_paused(graph, job, return_preds)
        finally:
            self._running = False

    def _execute_paused(self, graph, job: Job, return_preds):
        names = check_return_preds(graph, return_preds)
        self.graph = graph
        choice = self._backends.choose(graph)
        self.trace = trace = Trace(self._n_workers, graph=graph)
        trace.backend, trace.reason = choice.backend, choice.reason
        if self.verbose and choice.reason:
            print(f"foldgraph: backend {choice.backend!r} ({choice.reason})", file=sys.stderr)
        try:
            job.allocate(graph, shared=choice.backend in SHARED)
            self.costs.apply(graph)
            self.memory.apply(graph)
            self.fingerprints, hits = restore_hits(graph, job, self._cache, self.trace)
            backend = self._backends.get(choice.backend)
            set_cores(graph, available_cpus(), backend.n_workers, self.threads)
            backend.timeout = check_timeout(self.timeout)  # set since?
            # a buffer is released after its last reader, its cache entries and copy saved first
            keeper = Keeper(graph, job, kept_buffers(graph, names), self._cache, self.fingerprints, hits)
            results = run_graph(graph, job, backend, self._strategy, self.trace, self.verbose,
                                hits, self._memory_limit, keeper.keep, release=keeper.release,
                                tail=self.tail)  # fmt: skip
            outputs = collect_outputs(graph, keeper.buffers, names, return_preds)
            attach_fitted(graph, results)
            keeper.store_rest(results)
            self.costs.update(graph, self.trace)
            self._backends.learn(graph, self.trace)
            self.memory.update(graph, self.trace)
        except (KeyboardInterrupt, SystemExit):
            self.clear()  # stop the workers too
            raise
        finally:
            self._backends.release()  # workers close the run's buffers first (processes)
            job.release()
        return outputs

    @property
    def _backend(self):  # the backend of the last run
        return self._backends.current

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the last run's worker processes (empty for in-process backends)."""
        return self._backends.pids
