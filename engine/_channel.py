"""The parent's end of one worker process: its process, its Connection, its nodes.

Private to :mod:`foldgraph.engine.processes`, which drives these. Messages
are those of :mod:`foldgraph.engine._protocol`, sent and received with the
standard ``multiprocessing.connection.Connection`` (``send_bytes`` /
``recv_bytes``).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import select
import sys
import threading
import time
import types
from collections import deque
from collections.abc import Mapping
from contextlib import contextmanager

from ._parent import worker_process
from ._protocol import Kind, Payload, message
from ._skconfig import caller_config
from ._sources import import_context, own_module

__all__ = ["WorkerHandle", "Placement", "without_main_script", "default_start_method", "check_start_method",
           "estimator_modules", "PRELOAD", "FREEZE", "START_METHODS"]  # fmt: skip

#: what the fork server imports before it forks workers (then the estimators' modules)
PRELOAD = ["numpy", "sklearn.base", "foldgraph.engine.worker", "foldgraph.engine._parent"]
#: imported after PRELOAD and the estimators' modules: freezes them (see engine/_freeze.py)
FREEZE = "foldgraph.engine._freeze"
START_METHODS = ("forkserver", "spawn", "fork")

#: one process start at a time may stand in for __main__ (see without_main_script)
_START_LOCK = threading.Lock()


@contextmanager
def without_main_script():
    """Start processes that do not re-run the parent's ``__main__`` script.

    A process started by ``spawn`` or ``forkserver`` first runs the parent's
    main script (as ``__mp_main__``), because multiprocessing's
    preparation data names the module found at ``sys.modules["__main__"]``.
    Payloads are cloudpickled (functions and classes of ``__main__`` travel
    by value), so workers never need the user's script: like loky, we leave
    it out, so that a script without an ``if __name__ == "__main__":``
    guard works too and a script's slow top level never runs in a worker.
    This is done with the public module table, not by changing
    multiprocessing: while a worker starts, ``__main__`` is a bare module
    with no file (the state of an interactive session); the user's module
    is put back before this returns. Starts are serialized by a lock; the
    module is swapped only for the few milliseconds of ``Process.start``.
    """
    with _START_LOCK:
        main = sys.modules.get("__main__")
        stand_in = types.ModuleType("__main__")
        stand_in.__spec__ = None
        sys.modules["__main__"] = stand_in
        try:
            yield
        finally:
            if main is not None:
                sys.modules["__main__"] = main


class WorkerHandle:
    """One worker slot: its process, its Connection, and the nodes in flight on it.

    ``inflight`` is the one record of what the worker holds: submitted,
    unanswered payloads in the order sent (the first runs, the others wait
    in the pipe); ``unsent`` is its tail not written yet.
    """

    __slots__ = ("slot", "process", "conn", "inflight", "cost", "run_id", "sizes",
                 "pending", "unsent", "started", "answered", "_more", "config", "born", "imports", "owner")  # fmt: skip

    def __init__(self, slot: int, ctx, n_threads):
        if mp.current_process().daemon:  # multiprocessing would only say AssertionError
            raise RuntimeError(
                "backend='multiprocessing' cannot start worker processes inside a daemonic "
                "process (a foldgraph, multiprocessing or dask worker): give the inner "
                "ensemble or manager backend='auto' (it runs sequential there) or 'sequential'"
            )
        parent, child = ctx.Pipe(duplex=True)
        self.slot = slot
        # its imports are at least this old, and come from there (see engine/_sources.py)
        self.born, self.imports = time.time(), import_context()
        self.owner = os.getpid()  # only this process may use or stop it (see foreign)
        # nodes the worker has started (it counts them in shared memory): after a death,
        # tells the node it was running from the ones queued behind it
        self.started = ctx.RawValue("q", 0)
        self.answered = 0
        # the worker dies with this process (see engine/_parent.py); the kernel's signal
        # follows the forking thread: asked for unless that is a thread which may end first
        pdeathsig = (ctx.get_start_method() == "forkserver"
                     or threading.current_thread() is threading.main_thread())  # fmt: skip
        self.process = ctx.Process(
            target=worker_process, args=(slot, child, n_threads, self.started, pdeathsig),
            name=f"foldgraph-worker-{slot}", daemon=True,
        )  # fmt: skip
        with without_main_script():
            self.process.start()
        child.close()
        self.conn = parent
        # is an answer waiting? One poll() system call, where Connection.poll() and
        # connection.wait() build a selector per call (answers come one after another)
        self._more = select.poll() if hasattr(select, "poll") else None
        if self._more is not None:
            self._more.register(parent.fileno(), select.POLLIN)
        self.inflight: deque[Payload] = deque()  # submitted, not answered; the first runs
        self.cost = 0.0  # estimated seconds of the nodes in flight
        self.sizes: deque[int] = deque()  # bytes of the payloads written, not answered
        self.pending = 0  # their sum
        self.unsent: deque[bytes] = deque()  # RUN messages of inflight's tail, not written
        self.run_id = None
        self.config = None  # the scikit-learn config last sent (see engine/_skconfig.py)

    def send(self, msg: bytes) -> None:
        self.conn.send_bytes(msg)

    def attach(self, handles: dict) -> None:
        """Point the worker at a run's buffers, under the scikit-learn config of the
        calling thread (the run's): sent when it changed (it can change the numbers;
        see engine/_skconfig.py)."""
        config = caller_config()
        if config is not None and config != self.config:
            self.send(message(Kind.CONFIG, config))
            self.config = config
        self.send(message(Kind.ATTACH, handles))

    @property
    def foreign(self) -> bool:
        """In a process forked since the worker started: it is the parent's. The child
        must not write to its pipe nor stop it (nor can it: multiprocessing tests only
        its own children); it starts its own."""
        return self.owner != os.getpid()

    def alive(self) -> bool:
        """Alive and this process's own."""
        return not self.foreign and self.process.is_alive()

    def readable(self) -> bool:
        """Is an answer (or end of file) waiting? False where poll() is missing."""
        return self._more is not None and bool(self._more.poll(0))

    def receive(self) -> list[bytes] | None:
        """Every answer waiting on the pipe (at least one: call when it is readable),
        or None at end of file (the worker died)."""
        conn, msgs = self.conn, []
        more = conn.poll if self._more is None else lambda: self._more.poll(0)
        try:
            msgs.append(conn.recv_bytes())
            while len(msgs) < len(self.inflight) and more():
                msgs.append(conn.recv_bytes())
        except (EOFError, OSError):
            return msgs or None  # the answers read before it died count
        return msgs

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the worker to exit; kill it if it does not within ``timeout``."""
        if self.foreign:  # the parent's: only this process's end of the pipe is closed
            self.conn.close()
            return
        try:
            self.conn.send_bytes(message(Kind.STOP))
        except (OSError, ValueError):
            pass
        self.process.join(timeout)
        self.kill()

    def kill(self) -> None:
        if self.foreign:
            self.conn.close()
            return
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.conn.close()
        self.process.close() if self.process.exitcode is not None else None


class Placement(Mapping):
    """``{key: worker slot}`` of the nodes in flight, read live from the workers'
    in-flight queues (the one record of them): what followers are placed by.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> workers = [SimpleNamespace(slot=0, inflight=[SimpleNamespace(key="a")])]
    >>> placed = Placement(lambda: workers)
    >>> placed.get("a"), placed.get("b"), dict(placed)
    (0, None, {'a': 0})
    >>> workers[0].inflight.append(SimpleNamespace(key="b")); placed.get("b")
    0
    """

    def __init__(self, workers):
        self._workers = workers  # () -> the backend's current workers

    def __getitem__(self, key: str) -> int:
        for worker in self._workers():
            for payload in worker.inflight:
                if payload.key == key:
                    return worker.slot
        raise KeyError(key)

    def __iter__(self):
        return (p.key for w in self._workers() for p in w.inflight)

    def __len__(self) -> int:
        return sum(len(w.inflight) for w in self._workers())


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


def estimator_modules(tasks) -> list[str]:
    """Modules defining the estimators of ``tasks`` (nested ones included).

    ``__main__`` and modules of the standard library are left out: workers
    never import the user's script. So are your own modules (see
    :mod:`foldgraph.engine._sources`): preloaded in the fork server, a module
    you edit and reload would stay as it was in every worker it starts.

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
        if (module != "__main__" and module.split(".")[0] not in sys.stdlib_module_names
                and not own_module(module)):  # fmt: skip
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


def _forget_fork_server() -> None:
    """In a forked child, forget the parent's multiprocessing fork server (start its own).

    CPython's fork server state is the parent's after ``os.fork``: its
    ``ensure_running`` would ``waitpid`` a process that is not the child's
    and fail with ``ChildProcessError`` at the child's first worker start.
    """
    forkserver = sys.modules.get("multiprocessing.forkserver")
    server = getattr(forkserver, "_forkserver", None)
    if getattr(server, "_forkserver_pid", None) is None:
        return
    alive = getattr(server, "_forkserver_alive_fd", None)
    # CPython's private fields (3.8 to 3.13): what its own stop() resets
    server._forkserver_pid = server._forkserver_address = server._forkserver_alive_fd = None
    if alive is not None:
        try:
            os.close(alive)  # the child's copy: the parent keeps its server alive
        except OSError:
            pass


os.register_at_fork(after_in_child=_forget_fork_server)
