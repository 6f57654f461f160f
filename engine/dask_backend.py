"""The dask.distributed backend: the same task graph on a dask cluster, handed over
whole by :meth:`Dask.run_graph` (dask's scheduler places and orders the work, not
the loop of :mod:`foldgraph.engine.scheduler`). A run's state:

- ``inputs``  :: {"X" | "y" | "w": Future}  scattered once per run, to every
  worker (scattered data has no recipe to recompute it from);
- ``futures`` :: {node key: Future}  one task per node, submitted in
  topological order with its predecessors' futures as arguments (dask's
  dependencies mirror the edges); its value is a :class:`NodeOutput`;
- ``blocks``  :: {node key: Future}  for a node whose predictions another
  node reads, a tiny task taking the block out of its output: consumers
  fetch prediction rows, never the fitted estimator.

A node's task (:func:`run_task`) rebuilds on the worker what it reads (a
buffer computed in the run, from its predecessors' blocks), runs the same
:func:`~foldgraph.engine.worker.execute` as every backend and returns the
block of its own rows, which the client writes into the job's buffers as
tasks finish, recording the trace. Strategies become dask priorities
(:func:`dask_priorities`).

Faults: dask reruns a dead worker's tasks and recomputes its lost results;
``retries`` goes to ``client.submit``. If dask cancels a node because an input
is gone for good (its last replica died), the rest of the graph is resubmitted,
finished nodes counting as cached (:data:`RESUBMITS` times at most); a node on
the dead workers ``retries + 1`` times is :class:`WorkerDied` (see ``_dask_faults``).
A node running longer than ``timeout`` restarts its worker: ``_dask_timeouts``.
"""

from __future__ import annotations

import logging
import os
import pickle
import time
import traceback
import uuid
from collections import defaultdict
from concurrent.futures import CancelledError
from types import SimpleNamespace
from typing import NamedTuple

import networkx as nx
import numpy as np

from foldgraph.errors import WorkerDied
from foldgraph.graph.nodes import node_key
from foldgraph.tasks.ops import NodeResult, put, take

from ._dask_faults import Deaths
from ._dask_timeouts import batches
from .payload import make_payload
from .scheduler import Progress, task_error
from .trace import TraceEvent
from .worker import Done, execute

__all__ = ["Dask", "NodeOutput", "run_task", "dask_priorities", "require_distributed",
           "check_options"]

INSTALL = "pip install 'foldgraph[dask]'"
#: the buffers a run scatters (the others are computed by its nodes)
INPUTS = ("X", "y", "w")
#: times the rest of a graph is resubmitted after losing an input with a worker
RESUBMITS = 3


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


class NodeOutput(NamedTuple):
    """What a node's dask task returns to the client.

    Examples
    --------
    >>> NodeOutput(NodeResult(None), None, 0.0, 1.5, "tcp://127.0.0.1:40000", 1).end
    1.5
    """

    result: NodeResult
    block: np.ndarray | None
    start: float
    end: float
    address: str
    pid: int


class InputLost(Exception):
    """dask cancelled a node: data it needs was lost with a worker (``error``: its TaskError)."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


class NodeFailed(Exception):
    """A node's estimator raised on a dask worker: ``(key, error, traceback text)``."""

    def __init__(self, key: str, error: BaseException, tb: str):
        super().__init__(key, error, tb)
        self.key, self.error, self.tb = key, error, tb


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception as err:  # noqa: BLE001 - anything may fail to pickle
        return RuntimeError(f"{type(exc).__name__}: {exc} (could not be pickled: {err})")
    return exc


