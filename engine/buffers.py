"""Shared buffers: arrays in ``multiprocessing.shared_memory``, or memory-maps.

Only the parent creates and unlinks segments; workers attach by name and
only ``close()``. Segment names say who made them,
``fg_<pid>_<uuid8>_<buffer>``, so an orphan can be traced to its run. Every
segment gets a ``weakref.finalize`` (run at garbage collection or at
interpreter exit), on top of the explicit :meth:`SharedBuffer.release`.

A :data:`Handle` is what travels to a worker instead of the array:
``("shm", segment name, shape, dtype, offset)`` or ``("npy", path, shape,
dtype)``. All the buffers of one run share one segment.
"""

from __future__ import annotations

import gc
import math
import mmap
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
    """Close a segment's mapping; if views still exist, collect garbage and retry once.

    Closing never unlinks: only the process that created a segment does.

    Examples
    --------
    >>> buf = SharedBuffer({"X": ((2, 2), "float64")})
    >>> segments = {}
    >>> X = attach(buf.handles["X"], segments)
    >>> del X
    >>> for shm in segments.values():
    ...     close_segment(shm)
    >>> buf.release()
    """
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


def _aligned(nbytes: int, alignment: int = 64) -> int:
    return (nbytes + alignment - 1) // alignment * alignment


#: arrays of at least this size start on a page: their pages can be freed alone
PAGE_ALIGN_FROM = 1 << 16


