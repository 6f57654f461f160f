"""The cost table of families.py: measured fit times of real scikit-learn estimators.

Not a script: ``python benchmarks/families.py --measure`` re-measures it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from _common import HERE, write_json

COSTS_PATH = HERE / "results" / "costs.json"


# -- the cost table: measured fit times of real estimators ---------------------------
def _real_estimators() -> dict:
    from sklearn.decomposition import PCA
    from sklearn.ensemble import (
        GradientBoostingRegressor,
        HistGradientBoostingRegressor,
        RandomForestRegressor,
    )
    from sklearn.linear_model import Lasso, Ridge
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.neural_network import MLPRegressor
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR
    from sklearn.tree import DecisionTreeRegressor

    return {
        "ridge": Ridge(),
        "lasso": Lasso(alpha=0.01),
        "knn": KNeighborsRegressor(),
        "tree": DecisionTreeRegressor(max_depth=8, random_state=0),
        "svr": SVR(),
        "mlp": MLPRegressor(hidden_layer_sizes=(32,), max_iter=100, random_state=0),
        "hgb": HistGradientBoostingRegressor(max_iter=50, random_state=0),
        "forest": RandomForestRegressor(n_estimators=50, random_state=0),
        "gbm": GradientBoostingRegressor(n_estimators=100, random_state=0),
        "scaler": StandardScaler(),
        "pca": PCA(5, random_state=0),
    }


def measure_costs(rows: int = 2000, features: int = 10, repeat: int = 3,
                  path: Path | None = COSTS_PATH) -> dict:  # fmt: skip
    """Fit each real estimator ``repeat`` times on ``make_friedman1(rows, features)``.

    Returns (and writes to ``path`` unless None) ``{"rows", "features", "repeat",
    "seconds": {kind: median fit seconds}, "samples": {kind: [...]}}``.
    """
    import warnings

    from sklearn.base import clone
    from sklearn.datasets import make_friedman1
    from threadpoolctl import threadpool_limits

    X, y = make_friedman1(rows, features, noise=1.0, random_state=0)
    seconds, samples = {}, {}
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")  # MLP's convergence warning
        for kind, est in _real_estimators().items():
            times = []
            for _ in range(repeat):
                model = clone(est)
                t0 = time.perf_counter()
                model.fit(X, y)
                times.append(time.perf_counter() - t0)
            samples[kind] = [round(t, 6) for t in times]
            seconds[kind] = round(float(np.median(times)), 6)
    table = {"rows": rows, "features": features, "repeat": repeat,
             "what": "median fit seconds on make_friedman1(rows, features), one thread",
             "seconds": seconds, "samples": samples}  # fmt: skip
    if path is not None:
        write_json(path, table)
    return table


#: used when benchmarks/results/costs.json is missing (rounded from one measurement)
DEFAULT_COSTS = {
    "ridge": 0.002, "lasso": 0.0015, "knn": 0.003, "tree": 0.015, "svr": 0.23, "mlp": 0.58,
    "hgb": 0.2, "forest": 0.75, "gbm": 0.66, "scaler": 0.001, "pca": 0.0007,
}  # fmt: skip


def load_costs(path: Path | None = COSTS_PATH) -> dict:
    """``{kind: seconds}`` from ``costs.json`` (written by :func:`measure_costs`), else defaults."""
    try:
        return dict(json.loads(Path(path).read_text())["seconds"])
    except (OSError, TypeError, KeyError, ValueError):
        return dict(DEFAULT_COSTS)
