"""Shared buffers: arrays in ``multiprocessing.shared_memory``, or memory-maps.

Only the parent creates and unlinks segments; workers attach by name and
only ``close()``. Segment names say who made them,
``fg_<pid>_<uuid8>_<buffer>``, so an orphan can be traced to its run. Every
segment gets a ``weakref.finalize`` (run at garbage collection or at
interpreter exit), on top of the explicit :meth:`SharedBuffer.release`.

A :data:`Handle` is what travels to a worker instead of the array:
``("shm", segment name, shape, dtype)`` or ``("npy", path, shape, dtype)``.
"""

from __future__ import annotations

import gc
import os
import re
import sys
import uuid
import weakref
from multiprocessing import shared_memory

import numpy as np

__all__ = ["SharedBuffer", "attach", "close_segment", "PREFIX", "segment_names"]

PREFIX = "fg_"
Handle = tuple


def _segment_name(buffer: str) -> str:
    tag = re.sub(r"[^A-Za-z0-9]+", "-", buffer)[:40]
    return f"{PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}_{tag}"


def close_segment(shm) -> None:
    """Close a segment's mapping; if views still exist, collect garbage and retry once."""
    try:
        shm.close()
    except BufferError:
        gc.collect()
        try:
            shm.close()
        except BufferError:  # a view survives somewhere: the mapping dies with the process
            pass


def _finalize(shm, unlink: bool) -> None:
    close_segment(shm)
    if unlink:
        try:
            shm.unlink()
        except FileNotFoundError:
            pass


class SharedBuffer:
    """A 2-D array in a new shared-memory segment owned by this process.

    Parameters
    ----------
    name : str
        Buffer name in the graph (``"X"``, ``"P:ols-1"``).
    shape : tuple of int
    dtype : str or numpy dtype
    data : array-like, optional
        Copied in once.

    Attributes
    ----------
    array : ndarray
        The parent's view of the segment (dropped by :meth:`release`).
    handle : tuple
        ``("shm", segment, shape, dtype)`` for workers to attach.
    """

    def __init__(self, name: str, shape, dtype, data=None):
        self.name = name
        dtype = np.dtype(dtype)
        size = max(int(np.prod(shape)) * dtype.itemsize, 1)
        self._shm = shared_memory.SharedMemory(name=_segment_name(name), create=True, size=size)
        self._finalizer = weakref.finalize(self, _finalize, self._shm, True)
        self.handle = ("shm", self._shm.name, tuple(shape), dtype.str)
        self.array = np.ndarray(shape, dtype=dtype, buffer=self._shm.buf)
        if data is None:
            self.array.fill(0)
        else:
            self.array[...] = data

    @property
    def segment(self) -> str:
        """Name of the shared-memory segment (a file under /dev/shm on Linux)."""
        return self._shm.name

    def release(self) -> None:
        """Drop the view, close and unlink the segment (idempotent)."""
        self.array = None
        self._finalizer()


def attach(handle: Handle):
    """Open a handle in a worker: returns ``(array, segment or None)``.

    The caller must drop the array before ``close_segment(segment)``. The
    worker never registers the segment with the resource tracker: the
    parent owns it and unlinks it.
    """
    kind, where, shape, dtype = handle
    if kind == "npy":
        return np.load(where, mmap_mode="r"), None
    if sys.version_info >= (3, 13):
        shm = shared_memory.SharedMemory(name=where, track=False)
    else:
        from multiprocessing import resource_tracker

        register = resource_tracker.register
        resource_tracker.register = lambda *args, **kwargs: None
        try:
            shm = shared_memory.SharedMemory(name=where)
        finally:
            resource_tracker.register = register
    return np.ndarray(shape, dtype=np.dtype(dtype), buffer=shm.buf), shm


def segment_names(pid: int | None = None) -> list[str]:
    """foldgraph segments present in /dev/shm (of one parent pid, if given)."""
    prefix = PREFIX if pid is None else f"{PREFIX}{pid}_"
    try:
        return sorted(n for n in os.listdir("/dev/shm") if n.startswith(prefix))
    except FileNotFoundError:  # no /dev/shm (not Linux)
        return []
