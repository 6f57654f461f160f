"""Per-node timeouts and an interruptible thread pool (in-process backends).

:class:`DaemonPool` runs nodes in daemon threads: a run that fails (a node
over its timeout, Ctrl-C) *abandons* its threads instead of joining them,
so control returns to the caller at once and the interpreter can exit. An
abandoned thread keeps running in the background until its estimator
returns (Python cannot stop a thread); its result is dropped.

:class:`NodeClock` tells when a node started on a worker (as the parent
sees it) and which one is over its timeout: the process backend uses it
to kill and replace that worker.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
import time
import traceback

from foldgraph.errors import NodeTimeout

from .worker import Done

__all__ = ["DaemonPool", "NodeClock", "check_timeout", "process_timeouts", "timeout_done"]

#: while a submitted node's start is not seen yet, wake up after this share of the
#: timeout (the node then times out at most this share late)
POLL_SHARE = 0.25


def check_timeout(timeout):
    """Validate a per-node timeout: a positive number of seconds, or None.

    Examples
    --------
    >>> check_timeout(2), check_timeout(None)
    (2, None)
    >>> check_timeout(0)
    Traceback (most recent call last):
      ...
    ValueError: timeout=0: pass a positive number of seconds per node, or None for no limit
    """
    ok = timeout is None or (
        isinstance(timeout, (int, float)) and not isinstance(timeout, bool)
        and timeout > 0 and timeout == timeout and timeout != float("inf")
    )  # fmt: skip
    if not ok:
        raise ValueError(
            f"timeout={timeout!r}: pass a positive number of seconds per node, or None "
            "for no limit"
        )
    return timeout


def timeout_done(key: str, timeout: float, since: float, worker: int, pid: int,
                 what: str) -> Done:  # fmt: skip
    """The Done of node ``key``, stopped after ``timeout`` seconds (``what`` happened)."""
    now = time.perf_counter()
    error = NodeTimeout(
        f"node '{key}' ran longer than timeout={timeout:g}s ({now - since:.1f}s): {what}",
        node=key,
    )
    return Done(key, None, error, "", worker, pid, since, now)


class NodeClock:
    """When each worker's current node started, as the parent saw it.

    ``see(slot, key)`` is called at every wake-up with the node each busy
    worker runs now; :meth:`delay` is how long the parent may sleep: until
    the next node may be over ``timeout``, and at most a quarter of it (a
    worker may have started its next node unseen); :meth:`expired` lists
    ``(slot, key, since)`` over it.

    Examples
    --------
    >>> clock = NodeClock(10.0)
    >>> clock.see(0, "a", now=100.0); clock.see(0, "a", now=104.0)
    >>> clock.delay(now=104.0), clock.delay(now=109.0), clock.expired(now=111.0)
    (2.5, 1.0, [(0, 'a', 100.0)])
    """

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._seen: dict = {}  # {slot: (key, since)}

    def see(self, slot: int, key: str | None, now: float | None = None) -> None:
        if key is None:
            self._seen.pop(slot, None)
        elif self._seen.get(slot, (None,))[0] != key:
            self._seen[slot] = (key, time.perf_counter() if now is None else now)

    def delay(self, now: float | None = None) -> float:
        now = time.perf_counter() if now is None else now
        deadlines = [since + self.timeout for _, since in self._seen.values()]
        poll = self.timeout * POLL_SHARE
        return max(0.0, min(deadlines + [now + poll]) - now) if deadlines else poll

    def expired(self, now: float | None = None) -> list:
        now = time.perf_counter() if now is None else now
        return [(slot, key, since) for slot, (key, since) in self._seen.items()
                if now - since >= self.timeout]  # fmt: skip


class _Generation:
    """The threads of one pool until it is abandoned, and their queues."""

    def __init__(self):
        self.tasks: queue.SimpleQueue = queue.SimpleQueue()
        self.results: queue.SimpleQueue = queue.SimpleQueue()
        self.threads: dict = {}  # {slot: Thread}: a thread not listed here is abandoned
        self.started: dict = {}  # {key: (since, slot)}
        self.closed = False


class DaemonPool:
    """``n`` daemon threads running ``run(payload, slot) -> Done``; abandoned, not joined.

    Parameters
    ----------
    n : int
    run : callable
        ``run(payload, slot)``: runs one node, returns its Done (never raises).
    timeout : float or None
        Seconds per node: :meth:`wait` reports a node over it as failed with
        :class:`~foldgraph.errors.NodeTimeout` and abandons its thread (a
        fresh one takes its slot).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> pool = DaemonPool(2, lambda p, slot: Done(p.key, p.key * 2, None, "", slot, 0, 0, 0))
    >>> pool.submit(SimpleNamespace(key="ab"))
    >>> [d.result for d in pool.wait()]
    ['abab']
    >>> pool.abandon()
    """

    def __init__(self, n: int, run, timeout=None):
        self.n, self.run, self.timeout = n, run, timeout
        self._gen = _Generation()
        self._pending = 0
        self._names = itertools.count()
        for slot in range(n):
            self._spawn(slot)

    def _spawn(self, slot: int) -> None:
        gen = self._gen
        thread = threading.Thread(target=self._loop, args=(gen, slot), daemon=True,
                                  name=f"foldgraph-{next(self._names)}")  # fmt: skip
        gen.threads[slot] = thread
        thread.start()

    def _loop(self, gen: _Generation, slot: int) -> None:
        me = threading.current_thread()
        while True:
            payload = gen.tasks.get()
            if payload is None or gen.closed or gen.threads.get(slot) is not me:
                return
            gen.started[payload.key] = (time.perf_counter(), slot)
            try:
                done = self.run(payload, slot)
            except BaseException as exc:  # the estimator's KeyboardInterrupt or SystemExit: the
                now = time.perf_counter()  # node's error (a dead thread would hang wait())
                done = Done(payload.key, None, exc, traceback.format_exc(), slot, os.getpid(),
                            now, now)  # fmt: skip
            if gen.closed or gen.threads.get(slot) is not me:
                return  # abandoned while running: nobody waits for this result
            gen.results.put(done)

    def submit(self, payload) -> None:
        self._pending += 1
        self._gen.tasks.put(payload)

    def wait(self) -> list[Done]:
        """Block until a node is done or over the timeout (interruptible by Ctrl-C)."""
        gen = self._gen
        if not self._pending:
            return []
        while True:
            delay = None
            if self.timeout is not None:
                now = time.perf_counter()
                started = list(gen.started.items())
                for key, (since, slot) in started:
                    if now - since >= self.timeout:
                        return [self._expire(key, since, slot)]
                delay = min([s + self.timeout - now for _, (s, _) in started]
                            + [self.timeout * POLL_SHARE])  # fmt: skip
            try:
                done = gen.results.get(timeout=delay)
            except queue.Empty:
                continue
            out = [done]
            while True:
                try:
                    out.append(gen.results.get_nowait())
                except queue.Empty:
                    break
            for d in out:
                gen.started.pop(d.key, None)
            self._pending -= len(out)
            return out

    def _expire(self, key: str, since: float, slot: int) -> Done:
        gen = self._gen
        del gen.started[key]
        self._pending -= 1
        self._spawn(slot)  # the stuck thread is no longer listed: it exits when it returns
        return timeout_done(key, self.timeout, since, slot, os.getpid(),
                            "its thread is abandoned and runs on in the background until "
                            "the estimator returns")  # fmt: skip

    def abandon(self) -> None:
        """Drop queued nodes and let every thread go, without waiting for running ones."""
        gen, self._gen, self._pending = self._gen, _Generation(), 0
        gen.closed = True
        try:
            while True:
                gen.tasks.get_nowait()
        except queue.Empty:
            pass
        for _ in gen.threads:
            gen.tasks.put(None)
        busy = {slot for _, slot in gen.started.values()}
        threads, gen.threads = gen.threads, {}
        for slot, thread in threads.items():
            if slot not in busy:  # idle: it exits at once, so clear() leaves no thread
                thread.join(timeout=1.0)


def process_timeouts(backend) -> tuple:
    """For :class:`~foldgraph.engine.processes.Processes`: how long its ``wait`` may
    block (None: no limit), and the Dones of nodes over ``backend.timeout``, whose
    workers are killed and replaced (the other nodes they held are resent).

    A worker's running node is the last one it started (its shared counter);
    its clock starts when the parent first sees it there.
    """
    timeout = backend.timeout
    if timeout is None:
        return None, []
    run, clock = backend._clock or (None, None)
    if clock is None or clock.timeout != timeout or run != backend._run_id:
        clock = NodeClock(timeout)  # a fresh clock per run: slots may hold new workers
        backend._clock = (backend._run_id, clock)
    for w in backend._workers:
        n = min(max(w.started.value - w.answered, 1), len(w.inflight))
        clock.see(w.slot, w.inflight[n - 1].key if w.inflight else None)
    out = []
    for slot, key, since in clock.expired():
        worker = backend._workers[slot]
        pid = worker.process.pid
        clock.see(slot, None)
        backend._attempts[key] = backend.retries  # out of retries: reported, not resent
        for done in backend._replace_dead(worker):
            out.append(timeout_done(done.key, timeout, since, slot, pid,
                                    f"its worker (pid {pid}) was killed and replaced"))
    return clock.delay(), out