def run_task(payload, data: dict, parts: list, x_spec: tuple, out_dtype: str,
             preprocess: NodeOutput | None = None, *after) -> NodeOutput:  # fmt: skip
    """Run one node on a dask worker; return its :class:`NodeOutput`.

    ``data`` holds the scattered arrays the node reads; ``parts`` the
    ``(rows, cols, block)`` its predecessors wrote into its input buffer
    (shape and dtype ``x_spec``), which is rebuilt from them; ``preprocess``
    the output of the node that fitted its transformer; ``after`` other
    predecessors, only waited for. The predictions land in a block of the
    node's own rows (dtype ``out_dtype``), returned with the estimator.

    Raises
    ------
    NodeFailed
        The estimator raised; dask ships it to the client.

    Examples
    --------
    >>> from foldgraph.engine.worker import Payload
    >>> from foldgraph.testing import OLS
    >>> X = np.arange(8.0).reshape(4, 2); y = X.sum(axis=1)
    >>> p = Payload("ols/fit/fold-0", "learner", "fit", OLS(), "X", "y", 0, ((0, 2),),
    ...             ((2, 4),), "P:ols", ((2, 4),), (0, 1))
    >>> run_task(p, {"X": X, "y": y}, [], (), "float64").block.ravel().round(6).tolist()
    [9.0, 13.0]
    """
    buffers = dict(data)
    if payload.x not in buffers:  # a buffer computed in this run: rows from predecessors
        shape, dtype = x_spec
        buffers[payload.x] = x = np.zeros(shape, dtype=dtype)
        for rows, cols, block in parts:
            put(x, rows, cols, block)
    if preprocess is not None:
        payload = payload._replace(preprocess=preprocess.result.estimator)
    block = None
    if payload.out is not None:
        n, (c0, c1) = sum(b - a for a, b in payload.out_rows), payload.cols
        buffers[payload.out] = block = np.zeros((n, c1 - c0), dtype=out_dtype)
        payload = payload._replace(out_rows=((0, n),), cols=(0, c1 - c0))
    start = time.time()
    done = execute(payload, buffers)
    end = time.time()
    if done.error is not None:
        raise NodeFailed(payload.key, _picklable(done.error), done.tb)
    try:
        from distributed import get_worker

        address = get_worker().address
    except (ImportError, ValueError):  # not on a dask worker (the example above)
        address = "local"
    return NodeOutput(done.result, block, start, end, address, os.getpid())


def block_of(output: NodeOutput) -> np.ndarray:
    """The prediction block of a node's output (a task of its own: see the module doc)."""
    return output.block


