"""The manager an ensemble's fit or predict runs on.

A backend name gets a new :class:`~foldgraph.engine.ParallelProcessing`
per call, cleared afterwards, except ``"dask"``, whose cluster is costly to
start: an ensemble uses the running ``distributed`` Client when there is one
(as dask-ml and joblib's dask backend do) and otherwise keeps one manager,
with its LocalCluster, for its fits and predicts until its settings change,
the ensemble is garbage-collected or the interpreter exits.
"""

from __future__ import annotations

import weakref
from contextlib import nullcontext

from foldgraph.engine import ParallelProcessing

__all__ = ["manager_for", "running_dask_client"]

_KEPT = "_dask_manager"  # the ensemble's kept dask manager: (settings key, manager)


def running_dask_client():
    """The running ``distributed`` Client, or None (also when dask is not installed).

    Examples
    --------
    >>> running_dask_client() is None  # no client in this process
    True
    """
    try:
        from distributed import get_client
    except ImportError:
        return None
    try:
        return get_client()
    except ValueError:  # no client: "No global client found"
        return None


def manager_for(ensemble, settings: dict):
    """A context manager giving the manager of one fit or predict of ``ensemble``.

    Examples
    --------
    >>> from foldgraph import SuperLearner
    >>> with manager_for(SuperLearner(backend="sequential"), {"n_jobs": 1}) as pp:
    ...     pp.backend
    'sequential'
    """
    backend = ensemble.backend
    if isinstance(backend, ParallelProcessing):
        return nullcontext(backend)
    if backend != "dask":
        return ParallelProcessing(backend, **settings)
    client = running_dask_client()
    if client is not None:  # the user's: cleared after the call, never closed
        return ParallelProcessing("dask", client=client, **settings)
    key = tuple((k, id(v) if k == "cache" else repr(v)) for k, v in sorted(settings.items()))
    kept = ensemble.__dict__.get(_KEPT)
    if kept is None or kept[0] != key:
        if kept is not None:
            kept[1].clear()
        manager = ParallelProcessing("dask", **settings)
        weakref.finalize(ensemble, manager.clear)  # closes the LocalCluster with the ensemble
        ensemble.__dict__[_KEPT] = kept = (key, manager)
    return nullcontext(kept[1])
