"""Cores per node: the threads a node's estimator starts itself, and which it may be given.

A node occupies as many cores as its estimator runs threads. What is
visible from the estimator is its ``n_jobs`` and the ``n_jobs`` of the
estimators nested in it (a Pipeline's steps, a meta-estimator's
estimators: every ``*n_jobs`` of ``get_params(deep=True)``); ``-1`` means
every CPU, ``None`` one thread. OpenMP and BLAS threads (histogram
boosting, Ridge's linear algebra) are not visible from the estimator:
``ParallelProcessing(threads_per_worker=...)`` caps those per worker
process (one per worker when there are several, by default).

:func:`set_cores` writes two attributes on every node of a graph before a
run: ``cores`` (int >= 1, what admission counts) and ``threads`` (the
threads foldgraph grants the node, or None: leave its estimator alone).
Where foldgraph may choose (``threads="safe"``: the estimators of
:data:`THREAD_SAFE`, whose results do not depend on their thread count;
``threads="auto"``: every estimator), a node of a ``"fit"`` job is granted
``min(its threads, n_cpus // n_workers)``: the worker sets that ``n_jobs``
on the clone it fits (never on the user's object) and limits BLAS/OpenMP
to it. :mod:`foldgraph.engine.tail` may raise the grant of the critical
node at the tail of a run.
"""

from __future__ import annotations

__all__ = ["THREAD_SAFE", "EXACT_PREDICT", "THREAD_MODES", "check_thread_mode", "node_threads",
           "thread_params", "exact_predict", "set_cores", "without_n_jobs"]  # fmt: skip

#: estimators whose results do not depend on their ``n_jobs`` nor on OpenMP/BLAS
#: threads, by module and class name (and their subclasses): joblib splits their independent work
#: (trees, bootstrap fits, query rows) over threads or processes, and each piece
#: is computed as it would be alone. Forests draw each tree's seed before any
#: parallel work; neighbour searches are exact per query row.
THREAD_SAFE = {
    "sklearn.ensemble": frozenset({
        "RandomForestRegressor", "RandomForestClassifier", "ExtraTreesRegressor",
        "ExtraTreesClassifier", "RandomTreesEmbedding", "IsolationForest",
        "BaggingRegressor", "BaggingClassifier",
    }),
    "sklearn.neighbors": frozenset({
        "KNeighborsRegressor", "KNeighborsClassifier", "RadiusNeighborsRegressor",
        "RadiusNeighborsClassifier", "NearestNeighbors", "LocalOutlierFactor",
    }),
}  # fmt: skip

#: those of :data:`THREAD_SAFE` whose predictions, too, do not depend on their thread count:
#: a neighbour search is exact per query row. Forests, isolation forests and bagging sum
#: their members' predictions per thread (in the order threads finish, or by thread
#: chunk), so their last bits depend on ``n_jobs``: a raised fit predicts on its base grant.
EXACT_PREDICT = {"sklearn.neighbors": THREAD_SAFE["sklearn.neighbors"]}

#: ``ParallelProcessing(threads=...)``: who may have its threads set by foldgraph
THREAD_MODES = ("safe", "auto", None)


def check_thread_mode(value):
    """``threads``: ``"safe"``, ``"auto"`` or None.

    Examples
    --------
    >>> check_thread_mode("safe")
    'safe'
    >>> check_thread_mode(4)
    Traceback (most recent call last):
    ...
    ValueError: threads=4: pass 'safe' (set the threads of thread-count-independent estimators only), 'auto' (of every estimator; BLAS/OpenMP results may differ in the last bits) or None (never set them)
    """
    if value is None or (isinstance(value, str) and value in THREAD_MODES):
        return value
    raise ValueError(
        f"threads={value!r}: pass 'safe' (set the threads of thread-count-independent "
        f"estimators only), 'auto' (of every estimator; BLAS/OpenMP results may differ "
        f"in the last bits) or None (never set them)"
    )


def _count(n_jobs, n_cpus: int) -> int:
    """joblib's meaning of ``n_jobs``: None one, -1 every CPU, -2 all but one, ..."""
    if n_jobs is None or isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
        return 1
    return n_jobs if n_jobs > 0 else max(1, n_cpus + 1 + n_jobs)


def _params(estimator) -> dict:
    try:
        return estimator.get_params(deep=True)
    except Exception:  # noqa: BLE001 - not a scikit-learn estimator: no n_jobs to read
        return {}


def _owners(params: dict, estimator) -> dict:
    """``{n_jobs parameter: the object that owns it}`` (``"rf__n_jobs"`` -> ``params["rf"]``)."""
    found = {}
    for name in params:
        if name == "n_jobs" or name.endswith("__n_jobs"):
            path = name[: -len("__n_jobs")] if "__" in name else ""
            found[name] = params.get(path) if path else estimator
    return found


def node_threads(estimator, n_cpus: int) -> int:
    """Threads ``estimator`` runs by its own ``n_jobs`` and those of nested estimators.

    Nested counts multiply along a path (a meta-estimator with ``n_jobs=2``
    over a forest with ``n_jobs=2`` runs up to 4 threads) and the largest
    path counts; ``-1`` is ``n_cpus``, ``None`` is 1. OpenMP and BLAS
    threads are not visible here (see the module docstring).

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestRegressor, VotingRegressor
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> node_threads(Ridge(), 2), node_threads(RandomForestRegressor(n_jobs=4), 2)
    (1, 4)
    >>> node_threads(make_pipeline(StandardScaler(), RandomForestRegressor(n_jobs=-1)), 8)
    8
    >>> node_threads(VotingRegressor([("rf", RandomForestRegressor(n_jobs=3))], n_jobs=2), 8)
    6
    """
    params = _params(estimator)
    best = 1
    for name in _owners(params, estimator):
        total, path = 1, name.split("__")[:-1]
        for depth in range(len(path) + 1):  # the owner of each level's n_jobs on this path
            level = "__".join([*path[:depth], "n_jobs"])
            total *= _count(params.get(level), n_cpus)
        best = max(best, total)
    return best


