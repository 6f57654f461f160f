"""A manager as a value: a handle on workers, copied by reference, pickled as settings
(the base of :class:`~foldgraph.engine.manager.ParallelProcessing`)."""

from __future__ import annotations

import inspect
import threading

from ._options import is_runtime

__all__ = ["Handle"]


class Handle:
    """``sklearn.base.clone`` shares the workers; a copy or a pickle carries the settings
    only; ``with`` clears.

    A subclass has ``clear()``, a ``_lock`` and a ``_running`` flag, and the
    run attributes reset on pickling (``job``, ``graph``, ``trace``,
    ``client``, ``fingerprints``; ``_backends`` pickles its settings only).

    Examples
    --------
    >>> import copy, pickle
    >>> from foldgraph.engine import ParallelProcessing
    >>> pp = ParallelProcessing("sequential")
    >>> from sklearn.base import clone
    >>> clone(pp) is pp, copy.deepcopy(pp) is pp, copy.deepcopy(pp).backend
    (True, False, 'sequential')
    >>> pickle.loads(pickle.dumps(pp)).backend
    'sequential'
    """

    def __sklearn_clone__(self):
        """A manager is a handle on workers (a cluster): scikit-learn's clone protocol
        keeps it, so a cloned ensemble with ``backend=ParallelProcessing(...)`` shares it
        (GridSearchCV's candidates run on the user's pool or cluster)."""
        return self

    def __getstate__(self) -> dict:
        """Settings only: a pickled manager (say, inside a fitted ensemble) carries no
        workers, client, buffers or last run; after loading it starts its own pool at
        its first run (a dask manager given ``client=`` needs ``address=`` or a new
        client then)."""
        state = dict(self.__dict__)
        state.update(job=None, graph=None, trace=None, client=None, fingerprints={})
        return {k: v for k, v in state.items() if not is_runtime(v)}

    def __setstate__(self, state: dict) -> None:
        # a manager made with the pickled settings first: an attribute a later version
        # added (a pickle from an older foldgraph lacks it) gets its default
        params = inspect.signature(type(self).__init__).parameters
        settings = {k: state[k] for k in params if k in state and k not in ("self", "cache")}
        settings["client"] = None
        self.__dict__.update({**vars(type(self)(**settings)), **state})
        self._lock, self._running = threading.RLock(), False

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.clear()
