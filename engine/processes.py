"""The multiprocessing backend: long-lived workers over shared-memory buffers.

Each worker is a process running :func:`foldgraph.engine.worker.worker_main`
with its own duplex pipe. The parent sends a payload (pickle bytes, cloudpickle
where needed: handles, never arrays) to a free worker and waits, loky's way, on every
busy worker's pipe *and* every worker's process sentinel at once
(one epoll selector kept for the pool's lifetime, not one built per wait as
``multiprocessing.connection.wait`` does), so a worker that dies is noticed at
once: it is replaced, and its node is retried up to ``retries`` times
before the run fails with :class:`~foldgraph.errors.WorkerDied`.

Cheap nodes (estimated under ``PREFETCH_BELOW`` seconds together) are
queued on a worker up to ``PREFETCH_DEPTH`` deep: the payloads submitted
between two waits travel in one message, the worker holds their answers
back to send several at once (see ``worker_main``), and one read of the
pipe takes every answer waiting. The scheduler also queues a cheap node
behind the predecessors it waits for when they are in flight on one
worker (followers, see ``scheduler._follow``). So the round trip between
parent and worker, tens of microseconds on two shared cores, is paid per
batch rather than per node.

Workers start once (lazily, at the first run) and serve every later run
until :meth:`Processes.shutdown`. Default start method: ``forkserver`` on
Linux (safe with threads in the parent; it preloads numpy, scikit-learn
and the worker module so that workers share those pages), ``spawn``
elsewhere.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
import selectors
import sys
import time

from foldgraph.errors import WorkerDied

from ._channel import WorkerHandle, read_messages, write_frames
from ._timeouts import process_timeouts
from .worker import CHEAP, Done, Payload, pack_payload, unpack_answers

__all__ = ["Processes", "default_start_method", "RemoteTraceback"]

PRELOAD = ["numpy", "sklearn.base", "foldgraph.engine.worker", "foldgraph.engine._parent"]
#: imported after PRELOAD and the estimators' modules: freezes them (see engine/_freeze.py)
FREEZE = "foldgraph.engine._freeze"
#: a node estimated to take less than this (seconds) may have the next node
#: queued behind it on its worker, hiding the parent-worker round trip (the
#: worker's own threshold for holding answers back, see worker_main)
PREFETCH_BELOW = CHEAP
#: at most this many nodes in flight per worker (one running, the rest queued), all
#: cheap together: deep queues let one message carry many nodes each way (measured on
#: no-op nodes, 2 workers: 3 -> 32 took the parent's CPU per node from ~90 to ~45 us);
#: the price is that a node mis-estimated as cheap can hold up to 31 others behind it
PREFETCH_DEPTH = 32
#: bytes a worker's pipe takes without blocking the writer, with margin (Linux: 64 KiB+)
PIPE_SAFE = 32 * 1024
START_METHODS = ("forkserver", "spawn", "fork")


class RemoteTraceback(Exception):
    """The traceback text of an exception raised in a worker (set as its cause).

    The exception itself keeps its type; its ``__cause__`` shows where in
    the worker it was raised.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, ParallelProcessing
    >>> from foldgraph.errors import TaskError
    >>> from foldgraph.testing import OLS
    >>> class Broken(OLS):
    ...     def fit(self, X, y):
    ...         return 1 / 0
    >>> with ParallelProcessing("multiprocessing", n_jobs=1, start_method="fork") as manager:
    ...     try:
    ...         manager.map(Learner(Broken(), FoldIndex(2)), "fit", np.ones((4, 2)), np.ones(4))
    ...     except TaskError as err:
    ...         error = err.__cause__
    >>> error, type(error.__cause__).__name__
    (ZeroDivisionError('division by zero'), 'RemoteTraceback')
    >>> print(error.__cause__)
    Traceback (most recent call last):
      ...
    ZeroDivisionError: division by zero
    """

    def __str__(self) -> str:
        return self.args[0]


def default_start_method() -> str:
    """``forkserver`` where available (Linux, macOS), else ``spawn``.

    Both start workers from a fresh process, so threads of the parent cannot
    leave a lock held in a worker, as ``fork`` can.

    Examples
    --------
    >>> default_start_method() in ("forkserver", "spawn")
    True
    """
    return "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"


class Processes:
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
        self._selector: selectors.BaseSelector | None = None
        self._handles: dict = {}
        self._run_id = 0
        self._attempts: dict = {}
        self._placed: dict = {}  # {key: worker slot} of every node in flight
        self.deaths: list[tuple] = []

    # -- lifecycle -----------------------------------------------------------
    def prepare(self, graph) -> None:
        """Note the modules of ``graph``'s estimators, for the forkserver to preload."""
        if not self._workers:
            self._modules = estimator_modules(graph.tasks.values())

    def _preload(self) -> None:
        """Before the forkserver starts: preload numpy, scikit-learn, the worker module
        and the estimators' modules of the first run, then freeze them, so that every
        worker shares those pages instead of importing its own copy."""
        if self.start_method != "forkserver" or _forkserver_running():
            return
        self._ctx.set_forkserver_preload(PRELOAD + self._modules + [FREEZE])

    def _spawn(self, slot: int) -> WorkerHandle:
        if not self._workers:
            self._preload()
        worker = WorkerHandle(slot, self._ctx, self.threads_per_worker)
        if self._selector is None:
            self._selector = selectors.DefaultSelector()
        self._selector.register(worker.conn, selectors.EVENT_READ, (worker, False))
        self._selector.register(worker.process.sentinel, selectors.EVENT_READ, (worker, True))
        return worker

    def _forget(self, worker: WorkerHandle) -> None:
        """Unregister a worker's pipe and sentinel (before they are closed)."""
        if self._selector is not None:
            for obj in (worker.conn, worker.process.sentinel):
                try:
                    self._selector.unregister(obj)
                except (KeyError, ValueError, OSError):
                    pass

    def start(self, job) -> None:
        """Start missing workers; point them at ``job``'s shared buffers."""
        if not job.handles and job.buffers:
            raise RuntimeError("the multiprocessing backend needs a job allocated in shared memory")
        for slot in range(self.n_workers):
            if slot >= len(self._workers):
                self._workers.append(self._spawn(slot))
            elif not self._workers[slot].process.is_alive():
                self._forget(self._workers[slot])
                self._workers[slot].kill()
                self._workers[slot] = self._spawn(slot)
        self._handles = dict(job.handles)
        self._run_id += 1
        self._attempts = {}

    @property
    def pids(self) -> list[int]:
        """Process ids of the current workers."""
        return [w.process.pid for w in self._workers]

    def release(self) -> None:
        """At the end of a run: idle workers close the run's buffers.

        The parent unlinks the run's segment next, but its memory is freed
        only when no process maps it any more: without this, a worker kept
        the last run's segment (the copy of X, the outputs) until the next
        run attached new buffers, so a second run held both copies. A busy
        worker (a run that failed) is left alone: it closes them at the next
        run. No answer is read: the worker just closes its mappings.
        """
        for worker in self._workers:
            if worker.run_id is None or worker.inflight or worker.unsent:
                continue
            try:
                write_frames(worker.fd, b"L")
            except OSError:  # it died: its replacement attaches the next run's buffers
                continue
            worker.run_id = None
        self._handles = {}

    def shutdown(self, abort: bool = False) -> None:
        """Stop every worker (killing busy ones at once when ``abort``)."""
        workers, self._workers = self._workers, []
        for w in workers:
            self._forget(w)
            if abort and w.inflight:
                w.kill()
            else:
                w.stop()
        self._handles = {}
        self._placed = {}
        selector, self._selector = self._selector, None
        if selector is not None:
            selector.close()

    # -- the backend protocol --------------------------------------------------
    def _room(self, worker: WorkerHandle) -> bool:
        """Can ``worker`` take one more node now? Idle, or running and holding
        only cheap nodes (estimated under PREFETCH_BELOW together) and fewer
        than PREFETCH_DEPTH of them: a node never waits behind a long one."""
        n = len(worker.inflight)
        return not n or (n < PREFETCH_DEPTH and worker.cost < PREFETCH_BELOW)

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

    # -- followers (see scheduler._follow): nodes queued behind their predecessors
    #: only nodes estimated under this (seconds) are queued behind their predecessors
    follow_below = PREFETCH_BELOW

    def placed(self) -> dict:
        """``{key: worker slot}`` of the nodes in flight (running or queued); kept up
        to date by the backend: read it, do not change it."""
        return self._placed

    def has_room(self, slot: int) -> bool:
        """Can worker ``slot`` take one more node now (see :meth:`free_slots`)?"""
        return self._room(self._workers[slot])

    def _send(self, worker: WorkerHandle, payload: Payload) -> None:
        """Queue ``payload`` on ``worker``; :meth:`wait` writes it (with the others
        queued in the meantime, in one message)."""
        worker.inflight.append(payload)
        worker.cost += payload.cost
        worker.unsent.append(pack_payload(payload))
        self._placed[payload.key] = worker.slot

    def _flush(self, worker: WorkerHandle) -> None:
        """Write the worker's unsent payloads that cannot block the parent, in one message.

        A payload is written to an idle worker (it is reading), or behind
        running ones only while everything written and unanswered fits in
        PIPE_SAFE bytes: the pipe's buffer then takes it without blocking.
        Otherwise the parent could block writing a large payload (a fitted
        estimator) while the worker blocks writing a large answer: deadlock.
        The rest waits here and is written as answers come back.
        """
        batch, size = [], worker.pending
        while worker.unsent:
            blob = worker.unsent[0]
            if size and size + len(blob) > PIPE_SAFE:
                break
            batch.append(worker.unsent.popleft())
            worker.sizes.append(len(blob))
            size += len(blob)
        if not batch:
            return
        worker.pending = size
        try:
            if worker.run_id != self._run_id:
                write_frames(worker.fd, b"A" + pickle.dumps(self._handles))
                worker.run_id = self._run_id
            write_frames(worker.fd, b"R" + batch[0] if len(batch) == 1 else b"M" + pickle.dumps(batch))
        except OSError:  # the worker just died: wait() sees its sentinel and resubmits
            return

    def wait(self) -> list[Done]:
        """Block until a busy worker answers or any worker dies.

        The selector is level-triggered: one answer is read per ready pipe,
        and a pipe with more answers waiting is reported again at once.
        """
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
        for selected, _ in self._selector.select(delay):
            worker, is_sentinel = selected.data
            if is_sentinel:
                dead.append(worker)
            elif worker.inflight:
                answers = self._receive(worker)
                if answers is not None:
                    done.extend(answers)
                else:  # EOF: the worker is exiting; its sentinel follows
                    worker.process.join(1.0)
                    dead.append(worker)
            else:  # an idle worker's pipe is readable only at its EOF
                dead.append(worker)
        for worker in dict.fromkeys(dead):
            if worker in self._workers:
                done.extend(self._replace_dead(worker))
        return done

    def _receive(self, worker: WorkerHandle) -> list[Done] | None:
        """Read the answer messages of ``worker``: the Dones of its first nodes in flight."""
        msgs = read_messages(worker)
        if msgs is None:
            return None  # the worker died: its sentinel reports it
        answers = [done for msg in msgs for done in unpack_answers(msg)]
        worker.answered += len(answers)
        for i, done in enumerate(answers):
            payload = worker.inflight.popleft()
            del self._placed[payload.key]
            worker.cost -= payload.cost
            worker.pending -= worker.sizes.popleft()
            if done.key == "?":  # the payload could not be unpickled: name its node
                done = answers[i] = done._replace(key=payload.key)
            if done.error is not None and done.tb:
                done.error.__cause__ = RemoteTraceback(done.tb)
        if not worker.inflight:
            worker.cost = 0.0  # no float drift across runs
        return answers

    def _replace_dead(self, worker: WorkerHandle) -> list[Done]:
        """Replace a dead worker; retry its running node or report WorkerDied.

        The node it was running is the last one it started (its shared
        counter says which); the others in flight had finished with their
        answers held back, or had not started: they are resubmitted without
        counting an attempt.
        """
        code, pid = worker.process.exitcode, worker.process.pid
        inflight = list(worker.inflight)
        for payload in inflight:  # resent below (the fresh worker has the same slot)
            self._placed.pop(payload.key, None)
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


