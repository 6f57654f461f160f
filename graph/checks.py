"""Argument checks run while a graph is built, before anything runs.

Every message names the culprit, says what was expected and how to fix it.
"""

from __future__ import annotations

import numpy as np

from foldgraph.errors import GraphError
from foldgraph.tasks.splitters import as_indexer

__all__ = ["check_data", "check_task", "task_input"]


def check_data(X, y=None):
    """Return ``X`` (2-D, non-empty) and ``y`` (same length) as arrays.

    Raises
    ------
    GraphError
        X is missing, empty, not 2-D, or y's length differs.

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
    if not hasattr(X, "shape") or not hasattr(X, "dtype"):
        X = np.asarray(X)
    if X.ndim != 2:
        raise GraphError(
            f"X must be 2-D (n_samples, n_features), got shape {X.shape}: "
            f"reshape it, e.g. X.reshape(-1, 1) for a single feature"
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise GraphError(f"X is empty (shape {X.shape}): pass at least one row and one column")
    if y is not None:
        y = np.asarray(y)
        if y.ndim not in (1, 2):
            raise GraphError(f"y must be 1-D or 2-D, got shape {y.shape}")
        if y.shape[0] != X.shape[0]:
            raise GraphError(
                f"X has {X.shape[0]} rows but y has {y.shape[0]}: pass one target per row"
            )
    return X, y


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


def _output_width(task, name, job, y_values):
    """Columns per partition: classes for probabilities, else targets."""
    if job == "fit":
        if task.proba:
            classes = np.unique(y_values)
            return classes, len(classes)
        return None, 1 if y_values.ndim == 1 else y_values.shape[1]
    if task.proba:
        classes = getattr(task, "classes_", None)
        if classes is None:
            raise GraphError(
                f"task '{name}' has proba=True but was fitted without it: refit it"
            )
        return classes, len(classes)
    return None, getattr(task, "n_outputs_", 1)


def _check_accepts_weights(task, name: str) -> None:
    from sklearn.utils.validation import has_fit_parameter

    if not has_fit_parameter(task.estimator, "sample_weight"):
        raise GraphError(
            f"task '{name}': {type(task.estimator).__name__}.fit does not accept "
            f"sample_weight: fit without weights, or use an estimator that takes them"
        )
