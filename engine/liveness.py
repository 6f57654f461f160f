"""What a run holds in memory: its buffers until their last reader, its idle processes.

:class:`Liveness` tells which buffers a finished node was the last to touch
(the loop then releases them, see :meth:`Job.free
<foldgraph.engine.job.Job.free>`); :func:`idle_memory` measures the
processes' own memory before a run. Both feed a run's
:class:`~foldgraph.engine.admission.Budget`.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Liveness", "nbytes", "kept_buffers", "idle_memory", "tree_pids"]

_INPUTS = ("X", "y", "w")
_ITEMSIZE: dict = {}  # by dtype: np.dtype() costs a microsecond, once per buffer adds up


class Liveness:
    """Which buffers a node is the last to touch, and their bytes.

    Tracks the buffers that are not inputs, not in ``keep`` and at least
    ``min_bytes``.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, map_graph
    >>> from foldgraph.testing import OLS
    >>> g = map_graph(Learner(OLS(), FoldIndex(2), name="ols"), "fit", X=np.ones((4, 2)), y=np.ones(4))
    >>> live = Liveness(g, keep=(), min_bytes=0)
    >>> live.finish("ols/fit/fold-0"), live.finish("ols/fit/fold-1")
    ([], [('P:ols', 32)])
    """

    def __init__(self, graph, keep=(), min_bytes: int = 1 << 20):
        self.size = {}
        for name, spec in graph.buffers.items():
            if name not in _INPUTS and name not in keep:
                if (size := nbytes(spec)) >= min_bytes:
                    self.size[name] = size
        self.pending = dict.fromkeys(self.size, 0)
        self.touches: dict = {}
        if not self.size:
            return
        attrs = graph.attrs
        for key in graph.nx:
            names = _touched(attrs(key)) & self.size.keys()
            if names:
                self.touches[key] = names
                for name in names:
                    self.pending[name] += 1

    def finish(self, key) -> list:
        """``key`` finished: ``[(buffer, bytes)]`` no node will touch again."""
        freed = []
        for name in self.touches.get(key, ()):
            self.pending[name] -= 1
            if self.pending[name] == 0:
                freed.append((name, self.size[name]))
        return freed


def _touched(a: dict) -> set:
    names = {b for b, *_ in a.get("reads", ())} | {b for b, *_ in a.get("writes", ())}
    return names | {a.get(k) for k in ("x", "out", "y", "w") if a.get(k)}


def nbytes(spec) -> int:
    """Bytes of a :class:`~foldgraph.graph.nodes.BufferSpec`.

    Examples
    --------
    >>> from foldgraph.graph.nodes import BufferSpec
    >>> nbytes(BufferSpec("P:a", (10, 2), "float64"))
    160
    """
    size = _ITEMSIZE.get(spec.dtype)
    if size is None:
        size = _ITEMSIZE[spec.dtype] = np.dtype(spec.dtype).itemsize
    return math.prod(spec.shape) * size


def kept_buffers(graph, names) -> set:
    """The buffers a run returns: the outputs of the tasks ``names`` (see ``collect_outputs``).

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, map_graph
    >>> from foldgraph.testing import OLS
    >>> g = map_graph(Learner(OLS(), FoldIndex(2), name="ols"), "fit", X=np.ones((4, 2)), y=np.ones(4))
    >>> kept_buffers(g, ["ols"])
    {'P:ols'}
    """
    return {graph.output_of(name)[0] for name in names}


def idle_memory(pids) -> int:
    """Bytes the processes ``pids`` hold on their own: PSS minus shared-memory pages.

    Read from ``/proc/<pid>/smaps_rollup`` on Linux (the job's shared
    buffers are counted once, as live buffers, not here); elsewhere psutil's
    RSS minus its ``shared``. A process that is gone counts 0.

    Examples
    --------
    >>> import os
    >>> idle_memory([os.getpid()]) > 0
    True
    """
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
                fields = dict(line.split()[:2] for line in f if line[:4] in (b"Pss:", b"Pss_"))
            total += (int(fields[b"Pss:"]) - int(fields.get(b"Pss_Shmem:", 0))) * 1024
        except (FileNotFoundError, ProcessLookupError, PermissionError, KeyError):
            total += _rss_own(pid)
    return total


def _rss_own(pid: int) -> int:
    try:
        import psutil

        info = psutil.Process(pid).memory_info()
        return info.rss - getattr(info, "shared", 0)
    except Exception:  # noqa: BLE001 - gone, or no psutil: it holds nothing we can see
        return 0


def tree_pids() -> list[int]:
    """This process and its descendants (workers, the forkserver, the resource tracker).

    Examples
    --------
    >>> import os
    >>> tree_pids()[0] == os.getpid()
    True
    """
    import psutil

    me = psutil.Process()
    return [me.pid, *(p.pid for p in me.children(recursive=True))]
