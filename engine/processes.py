"""The multiprocessing backend: long-lived workers over shared-memory buffers.

Each worker is a process running :func:`foldgraph.engine.worker.worker_main`
with its own duplex pipe, a standard ``multiprocessing.connection.Connection``
carrying the messages of :mod:`foldgraph.engine._protocol`. The parent sends
a payload (pickle bytes, cloudpickle where needed: handles, never arrays) to a
free worker and waits, as loky does, with ``multiprocessing.connection.wait``
on every worker's pipe *and* process sentinel at once, so a worker that dies
is noticed at once: it is replaced, and its node is retried up to
``retries`` times before the run fails with :class:`~foldgraph.errors.WorkerDied`.

A cheap node (estimated under ``PREFETCH_BELOW`` seconds) may have the next
ones queued behind it on its worker, up to ``PREFETCH_DEPTH`` in flight
(prefetch), and the scheduler may queue a cheap node behind its
predecessors when they are in flight on one worker (followers, see
:mod:`foldgraph.engine._follow`): the worker starts it as soon as it is done
with them, without waiting for the parent. Every node and every answer is
a message of its own. Both stay for tiny nodes: without them the per-node
overhead rises above ProcessPoolExecutor's (``benchmarks/overhead.py``); on
fold fits of 1-100 ms neither gains steadily (``benchmarks/process_features.py``).

Workers start lazily, at the first run, and serve every later run until
:meth:`Processes.shutdown`, which gives the idle ones back to this
process's pool (:mod:`foldgraph.engine.pool`) for the next manager. Default start method: ``forkserver`` on
Linux (safe with threads in the parent; it preloads numpy, scikit-learn
and the worker module so that workers share those pages), ``spawn``
elsewhere.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import time
from multiprocessing.connection import wait as wait_for

from foldgraph.errors import RemoteTraceback, WorkerDied

from ._channel import (  # fmt: skip
    FREEZE,
    PRELOAD,
    START_METHODS,
    Placement,
    WorkerHandle,
    check_start_method,
    default_start_method,
    estimator_modules,
)
from ._protocol import Kind, message, read_answer, run_message
from ._timeouts import process_timeouts
from .backends import Backend
from .pool import worker_pool
from .worker import CHEAP, Done, Payload

__all__ = ["Processes", "default_start_method", "RemoteTraceback", "check_start_method",
           "estimator_modules", "PRELOAD", "FREEZE", "START_METHODS"]  # fmt: skip

#: a node estimated to take less than this (seconds) may have the next node
#: queued behind it on its worker, hiding the parent-worker round trip
PREFETCH_BELOW = CHEAP
#: at most this many nodes in flight per worker (one running, the rest queued), all
#: cheap together (see benchmarks/process_features.py)
PREFETCH_DEPTH = 16
#: bytes a worker's pipe takes without blocking the writer, with margin (Linux: 64 KiB+)
PIPE_SAFE = 32 * 1024
#: run ids, unique in this process: a worker from the pool (see engine/pool.py) has
#: served other managers, whose runs must not pass for this one's
_RUN_IDS = itertools.count(1)


class Processes(Backend):
    """Run nodes in ``n_jobs`` worker processes attached to shared buffers.

    Parameters
    ----------
    n_jobs : int
    start_method : {"forkserver", "spawn", "fork"}, optional
    threads_per_worker : int or None
        BLAS/OpenMP threads allowed in each worker; None leaves them alone.
    retries : int
        Times a node is resubmitted after its worker died.
    timeout : float or None
        Seconds per node: a node over it fails with
        :class:`~foldgraph.errors.NodeTimeout` (not retried) and its worker
        is killed and replaced.

    Attributes
    ----------
    pids : list of int
        Process ids of the current workers.
    deaths : list of tuple
        ``(slot, pid, exit code, node)`` of each worker that died.

    Examples
    --------
    The backend run by hand (``ParallelProcessing("multiprocessing")`` does
    the same): the job's buffers live in shared memory, which the worker
    attaches; the predictions appear in the parent's arrays.

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
    >>> buffers = job.allocate(g, shared=True)
    >>> backend = Processes(n_jobs=1, start_method="fork")  # see Notes
    >>> results = run_graph(g, job, backend, resolve("fifo"), Trace(1))
    >>> len(backend.pids), buffers["P:ols"].ravel().round(6)
    (1, array([ 2.,  8., 14., 20.]))
    >>> backend.shutdown(); job.release()

    Notes
    -----
    The example uses ``fork`` only because it starts a worker in
    milliseconds. The default, ``forkserver``, first starts a server
    process that imports numpy and scikit-learn (a second or two, once per
    parent process); it is safe when the parent runs threads, which ``fork``
    is not.
    """

    #: nodes in flight per worker at most (1: no prefetch)
    prefetch_depth = PREFETCH_DEPTH
    #: only nodes estimated under this (seconds) are queued behind their predecessors
    #: (followers, see engine/_follow.py; 0: none)
    follow_below, moldable = PREFETCH_BELOW, True

    def __init__(self, n_jobs: int, start_method=None, threads_per_worker=None, retries=1,
                 timeout=None):  # fmt: skip
        self.n_workers = n_jobs
        self.timeout = timeout  # seconds per node: see engine/_timeouts.py
        self._clock = None
        self.start_method = start_method or default_start_method()
        self.threads_per_worker = threads_per_worker
        self.retries = retries
        self._ctx = mp.get_context(self.start_method)
        self._modules: list[str] = []
        self._workers: list[WorkerHandle] = []
        self._placed = Placement(lambda: self._workers)
        self._owner: dict = {}  # {pipe or sentinel: worker}: what wait() waits on
        self._handles: dict = {}
        self._run_id = 0
        self._attempts: dict = {}
        self.deaths: list[tuple] = []
        # starts of worker processes (not taken from the pool) since the manager last
        # looked: seconds, count, and whether the first of this process was among them
        self.start_seconds, self.n_started, self.first_start = 0.0, 0, False

    # -- lifecycle -----------------------------------------------------------
    def prepare(self, graph) -> None:
        """Note the modules of ``graph``'s estimators, for the forkserver to preload."""
        if not self._workers:
            self._modules = estimator_modules(graph.tasks.values())

    @property
    def _pool_key(self) -> tuple:
        return self.start_method, self.threads_per_worker

    def _spawn(self, slot: int) -> WorkerHandle:
        pool = worker_pool()
        worker = pool.take(self._pool_key, slot)
        if worker is None:
            t0 = time.perf_counter()
            worker = self._start_worker(slot)
            self.start_seconds += time.perf_counter() - t0
            self.first_start = self.first_start or pool.started == 0
            self.n_started += 1
            pool.started += 1
        self._owner[worker.conn] = self._owner[worker.process.sentinel] = worker
        return worker

    def _start_worker(self, slot: int) -> WorkerHandle:
        if not self._workers and self.start_method == "forkserver":
            # numpy, scikit-learn, the worker module and the estimators' modules of the
            # first run, then frozen, so that workers share those pages; this has no
            # effect once this process's fork server runs (it keeps its first preload)
            self._ctx.set_forkserver_preload(PRELOAD + self._modules + [FREEZE])
        return WorkerHandle(slot, self._ctx, self.threads_per_worker)

    def _forget(self, worker: WorkerHandle) -> None:
        """Stop waiting on a worker's pipe and sentinel (before they are closed)."""
        self._owner.pop(worker.conn, None)
        self._owner.pop(worker.process.sentinel, None)

    def start(self, job) -> None:
        """Start missing workers; point them at ``job``'s shared buffers."""
        if not job.handles and job.buffers:
            raise RuntimeError("the multiprocessing backend needs a job allocated in shared memory")
        self.warm()
        self._handles = dict(job.handles)
        self._run_id = next(_RUN_IDS)
        self._attempts = {}

    def warm(self) -> None:
        """Take every worker from the pool, or start it (replacing dead ones); no run."""
        for slot in range(self.n_workers):
            if slot >= len(self._workers):
                self._workers.append(self._spawn(slot))
            elif not self._workers[slot].alive():  # dead, or its parent's (a forked child)
                self._forget(self._workers[slot])
                self._workers[slot].kill()
                self._workers[slot] = self._spawn(slot)

    @property
    def pids(self) -> list[int]:
        """Process ids of the current workers."""
        return [w.process.pid for w in self._workers]

    def release(self) -> None:
        """At the end of a run: idle workers close the run's buffers (no answer read).

        The parent unlinks the run's segment next, but its memory is freed only
        when no process maps it any more. A busy worker (a run that failed) is
        left alone: it closes them at the next run.
        """
        for worker in self._workers:
            if worker.run_id is None or worker.inflight or worker.foreign:
                continue
            try:
                worker.send(message(Kind.RELEASE))
            except OSError:  # it died: its replacement attaches the next run's buffers
                continue
            worker.run_id = None
        self._handles = {}

    def shutdown(self, abort: bool = False) -> None:
        """Give idle workers back to the pool; stop the others.

        With ``abort`` (a failed or interrupted run) nothing goes back:
        busy workers are killed at once, idle ones stopped.
        """
        self.release()
        workers, self._workers, pool = self._workers, [], worker_pool()
        for w in workers:
            self._forget(w)
            if abort and w.inflight:
                w.kill()
            elif abort or w.inflight or w.unsent or w.run_id is not None:
                w.stop()
            elif w.alive():
                pool.give(self._pool_key, w)
            else:
                w.kill()
        self._handles = {}
        self._owner = {}

    # -- the backend protocol --------------------------------------------------
    def _room(self, worker: WorkerHandle) -> bool:
        """Can ``worker`` take one more node now? Idle, or running and holding
        only cheap nodes (estimated under PREFETCH_BELOW together) and fewer
        than ``prefetch_depth`` of them: a node never waits behind a long one."""
        n = len(worker.inflight)
        return not n or (n < self.prefetch_depth and worker.cost < PREFETCH_BELOW)

    def free_slots(self) -> int:
        """How many more nodes to submit now: idle workers, plus room queued
        behind workers running cheap nodes (to hide the round trip)."""
        return sum(1 for w in self._workers if self._room(w))

    def submit(self, payload: Payload, slot: int | None = None) -> None:
        """Send to worker ``slot``, or to the worker with the fewest nodes in flight
        that has room."""
        if slot is not None:
            worker = self._workers[slot]
            if not self._room(worker):
                raise RuntimeError(f"submit() to worker {slot}, which has no room: check has_room()")
            self._send(worker, payload)
            return
        candidates = [w for w in self._workers if self._room(w)]
        if not candidates:  # never queue behind a long node
            raise RuntimeError("submit() called with no free slot: check free_slots() first")
        self._send(min(candidates, key=lambda w: len(w.inflight)), payload)

    def placed(self) -> Placement:
        """``{key: worker slot}`` of the nodes in flight (running or queued), a live
        view of the workers' in-flight queues: read it, do not change it."""
        return self._placed

    def has_room(self, slot: int) -> bool:
        """Can worker ``slot`` take one more node now (see :meth:`free_slots`)?"""
        return self._room(self._workers[slot])

    def _send(self, worker: WorkerHandle, payload: Payload) -> None:
        """Queue ``payload`` on ``worker``; :meth:`wait` writes it."""
        worker.inflight.append(payload)
        worker.cost += payload.cost
        worker.unsent.append(run_message(payload))

    def _flush(self, worker: WorkerHandle) -> None:
        """Write the worker's unsent payloads that cannot block the parent.

        A payload is written to an idle worker (it is reading), or behind
        running ones only while everything written and unanswered fits in
        PIPE_SAFE bytes: the pipe's buffer then takes it without blocking.
        Otherwise the parent could block writing a large payload (a fitted
        estimator) while the worker blocks writing a large answer: deadlock.
        The rest waits here and is written as answers come back.
        """
        try:
            if worker.unsent and worker.run_id != self._run_id:
                worker.attach(self._handles)  # in the calling thread: its sklearn config
                worker.run_id = self._run_id
            while worker.unsent:
                size = len(worker.unsent[0])
                if worker.pending and worker.pending + size > PIPE_SAFE:
                    break
                worker.send(worker.unsent.popleft())
                worker.sizes.append(size)
                worker.pending += size
        except OSError:  # the worker just died: wait() sees its sentinel and resubmits
            return

    def wait(self) -> list[Done]:
        """Block until a busy worker answers or any worker dies."""
        busy = False
        for w in self._workers:
            if w.unsent:
                self._flush(w)
            busy = busy or bool(w.inflight)
        if not busy:
            return []
        delay, late = process_timeouts(self)  # wake up in time to stop a node over timeout
        if late:
            return late
        done, dead = [], []
        # answers already waiting are read without building a selector; the sentinels
        # are looked at whenever the parent has to block
        waiting = [w.conn for w in self._workers if w.inflight and w.readable()]
        for ready in waiting or wait_for(list(self._owner), delay):
            worker = self._owner.get(ready)
            if worker is None:
                continue
            answers = self._receive(worker) if ready is worker.conn and worker.inflight else None
            if answers is None:  # a sentinel, or end of file: the worker is gone
                dead.append(worker)
            else:
                done.extend(answers)
        for worker in dict.fromkeys(dead):
            if worker in self._workers:
                worker.process.join(1.0)  # its pipe may close before its sentinel fires
                done.extend(self._replace_dead(worker))
        return done

    def _receive(self, worker: WorkerHandle) -> list[Done] | None:
        """Read the answers waiting from ``worker``: the Dones of its first nodes in flight."""
        msgs = worker.receive()
        if msgs is None:
            return None  # the worker died: its sentinel reports it
        answers = []
        for msg in msgs:
            _, done = read_answer(msg)  # DONE, or UNREADABLE: the payload failed to load
            payload = worker.inflight.popleft()
            worker.answered += 1
            worker.cost -= payload.cost
            worker.pending -= worker.sizes.popleft()
            if done.error is not None and done.tb:
                done.error.__cause__ = RemoteTraceback(done.tb)
            answers.append(done)
        if not worker.inflight:
            worker.cost = 0.0  # no float drift across runs
        return answers

    def _replace_dead(self, worker: WorkerHandle) -> list[Done]:
        """Replace a dead worker; retry its running node or report WorkerDied.

        The node it was running is the last one it started (its shared
        counter says which); the others in flight had not started: they
        are resubmitted without counting an attempt.
        """
        code, pid = worker.process.exitcode, worker.process.pid
        inflight = list(worker.inflight)
        started = worker.started.value - worker.answered
        self._forget(worker)
        worker.kill()
        fresh = self._workers[worker.slot] = self._spawn(worker.slot)
        running = min(max(started, 1), len(inflight)) - 1  # -1: nothing in flight
        key = inflight[running].key if inflight else None
        self.deaths.append((worker.slot, pid, code, key))
        if key is None:
            return []
        attempts = self._attempts.get(key, 0)
        if attempts < self.retries:
            self._attempts[key] = attempts + 1
            for payload in inflight:
                self._send(fresh, payload)
            return []
        for payload in inflight[:running] + inflight[running + 1 :]:
            self._send(fresh, payload)
        now = time.perf_counter()
        error = WorkerDied(
            f"worker {worker.slot} (pid {pid}) died with exit code {code} while running "
            f"node '{key}' ({attempts + 1} attempt(s); out of memory or segfault?)",
            node=key,
        )
        return [Done(key, None, error, "", worker.slot, pid, now, now)]

