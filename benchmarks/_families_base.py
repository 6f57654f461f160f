"""The ingredients of every graph family: estimators that sleep, seeded data, node costs.

Not a script: ``families.py`` builds the families (see its docstring). The
estimators live here, at module level, so that worker processes unpickle
them by reference (as ``_families_base.Sleep``).
"""

from __future__ import annotations

import math
import time

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin


# -- estimators whose fit takes a known time -----------------------------------------
class _Sleeper(BaseEstimator):
    """What the two sleeping estimators share: their parameters and how long a fit sleeps.

    Parameters
    ----------
    seconds : float
        Seconds a fit on ``rows`` rows takes.
    rows : int or None
        Rows of a full fit; ``None``: every fit takes ``seconds``.
    """

    def __init__(self, seconds: float = 0.01, rows: int | None = None):
        self.seconds = seconds
        self.rows = rows

    def duration(self, n_rows: int) -> float:
        """Seconds a fit on ``n_rows`` rows sleeps."""
        return self.seconds * (n_rows / self.rows if self.rows else 1.0)


class Sleep(RegressorMixin, _Sleeper):
    """A regressor whose ``fit`` sleeps ``seconds x len(X) / rows``; predicts zeros.

    Module-level, so that worker processes unpickle it by reference.
    """

    def fit(self, X, y=None):
        """Sleep, then return self."""
        time.sleep(self.duration(X.shape[0]))
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        """Zeros, one per row."""
        return np.zeros(X.shape[0])


class SleepTransformer(TransformerMixin, _Sleeper):
    """A transformer whose ``fit`` sleeps like :class:`Sleep`; ``transform`` is the identity."""

    def fit(self, X, y=None):
        """Sleep, then return self."""
        time.sleep(self.duration(X.shape[0]))
        return self

    def transform(self, X):
        """Return ``X`` unchanged."""
        return X


# -- helpers shared by the families ------------------------------------------------
def make_data(rows: int, features: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((rows, features)), rng.standard_normal(rows)


def skew_factor(rng, sigma: float) -> float:
    return float(math.exp(rng.normal(0.0, sigma))) if sigma > 0 else 1.0


def sleep_for(kind: str, costs: dict, rng, sigma: float, rows: int, cls=Sleep):
    return cls(seconds=costs[kind] * skew_factor(rng, sigma), rows=rows)


def node_seconds(graph, key: str) -> float:
    """The intended seconds of node ``key``: its task's Sleep duration on its train rows."""
    attrs = graph.attrs(key)
    if attrs.get("kind") == "propagate":
        return 1e-4
    est = graph.tasks[attrs["task"]].estimator
    rows = sum(b - a for a, b in attrs.get("train") or attrs.get("test") or ())
    return est.duration(rows)


def finish(graph, work: float | None, name: str, params: dict):
    """Scale the Sleep estimators so the total node time is ``work``; set node costs."""
    if work is not None:
        total = sum(node_seconds(graph, k) for k in graph.nx)
        factor = work / total
        for task in graph.tasks.values():
            task.estimator.set_params(seconds=task.estimator.seconds * factor)
    for key in graph.nx:
        attrs = graph.attrs(key)
        attrs["cost"] = node_seconds(graph, key)
        attrs["cost_source"] = "family"
    graph.family = {"name": name, **params}
    return graph
