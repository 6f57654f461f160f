"""The dask.distributed backend: the same task graph on a dask cluster, driven by the
scheduler loop of :mod:`foldgraph.engine.scheduler` like every backend.

:class:`Dask` implements :class:`~foldgraph.engine.backends.Backend`: the loop
submits each node once its predecessors are done (its strategy picks which,
as everywhere), :meth:`Dask.submit` hands it to ``client.submit`` with its
inputs as futures of the tasks that computed them, and :meth:`Dask.wait`
returns the nodes as their futures finish (``as_completed``), their blocks
of predictions written into the job's buffers. X, y and sample weights are
scattered once per run to every worker. What a run holds on the cluster,
and its resubmission after a lost input: :mod:`~foldgraph.engine._dask_run`;
what runs on a worker: :func:`run_task` (``_dask_task``).

Memory: ``memory_limit`` is the loop's, for the whole run, as on every
backend. Workers that declare a ``MEMORY`` resource (bytes) also get a
budget each: every node asks for its ``memory`` estimate of it, cut to the
largest worker's ``MEMORY`` with a warning (``_dask_resources``).

Faults: dask reruns a dead worker's tasks and recomputes its lost results;
``retries`` goes to ``client.submit``. A node on the dead workers
``retries + 1`` times is :class:`~foldgraph.errors.WorkerDied` (see
``_dask_faults``). A node running longer than ``timeout`` restarts its
worker: ``_dask_timeouts``. Errors, the trace and progress are built by the
loop from the :class:`~foldgraph.engine.worker.Done` records, as for every
backend.
"""

from __future__ import annotations

import logging
import os

from ._dask_run import DaskRun
from ._dask_task import NodeOutput, run_task
from .backends import Backend
from .scheduler import run_graph as _loop

__all__ = ["Dask", "NodeOutput", "run_task", "dask_priorities", "require_distributed",
           "check_options"]

INSTALL = "pip install 'foldgraph[dask]'"
#: nodes in flight per worker thread: the next one waits on the scheduler, not on us
PREFETCH = 2


def require_distributed():
    """Import and return ``distributed``, or raise an ImportError saying how to install it.

    Examples
    --------
    >>> require_distributed().__name__
    'distributed'
    """
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            f"backend='dask' needs dask.distributed, which is not installed: {INSTALL}"
        ) from exc
    return distributed


def check_options(backend: str, client=None, address=None) -> None:
    """Check the dask options of a manager before anything runs.

    Raises
    ------
    ImportError
        ``backend="dask"`` without dask.distributed installed.
    ValueError
        ``client``/``address`` with another backend, both, or of a wrong type.

    Examples
    --------
    >>> check_options("threading", address="tcp://127.0.0.1:8786")
    Traceback (most recent call last):
    ...
    ValueError: address= is for backend='dask', not 'threading': pass backend='dask'
    """
    for name, value in (("client", client), ("address", address)):
        if value is not None and backend != "dask":
            raise ValueError(f"{name}= is for backend='dask', not {backend!r}: pass backend='dask'")
    if backend != "dask":
        return
    distributed = require_distributed()
    if client is not None and address is not None:
        raise ValueError("pass client= or address=, not both: a client knows its scheduler")
    if client is not None and not isinstance(client, distributed.Client):
        raise ValueError(f"client= must be a distributed.Client, got {type(client).__name__}: "
                         f"pass Client(cluster) or address='tcp://host:port'")
    if address is not None and not isinstance(address, str):
        raise ValueError(f"address= must be a scheduler address string like "
                         f"'tcp://host:8786', got {type(address).__name__}")


def dask_priorities(graph, strategy, n_workers: int = 1) -> dict[str, int]:
    """Dask priorities (higher runs first) from a strategy's (lower runs first).

    Nodes are ranked by the strategy's priority, ties by build order; the
    first gets ``len(graph)``, the last 1. So ``critical_path`` favours
    large bottom levels (upward rank), ``lpt`` large costs, ``fifo`` early
    build order (a topological order). For a whole graph handed to dask's
    own scheduler (say, ``client.compute`` of tasks of your own); the
    backend does not need it: the loop submits in the strategy's order.

    Examples
    --------
    >>> from foldgraph.graph import TaskGraph
    >>> from foldgraph.engine.strategies import resolve
    >>> g = TaskGraph()
    >>> g.add_node("a", cost=1.0); g.add_node("b", cost=3.0); g.add_node("c", cost=1.0)
    >>> g.add_edge("a", "c")
    >>> dask_priorities(g, resolve("critical_path"))
    {'b': 3, 'a': 2, 'c': 1}
    >>> dask_priorities(g, resolve("fifo"))
    {'a': 3, 'b': 2, 'c': 1}
    """
    prio = strategy.priorities(graph, n_workers)
    order = {k: graph.attrs(k).get("order", i) for i, k in enumerate(graph.nx)}
    ranked = sorted(graph.nx, key=lambda k: (prio[k], order[k]))
    return {key: len(ranked) - i for i, key in enumerate(ranked)}


