"""What one node does: plain functions, arrays in, fitted estimators out.

Every function takes the arrays a node reads (views on the job's buffers),
the rows and columns it owns, and writes its predictions straight into the
output array ``P`` at those rows; only the fitted estimator and timings are
returned. Rows are tuples of half-open ``(start, stop)`` ranges; a single
range is a zero-copy slice.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from .frames import is_frame, numeric_block, take_frame
from .pipeline import apply_transform, fit_step

__all__ = [
    "NodeResult",
    "take",
    "put",
    "fit_fold",
    "predict_fold",
    "fit_transformer",
    "copy_columns",
]

Rows = tuple[tuple[int, int], ...]


class NodeResult(NamedTuple):
    """What a node hands back to the scheduler (never the predictions).

    Examples
    --------
    >>> from foldgraph.testing import OLS
    >>> NodeResult(OLS(), fit_time=0.5)
    NodeResult(estimator=OLS(), fit_time=0.5, predict_time=0.0, score=None)
    """

    estimator: object
    fit_time: float = 0.0
    predict_time: float = 0.0
    score: float | None = None


def take(a, rows: Rows):
    """Rows ``rows`` of ``a``: a view for one range, a copy for several.

    Examples
    --------
    >>> take(np.arange(6), ((0, 2), (4, 6))).tolist()
    [0, 1, 4, 5]
    """
    if is_frame(a):  # rows by position: the learners get a DataFrame
        return take_frame(a, rows)
    if len(rows) == 1:
        start, stop = rows[0]
        return a[start:stop]
    if not isinstance(a, np.ndarray) and hasattr(a, "tocsr"):  # scipy.sparse: row indexing
        return a[np.concatenate([np.arange(start, stop) for start, stop in rows])]
    return np.concatenate([a[start:stop] for start, stop in rows])


def put(P, rows: Rows, cols: tuple[int, int], values) -> None:
    """Write ``values`` (one row per selected row) into ``P[rows, cols]``.

    Examples
    --------
    >>> P = np.zeros((4, 2))
    >>> put(P, ((0, 1), (3, 4)), (1, 2), np.array([[7.0], [8.0]]))
    >>> P.tolist()
    [[0.0, 7.0], [0.0, 0.0], [0.0, 0.0], [0.0, 8.0]]
    """
    c0, c1 = cols
    offset = 0
    for start, stop in rows:
        P[start:stop, c0:c1] = values[offset : offset + stop - start]
        offset += stop - start


def _as_columns(pred, classes, estimator) -> np.ndarray:
    """Shape predictions as a 2-D block; align probabilities on ``classes``.

    Multi-output probabilities (a list of arrays, ``classes`` a tuple with
    the classes of each output) become one aligned block per output.
    """
    if isinstance(classes, tuple):
        fitted = getattr(estimator, "classes_", None)
        if not isinstance(pred, list) or len(pred) != len(classes):
            raise ValueError(f"predict_proba gave {type(pred).__name__}, expected a list of "
                             f"{len(classes)} arrays, one per output of a multi-output y")
        return np.hstack([_as_columns(p, c, _Fitted(f)) for p, c, f in
                          zip(pred, classes, fitted if fitted is not None else [None] * len(pred))])
    pred = np.asarray(pred)
    if pred.ndim == 1:
        pred = pred.reshape(-1, 1)
    if classes is None:
        return pred
    fitted = getattr(estimator, "classes_", None)
    if fitted is None or len(fitted) == len(classes):
        return pred
    block = np.zeros((pred.shape[0], len(classes)), dtype=pred.dtype)
    block[:, np.searchsorted(classes, fitted)] = pred
    return block


class _Fitted(NamedTuple):
    """Stands for one output of a multi-output estimator: its ``classes_``."""

    classes_: object


def _predict(estimator, X, proba: bool, classes, drop_binary: bool = False):
    start = time.perf_counter()
    pred = estimator.predict_proba(X) if proba else estimator.predict(X)
    block = _as_columns(pred, classes, estimator)
    if drop_binary and proba and not isinstance(classes, tuple) and len(classes) == 2:
        block = block[:, 1:]  # the first class's column is one minus the second's
    return block, time.perf_counter() - start


def _write(P, out_rows, cols, block, n_rows: int, repeat: int = 0) -> None:
    width = cols[1] - cols[0]
    if block.shape != (n_rows, width):
        raise ValueError(
            f"the estimator returned predictions of shape {block.shape}, "
            f"expected ({n_rows}, {width}) for these rows and columns"
        )
    values = block
    if block.dtype.kind == "O":  # numbers as objects are checked too; put() refuses the rest
        try:
            values = np.asarray(block, dtype=np.float64)
        except (TypeError, ValueError):
            values = None
    if values is not None and values.dtype.kind in "fc":
        if not np.isfinite(values).all():
            bad = int(values.size - np.count_nonzero(np.isfinite(values)))
            raise ValueError(
                f"the estimator returned {bad} non-finite prediction{'s' * (bad != 1)} (nan "
                f"or inf) out of {values.size}: check its input and parameters; the "
                f"learners that read these predictions need finite values"
            )
        _check_range(P, values)
    if repeat:  # the running mean over repeats: earlier repeats wrote these rows
        block = (take(P, out_rows)[:, cols[0]:cols[1]] * repeat + block) / (repeat + 1)
    put(P, out_rows, cols, block)


def _check_range(P, values) -> None:
    """Refuse finite values that would overflow ``P``'s dtype (inf in a float32 buffer)."""
    if P is None or P.dtype.kind != "f" or P.dtype.itemsize >= values.dtype.itemsize:
        return
    top, largest = float(np.abs(values).max(initial=0.0)), float(np.finfo(P.dtype).max)
    if top > largest:
        raise ValueError(
            f"predictions up to {top:.2g} overflow the {P.dtype.name} buffer (largest "
            f"{largest:.2g}): use dtype=np.float64"
        )


