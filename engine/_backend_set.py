"""The backends of one manager: which one a run takes, made on first use.

Private to :mod:`foldgraph.engine.manager`. A fixed backend name always
gives the same backend object; ``"auto"`` asks
:func:`foldgraph.engine.auto.choose` at every run and keeps one sequential
and one process backend, each made the first time it is chosen.
"""

from __future__ import annotations

import threading
import time

from . import auto
from ._options import backend_options
from .backends import make_backend
from .pool import worker_pool
from .processes import default_start_method

__all__ = ["BackendSet"]

# held while the pool's workers start in the background: one such start at a time
_WARMING = threading.Lock()
#: when the background start in flight should be done (``time.monotonic()``)
_WARM_UNTIL = [0.0]
#: seconds a run waits for a background start beyond twice its expected remainder
WAIT_SLACK = 5.0


def _await_background(wake: float) -> None:
    """Wait for the background start in flight (about ``wake`` seconds left); a loaded
    machine starts workers later than estimated, and a hung start is left after a while."""
    if _WARMING.acquire(timeout=2 * wake + WAIT_SLACK):
        _WARMING.release()


class BackendSet:
    """A manager's backends by name (see the module docstring).

    Parameters
    ----------
    name : str
        The manager's ``backend``: a backend name or ``"auto"``.
    n_workers : int
    options : dict
        The manager's settings that :func:`~foldgraph.engine._options.backend_options`
        reads: retries, start_method, threads_per_worker, client, address.

    Attributes
    ----------
    current : Backend or None
        The backend of the last run.
    """

    def __init__(self, name: str, n_workers: int, **options):
        self.name, self.n_workers, self.options = name, n_workers, options
        self.made: dict = {}
        self.current = None

    def __getstate__(self) -> dict:
        """Settings only (a pickled or copied manager starts its own backends)."""
        return {"name": self.name, "n_workers": self.n_workers,
                "options": {**self.options, "client": None}, "made": {}, "current": None}  # fmt: skip

    def choose(self, graph) -> auto.Choice:
        """The backend of a run of ``graph``, and why."""
        if self.name != "auto":
            return auto.Choice(self.name, "")
        idle = worker_pool().idle(self._pool_key(), self.n_workers)
        warming = _WARMING.locked()  # workers starting in the background: ready in about
        wake = max(0.0, _WARM_UNTIL[0] - time.monotonic()) if warming else None
        choice = auto.choose(graph, self.n_workers, idle, wake)
        if choice.backend == "multiprocessing" and warming:  # get() waits for them
            return choice._replace(reason=f"{choice.reason}, once those starting in the "
                                          f"background are up")  # fmt: skip
        if choice.prewarm:
            self._prewarm(graph)
        return choice

    def _prewarm(self, graph) -> None:
        """Start the process backend's workers in a daemon thread; they wait in the pool."""
        if not _WARMING.acquire(blocking=False):  # one already runs
            return
        idle = worker_pool().idle(self._pool_key(), self.n_workers)
        _WARM_UNTIL[0] = time.monotonic() + auto.start_seconds(self.n_workers, idle)
        backend = make_backend("multiprocessing", self.n_workers,
                               **self._options("multiprocessing", self.n_workers))  # fmt: skip
        backend.prepare(graph)  # the fork server preloads the graph's estimator modules

        def warm():
            try:
                backend.warm()
            finally:
                backend.shutdown()  # idle and alive: into the pool
                _WARMING.release()

        threading.Thread(target=warm, name="foldgraph-pool-prewarm", daemon=True).start()

    def _options(self, name: str, n_workers: int) -> dict:
        opts = self.options
        return backend_options(name, n_workers, opts.get("retries", 1), opts.get("start_method"),
                               opts.get("threads_per_worker", "auto"), opts.get("client"),
                               opts.get("address"))  # fmt: skip

    def _pool_key(self) -> tuple:
        options = self._options("multiprocessing", self.n_workers)
        return options["start_method"] or default_start_method(), options["threads_per_worker"]

    def get(self, name: str):
        """The backend ``name`` (made now if it is the first run on it); it becomes current.

        Worker processes still starting in the background are waited for: the
        run takes them from the pool instead of starting others beside them
        (which the pool, its slots filled, would then stop at ``clear()``).
        """
        if name == "multiprocessing" and _WARMING.locked():
            _await_background(max(0.0, _WARM_UNTIL[0] - time.monotonic()))
        backend = self.made.get(name)
        if backend is None:
            n_workers = 1 if name == "sequential" else self.n_workers
            options = self._options(name, n_workers)
            backend = self.made[name] = make_backend(name, n_workers, **options)
        self.current = backend
        return backend

    def learn(self, graph, trace) -> None:
        """After a run: what ``auto`` learns from it (durations, worker start times)."""
        backend = self.current
        started = getattr(backend, "start_seconds", 0.0)
        n_started = getattr(backend, "n_started", 0)
        auto.learn(graph, trace, started, n_started, first=getattr(backend, "first_start", False))
        if n_started:
            backend.start_seconds, backend.n_started, backend.first_start = 0.0, 0, False

    def release(self) -> None:
        """End of a run: the current backend's workers close the run's buffers."""
        if self.current is not None:
            self.current.release()

    def shutdown(self) -> None:
        """Stop (or give back to the pool) every backend's workers."""
        made, self.made, self.current = self.made, {}, None
        for backend in made.values():
            backend.shutdown()

    @property
    def pids(self) -> list[int]:
        return [] if self.current is None else list(self.current.pids)
