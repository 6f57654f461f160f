"""Argument checks run while a graph is built, before anything runs.

Every message names the culprit, says what was expected and how to fix it.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from foldgraph.errors import GraphError
from foldgraph.tasks.frames import as_frame
from foldgraph.tasks.splitters import as_indexer

__all__ = ["check_data", "check_task", "task_input", "check_sample_weight", "check_labels",
           "as_csr"]  # fmt: skip


def as_csr(X):
    """``X`` itself, or a scipy sparse matrix or array of another format as CSR.

    Nodes slice rows, which COO, DIA and BSR do not support (and CSR does fastest),
    so any other format is converted once, where the data comes in.

    Examples
    --------
    >>> from scipy import sparse
    >>> as_csr(sparse.coo_matrix(np.eye(2))).format, as_csr(sparse.coo_array(np.eye(2))).format
    ('csr', 'csr')
    """
    if sparse.issparse(X) and X.format != "csr":
        return X.tocsr()
    return X


def check_data(X, y=None, job=None):
    """Return ``X`` (2-D, non-empty, numeric; sparse as CSR) and ``y`` (same length) as arrays.

    ``job="fit"`` also refuses NaN and inf in a numeric ``y``.

    Raises
    ------
    GraphError
        X is missing, empty, not 2-D or holds non-numbers (the column is
        named); y's length differs, or it holds NaN or inf in a fit job.

    Examples
    --------
    >>> import numpy as np
    >>> X, y = check_data([[1.0, 2.0], [3.0, 4.0]], [0.5, 1.5])
    >>> X.shape, y.shape
    ((2, 2), (2,))
    >>> check_data(np.ones(3))
    Traceback (most recent call last):
      ...
    foldgraph.errors.GraphError: X must be 2-D (n_samples, n_features), got shape (3,): reshape it, e.g. X.reshape(-1, 1) for a single feature
    """
    if X is None:
        raise GraphError("X is None: pass the input data (an array of shape (n_samples, n_features))")
    frame = as_frame(X)
    if frame is not None:  # the learners get it as it is: names, dtypes, strings
        return _check_frame(frame), _check_y(frame, y, job)
    columns = getattr(X, "columns", None)  # a DataFrame's column names
    if not hasattr(X, "shape") or not hasattr(X, "dtype"):
        try:
            X = np.asarray(X)
        except ValueError as exc:  # rows of different lengths
            raise GraphError(f"X cannot be read as a 2-D array ({exc}): give every row the "
                             f"same number of values") from None
    X = as_csr(X)
    if X.ndim != 2:
        raise GraphError(
            f"X must be 2-D (n_samples, n_features), got shape {X.shape}: "
            f"reshape it, e.g. X.reshape(-1, 1) for a single feature"
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise GraphError(f"X is empty (shape {X.shape}): pass at least one row and one column")
    if X.dtype.kind in "OUS":
        X = _numeric_X(X, columns)
    if X.dtype.kind == "c":
        raise GraphError(f"X holds complex numbers (dtype {X.dtype}): estimators take real "
                         f"values; pass X.real, or split real and imaginary parts into columns")
    return X, _check_y(X, y, job)


def _check_frame(X):
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise GraphError(f"X is empty (shape {X.shape}): pass at least one row and one column")
    for j, (name, dtype) in enumerate(X.dtypes.items()):
        if getattr(dtype, "kind", "") == "c":
            raise GraphError(f"X column {name!r} (#{j}) holds complex numbers (dtype {dtype}): "
                             f"estimators take real values; split real and imaginary parts")
    return X


def _check_y(X, y, job):
    if y is not None:
        y = np.asarray(y)
        if y.ndim not in (1, 2):
            raise GraphError(f"y must be 1-D or 2-D, got shape {y.shape}")
        if y.shape[0] != X.shape[0]:
            raise GraphError(
                f"X has {X.shape[0]} rows but y has {y.shape[0]}: pass one target per row"
            )
        if job == "fit" and y.dtype.kind in "fc" and not np.isfinite(y).all():
            row = int(np.flatnonzero(~np.isfinite(y).reshape(len(y), -1).all(axis=1))[0])
            raise GraphError(
                f"y holds NaN or inf (first at row {row}): a 'fit' job needs finite "
                f"targets; drop or impute those rows"
            )
    return y


def _numeric_X(X, columns=None):
    """``X`` (object or strings) as float64, or a GraphError naming a non-numeric column."""
    try:
        return X.astype(np.float64)
    except (TypeError, ValueError):
        pass
    for j in range(X.shape[1]):
        try:
            X[:, j].astype(np.float64)
        except (TypeError, ValueError):
            bad = next(v for v in X[:, j] if not _is_number(v))
            column = f"column {j}" if columns is None else f"column {columns[j]!r} (#{j})"
            raise GraphError(
                f"X {column} holds non-numeric values such as {bad!r} (strings or "
                f"categories): encode it first (e.g. OneHotEncoder or OrdinalEncoder), or "
                f"drop it"
            ) from None
    raise GraphError("X cannot be converted to numbers: encode its columns first")


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def check_sample_weight(sample_weight, n: int):
    """``sample_weight`` as float64: one finite, non-negative weight per row, not all zero.

    Raises
    ------
    GraphError
        Naming what is wrong (and the first bad row).

    Examples
    --------
    >>> check_sample_weight([1, 2], 2).tolist()
    [1.0, 2.0]
    >>> check_sample_weight(np.ones(4), 2)
    Traceback (most recent call last):
      ...
    foldgraph.errors.GraphError: sample_weight has shape (4,) for 2 rows of X: pass one weight per row
    """
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise GraphError("sample_weight holds non-numbers: pass one number per row") from None
    if w.shape != (n,):
        raise GraphError(
            f"sample_weight has shape {w.shape} for {n} rows of X: pass one weight per row"
        )
    if not np.isfinite(w).all():
        row = int(np.flatnonzero(~np.isfinite(w))[0])
        raise GraphError(f"sample_weight holds NaN or inf at row {row}: pass finite weights")
    if (w < 0).any():
        row = int(np.flatnonzero(w < 0)[0])
        raise GraphError(
            f"sample_weight must be non-negative: weight {w[row]} at row {row}"
        )
    if not w.any():
        raise GraphError("sample_weight is all zero: give some row a positive weight")
    return w


def check_labels(task, name: str, y) -> None:
    """Refuse labels (non-numeric ``y``) for a learner that writes them as numbers.

    A learner without ``proba=True`` writes its predictions into a float
    buffer, so it needs numeric targets.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> from foldgraph import Learner
    >>> check_labels(Learner(Ridge()), "ridge", np.array(["a", "b"]))
    Traceback (most recent call last):
      ...
    foldgraph.errors.GraphError: task 'ridge': y holds labels such as 'a', but its estimator Ridge is a regressor: pass numeric targets, or use a classifier
    """
    if y is None or task.kind != "learner" or task.proba or _is_numeric(y):
        return
    label = np.asarray(y).ravel()[0]
    label = label.item() if hasattr(label, "item") else label
    est = task.estimator
    if _is_regressor(est):
        raise GraphError(
            f"task '{name}': y holds labels such as {label!r}, but its estimator "
            f"{type(est).__name__} is a regressor: pass numeric targets, or use a classifier"
        )
    raise GraphError(
        f"task '{name}': y holds labels such as {label!r}, but a learner writes numeric "
        f"predictions: pass proba=True (class probabilities) or encode y (LabelEncoder)"
    )


def _is_numeric(y) -> bool:
    if y.dtype.kind in "biufc":
        return True
    if y.dtype.kind != "O":
        return False
    try:
        y.astype(np.float64)
    except (TypeError, ValueError):
        return False
    return True


def _is_regressor(estimator) -> bool:
    from sklearn.base import is_regressor

    try:
        return bool(is_regressor(estimator))
    except Exception:  # not a scikit-learn estimator: no tags
        return getattr(estimator, "_estimator_type", None) == "regressor"


def check_task(task, name: str) -> None:
    """Check that ``task`` is a Learner/Transformer whose estimator has the right methods.

    ``name`` says which task the message is about when it has no name yet
    (e.g. ``"task #2"``).

    Raises
    ------
    TypeError
        Not a task, or its estimator lacks ``fit``, ``predict`` (or
        ``predict_proba``) or ``transform``.
    GraphError
        The task's name is empty or contains ``/``.

    Examples
    --------
    >>> from foldgraph import Learner, Transformer
    >>> from foldgraph.testing import OLS
    >>> check_task(Learner(OLS(), name="ols"), "task #0")
    >>> check_task(Transformer(OLS(), name="t"), "task #1")
    Traceback (most recent call last):
      ...
    TypeError: task 't': estimator OLS does not implement transform; a transformer needs fit and transform
    """
    kind = getattr(task, "kind", None)
    if kind not in ("learner", "transformer"):
        raise TypeError(
            f"{name} ({type(task).__name__}) is not a task: wrap estimators in "
            f"Learner(estimator) or Transformer(estimator)"
        )
    est = task.estimator
    if kind == "learner":
        method = "predict_proba" if task.proba else "predict"
        needed = ("fit", method)
    else:
        needed = ("fit", "transform")
    missing = [m for m in needed if not callable(getattr(est, m, None))]
    if missing:
        raise TypeError(
            f"task '{getattr(task, 'name', None) or name}': estimator "
            f"{type(est).__name__} does not implement {', '.join(missing)}; a "
            f"{kind} needs {' and '.join(needed)}"
        )
    as_indexer(getattr(task, "indexer", None), f"task '{getattr(task, 'name', None) or name}'")
    task_name = getattr(task, "name", None)
    if task_name is not None and (not isinstance(task_name, str) or "/" in task_name or not task_name):
        raise GraphError(
            f"task name {task_name!r} is invalid: use a non-empty string without '/'"
        )


def task_input(graph, task, name: str, input: str) -> dict:
    """Describe what ``task`` reads: rows, features, targets and output width.

    Raises
    ------
    GraphError
        ``input`` is not a buffer of the graph, a learner of a fit job has
        no ``y``, or weights go to an estimator whose ``fit`` takes none.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import Learner, TaskGraph
    >>> from foldgraph.testing import OLS
    >>> g = TaskGraph("fit", X=np.ones((6, 2)), y=np.ones(6))
    >>> info = task_input(g, Learner(OLS()), "ols", "X")
    >>> info["n_in"], info["n_features"], info["width"]
    (6, 2, 1)
    >>> task_input(g, Learner(OLS()), "ols", "P:a")
    Traceback (most recent call last):
      ...
    foldgraph.errors.GraphError: task 'ols' reads buffer 'P:a', which the graph does not have (known: 'X')
    """
    if input not in graph.buffers or input == "y":
        known = [b for b in graph.buffers if b != "y"]
        raise GraphError(
            f"task '{name}' reads buffer {input!r}, which the graph does not have "
            f"(known: {', '.join(map(repr, known))})"
        )
    spec = graph.buffers[input]
    n_in, n_features = spec.shape[0], spec.shape[1]
    y = graph.y
    if graph.job == "fit" and task.kind == "learner" and y is None:
        raise GraphError(f"task '{name}' is a learner: a 'fit' job needs y")
    if graph.job == "fit":
        check_labels(task, name, y)
    y_offset = 0 if y is None else y.shape[0] - n_in
    y_values = None if y is None else y[y_offset:]
    info = dict(
        x=input, n_in=n_in, n_features=n_features, itemsize=np.dtype(spec.dtype).itemsize,
        y=None if y is None else "y", y_offset=y_offset, y_values=y_values, classes=None,
        y_itemsize=0 if y is None else y.dtype.itemsize * (1 if y.ndim == 1 else y.shape[1]),
    )  # fmt: skip
    info["w"] = None
    if graph.sample_weight is not None and graph.job == "fit" and task.kind == "learner":
        _check_accepts_weights(task, name)
        info["w"] = "w"
    if task.kind == "learner":
        info["classes"], info["width"] = _output_width(task, name, graph.job, y_values)
    else:
        info["width"] = 0
    return info


def _proba_width(task, classes) -> int:
    """One column per class, or one for two classes with ``drop_binary`` (as scikit-learn)."""
    return 1 if getattr(task, "drop_binary", False) and len(classes) == 2 else len(classes)


def _output_width(task, name, job, y_values):
    """Columns per partition: classes for probabilities, else targets."""
    if job == "fit":
        if task.proba and y_values.ndim == 2:  # multilabel: one block per output
            classes = tuple(np.unique(y_values[:, j]) for j in range(y_values.shape[1]))
            return classes, sum(len(c) for c in classes)
        if task.proba:
            classes = np.unique(y_values)
            return classes, _proba_width(task, classes)
        return None, 1 if y_values.ndim == 1 else y_values.shape[1]
    if task.proba:
        classes = getattr(task, "classes_", None)
        if classes is None:
            raise GraphError(
                f"task '{name}' has proba=True but was fitted without it: refit it"
            )
        if isinstance(classes, tuple):
            return classes, sum(len(c) for c in classes)
        return classes, _proba_width(task, classes)
    return None, getattr(task, "n_outputs_", 1)


def _check_accepts_weights(task, name: str) -> None:
    from sklearn.utils.validation import has_fit_parameter

    if not has_fit_parameter(task.estimator, "sample_weight"):
        raise GraphError(
            f"task '{name}': {type(task.estimator).__name__}.fit does not accept "
            f"sample_weight: fit without weights, or use an estimator that takes them"
        )
