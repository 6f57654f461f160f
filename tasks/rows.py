"""Row ranges: the rows a fit trains on and the rows it predicts.

Rows are sorted, disjoint, half-open ``(start, stop)`` ranges (:data:`Rows`);
a :class:`Fold` holds a fit's two, and :mod:`foldgraph.tasks.indexers`
lays the folds out. The helpers here convert ranges to index arrays and back.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = ["Rows", "Fold", "rows_to_array", "array_to_rows", "n_rows", "partition_sizes"]

Rows = tuple[tuple[int, int], ...]
FULL = "full"


class Fold(NamedTuple):
    """One fit of one partition: the rows it trains on and the rows it predicts.

    Rows are half-open ``(start, stop)`` ranges.

    Examples
    --------
    >>> from foldgraph.tasks.indexers import FoldIndex
    >>> folds = FoldIndex(2).make_folds(np.ones((4, 1)))
    >>> folds[0]
    Fold(partition=0, fold=0, train=((2, 4),), test=((0, 2),))
    >>> folds[-1]
    Fold(partition=0, fold='full', train=((0, 4),), test=())
    """

    partition: int  # 0 .. n_partitions_ - 1
    fold: int | str  # 0 .. K-1 for a fold fit, "full" for the partition's full-data fit
    train: Rows  # rows the estimator is fitted on
    test: Rows  # rows it predicts; () for a full fit, except in FullIndex


def rows_to_array(rows: Rows) -> np.ndarray:
    """Expand ranges into an int64 index array.

    Examples
    --------
    >>> rows_to_array(((0, 2), (5, 7))).tolist()
    [0, 1, 5, 6]
    """
    arrays = [np.arange(a, b, dtype=np.int64) for a, b in rows]
    return np.concatenate(arrays) if arrays else np.empty(0, dtype=np.int64)


def array_to_rows(index: Any) -> Rows:
    """Compress strictly increasing row indices (or a boolean mask) into ranges.

    Raises
    ------
    ValueError
        If ``index`` is not 1-D, not integer, or not strictly increasing.

    Examples
    --------
    >>> array_to_rows([0, 1, 2, 5, 6, 9]), array_to_rows([True, False, True, True])
    (((0, 3), (5, 7), (9, 10)), ((0, 1), (2, 4)))
    """
    idx = np.asarray(index)
    idx = np.flatnonzero(idx) if idx.dtype == bool and idx.ndim == 1 else idx
    if idx.ndim == 1 and idx.size == 0:
        return ()
    if idx.ndim != 1 or idx.dtype.kind not in "iu" or idx[0] < 0 or (np.diff(idx) <= 0).any():
        raise ValueError(f"array_to_rows needs a 1-D array of strictly increasing non-negative "
                         f"ints, got dtype {idx.dtype} and shape {idx.shape}: apply np.unique")
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    starts = idx[np.r_[0, breaks]].tolist()
    stops = (idx[np.r_[breaks - 1, idx.size - 1]] + 1).tolist()
    return tuple(zip(starts, stops, strict=True))


def n_rows(rows: Rows) -> int:
    """Count the rows covered by ranges.

    Examples
    --------
    >>> n_rows(((0, 4), (7, 10)))
    7
    """
    return sum(b - a for a, b in rows)


def partition_sizes(n: int, p: int) -> list[int]:
    """Sizes of ``p >= 1`` contiguous parts of ``n`` rows; the first ``n % p`` get one more.

    Examples
    --------
    >>> partition_sizes(10, 3)
    [4, 3, 3]
    """
    if p < 1:
        raise ValueError(f"partition_sizes needs p >= 1 parts, got p={p} for n={n}: pass p >= 1")
    return [n // p + (i < n % p) for i in range(p)]
