"""One run of a graph on a dask client, driven by the scheduler loop (private to
:mod:`foldgraph.engine.dask_backend`).

The loop submits a node once its predecessors are done; :class:`DaskRun`
turns it into a dask task whose arguments are the futures of what it reads:

- ``requests`` :: MemoryRequests  each node's ``resources=``: its memory
  estimate as the workers' ``MEMORY`` resource, when they declare one
  (``_dask_resources``);
- ``inputs``  :: {"X" | "y" | "w": Future}  scattered once per attempt, to
  every worker (scattered data has no recipe to recompute it from);
- ``futures`` :: {node key: Future}  in flight; ``payloads`` their payloads;
- ``held``    :: {node key: Future}  finished, kept on the cluster until its
  last dependent is submitted (``unsent`` counts them down);
- ``blocks``  :: {node key: Future}  for a node whose predictions another
  node reads, a tiny task taking the block out of its output: consumers
  fetch prediction rows, never the fitted estimator. A predecessor not held
  (a cache hit, or done in an earlier attempt) gives its rows from the
  job's buffers instead.

:meth:`DaskRun.wait` returns :class:`~foldgraph.engine.worker.Done` records
as futures finish (``as_completed``), having written each node's block into
the job's buffers: the loop builds trace events, errors and progress from
them, as for every backend. A node cancelled because an input is gone for
good (its last replica died) starts a new attempt: inputs scattered again,
the nodes in flight resubmitted, finished ones kept (:data:`RESUBMITS` times
at most); faults are blamed by ``_dask_faults``, timeouts by ``_dask_timeouts``.
"""

from __future__ import annotations

import itertools
import time
import traceback
import uuid
from concurrent.futures import CancelledError

import numpy as np

from foldgraph.graph.nodes import node_key
from foldgraph.tasks.ops import put, take

from ._dask_faults import Deaths
from ._dask_resources import MemoryRequests, worker_memory
from ._dask_task import NodeFailed, block_of, run_task
from ._dask_timeouts import DaskClock, next_batch
from .worker import Done

__all__ = ["DaskRun", "INPUTS", "RESUBMITS"]

#: the buffers a run scatters (the others are computed by its nodes)
INPUTS = ("X", "y", "w")
#: times the nodes in flight are resubmitted after losing an input with a worker
RESUBMITS = 3
#: dask priority of block extractions: run as soon as possible
TOP = 1 << 40


def preprocess_key(graph, attrs) -> str | None:
    """The node whose fitted transformer this node applies (fit jobs only)."""
    link = attrs.get("preprocess")
    if link is None or graph.job != "fit" or attrs["kind"] == "propagate":
        return None
    parts = graph.info[link]["n_partitions"]
    return node_key(link, "fit", attrs["fold"], attrs["partition"] if parts > 1 else None)


def _failed(key: str, error: BaseException, tb: str = "") -> Done:
    return Done(key, None, error, tb, 0, 0, 0.0, 0.0)


