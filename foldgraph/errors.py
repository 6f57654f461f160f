"""The error tree of foldgraph.

Each class subclasses the builtin a caller would naturally catch, so that
``except ValueError`` still catches a bad graph. An estimator's exception
keeps its class too: :func:`wrap_error` turns it into an instance of
``TaskError[E]``, a subclass of both :class:`TaskError` and the original
class ``E`` (made once per ``E``), so ``except ValueError`` and ``except
TaskError`` both catch a node's ``ValueError``. Every backend raises node
failures through :func:`wrap_error`. This module imports nothing from
foldgraph: every layer may use it.
"""

from __future__ import annotations

__all__ = ["FoldgraphError", "GraphError", "TaskError", "WorkerDied", "NodeTimeout", "RemoteTraceback",
           "wrap_error", "warn_at_caller"]


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

    A node's error is an instance of ``TaskError[E]``, a subclass of both
    ``TaskError`` and the class ``E`` of the estimator's exception (see
    :func:`wrap_error`), so ``except E`` catches it as well. It is a plain
    ``TaskError`` when ``E`` cannot be combined with ``TaskError``.

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
    b b/fit/full ValueError

    The same error is a ``ValueError``, as the estimator raised it:

    >>> with ParallelProcessing("sequential") as manager:
    ...     try:
    ...         manager.map(Learner(Broken(), FoldIndex(2), name="b"), "fit", X, y)
    ...     except ValueError as error:
    ...         print(type(error).__name__, isinstance(error, TaskError))
    ...         print(error)
    TaskError[ValueError] True
    task 'b' failed at node 'b/fit/full': ValueError: no convergence
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


class NodeTimeout(TaskError, TimeoutError):
    """A node ran longer than the manager's ``timeout`` (seconds per node).

    Never retried. On the multiprocessing backend the node's worker is
    killed and replaced (on dask, by its nanny); in process
    (``"sequential"``, ``"threading"``) its thread is abandoned and runs on
    in the background until the estimator returns. Both ``except TaskError``
    and ``except TimeoutError`` catch it.

    Examples
    --------
    >>> err = NodeTimeout("node 'a/fit/full' ran longer than timeout=1s", node="a/fit/full")
    >>> isinstance(err, TaskError), isinstance(err, TimeoutError), err.node
    (True, True, 'a/fit/full')
    """


#: ``{E: TaskError[E]}``, or ``{E: TaskError}`` where the two cannot be combined
_CLASSES: dict[type, type] = {}


def _error_class(cls: type) -> type:
    """``TaskError[cls]``, a subclass of TaskError and ``cls``; made once per ``cls``.

    Plain TaskError when ``cls`` is already a TaskError base (``RuntimeError``,
    ``Exception``), is not an ``Exception`` (``KeyboardInterrupt``,
    ``SystemExit``), or cannot be a base beside TaskError (an instance
    layout or metaclass conflict). A TaskError subclass (``WorkerDied``, or
    the ``TaskError[E]`` of a nested run) with TaskError's ``__init__`` is
    used as it is.
    """
    made = _CLASSES.get(cls)
    if made is not None:
        return made
    if not issubclass(cls, Exception) or issubclass(TaskError, cls):
        made = TaskError
    elif issubclass(cls, TaskError):
        made = cls if cls.__init__ is TaskError.__init__ else TaskError
    else:
        name = f"TaskError[{cls.__name__}]"
        # str() and repr() are TaskError's (KeyError's str() would quote the message);
        # __reduce__ rebuilds the class by name: pickle cannot find a class made here
        namespace = {"__module__": __name__, "__qualname__": name, "__doc__": TaskError.__doc__,
                     "__str__": BaseException.__str__, "__repr__": BaseException.__repr__,
                     "__reduce__": _reduce}  # fmt: skip
        try:
            made = type(name, (TaskError, cls), namespace)
        except Exception:  # noqa: BLE001 - a layout or metaclass conflict, __init_subclass__
            made = TaskError
    return _CLASSES.setdefault(cls, made)  # two threads may race: the first class wins


def _reduce(error: TaskError) -> tuple:
    return _restore, (type(error).__bases__[1], error.args), error.__dict__


def _restore(cls: type, args: tuple) -> TaskError:
    """Unpickle a ``TaskError[cls]`` (its attributes follow as its state)."""
    return _error_class(cls)(*args)