def dask_priorities(graph, strategy, n_workers: int = 1) -> dict[str, int]:
    """Dask priorities (higher runs first) from a strategy's (lower runs first).

    Nodes are ranked by the strategy's priority, ties by build order; the
    first gets ``len(graph)``, the last 1. So ``critical_path`` favours
    large bottom levels (upward rank), ``lpt`` large costs, ``fifo`` early
    build order (a topological order).

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


def _preprocess_key(graph, attrs) -> str | None:
    """The node whose fitted transformer this node applies (fit jobs only)."""
    link = attrs.get("preprocess")
    if link is None or graph.job != "fit" or attrs["kind"] == "propagate":
        return None
    parts = graph.info[link]["n_partitions"]
    return node_key(link, "fit", attrs["fold"], attrs["partition"] if parts > 1 else None)


class _Run:
    """One run of a graph on a client: scatter, submit every node, collect."""

    def __init__(self, backend: Dask, graph, job, cached: dict, priority: dict, t0: float,
                 deaths: Deaths):  # fmt: skip
        self.backend, self.client, self.graph, self.job = backend, backend.client, graph, job
        self.cached, self.priority, self.t0 = cached, priority, t0
        # what make_payload reads: cache hits, else a placeholder that run_task fills in
        self.state = SimpleNamespace(results=defaultdict(lambda: NodeResult(None), cached))
        self.token = uuid.uuid4().hex[:8]
        self.deaths = deaths  # counted over every attempt of the run
        deaths.attempt(self.token)
        self.top = len(priority) + 1  # block extraction: run as soon as possible
        self.inputs: dict = {}
        self.futures: dict = {}
        self.blocks: dict = {}
        self.names: dict = {}  # dask key -> node key

    def submit_all(self) -> None:
        """Scatter the inputs once, then submit every node not cached, predecessors first."""
        names = [n for n in INPUTS if n in self.job.buffers]  # a list: keys unique per run
        arrays = [self.job.buffers[n] for n in names]
        futures = self.client.scatter(arrays, hash=False, broadcast=True) if names else []
        self.inputs = dict(zip(names, futures))
        for key in nx.topological_sort(self.graph.nx):
            if key not in self.cached:
                self.futures[key] = future = self._submit(key)
                self.names[future.key] = key

    def _submit(self, key: str):
        graph = self.graph
        payload = make_payload(graph, key, self.state)
        data = {n: self.inputs[n] for n in (payload.x, payload.y, payload.w) if n in self.inputs}
        link = _preprocess_key(graph, graph.attrs(key))
        parts, after, preprocess = [], self.deaths.after(key, self.futures), None
        for u in graph.nx.pred[key]:
            if graph.attrs(u).get("out") == payload.x:
                parts.append(self._part(u))
            elif u == link and u not in self.cached:
                preprocess = self.futures[u]
            elif u not in self.cached:
                after.append(self.futures[u])
        spec = graph.buffers.get(payload.x)
        x_spec = () if spec is None or payload.x in data else (spec.shape, spec.dtype)
        out_dtype = graph.buffers[payload.out].dtype if payload.out else "float64"
        if graph.job != "fit":  # a fitted estimator may be large: data, not part of the graph
            payload = self.client.scatter([payload], hash=False)[0]
        return self.client.submit(
            run_task, payload, data, parts, x_spec, out_dtype, preprocess, *after,
            key=f"{key}@{self.token}", priority=self.priority[key],
            retries=self.backend.retries, pure=False,
        )  # fmt: skip

    def _part(self, u: str) -> tuple:
        """``(rows, cols, block)`` written by predecessor ``u``: a future, or a cache hit's rows."""
        attrs = self.graph.attrs(u)
        if u not in self.blocks:
            if u in self.cached:  # restored into the job's buffer before the run
                c0, c1 = attrs["cols"]
                rows = take(self.job.buffers[attrs["out"]], attrs["out_rows"])[:, c0:c1]
                self.blocks[u] = self.client.scatter(np.ascontiguousarray(rows), hash=False)
            else:
                self.blocks[u] = self.client.submit(
                    block_of, self.futures[u], key=f"{u}#block@{self.token}",
                    priority=self.top, retries=self.backend.retries, pure=False,
                )  # fmt: skip
                self.names[self.blocks[u].key] = u
        return attrs["out_rows"], attrs["cols"], self.blocks[u]

    def collect(self, results: dict, trace, progress, n_given: int) -> None:
        """Wait for the nodes; add their results to ``results``, write their blocks, trace them.

        Raises
        ------
        InputLost
            dask cancelled a node: data it needs was lost with a worker.
        TaskError
            A node failed.
        """
        for batch in batches(self):  # with a timeout, NodeTimeout of a node over it
            failed = [f for f in batch if f.status != "finished"]
            if failed:
                err, cause = self._error(failed[0])
                raise (InputLost(err) if failed[0].status == "cancelled" else err) from cause
            try:
                outs = self.client.gather(batch)
            except CancelledError:  # finished, then cancelled with the inputs it came from
                gone = next(f for f in batch if f.status == "cancelled")  # gather saw it
                raise InputLost(self._error(gone)[0]) from None
            for future, out in zip(batch, outs):
                key = self.names[future.key]
                results[key] = out.result
                attrs = self.graph.attrs(key)
                if out.block is not None and attrs.get("out") is not None:
                    put(self.job.buffers[attrs["out"]], attrs["out_rows"], attrs["cols"],
                        out.block)  # fmt: skip
                trace.record(TraceEvent(
                    key, attrs["task"], self.backend.worker_id(out.address), out.pid,
                    out.start - self.t0, out.end - self.t0, attrs.get("nbytes", 0),
                    attrs.get("bytes_read", 0), attrs.get("bytes_written", 0),
                ))  # fmt: skip
                del self.futures[key]  # the cluster keeps it while a dependent needs it
                if progress is not None:
                    progress.advance(key, (), out.end - out.start, len(results) - n_given)

    def _error(self, future) -> tuple:
        """The TaskError of a failed future, naming the node that failed, and its cause."""
        from distributed import KilledWorker

        key = self.names[future.key]
        if future.status == "cancelled":
            exc, tb = RuntimeError("dask cancelled the task: its input was lost with a worker"), ""
        else:
            exc = future.exception()
            tb = "".join(traceback.format_tb(future.traceback()))
        if isinstance(exc, NodeFailed):
            key, exc, tb = exc.key, exc.error, exc.tb
        elif isinstance(exc, KilledWorker):  # the node on the dead workers most often
            key, exc = self.deaths.killed(self.names.get(exc.task, key))
        err = task_error(self.graph, Done(key, None, exc, tb, 0, 0, 0.0, 0.0))
        return err, (None if isinstance(exc, WorkerDied) else exc)

    def cancel(self) -> None:
        """Cancel whatever still runs or waits (after a failure or an interrupt)."""
        pending = [*self.futures.values(), *self.blocks.values(), *self.inputs.values()]
        if pending:
            self.client.cancel(pending)

    def release(self) -> None:
        """Drop every future: the cluster forgets the run's data."""
        self.futures, self.blocks, self.inputs = {}, {}, {}


