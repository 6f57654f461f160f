"""One pool of idle worker processes per Python process, reused by every manager.

A :class:`~foldgraph.engine.processes.Processes` backend (the
``"multiprocessing"`` backend, and ``"auto"`` when it picks processes)
takes its workers from this pool when a run starts them and gives them back
when its manager is cleared, so the next manager, the next ensemble fit,
the next candidate of a ``GridSearchCV`` starts no process: it wakes one up
(like loky's reusable executor). A worker is given back only idle and
alive, with the run's buffers closed; one that was busy when its run failed
or was interrupted is stopped instead. A worker started before you last
edited a module of your own, or with another ``sys.path`` or working
directory (:mod:`foldgraph.engine._sources`), is not lent: it may hold the
module's old code or miss a module; a fresh one imports them anew.

Workers are kept by their slot (worker 0, 1, ...) and by what they were
started with (start method and BLAS threads): a manager of ``n_jobs``
workers takes slots ``0 .. n_jobs - 1``, so the pool grows to the largest
run that asked, and shrinks by the idle timeout. The pool's workers stop

- after :attr:`WorkerPool.idle_timeout` seconds without a run (default 300,
  or the environment variable ``FOLDGRAPH_IDLE_TIMEOUT``; ``0`` stops every
  worker as soon as its manager is cleared: no reuse; ``inf``: never);
- at interpreter exit (``atexit``);
- on :meth:`WorkerPool.shutdown`.

A process forked from this one (``os.fork``) starts with an empty pool: the
workers belong to the parent.
"""

from __future__ import annotations

import atexit
import os
import threading
import time

from ._sources import import_context, last_edit

__all__ = ["WorkerPool", "worker_pool", "DEFAULT_IDLE_TIMEOUT"]

#: seconds an idle worker waits in the pool for a run before it stops
DEFAULT_IDLE_TIMEOUT = 300.0


def _timeout_from_env() -> float:
    value = os.environ.get("FOLDGRAPH_IDLE_TIMEOUT")
    if value is None:
        return DEFAULT_IDLE_TIMEOUT
    try:
        return _check_timeout(float(value))
    except ValueError:
        raise ValueError(
            f"FOLDGRAPH_IDLE_TIMEOUT={value!r}: set it to a number of seconds >= 0"
        ) from None


def _check_timeout(seconds) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
        raise ValueError(f"idle_timeout={seconds!r}: pass a number of seconds >= 0")
    return float(seconds)


class WorkerPool:
    """The idle worker processes of this process (see the module docstring).

    Use the one returned by :func:`worker_pool`.

    Attributes
    ----------
    idle_timeout : float
        Seconds without a run after which idle workers stop; 0: no reuse.
    started : int
        Worker processes started by this process so far (every backend).
    reused : int
        Times a run took a worker from the pool instead of starting one.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, ParallelProcessing
    >>> from foldgraph.testing import OLS
    >>> pool = worker_pool()
    >>> X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    >>> for _ in range(2):  # the second manager wakes the first one's worker up
    ...     with ParallelProcessing("multiprocessing", n_jobs=1, start_method="fork") as pp:
    ...         _ = pp.map(Learner(OLS(), FoldIndex(2)), "fit", X, y)
    ...         pids = pp.worker_pids
    >>> set(pids) <= set(pool.pids)  # idle, waiting for the next manager
    True
    >>> pool.shutdown(); pool.pids
    []
    """

    def __init__(self, idle_timeout: float | None = None):
        self._lock = threading.Lock()
        self._idle: dict[tuple, dict] = {}  # {(start method, threads): {slot: WorkerHandle}}
        self._timer: threading.Timer | None = None
        self._last = 0.0  # monotonic time of the last give()
        self._pid = os.getpid()
        self._timeout = _timeout_from_env() if idle_timeout is None else _check_timeout(
            idle_timeout)  # fmt: skip
        self.started = 0
        self.reused = 0

    @property
    def idle_timeout(self) -> float:
        return self._timeout

    @idle_timeout.setter
    def idle_timeout(self, seconds) -> None:
        self._timeout = _check_timeout(seconds)
        self._schedule()

    @property
    def pids(self) -> list[int]:
        """Process ids of the idle workers (sorted)."""
        with self._lock:
            self._check_owner()
            return sorted(w.process.pid for slots in self._idle.values() for w in slots.values())

    def __len__(self) -> int:
        return len(self.pids)

    def __repr__(self) -> str:
        return f"WorkerPool({len(self)} idle, idle_timeout={self._timeout:g} s)"

    def _check_owner(self) -> None:
        # after os.fork the handles are the parent's processes: forget them, never stop them
        if os.getpid() != self._pid:
            self._idle, self._timer, self._pid = {}, None, os.getpid()

    def idle(self, key: tuple, n_workers: int) -> int:
        """How many of slots ``0 .. n_workers - 1`` of ``key`` the pool can lend now."""
        with self._lock:
            self._check_owner()
            return sum(1 for slot in self._idle.get(key, ()) if slot < n_workers)

    def take(self, key: tuple, slot: int):
        """An idle live worker of ``key`` for ``slot``, or None (start one)."""
        with self._lock:
            self._check_owner()
            worker = self._idle.get(key, {}).pop(slot, None)
        if worker is None:
            return None
        if not worker.process.is_alive():  # died while idle (killed by the user, OOM killer)
            worker.kill()
            return None
        if worker.born < last_edit() or worker.imports != import_context():
            worker.stop()  # it may hold a module's old code, or miss a module made importable
            return None
        self.reused += 1
        return worker

    def give(self, key: tuple, worker) -> None:
        """Keep ``worker`` (idle, buffers closed) for the next run; stop it if the
        pool has one for its slot already or keeps none (``idle_timeout == 0``)."""
        surplus = worker
        with self._lock:
            self._check_owner()
            slots = self._idle.setdefault(key, {})
            if self._timeout > 0 and worker.slot not in slots:
                slots[worker.slot], surplus = worker, None
                self._last = time.monotonic()
        if surplus is not None:
            surplus.stop()
        else:
            self._schedule()

    def shutdown(self) -> None:
        """Stop every idle worker now (runs in progress keep theirs)."""
        with self._lock:
            self._check_owner()
            idle, self._idle = self._idle, {}
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        for slots in idle.values():
            for worker in slots.values():
                worker.stop()

    def _schedule(self) -> None:
        """(Re)arm the idle timer for the time left until the timeout."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None
            if not any(self._idle.values()):
                return
            left = max(self._last + self._timeout - time.monotonic(), 0.0)
            if left > threading.TIMEOUT_MAX:  # inf (never): a timer would fail (OverflowError)
                return
            # a daemon thread: never holds the interpreter's exit
            self._timer = threading.Timer(left, self._expire)
            self._timer.daemon = True
            self._timer.name = "foldgraph-pool-timer"
            self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            if os.getpid() != self._pid or self._timer is None:
                return
            late = time.monotonic() - self._last >= self._timeout
        if late:
            self.shutdown()
        else:  # a give() came after the timer was armed
            self._schedule()


_POOL = WorkerPool()
atexit.register(_POOL.shutdown)  # before multiprocessing's own exit hook (registered earlier)


def worker_pool() -> WorkerPool:
    """The pool of idle worker processes of this process.

    Examples
    --------
    >>> pool = worker_pool()
    >>> pool.idle_timeout >= 0
    True
    """
    return _POOL
