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

from .cache import capture, store_results

__all__ = ["Liveness", "Keeper", "nbytes", "kept_buffers", "idle_memory", "tree_pids"]

_INPUTS = ("X", "y", "w")
_ITEMSIZE: dict = {}  # by dtype: np.dtype() costs a microsecond, once per buffer adds up


class Liveness:
    """Which buffers a node is the last to touch, and their bytes.

    Tracks the buffers that are not inputs, not in ``keep`` and at least
    ``min_bytes``. Nodes in ``done`` (cache hits, restored before the run)
    never finish in the run: they do not count as touches, and a buffer only
    they touch is listed by :meth:`unread` (released before any node runs).

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

    def __init__(self, graph, keep=(), min_bytes: int = 1 << 20, done=()):
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
            if key in done:
                continue
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

    def unread(self) -> list:
        """``[(buffer, bytes)]`` no node of the run touches (only cache hits wrote them).

        Examples
        --------
        >>> import numpy as np
        >>> from foldgraph import FoldIndex, Learner, map_graph
        >>> from foldgraph.testing import OLS
        >>> g = map_graph(Learner(OLS(), FoldIndex(2), name="ols"), "fit", X=np.ones((4, 2)), y=np.ones(4))
        >>> Liveness(g, min_bytes=0, done=set(g.nx)).unread()
        [('P:ols', 32)]
        """
        return [(name, size) for name, size in self.size.items() if not self.pending[name]]


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


class Keeper:
    """What a run saves from a buffer before it lets the buffer go.

    A released buffer's pages are gone, so before :meth:`release` frees one
    it puts the cache entries of the nodes that ran and wrote it into
    ``store`` (fingerprints ``fps``, hits ``hits``, as from
    :func:`~foldgraph.engine.cache.restore_hits`) and, if it is one of
    ``returned``, copies it out (:attr:`buffers` then serves the copy).
    ``keep`` holds the returned buffers no node reads: their last touch is
    their own writing, so copying them early would gain nothing.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Job, Learner, stack_graph
    >>> from foldgraph.testing import OLS
    >>> X, y = np.arange(16.0).reshape(8, 2), np.arange(8.0)
    >>> g = stack_graph([Learner(OLS(), FoldIndex(2), name="a"),
    ...                  Learner(OLS(), FoldIndex(2), name="b")], "fit", X=X, y=y)
    >>> job = Job("fit", X, y)
    >>> _ = job.allocate(g)
    >>> keeper = Keeper(g, job, returned={"P:a", "P:b"}, min_bytes=0)
    >>> keeper.keep  # P:a is read by b: copied out when released
    {'P:b'}
    >>> job.buffers["P:a"][:] = 7.0
    >>> keeper.release("P:a", {}), job.buffers["P:a"].shape, float(keeper.buffers["P:a"].max())
    (True, (0, 1), 7.0)
    >>> job.release()
    """

    def __init__(self, graph, job, returned=(), store=None, fps=None, hits=(),
                 min_bytes: int = 1 << 20):  # fmt: skip
        self.graph, self.job, self.store = graph, job, store
        self.fps, self.hits = fps or {}, hits
        self.copies: dict = {}
        self.stored: set = set()  # fingerprints put into the store during the run
        self.writers: dict = {}  # buffer -> nodes that ran and whose entry has a block of it
        self.returned = set(returned)
        self.keep = set(self.returned)
        # only buffers Liveness may release matter: small runs skip the pass over the nodes
        if not any(n not in _INPUTS and nbytes(s) >= min_bytes for n, s in graph.buffers.items()):
            return
        for key in graph.nx:
            a = graph.attrs(key)
            self.keep -= {b for b, *_ in a.get("reads", ())} | {a.get("x")}
            if store is not None and self.fps.get(key) is not None and key not in hits:
                if a.get("out") is not None and a.get("out_rows"):
                    self.writers.setdefault(a["out"], []).append(key)

    def release(self, name: str, results: dict) -> bool:
        """Store the entries of ``name``'s writers, copy it if returned, then free it."""
        new = {}
        for key in self.writers.get(name, ()):
            fp = self.fps[key]
            if fp not in self.stored and fp not in new:
                new[fp] = capture(self.graph.attrs(key), self.job.buffers, results[key])
        if new:
            self.store.update(new)
            self.stored.update(new)
        if name in self.returned:  # an in-process array is kept as is: free() drops only its name
            array = self.job.buffers[name]
            self.copies[name] = array if array.flags.owndata else np.array(array)
        return self.job.free(name)

    @property
    def buffers(self) -> dict:
        """The job's buffers, the copies of the released ones in their place."""
        return {**self.job.buffers, **self.copies}

    def store_rest(self, results: dict) -> int:
        """Put the entries not stored during the run into the store; return how many."""
        return store_results(self.graph, self.job, self.store, self.fps, results, self.hits,
                             self.stored)  # fmt: skip


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
