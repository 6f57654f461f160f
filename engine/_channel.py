"""The parent's end of one worker process: its pipe, framing and bookkeeping.

Private to :mod:`foldgraph.engine.processes`, which drives these: a
:class:`WorkerHandle` holds a worker's process, its pipe (read and written here
directly, in the framing of ``multiprocessing.connection.Connection``, which
the worker uses) and the nodes in flight on it.
"""

from __future__ import annotations

import os
import struct
import threading
from collections import deque
from contextlib import contextmanager

from ._parent import worker_process
from .worker import Payload

_HEADER = struct.Struct("!i")  # multiprocessing.connection's framing: a signed length...
_LONG = struct.Struct("!Q")  # ...or -1 and then this, for 2 GiB and more


def write_frames(fd: int, msg: bytes) -> None:
    """Write one message to a pipe as ``Connection.send_bytes`` would (header, body)."""
    n = len(msg)
    header = _HEADER.pack(n) if n <= 0x7FFFFFFF else _HEADER.pack(-1) + _LONG.pack(n)
    for part in (header + msg,) if n < 16384 else (header, msg):  # small: one system call
        view = memoryview(part)
        while view:
            view = view[os.write(fd, view) :]


def read_messages(worker) -> list[bytes] | None:
    """Read what ``worker``'s pipe holds until at least one message is whole; return
    the whole messages (the rest stays in its inbox), or None at end of file."""
    inbox = worker.inbox
    while True:
        try:
            chunk = os.read(worker.fd, max(65536, worker.need - len(inbox)))
        except OSError:
            return None
        if not chunk:
            return None
        inbox += chunk
        if len(inbox) < worker.need:  # a large message, still arriving
            continue
        msgs, pos, size = [], 0, len(inbox)
        with memoryview(inbox) as view:
            while True:
                if size - pos < _HEADER.size:
                    need = pos + _HEADER.size
                    break
                (n,) = _HEADER.unpack_from(view, pos)
                start = pos + _HEADER.size
                if n == -1:
                    if size - start < _LONG.size:
                        need = start + _LONG.size
                        break
                    (n,) = _LONG.unpack_from(view, start)
                    start += _LONG.size
                if size < start + n:
                    need = start + n
                    break
                msgs.append(bytes(view[start : start + n]))
                pos = start + n
        del inbox[:pos]
        worker.need = need - pos
        if msgs:
            return msgs


@contextmanager
def _without_main_module():
    """Start processes without re-running the parent's ``__main__`` in them.

    Payloads are cloudpickled (functions and classes of ``__main__`` travel
    by value), so workers never need the user's script: like loky, we drop
    it from the spawn preparation data. A script without an
    ``if __name__ == "__main__":`` guard then works too.
    """
    from multiprocessing import spawn

    original = spawn.get_preparation_data

    def preparation_data(name):
        data = original(name)
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
        return data

    spawn.get_preparation_data = preparation_data
    try:
        yield
    finally:
        spawn.get_preparation_data = original


class WorkerHandle:
    """One worker slot: its process, pipe, and the node it runs."""

    __slots__ = ("slot", "process", "conn", "fd", "inbox", "need", "inflight", "cost", "run_id",
                 "sizes", "pending", "unsent", "started", "answered")

    def __init__(self, slot: int, ctx, n_threads):
        parent, child = ctx.Pipe(duplex=True)
        self.slot = slot
        # nodes the worker has started (it counts them in shared memory): after a death,
        # tells the node it was running from the finished ones whose answers it held
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
        with _without_main_module():
            self.process.start()
        child.close()
        self.conn = parent
        # the parent reads and writes the pipe's file descriptor directly, in the
        # framing of multiprocessing's Connection (which the worker uses): one read
        # takes every answer message waiting
        self.fd = parent.fileno()
        self.inbox = bytearray()  # bytes read, not yet a whole message
        self.need = _HEADER.size  # bytes the inbox must hold before a message is whole
        self.inflight: deque[Payload] = deque()  # submitted, not answered; the first runs
        self.cost = 0.0  # estimated seconds of the nodes in flight
        self.sizes: deque[int] = deque()  # bytes of the payloads written, not answered
        self.pending = 0  # their sum
        self.unsent: deque[bytes] = deque()  # the tail of inflight, not written yet
        self.run_id = None

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the worker to exit; kill it if it does not within ``timeout``."""
        try:
            self.conn.send_bytes(b"S")
        except (OSError, ValueError):
            pass
        self.process.join(timeout)
        self.kill()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.conn.close()
        self.process.close() if self.process.exitcode is not None else None
