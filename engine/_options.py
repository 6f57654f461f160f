"""The options of a :class:`~foldgraph.engine.manager.ParallelProcessing`, checked
when it is made, and what they mean for its backend and its runs."""

from __future__ import annotations

import os

from .backends import BACKENDS, PLANNED

__all__ = ["available_cpus", "is_runtime", "check_backend", "check_n_jobs", "check_threads",
           "check_retries", "return_preds_of", "out_of", "check_weights_built",
           "backend_options"]


def available_cpus() -> int:
    """CPUs this process may run on (affinity-aware): what ``n_jobs=-1`` means.

    Examples
    --------
    >>> available_cpus() >= 1
    True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def is_runtime(value) -> bool:
    """Locks and queues belong to one process's run, never to a pickle.

    Examples
    --------
    >>> import threading
    >>> is_runtime(threading.RLock()), is_runtime(2)
    (True, False)
    """
    return type(value).__module__ in ("_thread", "queue", "_queue")


def check_backend(backend: str) -> str:
    """A backend's name, checked.

    Examples
    --------
    >>> check_backend("loky")
    Traceback (most recent call last):
    ...
    ValueError: unknown backend 'loky': choose one of 'auto', 'sequential', 'threading', 'multiprocessing', 'dask'
    """
    if backend in BACKENDS or backend == "auto":
        return backend
    valid = ", ".join(map(repr, ("auto", *BACKENDS)))
    if backend in PLANNED:
        raise ValueError(f"backend {backend!r} is not available yet: choose one of {valid}")
    raise ValueError(f"unknown backend {backend!r}: choose one of {valid}")


def check_n_jobs(n_jobs) -> int:
    """Workers: a positive int, or -1 for every CPU this process may use.

    Examples
    --------
    >>> check_n_jobs(3), check_n_jobs(-1) == available_cpus()
    (3, True)
    """
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(
            f"n_jobs={n_jobs!r}: pass a positive number of workers, or -1 for every CPU"
        )
    return available_cpus() if n_jobs == -1 else n_jobs


def check_threads(value):
    """``threads_per_worker``: a positive int, ``"auto"`` or None.

    Examples
    --------
    >>> check_threads("auto"), check_threads(2)
    ('auto', 2)
    """
    if value is None or value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"threads_per_worker={value!r}: pass a positive int, 'auto' or None"
        )
    return value


def check_retries(retries) -> int:
    """``retries``: a non-negative int.

    Examples
    --------
    >>> check_retries(0)
    0
    """
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries={retries!r}: pass a non-negative int")
    return retries


def return_preds_of(out: dict):
    """The ``return_preds`` of a run from the ``out`` mapping of ``initialize``.

    Examples
    --------
    >>> return_preds_of({}), return_preds_of({"return_final": True})
    (False, True)
    >>> return_preds_of({"return_final": False, "return_names": ["a"]})
    ['a']
    """
    if not out:
        return False
    if out.get("return_final"):
        return True
    return list(out.get("return_names", []))


def out_of(return_preds) -> dict:
    """The ``out`` mapping of ``initialize`` for ``return_preds`` (see :func:`return_preds_of`).

    Examples
    --------
    >>> out_of(True), out_of("a"), out_of(False)
    ({'return_final': True}, {'return_final': False, 'return_names': ['a']}, {})
    """
    if return_preds is True:
        return {"return_final": True}
    if return_preds:
        names = [return_preds] if isinstance(return_preds, str) else list(return_preds)
        return {"return_final": False, "return_names": names}
    return {}


def check_weights_built(graph, sample_weight) -> None:
    """Refuse ``sample_weight`` for a graph built without weights (``run`` of a manager).

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import TaskGraph
    >>> check_weights_built(TaskGraph("fit", X=np.ones((4, 2)), y=np.ones(4)), np.ones(4))
    Traceback (most recent call last):
      ...
    foldgraph.errors.GraphError: sample_weight given, but the graph was built without weights: build it with TaskGraph(job, X, y, sample_weight=w)
    """
    if sample_weight is not None and "w" not in graph.buffers:
        from foldgraph.errors import GraphError

        raise GraphError(
            "sample_weight given, but the graph was built without weights: build it "
            "with TaskGraph(job, X, y, sample_weight=w)"
        )


def backend_options(name: str, n_workers: int, retries: int, start_method=None,
                    threads_per_worker="auto", client=None, address=None) -> dict:  # fmt: skip
    """The keyword options of :func:`~foldgraph.engine.backends.make_backend` for a
    manager's backend ``name``.

    Examples
    --------
    >>> backend_options("multiprocessing", 2, 1)
    {'start_method': None, 'retries': 1, 'threads_per_worker': 1}
    >>> backend_options("threading", 2, 1)
    {}
    """
    if name == "multiprocessing":
        if threads_per_worker == "auto":  # no BLAS oversubscription with several workers
            threads_per_worker = 1 if n_workers > 1 else None
        return dict(start_method=start_method, retries=retries,
                    threads_per_worker=threads_per_worker)  # fmt: skip
    if name == "dask":
        return dict(client=client, address=address, retries=retries)
    return {}
