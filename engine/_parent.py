"""A worker process dies with its parent (private to the multiprocessing backend).

A worker reads its pipe only between nodes, so on its own it would notice
a dead parent only after its node ends, minutes later perhaps, holding the
run's shared memory all along (and, with ``forkserver``, keeping the fork
server and the resource tracker alive: the tracker unlinks the parent's
segments only once every process holding its pipe is gone). So
:func:`worker_process`, the target of every worker, first:

- on Linux, asks the kernel for ``SIGKILL`` when its parent dies
  (``prctl(PR_SET_PDEATHSIG)``). The parent is the process, or rather the
  *thread*, that forked the worker: the user's process with ``fork`` and
  ``spawn`` (asked for only when that is its main thread: the death of
  another thread would kill the worker), the fork server with
  ``forkserver``, which lives on while workers do;
- everywhere, starts a daemon thread that waits on multiprocessing's
  sentinel of the process that *started* it (``parent_process()``: a pipe
  the parent holds open, at end of file once the parent is gone, however
  it died) and then ends the worker with ``os._exit``.

A node that holds the GIL in compiled code delays the thread until it lets
go; the kernel's signal does not wait.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading

from .worker import worker_main

__all__ = ["worker_process", "watch_parent", "EXIT_ORPHANED"]

#: exit code of a worker whose parent died
EXIT_ORPHANED = 70
_PR_SET_PDEATHSIG = 1


def worker_process(slot: int, conn, n_threads, started, pdeathsig: bool) -> None:
    """Target of a worker process: :func:`watch_parent`, then
    :func:`~foldgraph.engine.worker.worker_main`."""
    watch_parent(pdeathsig)
    worker_main(slot, conn, n_threads, started)


def watch_parent(pdeathsig: bool = False) -> threading.Thread | None:
    """End this process (``os._exit``) as soon as the process that started it dies.

    Parameters
    ----------
    pdeathsig : bool
        Also ask Linux for ``SIGKILL`` at the death of the thread that forked
        this process (see the module docstring for when that is safe).

    Returns
    -------
    threading.Thread or None
        The watching thread; None in a process not started by multiprocessing.

    Examples
    --------
    >>> watch_parent() is None  # the main process: nobody to watch
    True
    """
    if pdeathsig and sys.platform.startswith("linux"):
        _kill_with_parent()
    parent = multiprocessing.parent_process()
    if parent is None:
        return None
    if not parent.is_alive():  # died before we looked
        os._exit(EXIT_ORPHANED)
    thread = threading.Thread(target=_wait_then_exit, args=(parent,),
                              name="foldgraph-parent-watch", daemon=True)  # fmt: skip
    thread.start()
    return thread


def _wait_then_exit(parent) -> None:
    parent.join()  # waits on the parent's sentinel: at end of file when it is gone
    os._exit(EXIT_ORPHANED)


def _kill_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no libc prctl (musl without it, ...): the thread stays
        pass
