"""Indexers: which rows each fit of a task trains on and which rows it predicts.

``fit(X)`` lays out :class:`Fold` records of sorted, disjoint ``(start, stop)`` ranges:
the fold fits partition-major, then one ``"full"`` fit per partition. Within a partition
the fold fits' test rows are disjoint and lie in the output tail ``[n - n_test, n)``.
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError

from .rows import FULL, Fold, Rows, array_to_rows, n_rows, partition_sizes, rows_to_array

__all__ = ["Rows", "Fold", "rows_to_array", "array_to_rows", "n_rows", "partition_sizes",
           "BaseIndex", "FoldIndex", "BlendIndex", "FullIndex", "SubsetIndex",
           "ClusteredSubsetIndex", "TemporalIndex", "INDEXERS"]


def _bounds(n: int, k: int) -> list[tuple[int, int]]:
    edges = [0, *accumulate(partition_sizes(n, k))]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class BaseIndex(BaseEstimator):
    """Base class: ``__init__`` stores parameters verbatim, ``fit`` validates them.

    Subclasses implement ``_split(X, y, n, job) -> (folds, n_test)``. ``fit`` sets
    ``n_samples_``, ``n_test_samples_`` (output rows: the input tail a fit job
    predicts), ``n_partitions_`` and ``folds_``.

    Examples
    --------
    Every indexer is a BaseIndex:

    >>> index = FoldIndex(2).fit(np.ones((4, 1)))
    >>> isinstance(index, BaseIndex), index.n_samples_, index.n_partitions_
    (True, 4, 1)
    >>> list(index.generate())
    [(((2, 4),), ((0, 2),)), (((0, 2),), ((2, 4),))]
    """

    def fit(self, X: Any, y: Any = None, job: str = "fit") -> BaseIndex:
        """Validate the parameters against the data and compute ``folds_``.

        Parameters
        ----------
        X : array-like or sized
            The data; only its length is read, except by ClusteredSubsetIndex.
        y : array-like, optional
            Targets, passed on to a clustering estimator.
        job : str, default "fit"
            ClusteredSubsetIndex refits its clusterer on ``"fit"`` only.
        """
        n = int(X.shape[0]) if getattr(X, "shape", ()) else len(X)
        if n < 1:
            raise self._error(f"needs at least 1 row, got {n}: pass non-empty data")
        folds, n_test = self._split(X, y, n, job)
        self.n_samples_, self.n_test_samples_, self.folds_ = n, n_test, list(folds)
        self.n_partitions_ = sum(f.fold == FULL for f in self.folds_)
        return self

    def make_folds(self, X: Any, y: Any = None, job: str = "fit") -> list[Fold]:
        """Fit, then return a copy of ``folds_``."""
        return list(self.fit(X, y, job).folds_)

    def generate(self, as_array: bool = False) -> Iterator[tuple[Any, Any]]:
        """Iterate over ``(train, test)`` of the fold fits (FullIndex: of its full fit)."""
        out, folds = rows_to_array if as_array else tuple, self._fitted_folds()
        fits = [f for f in folds if f.fold != FULL] or folds
        return ((out(f.train), out(f.test)) for f in fits)

    def partition(self, as_array: bool = False) -> Iterator[Any]:
        """Iterate over the train rows of each partition's full fit."""
        out, folds = rows_to_array if as_array else tuple, self._fitted_folds()
        return (out(f.train) for f in folds if f.fold == FULL)

    def _fitted_folds(self) -> list[Fold]:
        if not hasattr(self, "folds_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit(X) first")
        return self.folds_

    def _error(self, text: str, kind: type[Exception] = ValueError) -> Exception:
        names = list(inspect.signature(type(self).__init__).parameters)[1:]
        args = [f"{k}={getattr(self, k)!r}" for k in names if k != "raise_on_exception"]
        return kind(f"{type(self).__name__}({', '.join(args)}) {text}")

    def _check_int(self, name: str, low: int, n: int, high: int | None = None, fix="") -> int:
        value = getattr(self, name)
        bound = f">= {low}" if high is None else f"in [{low}, {high})"
        if not _is_int(value) or value < low or (high is not None and value >= high):
            fix = fix or f"pass an int {name} {bound}"
            raise self._error(f"needs an int {name} {bound}, got {value!r} on {n} rows: {fix}")
        return int(value)