def _is_safe(owner, table=THREAD_SAFE) -> bool:
    """Whether ``owner``'s class or a base of it is in ``table`` (:data:`THREAD_SAFE`)."""
    for cls in type(owner).__mro__:  # a subclass keeps its base's parallel fit
        module = cls.__module__
        if cls.__name__ in table.get(module.rsplit(".", 1)[0], table.get(module, ())):
            return True
    return False


def exact_predict(estimator) -> bool:
    """Whether every ``n_jobs`` of ``estimator`` belongs to an :data:`EXACT_PREDICT` estimator.

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> from sklearn.neighbors import KNeighborsRegressor
    >>> exact_predict(KNeighborsRegressor()), exact_predict(RandomForestRegressor())
    (True, False)
    """
    owners = _owners(_params(estimator), estimator).values()
    return bool(owners) and all(_is_safe(owner, EXACT_PREDICT) for owner in owners)


def thread_params(estimator, mode="safe") -> tuple[str, ...]:
    """The ``n_jobs`` parameters of ``estimator`` foldgraph may set in ``mode``.

    ``"safe"``: those owned by an estimator of :data:`THREAD_SAFE`;
    ``"auto"``: all of them; None: none.

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestRegressor, StackingRegressor
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> thread_params(make_pipeline(RandomForestRegressor()))
    ('randomforestregressor__n_jobs',)
    >>> thread_params(LogisticRegression()), thread_params(LogisticRegression(), "auto")
    ((), ('n_jobs',))
    """
    if mode is None:
        return ()
    owners = _owners(_params(estimator), estimator)
    return tuple(name for name, owner in owners.items() if mode == "auto" or _is_safe(owner))


def set_cores(graph, n_cpus: int, n_workers: int = 1, threads="safe") -> None:
    """Write ``cores`` and ``threads`` on every node of ``graph`` (see the module docstring).

    ``cores`` is ``min(threads run, n_cpus)``; ``threads`` is the grant
    (an int) or None. Only a ``"fit"`` job's nodes are granted threads:
    they fit a clone, whose ``n_jobs`` may be set; a predict or transform
    node uses the fitted estimator as it is, counted by its ``n_jobs``.
    Also writes ``thread_params``: the ``n_jobs`` parameters a grant sets.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> from sklearn.linear_model import Ridge
    >>> from foldgraph import FoldIndex, Learner, map_graph
    >>> X, y = np.ones((8, 2)), np.ones(8)
    >>> g = map_graph([Learner(RandomForestRegressor(n_jobs=4), FoldIndex(2), name="rf"),
    ...                Learner(Ridge(), FoldIndex(2), name="ridge")], "fit", X, y)
    >>> set_cores(g, n_cpus=2, n_workers=2)
    >>> [(g.attrs(k)["cores"], g.attrs(k)["threads"]) for k in ("rf/fit/full", "ridge/fit/full")]
    [(1, 1), (1, None)]
    >>> set_cores(g, n_cpus=2, n_workers=2, threads=None)  # left to the estimators
    >>> g.attrs("rf/fit/full")["cores"], g.attrs("rf/fit/full")["threads"]
    (2, None)
    """
    check_thread_mode(threads)
    share = max(1, n_cpus // max(1, n_workers))
    fit = graph.job == "fit"
    per_task: dict = {}
    for attrs in graph.node_attrs.values():
        task = graph.tasks.get(attrs.get("task"))
        estimator = getattr(task, "estimator", None)
        if estimator is None or attrs.get("kind") == "propagate":
            attrs.update(cores=1, threads=None, thread_params=())
            continue
        if attrs["task"] not in per_task:  # one get_params per task, not per node
            params = thread_params(estimator, threads) if fit else ()
            per_task[attrs["task"]] = (node_threads(estimator, n_cpus), params)
        wanted, params = per_task[attrs["task"]]
        grant = min(wanted, share) if params or (fit and threads == "auto") else None
        cores = grant if grant is not None else min(wanted, n_cpus)
        attrs.update(cores=max(1, cores), threads=grant, thread_params=params)


def without_n_jobs(estimator) -> dict:
    """``estimator.get_params(deep=True)`` with every ``n_jobs`` None, nested ones too.

    What a node cache fingerprint hashes: the threads an estimator runs
    change none of its results. ``estimator`` must be a copy (a clone):
    its ``n_jobs`` are set to None, so that the nested estimators listed
    among the parameters carry None as well.

    Examples
    --------
    >>> from sklearn.base import clone
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> from sklearn.pipeline import make_pipeline
    >>> pipe = make_pipeline(RandomForestRegressor(n_jobs=4))
    >>> params = without_n_jobs(clone(pipe))
    >>> params["randomforestregressor__n_jobs"], params["randomforestregressor"].n_jobs
    (None, None)
    >>> pipe.steps[0][1].n_jobs  # the original is left alone
    4
    """
    params = estimator.get_params(deep=True)
    names = [k for k in params if k == "n_jobs" or k.endswith("__n_jobs")]
    if not names:
        return params
    estimator.set_params(**dict.fromkeys(names, None))
    return estimator.get_params(deep=True)
