"""How much faster a node runs on more threads: the model of the tail policy.

:data:`SPEEDUPS` holds the 1-to-2-thread speed-up of each estimator family
measured on the reference machine; :func:`speedup` extends it to any thread
count with Amdahl's law; :func:`scaled_cost` rescales a duration.
:mod:`foldgraph.engine.tail` and the simulator use them.
"""

from __future__ import annotations

__all__ = ["SPEEDUPS", "family_of", "speedup", "scaled_cost"]

#: speed-up of one fold fit (20,000 x 20 rows: fit 16,000, predict 4,000) given 2
#: threads instead of 1, per estimator family, measured by
#: ``python benchmarks/threads.py`` (medians of 5, alternated) on the reference
#: machine, 2 cores, quiet (foreign load 0.0 CPUs; 2026-12-07 05:17-05:25 UTC):
#: forest: RandomForestRegressor(50, max_depth=10, n_jobs=k); neighbors:
#: KNeighborsRegressor(n_jobs=k); boost: HistGradientBoostingRegressor(max_iter=100)
#: (OpenMP); linear: Ridge (BLAS); k = 1, 2 (with threadpool_limits(k)). Under
#: other users' load (1.0-1.4 CPUs) the same script gave 0.99-1.01, 0.90-1.13,
#: 0.07-0.16 and 0.06-0.11: threads that wait on each other lose to a busy core;
#: the model (:func:`speedup`) counts a figure under 1 as no gain.
SPEEDUPS = {"forest": 1.98, "neighbors": 1.26, "boost": 1.25, "linear": 1.09}

#: class-name substrings of each family, looked up in this order
_FAMILIES = (
    ("forest", ("forest", "extratrees", "bagging", "isolation")),
    ("neighbors", ("neighbors", "outlierfactor")),
    ("boost", ("boost",)),
    ("linear", ("ridge", "linear", "lasso", "elasticnet", "logistic", "ols")),
)


def family_of(estimator) -> str | None:
    """The family of :data:`SPEEDUPS` an estimator (or class name) belongs to, or None.

    A Pipeline's family is its last step's.

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> family_of(make_pipeline(StandardScaler(), RandomForestRegressor())), family_of("SVR")
    ('forest', None)
    """
    steps = getattr(estimator, "steps", None)
    if steps:
        estimator = steps[-1][1]
    names = [estimator] if isinstance(estimator, str) else [c.__name__ for c in type(estimator).__mro__]
    for name in map(str.lower, names):  # a subclass belongs to its closest known base's family
        found = next((family for family, keys in _FAMILIES if any(k in name for k in keys)), None)
        if found is not None:
            return found
    return None


def speedup(family, threads: int, table: dict | None = None) -> float:
    """Modelled speed-up of a node of ``family`` (a name or an estimator) on ``threads``.

    Amdahl's law fitted to the measured 2-thread speed-up ``s``: a parallel
    fraction ``p = 2 (1 - 1/s)``, clipped to [0, 1] (a family measured
    slower with 2 threads, under foreign load, is modelled as no faster),
    and ``1 / ((1 - p) + p / threads)``. An unknown family gains nothing.

    Examples
    --------
    >>> speedup("forest", 1), speedup("svr", 4)
    (1.0, 1.0)
    >>> [round(speedup("forest", k, {"forest": 1.8}), 3) for k in (2, 4)]
    [1.8, 3.0]
    """
    s2 = (SPEEDUPS if table is None else table).get(family_of(family), 1.0)
    p = min(1.0, max(0.0, 2.0 * (1.0 - 1.0 / s2)))
    return 1.0 / ((1.0 - p) + p / max(1, threads))


def scaled_cost(cost: float, family, threads: int, base: int = 1,
                table: dict | None = None) -> float:  # fmt: skip
    """A node's duration on ``threads`` when ``cost`` was measured (or modelled) on ``base``.

    For the simulator: ``cost x speedup(base) / speedup(threads)``.

    Examples
    --------
    >>> scaled_cost(10.0, "forest", 2, table={"forest": 1.6})
    6.25
    >>> scaled_cost(10.0, "svr", 4)
    10.0
    """
    return cost * speedup(family, base, table) / speedup(family, threads, table)