class FoldIndex(BaseIndex):
    """Contiguous K-fold, identical to sklearn ``KFold(folds)`` without shuffle.

    Parameters
    ----------
    folds : int, default 2
        Number of folds, ``2 <= folds <= n``.
    raise_on_exception : bool, default True
        If False, ``folds=1`` warns and fits one in-sample fold on all rows.

    Examples
    --------
    >>> [(f.train, f.test) for f in FoldIndex(3).make_folds(range(10))][1]
    (((0, 4), (7, 10)), ((4, 7),))
    """

    def __init__(self, folds: int = 2, raise_on_exception: bool = True) -> None:
        self.folds = folds
        self.raise_on_exception = raise_on_exception

    def _split(self, X: Any, y: Any, n: int, job: str) -> tuple[list[Fold], int]:
        if _is_int(self.folds) and self.folds == 1 and not self.raise_on_exception:
            msg = f"fits all {n} rows in one fold and predicts them in-sample: use folds >= 2"
            warnings.warn(self._error(msg, UserWarning), stacklevel=3)
            return [Fold(0, 0, ((0, n),), ((0, n),)), Fold(0, FULL, ((0, n),), ())], n
        k = self._check_int("folds", 2, n, fix="pass folds >= 2 (1 needs raise_on_exception=False)")
        if k > n:
            raise self._error(f"needs at least {k} rows, got {n}: lower folds or pass more data")
        return _subset_folds([np.arange(n)], k), n


class BlendIndex(BaseIndex):
    """One split: fit on the head rows, predict the LAST rows (the output is the tail).

    Parameters
    ----------
    test_size : int or float, default 0.5
        Rows predicted: a count, or a fraction in (0, 1) of the rows (floored).
    train_size : int or float, optional
        Rows fitted on, from row 0, same convention; default all other rows.

    Examples
    --------
    >>> BlendIndex(test_size=3, train_size=4).make_folds(range(10))[0]
    Fold(partition=0, fold=0, train=((0, 4),), test=((7, 10),))
    """

    def __init__(self, test_size: int | float = 0.5, train_size: int | float | None = None) -> None:
        self.test_size = test_size
        self.train_size = train_size

    def _size(self, name: str, n: int) -> int:
        value = getattr(self, name)
        if _is_int(value):
            return int(value)
        if isinstance(value, numbers.Real) and 0 < value < 1:
            return int(np.floor(value * n))
        raise self._error(f"needs {name} as an int count or a float in (0, 1), got {value!r} "
                          f"on {n} rows: pass e.g. {name}=0.5")

    def _split(self, X: Any, y: Any, n: int, job: str) -> tuple[list[Fold], int]:
        n_test = self._size("test_size", n)
        n_train = n - n_test if self.train_size is None else self._size("train_size", n)
        for bad, text in [
            (n_test < 1, f"at least 1 test row, got {n_test} of {n}: raise test_size"),
            (n_train < 1, f"at least 1 train row, got {n_train} of {n}: lower test_size"),
            (n_train + n_test > n, f"train + test <= {n} rows, got {n_train} + {n_test}: lower "
             "train_size or test_size, or pass more data")]:
            if bad:
                raise self._error(f"needs {text}")
        fit = Fold(0, 0, ((0, n_train),), ((n - n_test, n),))
        return [fit, Fold(0, FULL, ((0, n),), ())], n_test


class FullIndex(BaseIndex):
    """No folds: one fit on all rows that predicts all rows in-sample (meta layers).

    Examples
    --------
    >>> FullIndex().make_folds(range(4))
    [Fold(partition=0, fold='full', train=((0, 4),), test=((0, 4),))]
    """

    def __init__(self) -> None:
        pass

    def _split(self, X: Any, y: Any, n: int, job: str) -> tuple[list[Fold], int]:
        return [Fold(0, FULL, ((0, n),), ((0, n),))], n


def _subset_folds(parts: list[np.ndarray], k: int) -> list[Fold]:
    """Fold (p, f): train = part p minus its fold f, test = union of every part's fold f."""
    cuts = [[part[a:b] for a, b in _bounds(len(part), k)] for part in parts]
    tests = [array_to_rows(np.sort(np.concatenate([c[f] for c in cuts]))) for f in range(k)]
    fits = [Fold(p, f, array_to_rows(np.concatenate(c[:f] + c[f + 1:])), tests[f])
            for p, c in enumerate(cuts) for f in range(k)]
    return fits + [Fold(p, FULL, array_to_rows(part), ()) for p, part in enumerate(parts)]


class SubsetIndex(BaseIndex):
    """Subsemble folds over contiguous partitions.

    Fold fit ``(p, f)`` trains on partition ``p`` minus its f-th fold and predicts the
    f-th fold of EVERY partition: each row is predicted once per partition column.

    Parameters
    ----------
    partitions : int, default 2
        Number of contiguous partitions, >= 1.
    folds : int, default 2
        Folds per partition, >= 2, with ``partitions * folds <= n``.

    Examples
    --------
    >>> SubsetIndex(2, 2).make_folds(range(8))[0]
    Fold(partition=0, fold=0, train=((2, 4),), test=((0, 2), (4, 6)))
    """

    def __init__(self, partitions: int = 2, folds: int = 2) -> None:
        self.partitions = partitions
        self.folds = folds

    def _split(self, X: Any, y: Any, n: int, job: str) -> tuple[list[Fold], int]:
        j, k = self._check_int("partitions", 1, n), self._check_int("folds", 2, n)
        if j * k > n:
            raise self._error(f"needs at least partitions * folds = {j * k} rows, got {n}: "
                              "lower partitions or folds, or pass more data")
        return _subset_folds([np.arange(a, b) for a, b in _bounds(n, j)], k), n


