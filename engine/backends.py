"""Backends: how a node runs, never which node runs next.

Every backend implements four calls (dask's ``get_async`` split):
``start(job)``, ``submit(payload)``, ``wait() -> list[Done]`` and
``shutdown(abort=False)``, plus ``n_workers``. The scheduler loop in
:mod:`foldgraph.engine.scheduler` is the same for all of them, except
``"dask"`` (:mod:`foldgraph.engine.dask_backend`), whose ``run_graph`` hands
the whole graph to dask's own scheduler.
"""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Protocol

from .worker import Done, Payload, execute

__all__ = ["Backend", "Sequential", "Threads", "BACKENDS", "PLANNED", "make_backend"]


class Backend(Protocol):
    """What the scheduler needs from a backend."""

    n_workers: int

    def start(self, job) -> None: ...

    def submit(self, payload: Payload) -> None: ...

    def wait(self) -> list[Done]: ...

    def shutdown(self, abort: bool = False) -> None: ...


class Sequential:
    """Runs each node inline, in the calling thread, at submit time."""

    n_workers = 1

    def __init__(self, n_jobs: int = 1):
        self._buffers: dict = {}
        self._done: list[Done] = []

    def start(self, job) -> None:
        self._buffers = job.buffers

    def submit(self, payload: Payload) -> None:
        self._done.append(execute(payload, self._buffers, 0))

    def wait(self) -> list[Done]:
        done, self._done = self._done, []
        return done

    def shutdown(self, abort: bool = False) -> None:
        self._buffers, self._done = {}, []


class Threads:
    """A pool of ``n_jobs`` threads over the parent's arrays, kept until shutdown.

    Worker ids are 0..n_jobs-1, one per thread.
    """

    def __init__(self, n_jobs: int = 1):
        self.n_workers = n_jobs
        self._pool: ThreadPoolExecutor | None = None
        self._ids = threading.local()
        self._counter = itertools.count()
        self._buffers: dict = {}
        self._futures: set = set()

    def _init_thread(self) -> None:
        self._ids.worker = next(self._counter)

    def _run(self, payload: Payload) -> Done:
        return execute(payload, self._buffers, self._ids.worker)

    def start(self, job) -> None:
        self._buffers = job.buffers
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self.n_workers, thread_name_prefix="foldgraph", initializer=self._init_thread
            )

    def submit(self, payload: Payload) -> None:
        self._futures.add(self._pool.submit(self._run, payload))

    def wait(self) -> list[Done]:
        finished, self._futures = wait_futures(self._futures, return_when=FIRST_COMPLETED)
        return [f.result() for f in finished]

    def shutdown(self, abort: bool = False) -> None:
        """Stop the threads; with ``abort``, drop queued nodes and wait for running ones."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=abort)
        self._futures, self._buffers = set(), {}


BACKENDS = {"sequential": Sequential, "threading": Threads, "multiprocessing": None, "dask": None}
#: backends with a planned implementation, refused with a clear message for now
PLANNED = ()
#: backends whose workers reach buffers through shared memory
SHARED = ("multiprocessing",)


def make_backend(name: str, n_jobs: int, **options):
    """Instantiate backend ``name`` with ``n_jobs`` workers (validated by the caller)."""
    if name == "multiprocessing":
        from .processes import Processes

        return Processes(n_jobs, **options)
    if name == "dask":  # runs whole graphs itself: see engine/dask_backend.py
        from .dask_backend import Dask

        return Dask(n_jobs, **options)
    return BACKENDS[name](n_jobs)