class Dask(Backend):
    """Runs task graphs on a dask.distributed cluster (``backend="dask"``).

    Parameters
    ----------
    n_jobs : int, default=1
        Workers (one thread each) of the LocalCluster started at the first
        run when neither ``client`` nor ``address`` is given.
    client : distributed.Client, optional
        An existing client: used as is, never closed.
    address : str, optional
        A running scheduler (``"tcp://host:8786"``): a client connects at the
        first run and :meth:`shutdown` closes it (not the cluster).
    retries : int, default=1
        Passed to ``client.submit``: times dask re-runs a task that raised.

    Notes
    -----
    :meth:`free_slots` keeps :data:`PREFETCH` nodes per worker thread in
    flight, each with a dask priority in the loop's order: when a node ends,
    dask's scheduler starts the next without waiting for this process.

    Examples
    --------
    >>> backend = Dask(n_jobs=2)
    >>> backend.n_workers, backend.follow_below
    (2, None)
    >>> backend.shutdown()
    """

    def __init__(self, n_jobs: int = 1, client=None, address: str | None = None,
                 retries: int = 1):  # fmt: skip
        self.n_jobs, self.address, self.retries = n_jobs, address, retries
        self._client, self._owns_client = client, client is None
        self._cluster = None
        self._workers: dict[str, int] = {}  # address -> trace lane
        self._threads = 0  # the cluster's worker threads, counted at each start
        self._graph = None
        self.run: DaskRun | None = None  # the run in progress, from start to release
        self.timeout = None  # seconds per node, set by the manager (see _dask_timeouts)

    @property
    def client(self):
        """The client of the cluster (connected, or the LocalCluster started, on first use)."""
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self):
        distributed = require_distributed()
        if self.address is not None:
            try:
                return distributed.Client(self.address, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise ConnectionError(f"no dask scheduler answered at address={self.address!r}: "
                                      f"start one (`dask scheduler`), pass the address it "
                                      f"prints") from exc
        self._cluster = distributed.LocalCluster(
            n_workers=self.n_jobs, threads_per_worker=1, processes=True,
            dashboard_address=":0", silence_logs=logging.ERROR,
        )  # fmt: skip
        return distributed.Client(self._cluster, set_as_default=False)

    @property
    def n_workers(self) -> int:
        """Threads of the cluster's workers, as counted at the last :meth:`start`
        (``n_jobs`` before the first run)."""
        return self._threads or self.n_jobs

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers (empty before the first run)."""
        return [] if self._client is None else list(self._client.run(os.getpid).values())

    def worker_id(self, address: str) -> int:
        """A small int per worker address, in order of first appearance (trace lanes)."""
        return self._workers.setdefault(address, len(self._workers))

    # -- the Backend contract -------------------------------------------------
    def prepare(self, graph) -> None:
        """Remember the graph: a node's task reads its predecessors' futures."""
        self._graph = graph

    def start(self, job) -> None:
        """Connect (or start the LocalCluster), count its threads, scatter the inputs."""
        self._threads = max(sum(self.client.nthreads().values()), 1)
        self.release()
        self.run = DaskRun(self, self._graph, job)

    def free_slots(self) -> int:
        return PREFETCH * self._threads - len(self.run.futures)

    def submit(self, payload, slot: int | None = None) -> None:
        self.run.submit(payload)

    def wait(self) -> list:
        return self.run.wait()

    def release(self) -> None:
        """Drop the run's futures: the cluster forgets its data."""
        run, self.run = self.run, None
        if run is not None:
            run.release()

    def run_graph(self, graph, job, strategy, trace, verbose: bool = False,
                  cached: dict | None = None) -> dict:  # fmt: skip
        """Run every node of ``graph`` on the cluster; return ``{key: NodeResult}``.

        The scheduler loop (:func:`foldgraph.engine.scheduler.run_graph`) on
        this backend: nodes in ``cached`` are not submitted, their results are
        returned as given.

        Raises
        ------
        TaskError
            A node raised (the original exception is the ``__cause__``), or
            its workers kept dying (:class:`~foldgraph.errors.WorkerDied`).
        """
        try:
            return _loop(graph, job, self, strategy, trace, verbose=verbose, cached=cached)
        finally:
            self.release()

    def shutdown(self, abort: bool = False) -> None:
        """With ``abort`` (a failed run): cancel the run's tasks, keep the cluster.
        Otherwise close the client and the LocalCluster this backend started
        (idempotent)."""
        run = self.run
        if run is not None:
            run.cancel()
            self.release()
        if abort:
            return
        client = self._client if self._owns_client else None
        cluster, self._cluster = self._cluster, None
        if self._owns_client:
            self._client = None
        self._workers, self._threads = {}, 0
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