class ClusteredSubsetIndex(BaseIndex):
    """Subsemble folds over the clusters found by ``estimator``, one partition per label.

    A ``"fit"`` job fits a clone, ``estimator_`` (``fit(X, y)``, else ``fit(X)``); its
    labels (``predict(X)``, else ``labels_``) in sorted order give the partitions, cut as
    in :class:`SubsetIndex`. Other jobs keep the last fit job's partitions.

    Parameters
    ----------
    estimator : estimator
        A clusterer with ``fit`` and ``predict`` (or ``labels_``), else TypeError.
    partitions : int, default 2
        Partitions asked for; the clusterer decides, see ``n_partitions_``.
    folds : int, default 2
        Folds per partition, >= 2; every cluster needs ``folds`` rows.

    Examples
    --------
    >>> from sklearn.cluster import KMeans
    >>> X = np.r_[np.zeros((3, 1)), np.ones((3, 1)), np.zeros((3, 1))]
    >>> sorted(ClusteredSubsetIndex(KMeans(2, n_init=1)).fit(X).partition())
    [((0, 3), (6, 9)), ((3, 6),)]
    """

    def __init__(self, estimator: Any, partitions: int = 2, folds: int = 2) -> None:
        self.estimator = estimator
        self.partitions = partitions
        self.folds = folds

    def _split(self, X: Any, y: Any, n: int, job: str) -> tuple[list[Fold], int]:
        if job != "fit":
            return self._fitted_folds(), n
        _, k = self._check_int("partitions", 1, n), self._check_int("folds", 2, n)
        if not callable(getattr(self.estimator, "fit", None)):
            raise self._error(f"needs an estimator with fit, got {type(self.estimator).__name__}: "
                              "pass e.g. KMeans(n_clusters=2)", TypeError)
        estimator = clone(self.estimator)
        try:
            estimator.fit(X, y)
        except TypeError:
            estimator.fit(X)
        has_predict = callable(getattr(estimator, "predict", None))
        labels = np.asarray(estimator.predict(X) if has_predict else estimator.labels_).ravel()
        values, inverse = np.unique(labels, return_inverse=True)
        parts = [np.flatnonzero(inverse.ravel() == p) for p in range(len(values))]
        for value, part in zip(values.tolist(), parts, strict=True):
            if len(part) < k:
                raise self._error(f"needs at least folds={k} rows in every cluster, got "
                                  f"{len(part)} in cluster {value!r} ({n} rows in all): "
                                  "lower folds or partitions")
        self.estimator_ = estimator
        return _subset_folds(parts, k), n


class TemporalIndex(BaseIndex):
    """Walk-forward folds for time series: train on the past, predict the next step.

    Fold ``k`` predicts ``[i, i + step_size)``, ``i = burn_in + k * step_size``, and
    trains on the rows before ``i - lag`` (the last ``window`` of them if set).

    Parameters
    ----------
    step_size : int, default 1
        Rows predicted per fold, >= 1.
    burn_in : int, optional
        Leading rows never predicted, ``1 <= burn_in < n``; default ``step_size``.
    window : int, optional
        Train on at most this many rows (>= 1); default all past rows.
    lag : int, default 0
        Rows skipped between train and test, ``0 <= lag < burn_in``.

    Examples
    --------
    >>> [f[2:] for f in TemporalIndex(2, burn_in=3, window=2, lag=1).make_folds(range(8))]
    [(((0, 2),), ((3, 5),)), (((2, 4),), ((5, 7),)), (((4, 6),), ((7, 8),)), (((0, 8),), ())]
    """

    def __init__(self, step_size: int = 1, burn_in: int | None = None,
                 window: int | None = None, lag: int = 0) -> None:
        self.step_size = step_size
        self.burn_in = burn_in
        self.window = window
        self.lag = lag

    def _split(self, X: Any, y: Any, n: int, job: str) -> tuple[list[Fold], int]:
        step = self._check_int("step_size", 1, n)
        burn = self._check_int("step_size" if self.burn_in is None else "burn_in", 1, n, high=n,
                               fix="lower burn_in (default: step_size) or pass more data")
        lag = self._check_int("lag", 0, n, high=burn, fix="lower lag or raise burn_in")
        window = None if self.window is None else self._check_int("window", 1, n)
        fits = [Fold(0, k, ((0 if window is None else max(i - lag - window, 0), i - lag),),
                     ((i, min(i + step, n)),))
                for k, i in enumerate(range(burn, n, step))]
        return [*fits, Fold(0, FULL, ((0, n),), ())], n - burn


INDEXERS: dict[str, type[BaseIndex]] = {
    "stack": FoldIndex, "blend": BlendIndex, "subsemble": SubsetIndex,
    "clustered": ClusteredSubsetIndex, "full": FullIndex, "temporal": TemporalIndex,
}