class DaskRun:
    """The dask side of one run of ``graph`` (see the module docstring).

    Examples
    --------
    Made by :meth:`Dask.start <foldgraph.engine.dask_backend.Dask.start>`; by hand:

    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, map_graph
    >>> from foldgraph.engine.dask_backend import Dask
    >>> from foldgraph.engine.job import Job
    >>> from foldgraph.engine.payload import make_payload
    >>> from foldgraph.engine.scheduler import start_state
    >>> from foldgraph.testing import OLS
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> g = map_graph(Learner(OLS(), FoldIndex(2), name="ols"), "fit", X=X, y=X @ [1.0, 2.0])
    >>> job = Job("fit", X, X @ [1.0, 2.0]); buffers = job.allocate(g)
    >>> backend = Dask(n_jobs=1); backend.prepare(g); backend.start(job)
    >>> run = backend.run
    >>> run.submit(make_payload(g, "ols/fit/fold-1", start_state(g.nx, dict.fromkeys(g.nx, 0))))
    >>> [(d.key, d.worker) for d in run.wait()], buffers["P:ols"].ravel().round(6)
    ([('ols/fit/fold-1', 0)], array([ 0.,  0., 14., 20.]))
    >>> backend.release(); backend.shutdown(); job.release()
    """

    def __init__(self, backend, graph, job):
        self.backend, self.client, self.graph, self.job = backend, backend.client, graph, job
        self.deaths = Deaths(self.client)  # counted over every attempt of the run
        self.attempts = 0
        # worker clocks (time.time) onto this process's perf_counter, as every Done reads
        self.offset = time.perf_counter() - time.time()
        self.futures, self.payloads, self.held, self.unsent = {}, {}, {}, {}
        self.blocks: dict = {}
        self.names: dict = {}  # dask key -> node key
        self.inputs: dict = {}
        self._order = itertools.count()
        timeout = backend.timeout
        self.clock = None if timeout is None else DaskClock(self, timeout)
        # each node asks for its memory estimate of the workers' MEMORY, if they declare it
        self.requests = MemoryRequests(worker_memory(self.client))
        self._attempt()

    def _attempt(self) -> None:
        """A fresh attempt: its own key suffix, the inputs scattered (again)."""
        from distributed import as_completed

        self.token = uuid.uuid4().hex[:8]
        self.deaths.attempt(self.token)
        names = [n for n in INPUTS if n in self.job.buffers]  # a list: keys unique per run
        arrays = [self.job.buffers[n] for n in names]
        futures = self.client.scatter(arrays, hash=False, broadcast=True) if names else []
        self.inputs = dict(zip(names, futures))
        self.done = as_completed(loop=self.client.loop)

    def submit(self, payload) -> None:
        """Submit node ``payload.key``, whose predecessors are all done."""
        key = payload.key
        self.payloads[key] = payload
        self.futures[key] = future = self._submit(payload)
        self.names[future.key] = key
        self.done.add(future)
        unsent = self.unsent
        for u in self.graph.parents[key]:
            if u in unsent:
                unsent[u] -= 1
                if not unsent[u]:  # its last dependent holds it on the cluster now
                    del unsent[u], self.held[u]
                    self.blocks.pop(u, None)

    def _submit(self, payload):
        graph, key = self.graph, payload.key
        data = {n: self.inputs[n] for n in (payload.x, payload.y, payload.w) if n in self.inputs}
        link, attrs = preprocess_key(graph, graph.attrs(key)), graph.node_attrs
        resources = self.requests(key, attrs[key].get("memory", 0))
        parts, preprocess = [], None
        for u in graph.parents[key]:
            if attrs[u].get("out") == payload.x:
                parts.append(self._part(u))
            elif u == link and u in self.held:  # the transformer stays on the cluster
                preprocess = self.held[u]
                payload = payload._replace(preprocess=None)
        init = None
        if payload.repeat and payload.out is not None:  # the running mean of the repeats
            c0, c1 = payload.cols
            init = np.ascontiguousarray(take(self.job.buffers[payload.out],
                                             payload.out_rows)[:, c0:c1])  # fmt: skip
        spec = graph.buffers.get(payload.x)
        x_spec = () if spec is None or payload.x in data else (spec.shape, spec.dtype)
        out_dtype = graph.buffers[payload.out].dtype if payload.out else "float64"
        if graph.job != "fit":  # a fitted estimator may be large: data, not part of the graph
            payload = self.client.scatter([payload], hash=False)[0]
        return self.client.submit(
            run_task, payload, data, parts, x_spec, out_dtype, preprocess, init,
            *self.deaths.after(key, self.futures), key=f"{key}@{self.token}",
            priority=-next(self._order), retries=self.backend.retries, pure=False,
            resources=resources,
        )  # fmt: skip

    def _part(self, u: str) -> tuple:
        """``(rows, cols, block)`` written by predecessor ``u``: a future, or its rows from
        the job's buffer (a cache hit, or a node done in an earlier attempt)."""
        attrs = self.graph.attrs(u)
        if u not in self.blocks:
            if u in self.held:
                self.blocks[u] = self.client.submit(
                    block_of, self.held[u], key=f"{u}#block@{self.token}", priority=TOP,
                    retries=self.backend.retries, pure=False,
                )  # fmt: skip
                self.names[self.blocks[u].key] = u
            else:
                c0, c1 = attrs["cols"]
                rows = take(self.job.buffers[attrs["out"]], attrs["out_rows"])[:, c0:c1]
                self.blocks[u] = self.client.scatter(np.ascontiguousarray(rows), hash=False)
        return attrs["out_rows"], attrs["cols"], self.blocks[u]

    def wait(self) -> list[Done]:
        """Block until nodes finish; their Done records (a failed one alone)."""
        while self.futures:
            batch = next_batch(self.done, self.clock)
            if isinstance(batch, Done):  # a node over the timeout
                return [batch]
            out = self._collect(batch)
            if out:
                return out
        return []

    def _collect(self, batch: list) -> list[Done]:
        batch = [f for f in batch if self.names.get(f.key) in self.futures]  # this attempt's
        failed = [f for f in batch if f.status != "finished"]
        if failed:
            return self._failure(failed[0])
        try:
            outs = self.client.gather(batch)
        except CancelledError:  # finished, then cancelled with the inputs it came from
            return self._failure(next(f for f in batch if f.status == "cancelled"))
        out, children, buffers = [], self.graph.children, self.job.buffers
        for future, output in zip(batch, outs):
            key = self.names[future.key]
            del self.futures[key], self.payloads[key]
            attrs = self.graph.attrs(key)
            if output.block is not None and attrs.get("out") is not None:
                put(buffers[attrs["out"]], attrs["out_rows"], attrs["cols"], output.block)
            if children[key]:
                self.held[key], self.unsent[key] = future, len(children[key])
            out.append(Done(key, output.result, None, "", self.backend.worker_id(output.address),
                            output.pid, output.start + self.offset,
                            output.end + self.offset, output.peak_bytes,
                            output.peak_rss))  # fmt: skip
        return out

    def _failure(self, future) -> list[Done]:
        """The failed Done of a future, naming the node that failed; [] after resubmitting
        the nodes in flight when an input was lost with a worker."""
        from distributed import KilledWorker

        key = self.names[future.key]
        if future.status == "cancelled":
            return self._lost(key)
        exc = future.exception()
        tb = "".join(traceback.format_tb(future.traceback()))
        if isinstance(exc, NodeFailed):
            key, exc, tb = exc.key, exc.error, exc.tb
        elif isinstance(exc, KilledWorker):  # the node on the dead workers most often
            key, exc = self.deaths.killed(self.names.get(exc.task, key))
        return [_failed(key, exc, tb)]

    def _lost(self, key: str) -> list[Done]:
        """An input of node ``key`` was lost with a worker: blame a node, or resubmit."""
        self.cancel()
        last = self.attempts == RESUBMITS
        # a node on its worker at the deaths of retries + 1 attempts killed it
        died = self.deaths.blame(self.backend.retries + 1, last=last)
        if died is not None or last:
            return [died or _failed(key, RuntimeError(
                "dask cancelled the task: its input was lost with a worker"))]
        self.attempts += 1
        payloads = list(self.payloads.values())  # in submission order: the strategy's
        self.futures, self.payloads, self.held, self.unsent, self.blocks = {}, {}, {}, {}, {}
        self._attempt()
        for payload in payloads:
            self.submit(payload)
        return []

    def cancel(self) -> None:
        """Cancel whatever still runs or waits (after a failure or an interrupt)."""
        pending = [*self.futures.values(), *self.held.values(), *self.blocks.values(),
                   *self.inputs.values()]  # fmt: skip
        if pending:
            self.client.cancel(pending)

    def release(self) -> None:
        """Drop every future: the cluster forgets the run's data."""
        self.futures, self.payloads, self.held, self.unsent = {}, {}, {}, {}
        self.blocks, self.inputs = {}, {}
