"""The cyclic garbage collector paused around hot loops over many nodes.

A full collection walks every node's attribute dicts: tens of microseconds
per node on large graphs (about 40 % of a build). Building a graph, a run,
a simulation and the attaching of results form no reference cycle, so the
collector is paused while they last and resumes afterwards (as it was: a
paused collector stays paused). Here, in the graph layer, so that the
builders and the engine share it.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector inside the ``with`` block.

    Examples
    --------
    >>> import gc
    >>> with gc_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
