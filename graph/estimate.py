"""The cost a node is given before any run: a rough model of an estimator's fit.

Strategies only compare costs, so the scale matters little; after a first
run, measured durations replace these estimates
(:class:`~foldgraph.engine.costs.CostModel`).
"""

from __future__ import annotations

__all__ = ["estimate_cost", "FAMILY_WEIGHTS", "SIZE_WEIGHTS"]

#: relative cost of one (row x feature) for estimator families; see estimate_cost
FAMILY_WEIGHTS = {
    "linear": 1.0, "ols": 1.0, "ridge": 1.0, "lasso": 2.0, "logistic": 3.0,
    "neighbors": 2.0, "tree": 4.0, "forest": 40.0, "boost": 60.0, "mlp": 50.0,
    "svr": 30.0, "svc": 30.0,
}  # fmt: skip

#: families whose work grows with a size parameter: (class-name substring, parameter,
#: weight per unit). Checked before FAMILY_WEIGHTS; calibrated on the stacking
#: benchmark (20,000 x 20, one thread): a 50-tree forest of depth 10 and a
#: 200-iteration MLP take ~9 s per fold, 100-iteration histogram boosting ~0.8 s.
SIZE_WEIGHTS = (
    ("histgradientboost", "max_iter", 0.035), ("extratrees", "n_estimators", 0.5),
    ("forest", "n_estimators", 0.8), ("boost", "n_estimators", 0.6),
    ("mlp", "max_iter", 0.25),
)  # fmt: skip


def _family_weight(estimator) -> float:
    name = type(estimator).__name__.lower()
    for key, param, per_unit in SIZE_WEIGHTS:
        size = getattr(estimator, param, None)
        if key in name and isinstance(size, (int, float)) and size > 0:
            return per_unit * size
    return next((w for k, w in FAMILY_WEIGHTS.items() if k in name), 5.0)


def estimate_cost(estimator, n_rows: int, n_features: int) -> float:
    """A rough cost model: ``rows x features x family weight x 1e-7`` seconds.

    The family weight is looked up by a substring of the estimator's class
    name: for ensembles and iterative models in :data:`SIZE_WEIGHTS`, a
    weight per tree or iteration times ``n_estimators`` or ``max_iter``
    (histogram boosting is ~20 times cheaper per iteration than a forest's
    tree); otherwise in :data:`FAMILY_WEIGHTS` (``"tree"``, ``"svr"``, ...),
    5.0 if none matches. Strategies only compare costs, so the scale matters
    little; after a first run, measured durations replace the model
    (:class:`~foldgraph.engine.costs.CostModel`).

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
    >>> estimate_cost(Ridge(), 1000, 10)
    0.001
    >>> round(estimate_cost(RandomForestRegressor(50), 1000, 10), 4)
    0.04
    >>> round(estimate_cost(HistGradientBoostingRegressor(max_iter=100), 1000, 10), 4)
    0.0035
    """
    weight = _family_weight(estimator)
    return max(n_rows, 1) * max(n_features, 1) * weight * 1e-7