def _punch(segment: str, start: int, stop: int) -> bool:
    """Free the whole pages of ``[start, stop)`` in ``segment`` for every process (Linux).

    ``MADV_REMOVE`` on a shared mapping of a tmpfs file punches a hole in
    the file: its pages go back to the system and read as zeros. Only pages
    wholly inside the range are freed (a neighbour's bytes are never
    touched). False where it is not available (not Linux).
    """
    page = mmap.PAGESIZE
    start, stop = -(-start // page) * page, stop // page * page
    advice = getattr(mmap, "MADV_REMOVE", None)
    path = os.path.join("/dev/shm", segment)
    if stop <= start or advice is None or not os.path.exists(path):
        return False
    fd = os.open(path, os.O_RDWR)
    try:  # a mapping of our own: SharedMemory keeps its mmap private
        with mmap.mmap(fd, stop) as mapped:
            mapped.madvise(advice, start, stop - start)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


class SharedBuffer:
    """Several 2-D arrays in one new shared-memory segment owned by this process.

    One segment per run keeps the cost of creating, attaching and unlinking
    flat however many buffers a graph has: each array is a view at an
    aligned offset.

    Parameters
    ----------
    specs : dict of str to (shape, dtype)
        The arrays to lay out, by buffer name (``"X"``, ``"P:ols-1"``).
    tag : str, default="run"
        Readable part of the segment name.

    Attributes
    ----------
    arrays : dict of str to ndarray
        The parent's views, zero-filled (dropped by :meth:`release`).
    handles : dict of str to tuple
        ``("shm", segment, shape, dtype, offset)`` for workers to attach.

    Examples
    --------
    >>> buf = SharedBuffer({"X": ((2, 3), "float64"), "P:a": ((2, 1), "float64")})
    >>> buf.arrays["X"].shape, buf.handles["P:a"][-1]
    ((2, 3), 64)
    >>> buf.release()
    """

    def __init__(self, specs: dict, tag: str = "run"):
        layout, size = {}, 0
        for name, (shape, dtype) in specs.items():
            dtype = np.dtype(dtype)
            nbytes = math.prod(shape) * dtype.itemsize
            if nbytes >= PAGE_ALIGN_FROM:
                size = _aligned(size, mmap.PAGESIZE)
            layout[name] = (tuple(shape), dtype, size)
            size += _aligned(nbytes)
        self._shm = shared_memory.SharedMemory(name=_segment_name(tag), create=True,
                                               size=max(size, 1))  # fmt: skip
        self._finalizer = weakref.finalize(self, _finalize, self._shm, True)
        self.arrays, self.handles = {}, {}
        for name, (shape, dtype, offset) in layout.items():
            self.arrays[name] = np.ndarray(shape, dtype=dtype, buffer=self._shm.buf, offset=offset)
            self.handles[name] = ("shm", self._shm.name, shape, dtype.str, offset)

    @property
    def segment(self) -> str:
        """Name of the shared-memory segment (a file under /dev/shm on Linux)."""
        return self._shm.name

    def free(self, name: str) -> bool:
        """Give the pages of array ``name`` back to the system; True if they were.

        For a buffer no node will read or write again: its contents read as
        zeros afterwards, in every process attached to the segment.

        Examples
        --------
        >>> buf = SharedBuffer({"P:a": ((512, 128), "float64")})
        >>> buf.arrays["P:a"][:] = 1.0
        >>> buf.free("P:a") == os.path.exists("/dev/shm"), float(buf.arrays["P:a"].max())
        (True, 0.0)
        >>> buf.release()
        """
        array = self.arrays.get(name)
        if array is None:
            return False
        offset = self.handles[name][4]
        return _punch(self._shm.name, offset, offset + array.nbytes)

    def release(self) -> None:
        """Drop the views, close and unlink the segment (idempotent)."""
        self.arrays = {}
        self._finalizer()


def attach(handle: Handle, segments: dict):
    """Open a handle in a worker; returns the array.

    ``segments`` caches the segments this worker has opened, by name; the
    caller drops every array before closing them with :func:`close_segment`.
    The worker never registers a segment with the resource tracker: the
    parent owns it and unlinks it.

    Examples
    --------
    What a worker does with the handle the parent sends (here in one process):

    >>> buf = SharedBuffer({"P:a": ((3, 1), "float64")})
    >>> segments = {}
    >>> P = attach(buf.handles["P:a"], segments)
    >>> P[1, 0] = 7.0
    >>> buf.arrays["P:a"].ravel().tolist()
    [0.0, 7.0, 0.0]
    >>> del P
    >>> for shm in segments.values():
    ...     close_segment(shm)
    >>> buf.release()
    """
    if handle[0] == "csr":  # ("csr", shape, data handle, indices handle, indptr handle)
        from scipy.sparse import csr_matrix

        parts = tuple(attach(h, segments) for h in handle[2:])
        return csr_matrix(parts, shape=handle[1], copy=False)
    if handle[0] == "frame":  # ("frame", layout, {part: handle}): a DataFrame on them
        from foldgraph.tasks.frames import frame_from_parts

        return frame_from_parts(handle[1], {p: attach(h, segments) for p, h in handle[2].items()})
    kind, where, shape, dtype = handle[:4]
    if kind == "npy":
        return np.load(where, mmap_mode="r")
    shm = segments.get(where)
    if shm is None:
        shm = segments[where] = _open_untracked(where)
    return np.ndarray(shape, dtype=np.dtype(dtype), buffer=shm.buf, offset=handle[4])


def _open_untracked(name: str):
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=name, track=False)
    from multiprocessing import resource_tracker

    register = resource_tracker.register
    resource_tracker.register = lambda *args, **kwargs: None
    try:
        return shared_memory.SharedMemory(name=name)
    finally:
        resource_tracker.register = register


def segment_names(pid: int | None = None) -> list[str]:
    """foldgraph segments present in /dev/shm (of one parent pid, if given).

    Empty where there is no ``/dev/shm`` (not Linux).

    Examples
    --------
    >>> import os
    >>> buf = SharedBuffer({"X": ((2, 2), "float64")})
    >>> segment_names(os.getpid()) == [buf.segment]
    True
    >>> buf.release()
    >>> segment_names(os.getpid())
    []
    """
    prefix = PREFIX if pid is None else f"{PREFIX}{pid}_"
    try:
        return sorted(n for n in os.listdir("/dev/shm") if n.startswith(prefix))
    except FileNotFoundError:  # no /dev/shm (not Linux)
        return []
