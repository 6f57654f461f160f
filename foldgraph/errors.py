"""The error tree of foldgraph.

Each class subclasses the builtin a caller would naturally catch, so that
``except ValueError`` still catches a bad graph. This module imports nothing
from foldgraph: every layer may use it.
"""

from __future__ import annotations

__all__ = ["FoldgraphError", "GraphError", "TaskError", "WorkerDied"]


class FoldgraphError(Exception):
    """Base class of every error raised by foldgraph itself."""


class GraphError(FoldgraphError, ValueError):
    """A task graph or its input is invalid; raised before any node runs."""


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
    """

    def __init__(self, message: str, task: str | None = None, node: str | None = None):
        super().__init__(message)
        self.task = task
        self.node = node


class WorkerDied(TaskError):
    """A worker process died (killed, out of memory, segfault) while running a node."""
