"""A manager as a value: a handle on workers, copied by reference, pickled as settings
(the base of :class:`~foldgraph.engine.manager.ParallelProcessing`)."""

from __future__ import annotations

import threading

from ._options import is_runtime

__all__ = ["Handle"]


class Handle:
    """Copies share the workers; a pickle carries settings only; ``with`` clears.

    A subclass has ``clear()``, a ``_lock`` and a ``_running`` flag, and the
    run attributes reset on pickling (``job``, ``graph``, ``trace``,
    ``_backend``, ``client``, ``fingerprints``).

    Examples
    --------
    >>> import copy, pickle
    >>> from foldgraph.engine import ParallelProcessing
    >>> pp = ParallelProcessing("sequential")
    >>> copy.deepcopy(pp) is pp, pickle.loads(pickle.dumps(pp)).backend
    (True, 'sequential')
    """

    def __deepcopy__(self, memo):
        """A manager is a handle on workers (a cluster): copies share it, so that
        ``sklearn.base.clone`` keeps an ensemble's ``backend=ParallelProcessing(...)``."""
        return self

    def __getstate__(self) -> dict:
        """Settings only: a pickled manager (say, inside a fitted ensemble) carries no
        workers, client, buffers or last run; after loading it starts its own pool at
        its first run (a dask manager given ``client=`` needs ``address=`` or a new
        client then)."""
        state = dict(self.__dict__)
        state.update(job=None, graph=None, trace=None, _backend=None, client=None,
                     fingerprints={})  # fmt: skip
        return {k: v for k, v in state.items() if not is_runtime(v)}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock, self._running = threading.RLock(), False

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.clear()