def wrap_error(cause: BaseException, task: str | None, node: str | None,
               tb: str = "") -> TaskError:  # fmt: skip
    """The error to raise for ``cause``, raised by the estimator of ``node``.

    Its message names the task, the node and ``cause``; its class is
    ``TaskError[E]`` for ``cause`` of class ``E`` (see :class:`TaskError`),
    with the attributes of ``cause`` copied over (``task`` and ``node``
    excepted). ``cause`` becomes its ``__cause__``, except for a
    :class:`WorkerDied` or :class:`NodeTimeout` (no exception of the node's
    to chain), reported as such.

    Parameters
    ----------
    cause : BaseException
        What the node raised.
    task : str or None
        Name of the node's task.
    node : str or None
        Key of the node.
    tb : str, default=""
        The worker's traceback text, kept as ``worker_traceback``.

    Returns
    -------
    TaskError

    Examples
    --------
    >>> error = wrap_error(KeyError("y"), "ols", "ols/fit/fold-1")
    >>> isinstance(error, KeyError), isinstance(error, TaskError), error.node
    (True, True, 'ols/fit/fold-1')
    >>> type(error).__name__, repr(error.__cause__)
    ('TaskError[KeyError]', "KeyError('y')")
    >>> print(error)
    task 'ols' failed at node 'ols/fit/fold-1': KeyError: 'y'
    >>> type(wrap_error(KeyboardInterrupt(), "ols", "ols/fit/fold-1")).__name__
    'TaskError'
    >>> print(wrap_error(SystemExit(3), "ols", "ols/fit/fold-1"))
    task 'ols' failed at node 'ols/fit/fold-1': its estimator raised SystemExit: 3
    """
    message = f"task '{task}' failed at node '{node}': {type(cause).__name__}: {cause}"
    if not isinstance(cause, Exception):  # KeyboardInterrupt, SystemExit, caught in a worker
        message = (f"task '{task}' failed at node '{node}': its estimator raised "
                   f"{type(cause).__name__}{f': {cause}' if str(cause) else ''}")
    cls = _error_class(type(cause))
    try:
        error = cls(message, task=task, node=node)
    except Exception:  # noqa: BLE001 - a __new__ that wants its own args (ExceptionGroup)
        cls = _CLASSES[type(cause)] = TaskError
        error = TaskError(message, task=task, node=node)
    if cls is not TaskError and not isinstance(cause, TaskError):
        for name, value in vars(cause).items():  # e.g. a custom error's code=
            if not name.startswith("__"):
                error.__dict__.setdefault(name, value)
    error.worker_traceback = tb
    if not isinstance(cause, (WorkerDied, NodeTimeout)):
        error.__cause__ = cause
    return error


class RemoteTraceback(Exception):
    """The traceback text of an exception raised in a worker (set as its cause).

    The exception itself keeps its type; its ``__cause__`` shows where in
    the worker it was raised.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, ParallelProcessing
    >>> from foldgraph.errors import TaskError
    >>> from foldgraph.testing import OLS
    >>> class Broken(OLS):
    ...     def fit(self, X, y):
    ...         return 1 / 0
    >>> with ParallelProcessing("multiprocessing", n_jobs=1, start_method="fork") as manager:
    ...     try:
    ...         manager.map(Learner(Broken(), FoldIndex(2)), "fit", np.ones((4, 2)), np.ones(4))
    ...     except TaskError as err:
    ...         error = err.__cause__
    >>> error, type(error.__cause__).__name__
    (ZeroDivisionError('division by zero'), 'RemoteTraceback')
    >>> print(error.__cause__)
    Traceback (most recent call last):
      ...
    ZeroDivisionError: division by zero
    """

    def __str__(self) -> str:
        return self.args[0]


def warn_at_caller(message: str, category: type[Warning]) -> None:
    """Warn with the location of the first caller outside foldgraph (your ``fit`` line),
    however deep in the engine the check sits.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_at_caller("careful", RuntimeWarning)
    >>> caught[0].filename.endswith("errors.py"), str(caught[0].message)
    (False, 'careful')
    """
    import sys
    import warnings

    frame, level = sys._getframe(1), 2  # stacklevel 2: the caller of this function
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "foldgraph":
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
