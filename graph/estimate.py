"""The cost and the memory a node is given before any run: rough models of an estimator.

Strategies only compare costs, so the scale matters little; after a first
run, measured durations replace these estimates
(:class:`~foldgraph.engine.costs.CostModel`), and measured peaks replace the
memory estimates (:class:`~foldgraph.engine.memmodel.MemoryModel`).
"""

from __future__ import annotations

__all__ = ["estimate_cost", "estimate_memory", "copied_bytes", "FAMILY_WEIGHTS", "SIZE_WEIGHTS",
           "MEMORY_FACTORS"]

#: relative cost of one (row x feature) for estimator families; see estimate_cost
FAMILY_WEIGHTS = {
    "linear": 1.0, "ols": 1.0, "ridge": 1.0, "lasso": 2.0, "logistic": 3.0,
    "neighbors": 2.0, "tree": 10.0, "forest": 240.0, "boost": 400.0, "mlp": 240.0,
    "svr": 30.0, "svc": 30.0,
}  # fmt: skip

#: families whose work grows with a size parameter: (class-name substring, parameter,
#: weight per unit, fixed seconds per unit). Checked before FAMILY_WEIGHTS. Measured
#: with one thread on this project's 2-core machine (``fit`` of scikit-learn 1.x on
#: make_friedman1, 300 x 20 to 20,000 x 20): a tree of a forest 5.7-8.8 (1 ms at
#: least), a stage of gradient boosting 4.0-4.1, an iteration of a 32-unit MLP
#: 1.2-2.2 (1 ms at least), an iteration of histogram boosting 0.17 above a fixed
#: 2.5 ms (its binning and bookkeeping dominate below ~50,000 rows x features).
SIZE_WEIGHTS = (
    ("histgradientboost", "max_iter", 0.17, 2.5e-3), ("extratrees", "n_estimators", 3.0, 1e-3),
    ("forest", "n_estimators", 6.0, 1e-3), ("boost", "n_estimators", 4.0, 5e-4),
    ("mlp", "max_iter", 1.2, 1e-3),
)  # fmt: skip


_KNOWN = (*(k for k, *_ in SIZE_WEIGHTS), *FAMILY_WEIGHTS)


def _last_step(estimator):
    """A Pipeline's final estimator (its work dominates), else ``estimator``."""
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps and isinstance(steps[-1], tuple):
        return _last_step(steps[-1][1])
    return estimator


def _class_name(estimator, known=_KNOWN) -> str:
    """The lower-case name of the first class of ``estimator``'s MRO matching a family:
    a user's ``class MyForest(RandomForestRegressor)`` costs as a forest."""
    classes = type(estimator).__mro__
    names = [cls.__name__.lower() for cls in classes]
    return next((n for n in names if any(k in n for k in known)), names[0])


def _family_weight(estimator) -> tuple[float, float]:
    """(weight per row x feature, fixed seconds) of ``estimator``'s fit."""
    estimator = _last_step(estimator)
    name = _class_name(estimator)
    for key, param, per_unit, fixed in SIZE_WEIGHTS:
        size = getattr(estimator, param, None)
        if key in name and isinstance(size, (int, float)) and size > 0:
            return per_unit * size, fixed * size
    return next((w for k, w in FAMILY_WEIGHTS.items() if k in name), 5.0), 0.0


def estimate_cost(estimator, n_rows: int, n_features: int) -> float:
    """A rough cost model: ``rows x features x family weight x 1e-7`` seconds, plus a
    fixed cost per tree or iteration.

    The family weight is looked up by a substring of the estimator's class
    name: for ensembles and iterative models in :data:`SIZE_WEIGHTS`, a
    weight (and a fixed cost) per tree or iteration times ``n_estimators``
    or ``max_iter``; otherwise in :data:`FAMILY_WEIGHTS` (``"tree"``,
    ``"svr"``, ...), 5.0 if none matches. Strategies compare costs; the
    scale matters to ``backend="auto"``, which weighs the work against
    starting worker processes (:mod:`foldgraph.engine.auto`): the weights are
    seconds measured on one core of this project's test machine, within a
    factor of about 2 for the families listed (up to 10 for linear models on
    large data, which are faster than modelled). After a first run, measured
    durations replace the model (:class:`~foldgraph.engine.costs.CostModel`).

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
    >>> estimate_cost(Ridge(), 1000, 10)
    0.001
    >>> round(estimate_cost(RandomForestRegressor(50), 1000, 10), 4)
    0.35
    >>> round(estimate_cost(HistGradientBoostingRegressor(max_iter=100), 1000, 10), 4)
    0.267

    A Pipeline costs as its final estimator; a subclass as its closest known base:

    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> class MyForest(RandomForestRegressor):
    ...     pass
    >>> round(estimate_cost(make_pipeline(StandardScaler(), MyForest(50)), 1000, 10), 4)
    0.35
    """
    weight, fixed = _family_weight(estimator)
    return max(n_rows, 1) * max(n_features, 1) * weight * 1e-7 + fixed