class Dask:
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

    Examples
    --------
    >>> backend = Dask(n_jobs=2)
    >>> backend.n_workers
    2
    >>> backend.shutdown()
    """

    def __init__(self, n_jobs: int = 1, client=None, address: str | None = None,
                 retries: int = 1):  # fmt: skip
        self.n_jobs, self.address, self.retries = n_jobs, address, retries
        self._client, self._owns_client = client, client is None
        self._cluster = None
        self._workers: dict[str, int] = {}  # address -> trace lane
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
        """Threads of the cluster's workers (``n_jobs`` before the first run)."""
        return self.n_jobs if self._client is None else max(sum(self._client.nthreads().values()), 1)

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers (empty before the first run)."""
        return [] if self._client is None else list(self._client.run(os.getpid).values())

    def worker_id(self, address: str) -> int:
        """A small int per worker address, in order of first appearance (trace lanes)."""
        return self._workers.setdefault(address, len(self._workers))

    def run_graph(self, graph, job, strategy, trace, verbose: bool = False,
                  cached: dict | None = None) -> dict:  # fmt: skip
        """Run every node of ``graph`` on the cluster; return ``{key: NodeResult}``.

        The counterpart of :func:`foldgraph.engine.scheduler.run_graph`: nodes
        in ``cached`` are not submitted, their results are returned as given.

        Raises
        ------
        ValueError
            ``strategy`` chooses among ready nodes at run time (a callable).
        TaskError
            A node raised (the original exception is the ``__cause__``), or
            its workers kept dying (:class:`~foldgraph.errors.WorkerDied`).
        """
        if getattr(strategy, "select", None) is not None:
            raise ValueError(f"backend='dask' cannot ask {strategy!r} at run time (dask picks "
                             f"the ready tasks): use 'fifo', 'lpt', 'critical_path' or 'memory'")
        repeated = next((k for k, a in graph.nx.nodes(data=True) if a.get("repeat")), None)
        if repeated is not None:  # its running mean needs the rows earlier repeats wrote
            raise ValueError(f"backend='dask' cannot average the repeats of a repeated "
                             f"splitter yet (node {repeated!r}): use backend='multiprocessing'")
        _ = self.client  # connect (or start the LocalCluster) before counting workers
        trace.n_workers = self.n_workers
        priority = dask_priorities(graph, strategy, trace.n_workers)
        results, n_given = dict(cached or {}), len(cached or ())
        deaths = Deaths(self.client)
        progress = Progress(len(graph.nx) - n_given) if verbose else None
        t0 = time.time()
        try:
            for attempt in range(RESUBMITS + 1):
                run = _Run(self, graph, job, dict(results), priority, t0, deaths)
                try:
                    run.submit_all()
                    run.collect(results, trace, progress, n_given)
                    return results
                except InputLost as lost:  # resubmit what is left; done nodes count as cached
                    run.cancel()
                    # a node on its worker at the deaths of retries + 1 attempts killed it
                    died = deaths.blame(graph, self.retries + 1, last=attempt == RESUBMITS)
                    if died is not None or attempt == RESUBMITS:
                        raise (died or lost.error) from None
                except BaseException:
                    run.cancel()
                    raise
                finally:
                    run.release()
        finally:
            if progress is not None:
                progress.close()

    def shutdown(self, abort: bool = False) -> None:
        """Close the client and the LocalCluster this backend started (idempotent)."""
        client = self._client if self._owns_client else None
        cluster, self._cluster = self._cluster, None
        if self._owns_client:
            self._client = None
        self._workers = {}
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
