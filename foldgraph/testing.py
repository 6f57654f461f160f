"""Tiny deterministic estimators for tutorials and tests.

They do exact, cheap arithmetic so that expected outputs can be computed by
hand. They mirror ``mlens.utils.dummy``: :class:`OLS` is a least-squares
regressor (with an ``offset`` added to its coefficients) and :class:`Scale`
a mean-centering transformer. This module is a leaf: it imports only numpy
and scikit-learn.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin

__all__ = ["OLS", "Scale", "Noop", "Sleepy"]


class OLS(RegressorMixin, BaseEstimator):
    """Ordinary least squares through the origin, solved with ``numpy.linalg.lstsq``.

    Parameters
    ----------
    offset : float, default=0
        Added to every fitted coefficient; lets tests tell estimators apart.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_features, n_targets)
        Fitted coefficients, ``offset`` included.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0], [2.0], [3.0]])
    >>> OLS().fit(X, 2 * X[:, 0]).predict(X).round(6)
    array([2., 4., 6.])
    """

    def __init__(self, offset: float = 0):
        self.offset = offset

    def fit(self, X, y):
        """Solve ``X @ coef = y`` in the least-squares sense; returns self."""
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        self.coef_ = np.linalg.lstsq(X, y, rcond=None)[0] + self.offset
        return self

    def predict(self, X):
        """Return ``X @ coef_``."""
        return np.asarray(X, dtype=float) @ self.coef_


class Scale(TransformerMixin, BaseEstimator):
    """Subtract the column means learnt in ``fit``.

    Parameters
    ----------
    copy : bool, default=True
        Work on a copy of ``X`` (``False`` centres float arrays in place).

    Examples
    --------
    >>> import numpy as np
    >>> Scale().fit_transform(np.array([[1.0], [3.0]]))
    array([[-1.],
           [ 1.]])
    """

    def __init__(self, copy: bool = True):
        self.copy = copy

    def fit(self, X, y=None):
        """Learn the column means; returns self."""
        self.mean_ = np.asarray(X, dtype=float).mean(axis=0)
        return self

    def transform(self, X):
        """Return ``X - mean_``."""
        X = np.array(X, dtype=float, copy=self.copy)
        X -= self.mean_
        return X


class Noop(RegressorMixin, BaseEstimator):
    """Does nothing: ``fit`` returns self, ``predict`` returns zeros.

    For measuring the scheduler's own per-node overhead.

    Examples
    --------
    >>> import numpy as np
    >>> Noop().fit(np.ones((2, 1)), [0, 1]).predict(np.ones((2, 1)))
    array([0., 0.])
    """

    def fit(self, X, y=None):
        """Return self."""
        return self

    def predict(self, X):
        """Return zeros, one per row."""
        return np.zeros(len(X))


class Sleepy(RegressorMixin, BaseEstimator):
    """Sleeps ``seconds`` in fit, then predicts the mean of y.

    Work a cost model cannot see (its modelled cost is that of a tiny fit),
    which never competes for a core: for timeouts and for scheduling tests.

    Examples
    --------
    >>> import numpy as np
    >>> Sleepy(0.01).fit(np.ones((2, 1)), [1.0, 3.0]).predict(np.ones((3, 1)))
    array([2., 2., 2.])
    """

    def __init__(self, seconds=30.0):
        self.seconds = seconds

    def fit(self, X, y):
        """Sleep ``seconds``; remember the mean of ``y``."""
        time.sleep(self.seconds)
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        """The mean of the training ``y``, one per row."""
        return np.full(len(X), self.mean_)