#: peak memory a fit adds, per byte of rows it reads, for estimator families (first
#: match by class-name substring; see estimate_memory). Measured on this machine with
#: X of 20,000 and 100,000 x 20 float64, rounded up: LinearRegression 2.0 (a centred
#: copy of X), Ridge and Lasso 1.0-1.1, histogram boosting 2.1-2.9 (binned copies and
#: gradients), trees 0.6, a 20-tree forest of depth 10 0.9-1.4, k-NN 0.4-0.6, MLP
#: and logistic regression 0.1-0.3.
MEMORY_FACTORS = {
    "histgradientboost": 3.0, "linearregression": 2.0, "ols": 2.0, "ridge": 1.5,
    "lasso": 1.5, "logistic": 1.0, "neighbors": 1.0, "forest": 1.5, "extratrees": 1.5,
    "tree": 1.0, "boost": 1.0, "mlp": 1.0, "svr": 1.0, "svc": 1.0,
}  # fmt: skip
#: the factor of an estimator no entry of MEMORY_FACTORS matches
DEFAULT_MEMORY_FACTOR = 2.0


def estimate_memory(estimator, bytes_read: int) -> int:
    """A rough estimate of the peak bytes a node adds: ``bytes_read x family factor``.

    ``bytes_read`` is the node attribute of that name (input rows and
    targets, see :class:`~foldgraph.graph.nodes.NodeAttrs`). The factor
    comes from :data:`MEMORY_FACTORS` by a substring of the estimator's
    class name (2.0 if none matches; 1.0 for a node without an estimator,
    a copy of columns). Support vector machines add their kernel cache
    (``cache_size``, MB). Forests keep their trees: 0.05 more per tree
    (``n_estimators``). After a run the measured peaks replace these
    estimates, and the estimates of unseen nodes are scaled by what the
    measured ones showed (:class:`~foldgraph.engine.memmodel.MemoryModel`).

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> from sklearn.svm import SVR
    >>> estimate_memory(Ridge(), 8_000_000)
    12000000
    >>> estimate_memory(RandomForestRegressor(n_estimators=100), 8_000_000)
    52000000
    >>> estimate_memory(SVR(), 8_000_000) == 8_000_000 + 200 * 2**20
    True
    >>> estimate_memory(None, 1000)
    1000
    """
    if estimator is None:
        return int(bytes_read)
    estimator = _last_step(estimator)
    name = _class_name(estimator, MEMORY_FACTORS)
    factor = next((f for k, f in MEMORY_FACTORS.items() if k in name), DEFAULT_MEMORY_FACTOR)
    extra = 0.0
    trees = getattr(estimator, "n_estimators", None)
    if ("forest" in name or "extratrees" in name) and isinstance(trees, int):
        factor += 0.05 * trees
    cache = getattr(estimator, "cache_size", None)
    if name.startswith(("svr", "svc", "nusvr", "nusvc", "oneclasssvm")) and cache:
        extra = float(cache) * 2**20
    return int(bytes_read * factor + extra)


def copied_bytes(attrs: dict) -> int:
    """Bytes a node copies to gather its rows, on top of :func:`estimate_memory`.

    Rows of one range are a view of the input (no copy); rows of several
    ranges (the training rows of a middle fold) are gathered into a new
    array, with their targets. ``attrs`` are the node's attributes
    (``train``, ``test``, ``bytes_read``).

    Examples
    --------
    Fold 1 of 3 on 30 rows of 8 bytes: its 20 training rows are two ranges,
    a copy of 160 bytes; fold 0's are one range, a view.

    >>> copied_bytes({"train": ((0, 10), (20, 30)), "test": ((10, 20),), "bytes_read": 240})
    160
    >>> copied_bytes({"train": ((10, 30),), "test": ((0, 10),), "bytes_read": 240})
    0
    """
    train, test = attrs.get("train") or (), attrs.get("test") or ()
    rows = sum(b - a for a, b in (*train, *test))
    if rows == 0:
        return 0
    gathered = sum(sum(b - a for a, b in part) for part in (train, test) if len(part) > 1)
    return int(attrs.get("bytes_read", 0) * gathered / rows)
