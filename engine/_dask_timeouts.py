"""Per-node timeouts on dask (private to :mod:`foldgraph.engine.dask_backend`).

A node's clock starts when it starts *running* on a worker, not when it is
submitted: a node queued behind busy workers never times out. Every worker
tells the scheduler, at each heartbeat (0.5 s on a small cluster), the keys
it executes and for how long; :class:`DaskClock` asks the scheduler for
them (``client.run_on_scheduler``) at most every quarter of the timeout,
and at the next deadline. A node over its timeout: the run's futures are
cancelled, its worker process is killed by its nanny (SIGKILL, even if the
estimator holds the GIL), which starts a fresh one (a worker without a
nanny is closed: ``client.restart_workers``) and the run fails at once with
:class:`~foldgraph.errors.NodeTimeout` naming it, never retried.
"""

from __future__ import annotations

import time

from ._timeouts import POLL_SHARE, timeout_done
from .worker import Done

__all__ = ["DaskClock", "next_batch"]

#: seconds between two looks at the futures while a run has a timeout
TICK = 0.05
#: the longest wait between two questions to the scheduler (seconds)
MAX_POLL = 5.0
#: seconds given to the scheduler to close a worker without a nanny
RESTART = 10
#: seconds to wait for the scheduler to see a killed worker go
GONE = 5.0


def _reader():
    """A function for ``client.run_on_scheduler``, made here so that cloudpickle ships
    it by value: the scheduler need not import foldgraph."""

    def executing(dask_scheduler=None, token=""):
        # {dask key: (worker address, seconds it has run)} for the run's node tasks
        from time import time as now

        t, out = now(), {}
        for ws in dask_scheduler.workers.values():
            for ts, duration in ws.executing.items():
                key = str(ts.key)
                if key.endswith("@" + token) and "#" not in key:
                    out[key] = (ws.address, duration + max(0.0, t - ws.last_seen))
        return out

    return executing


def _killer():
    """A function for ``client.run(..., nanny=True)``: its nanny kills the worker process
    (which the nanny then restarts); returns its pid."""

    def kill_worker(dask_worker=None):
        import os
        import signal

        pid = dask_worker.process.process.pid  # dask_worker is the Nanny here
        os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
        return pid

    return kill_worker


def _gone(client, address: str, limit: float = GONE) -> None:
    """Wait (at most ``limit`` seconds) until the scheduler no longer lists ``address``."""
    deadline = time.perf_counter() + limit
    while address in client.nthreads() and time.perf_counter() < deadline:
        time.sleep(TICK)


def stop_worker(client, address: str) -> tuple:
    """Kill the worker at ``address`` (its nanny starts a fresh one) or, without a nanny,
    close it; return ``(pid or 0, what happened)`` without waiting for the restart."""
    try:
        pid = client.run(_killer(), workers=[address], nanny=True)[address]
    except Exception:  # noqa: BLE001 - no nanny: the scheduler closes the worker
        pid = None
    if pid is not None:
        try:
            _gone(client, address)  # so that the next run does not send its inputs there
        except Exception:  # noqa: BLE001 - the scheduler will notice
            pass
        return pid, f"killed (pid {pid}); its nanny starts a fresh one"
    try:
        status = client.restart_workers([address], timeout=RESTART, raise_for_error=False)
        return 0, f"closed ({status.get(address)})"
    except Exception as exc:  # noqa: BLE001 - report the timeout all the same
        return 0, f"not stopped ({type(exc).__name__}: {exc})"


class DaskClock:
    """When the nodes of one run (a :class:`~foldgraph.engine._dask_run.DaskRun`) started
    on their workers, as the scheduler saw it; :meth:`check` stops the run when one is
    over ``timeout``."""

    def __init__(self, run, timeout: float):
        self.run, self.timeout = run, timeout
        self.poll = min(timeout * POLL_SHARE, MAX_POLL)
        self._next = 0.0  # perf_counter time of the next question to the scheduler

    def running(self) -> dict:
        """``{dask key: (worker address, since)}``: the run's unfinished nodes running now
        (``since`` on :func:`time.perf_counter`); empty if the scheduler cannot say."""
        try:
            seen = self.run.client.run_on_scheduler(_reader(), token=self.run.token)
        except Exception:  # noqa: BLE001 - a scheduler that refuses to run functions
            return {}
        now, futures = time.perf_counter(), self.run.futures
        out = {}
        for key, (address, elapsed) in seen.items():
            node = self.run.names.get(key)
            if node in futures and not futures[node].done():  # a heartbeat may be stale
                out[key] = (address, now - elapsed)
        return out

    def check(self) -> Done | None:
        """Ask the scheduler when due; the NodeTimeout (a failed Done) of a node over the
        timeout, else None."""
        now = time.perf_counter()
        if now < self._next:
            return None
        running = self.running()
        for key, (address, since) in running.items():
            if now - since >= self.timeout:
                return self.expire(key, address, since)
        deadlines = [since + self.timeout for _, since in running.values()]
        self._next = min(deadlines + [now + self.poll])
        return None

    def expire(self, key: str, address: str, since: float) -> Done:
        """Cancel the run, restart the worker running ``key``; its NodeTimeout (a Done)."""
        run, node = self.run, self.run.names[key]
        run.cancel()  # first, so that dask does not rerun the node elsewhere
        pid, what = stop_worker(run.client, address)
        return timeout_done(node, self.timeout, since, run.backend.worker_id(address), pid,
                            f"its dask worker {address} was {what}")  # fmt: skip


def next_batch(done, clock: DaskClock | None):
    """The next futures to finish (``done`` is an ``as_completed``); with a ``clock``,
    looking every :data:`TICK` seconds and asking the scheduler when due: then the
    NodeTimeout (a Done) of a node over the timeout instead."""
    if clock is None:
        return done.next_batch(block=True)
    while True:
        if done.has_ready():
            return done.next_batch(block=False)
        late = clock.check()
        if late is not None:
            return late
        time.sleep(TICK)
