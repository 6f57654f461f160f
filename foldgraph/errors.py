"""The error tree of foldgraph.

Each class subclasses the builtin a caller would naturally catch, so that
``except ValueError`` still catches a bad graph. This module imports nothing
from foldgraph: every layer may use it.
"""

from __future__ import annotations

__all__ = ["FoldgraphError", "GraphError", "TaskError", "WorkerDied"]


class FoldgraphError(Exception):
    """Base class of every error raised by foldgraph itself.

    Examples
    --------
    >>> from foldgraph import GraphError, TaskError
    >>> issubclass(GraphError, FoldgraphError), issubclass(TaskError, FoldgraphError)
    (True, True)
    """


class GraphError(FoldgraphError, ValueError):
    """A task graph or its input is invalid; raised before any node runs.

    A ``ValueError`` too, so ``except ValueError`` catches bad input.

    Examples
    --------
    >>> from foldgraph import TaskGraph
    >>> try:
    ...     TaskGraph("score")
    ... except ValueError as error:
    ...     print(type(error).__name__, error)
    GraphError unknown job 'score': choose one of 'fit', 'predict', 'transform'
    """


class TaskError(FoldgraphError, RuntimeError):
    """A node failed while running; the original exception is the ``__cause__``.

    Parameters
    ----------
    message : str
        Full message, naming the task and the node.
    task : str, optional
        Name of the task whose node failed.
    node : str, optional
        Key of the node that failed, e.g. ``"ols-2/fit/fold-1"``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import BaseEstimator
    >>> from foldgraph import FoldIndex, Learner, ParallelProcessing
    >>> class Broken(BaseEstimator):
    ...     def fit(self, X, y):
    ...         raise ValueError("no convergence")
    ...     def predict(self, X):
    ...         return X[:, 0]
    >>> X, y = np.ones((6, 2)), np.ones(6)
    >>> with ParallelProcessing("sequential") as manager:
    ...     try:
    ...         manager.map(Learner(Broken(), FoldIndex(2), name="b"), "fit", X, y)
    ...     except TaskError as error:
    ...         print(error.task, error.node, type(error.__cause__).__name__)
    b b/fit/fold-0 ValueError
    """

    def __init__(self, message: str, task: str | None = None, node: str | None = None):
        super().__init__(message)
        self.task = task
        self.node = node


class WorkerDied(TaskError):
    """A worker process died (killed, out of memory, segfault) while running a node.

    Raised by the multiprocessing backend once the node has been retried
    ``retries`` times on a fresh worker. A ``TaskError``, so one
    ``except TaskError`` covers failures of both kinds.

    Examples
    --------
    >>> err = WorkerDied("worker 0 died", task="ols", node="ols/fit/fold-0")
    >>> isinstance(err, TaskError), err.node
    (True, 'ols/fit/fold-0')
    """