def fit_fold(
    estimator,
    X,
    y,
    train: Rows,
    test: Rows = (),
    P=None,
    out_rows: Rows = (),
    cols: tuple[int, int] = (0, 1),
    preprocess=None,
    proba: bool = False,
    classes=None,
    scorer=None,
    sample_weight=None,
    repeat: int = 0,
    drop_binary: bool = False,
    fitted=None,
) -> NodeResult:
    """Fit ``estimator`` on ``train`` rows and predict ``test`` rows into ``P``.

    Parameters
    ----------
    estimator : estimator
        A fresh clone; it is fitted in place and returned.
    X, y : array-like
        The task's input (rows are positions in them).
    train, test : Rows
        Rows to fit on and rows to predict (``()``: fit only).
    P : ndarray, optional
        Output array written at ``out_rows`` x ``cols``.
    out_rows : Rows
        Output rows, one per test row (``test`` shifted to the output's tail).
    cols : (int, int)
        Column range of ``P`` owned by this node.
    preprocess : fitted transformer, optional
        Applied to the train and the test slices, with their ``y``.
    proba : bool
        Use ``predict_proba``; columns aligned on ``classes``.
    classes : ndarray, optional
        All classes of ``y`` (probability columns).
    scorer : callable, optional
        ``scorer(y_test, predictions)``.
    sample_weight : array-like, optional
        Weights of every row; the train rows' are passed to ``fit``.
    repeat : int, default=0
        This fold's repeat (repeated splitters): ``r > 0`` leaves the mean of
        the ``r`` predictions already in ``P`` and its own.
    drop_binary : bool, default=False
        With ``proba`` and two classes, write the second class's column only.
    fitted : callable, optional
        Called with the fitted estimator before it predicts (the worker sets
        the threads it predicts on).

    Returns
    -------
    NodeResult

    Examples
    --------
    >>> from foldgraph.testing import OLS
    >>> X = np.arange(8.0).reshape(4, 2); y = X.sum(axis=1); P = np.zeros((4, 1))
    >>> res = fit_fold(OLS(), X, y, train=((0, 2),), test=((2, 4),), P=P, out_rows=((2, 4),))
    >>> P.ravel().round(6).tolist()
    [0.0, 0.0, 9.0, 13.0]
    """
    X_train, y_train = take(X, train), None if y is None else take(y, train)
    if preprocess is not None:
        X_train, y_train = apply_transform(preprocess, X_train, y_train)
    start = time.perf_counter()
    if sample_weight is None:
        estimator.fit(X_train, y_train)
    else:
        estimator.fit(X_train, y_train, sample_weight=take(sample_weight, train))
    fit_time = time.perf_counter() - start
    if not test:
        return NodeResult(estimator, fit_time)
    if fitted is not None:
        fitted(estimator)
    X_test, y_test = take(X, test), None if y is None else take(y, test)
    if preprocess is not None:
        X_test, y_test = apply_transform(preprocess, X_test, y_test)
    block, predict_time = _predict(estimator, X_test, proba, classes, drop_binary)
    _write(P, out_rows, cols, block, sum(b - a for a, b in test), repeat)
    score = None
    if scorer is not None and y_test is not None:
        pred = block[:, 0] if block.shape[1] == 1 and np.ndim(y_test) == 1 else block
        score = float(scorer(y_test, pred))
    return NodeResult(estimator, fit_time, predict_time, score)


