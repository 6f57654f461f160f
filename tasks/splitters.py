"""Any scikit-learn CV splitter as an indexer: one fold node per split.

:class:`SplitIndex` wraps an object with ``split(X, y, groups)`` and
``get_n_splits`` (``KFold``, ``StratifiedKFold``, ``GroupKFold``,
``TimeSeriesSplit``, ``PredefinedSplit``...). Test rows of a split may be
anywhere (stratified, shuffled, grouped); they are written to the output at
their own row, so out-of-fold predictions come back in the user's row
order. Rows that no split predicts must be a leading block (as with
``TimeSeriesSplit``): the output is then the tail of the input, like
:class:`~foldgraph.tasks.indexers.TemporalIndex`, and ``n_test_samples_``
says how many rows the next layer is trained on.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from .indexers import BaseIndex
from .rows import FULL, Fold, array_to_rows, rows_to_array

__all__ = ["SplitIndex", "as_indexer", "is_splitter", "fold_repeats"]


def is_splitter(obj: Any) -> bool:
    """True for an object with ``split`` and ``get_n_splits`` that is not an indexer.

    Examples
    --------
    >>> from sklearn.model_selection import KFold
    >>> from foldgraph.tasks.indexers import FoldIndex
    >>> is_splitter(KFold(3)), is_splitter(FoldIndex(3)), is_splitter(3)
    (True, False, False)
    """
    return (
        not isinstance(obj, (BaseIndex, type, str))
        and callable(getattr(obj, "split", None))
        and callable(getattr(obj, "get_n_splits", None))
    )


def as_indexer(obj: Any, where: str = "indexer") -> BaseIndex | None:
    """An indexer for ``obj``: itself, a :class:`SplitIndex` around a splitter, or None.

    Raises
    ------
    TypeError
        ``obj`` is neither an indexer nor a splitter; ``where`` names it.

    Examples
    --------
    >>> from sklearn.model_selection import StratifiedKFold
    >>> as_indexer(StratifiedKFold(3))
    SplitIndex(splitter=StratifiedKFold(n_splits=3, random_state=None, shuffle=False))
    >>> as_indexer("kfold", where="task 'ridge'")
    Traceback (most recent call last):
      ...
    TypeError: task 'ridge': indexer 'kfold' is neither a foldgraph indexer nor a CV splitter with split() and get_n_splits(): pass e.g. FoldIndex(5) or KFold(5)
    """
    if obj is None or isinstance(obj, BaseIndex):
        return obj
    if is_splitter(obj):
        return SplitIndex(obj)
    raise TypeError(
        f"{where}: indexer {obj!r} is neither a foldgraph indexer nor a CV splitter with "
        f"split() and get_n_splits(): pass e.g. FoldIndex(5) or KFold(5)"
    )


def fold_repeats(folds) -> list[int]:
    """For each fold fit, how many earlier fits of its partition predicted its rows.

    0 everywhere for folds whose test rows are disjoint; ``r`` for the folds
    of repeat ``r`` of a repeated splitter.

    Examples
    --------
    >>> from sklearn.model_selection import RepeatedKFold
    >>> folds = SplitIndex(RepeatedKFold(n_splits=2, n_repeats=2, random_state=0)).make_folds(
    ...     np.ones((4, 1)))
    >>> fold_repeats(folds)
    [0, 0, 1, 1, 0]
    """
    seen: dict = {}
    out = []
    for f in folds:
        if f.fold == FULL or not f.test:
            out.append(0)
            continue
        idx = rows_to_array(f.test)
        counts = seen.setdefault(f.partition, {})
        before = {counts.get(int(i), 0) for i in idx}
        out.append(max(before))
        for i in idx:
            counts[int(i)] = counts.get(int(i), 0) + 1
    return out


def _digest(*arrays) -> str:
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        if a is None:
            h.update(b"-")
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.view(np.uint8).ravel() if a.dtype != object else repr(a.tolist()).encode())
    return h.hexdigest()


class SplitIndex(BaseIndex):
    """Folds from a scikit-learn CV splitter, one fold fit per split, then a full fit.

    Parameters
    ----------
    splitter : CV splitter
        Any object with ``split(X, y, groups)`` and ``get_n_splits``.
    groups : array-like, optional
        Group labels of the rows (``GroupKFold``...). When the input is the
        tail of the data (a later layer), the tail of ``groups`` is used.

    Notes
    -----
    A repeated splitter (``RepeatedKFold``, ``RepeatedStratifiedKFold``)
    predicts every row once per repeat: ``repeats_`` gives each fold fit's
    repeat, and a fold of repeat ``r`` runs after the folds of earlier
    repeats that wrote its rows and leaves the running mean there, so the
    output is the average over repeats. The split is computed once per data and reused by every task that
    shares this indexer, so a learner and its preprocessing see the same
    folds even for a splitter with ``shuffle=True`` and no ``random_state``.

    Examples
    --------
    >>> from sklearn.model_selection import KFold, TimeSeriesSplit
    >>> folds = SplitIndex(KFold(2, shuffle=True, random_state=0)).make_folds(np.ones((6, 1)))
    >>> [(f.fold, f.test) for f in folds]
    [(0, ((1, 3), (5, 6))), (1, ((0, 1), (3, 5))), ('full', ())]
    >>> index = SplitIndex(TimeSeriesSplit(2)).fit(np.ones((6, 1)))
    >>> index.n_test_samples_  # rows 2-5 are predicted: the next layer trains on them
    4
    """

    def __init__(self, splitter: Any, groups: Any = None) -> None:
        self.splitter = splitter
        self.groups = groups

    def _split(self, X: Any, y: Any, n: int, job: str) -> tuple[list[Fold], int]:
        if not is_splitter(self.splitter):
            hint = "an instance, e.g. KFold(5)" if isinstance(self.splitter, type) else "e.g. KFold(5)"
            raise TypeError(f"SplitIndex: {self.splitter!r} is neither a foldgraph indexer nor a CV "
                            f"splitter with split() and get_n_splits(): pass {hint}")
        groups = None if self.groups is None else np.asarray(self.groups)
        if groups is not None:
            if len(groups) < n:
                raise self._error(f"has {len(groups)} group labels for {n} rows: pass one "
                                  "group per row")
            groups = groups[len(groups) - n:]
        key = (n, _digest(y, groups))
        memo = getattr(self, "_memo", None)
        if memo is not None and memo[0] == key:
            self.repeats_ = list(memo[3])
            return list(memo[1]), memo[2]
        X_split = X if getattr(X, "shape", None) is not None else np.empty((n, 0))
        try:
            splits = list(self.splitter.split(X_split, y, groups))
        except ValueError as exc:  # e.g. a class with fewer members than folds
            raise self._error(f"could not split {n} rows: {exc}") from exc
        folds, seen, repeats = [], np.zeros(n, dtype=np.int64), []
        for i, (train, test) in enumerate(splits):
            train, test = np.unique(np.asarray(train)), np.unique(np.asarray(test))
            if test.size == 0 or train.size == 0:
                raise self._error(f"split {i} has {train.size} train and {test.size} test "
                                  "rows: every split needs both")
            before = seen[test]
            if before.min() != before.max():
                row = int(test[np.argmax(before != before[0])])
                raise self._error(
                    f"split {i} predicts rows that earlier splits predicted a different number "
                    f"of times (row {row}): each repeat must predict every row once, as in "
                    f"RepeatedKFold; out-of-fold predictions are averaged over repeats"
                )
            repeats.append(int(before[0]))
            seen[test] += 1
            folds.append(Fold(0, i, array_to_rows(train), array_to_rows(test)))
        if not folds:
            raise self._error(f"made no split of {n} rows")
        n_test = self._check_coverage(seen, n)
        folds.append(Fold(0, FULL, ((0, n),), ()))
        self.repeats_ = repeats + [0]
        self._memo = (key, list(folds), n_test, list(self.repeats_))
        return folds, n_test

    def _check_coverage(self, seen: np.ndarray, n: int) -> int:
        predicted = np.flatnonzero(seen)
        times = seen[predicted]
        if times.min() != times.max():
            row = int(predicted[np.argmin(times)])
            raise self._error(
                f"predicts row {row} {int(times.min())} times but others {int(times.max())} "
                f"times: every predicted row must be predicted once per repeat"
            )
        start = int(predicted[0])
        if predicted.size != n - start:
            missing = np.setdiff1d(np.arange(start, n), predicted)
            raise self._error(
                f"leaves row {int(missing[0])} out of every test set while predicting later "
                f"rows: rows never predicted must come first (as in TimeSeriesSplit), since "
                f"the next layer trains on the predicted tail"
            )
        return n - start

    def forget(self) -> None:
        """Drop the groups and the remembered split (a fitted model keeps no data)."""
        self.groups = None
        self._memo = None

    def __sklearn_clone__(self):
        return type(self)(self.splitter, self.groups)