def _forkserver_running() -> bool:
    from multiprocessing import forkserver

    return getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None) is not None


def estimator_modules(tasks) -> list[str]:
    """Modules defining the estimators of ``tasks`` (nested ones included).

    ``__main__`` and modules of the standard library are left out: workers
    never import the user's script.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> from foldgraph import FoldIndex, Learner
    >>> estimator_modules([Learner(Ridge(), FoldIndex(2))])
    ['sklearn.linear_model._ridge']
    """
    modules: dict[str, None] = {}
    stack = [getattr(task, "estimator", None) for task in tasks]
    while stack:
        obj = stack.pop()
        if obj is None or not hasattr(obj, "fit"):
            continue
        module = type(obj).__module__
        if module != "__main__" and module.split(".")[0] not in sys.stdlib_module_names:
            modules[module] = None
        if hasattr(obj, "get_params"):
            try:
                stack.extend(obj.get_params(deep=True).values())
            except Exception:  # noqa: BLE001 - an estimator that cannot list its params
                pass
        steps = getattr(obj, "steps", None)  # foldgraph's Pipeline takes bare steps too
        if isinstance(steps, (list, tuple)):
            stack.extend(s[-1] if isinstance(s, tuple) else s for s in steps)
    return sorted(modules)


def check_start_method(method) -> str | None:
    """Validate a start method name (None: the default)."""
    if method is None:
        return None
    available = [m for m in START_METHODS if m in mp.get_all_start_methods()]
    if method not in available:
        raise ValueError(
            f"start_method={method!r} is not available on {sys.platform}: choose one of "
            f"{', '.join(map(repr, available))}"
        )
    return method
