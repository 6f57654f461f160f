"""Giving a worker's freed memory back to the system (glibc's ``malloc_trim``).

Private to :mod:`foldgraph.engine.worker`, whose loop trims after a node
that read at least :data:`TRIM_ABOVE` bytes of input rows.
"""

from __future__ import annotations

#: after a node that read at least this many bytes of input rows, the worker
#: hands the free pages of its heap back to the system (see load_trim)
TRIM_ABOVE = 8 * 2**20


def load_trim():
    """glibc's ``malloc_trim``, or None (musl, macOS, Windows).

    Once a freed block of a few MB to 32 MiB raises glibc's dynamic mmap
    threshold, later blocks of that size (a tree's float32 copy of its
    training rows, a test slice) come from the heap, and once freed they
    stay resident unless they were at the heap's top: about 35 MB per worker
    after the memory benchmark's fit. ``malloc_trim(0)`` returns them; it
    costs ~1.5 us when there is nothing to free and ~0.2 ms to free tens of
    MB (plus the page faults when the memory is used again), so a worker
    calls it only after a node that read at least TRIM_ABOVE bytes.
    Results do not change: only where freed memory lives does.
    """
    try:
        import ctypes

        trim = ctypes.CDLL(None).malloc_trim
    except (ImportError, OSError, AttributeError, TypeError):  # no glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def input_bytes(X, rows: tuple) -> int:
    """Bytes of ``X`` in ``rows`` (``(start, stop)`` ranges), about; 0 for no array.

    >>> import numpy as np
    >>> input_bytes(np.ones((10, 4)), ((0, 2), (5, 8)))  # 5 rows of 32 bytes
    160
    """
    shape = getattr(X, "shape", ())
    if not shape or not shape[0]:
        return 0
    nbytes = getattr(X, "nbytes", None)
    if hasattr(X, "memory_usage"):  # a DataFrame: its columns (strings as pointers)
        nbytes = int(X.memory_usage(index=False).sum())
    if nbytes is None:  # scipy.sparse: its data and column indices
        nbytes = sum(getattr(getattr(X, part, None), "nbytes", 0) for part in ("data", "indices"))
    return nbytes // shape[0] * sum(b - a for a, b in rows)