def predict_fold(
    estimator,
    X,
    rows: Rows,
    P,
    out_rows: Rows,
    y=None,
    cols: tuple[int, int] = (0, 1),
    preprocess=None,
    proba: bool = False,
    classes=None,
    repeat: int = 0,
    drop_binary: bool = False,
) -> NodeResult:
    """Predict ``rows`` of ``X`` with a fitted ``estimator`` into ``P``.

    Used by ``"predict"`` jobs (full-data estimators, all rows) and
    ``"transform"`` jobs (fold estimators, their test rows).

    Returns
    -------
    NodeResult
        ``estimator`` is returned unchanged.

    Examples
    --------
    Predict rows 2 and 3 into rows 0 and 1 of ``P``:

    >>> from foldgraph.testing import OLS
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> est = OLS().fit(X, X.sum(axis=1))
    >>> P = np.zeros((4, 1))
    >>> predict_fold(est, X, ((2, 4),), P, ((0, 2),)).estimator is est
    True
    >>> P.ravel().round(6).tolist()
    [9.0, 13.0, 0.0, 0.0]
    """
    X_rows = take(X, rows)
    if preprocess is not None:
        y_rows = None if y is None else take(y, rows)
        X_rows, _ = apply_transform(preprocess, X_rows, y_rows)
    block, predict_time = _predict(estimator, X_rows, proba, classes, drop_binary)
    _write(P, out_rows, cols, block, sum(b - a for a, b in rows), repeat)
    return NodeResult(estimator, 0.0, predict_time)


def fit_transformer(estimator, X, y, train: Rows) -> NodeResult:
    """Fit a transformer (or Pipeline) on ``train`` rows; no output.

    Examples
    --------
    >>> from foldgraph.testing import Scale
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> fit_transformer(Scale(), X, None, ((0, 2),)).estimator.mean_.tolist()
    [1.0, 2.0]
    """
    X_train, y_train = take(X, train), None if y is None else take(y, train)
    start = time.perf_counter()
    fit_step(estimator, X_train, y_train)
    return NodeResult(estimator, time.perf_counter() - start)


def copy_columns(X, rows: Rows, columns, P, out_rows: Rows, cols: tuple[int, int]) -> NodeResult:
    """Copy ``columns`` of ``X`` at ``rows`` into ``P[out_rows, cols]`` (propagated features).

    Examples
    --------
    >>> P = np.zeros((2, 1))
    >>> _ = copy_columns(np.arange(6.0).reshape(3, 2), ((1, 3),), (1,), P, ((0, 2),), (0, 1))
    >>> P.ravel().tolist()
    [3.0, 5.0]
    """
    if is_frame(X):
        block = numeric_block(take(X, rows), columns)
    else:
        block = take(X, rows)[:, list(columns)]
    block = block.toarray() if hasattr(block, "toarray") else np.asarray(block)
    if block.dtype.kind == "f" and P.dtype.itemsize < block.dtype.itemsize:
        _check_range(P, block[np.isfinite(block)])  # a nan or inf of X is copied as is
    put(P, out_rows, cols, block)
    return NodeResult(None)
