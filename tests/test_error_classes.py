"""An estimator's exception keeps its class: ``TaskError[E]`` is a TaskError and an E.

On every backend, ``except ValueError`` (or the estimator's own class, a
custom one included) and ``except TaskError`` catch the same error; its
message names the task and node, its ``__cause__`` is the original
exception, and it pickles. A SuperLearner of plain scikit-learn estimators
passes scikit-learn's NaN/inf check because the base learners' ValueError
reaches ``fit`` and ``predict`` as a ValueError.
"""

from __future__ import annotations

import pickle
import re

import cloudpickle
import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.tree import DecisionTreeRegressor
from sklearn.utils.estimator_checks import check_estimators_nan_inf

from foldgraph import FoldIndex, Learner, ParallelProcessing, SuperLearner, TaskError, WorkerDied
from foldgraph.engine.processes import RemoteTraceback
from foldgraph.errors import wrap_error

N = 12
X = np.column_stack([np.arange(N, dtype=float), np.linspace(1.0, 2.0, N)])
Y = X @ np.array([1.0, 2.0])
BACKENDS = ["sequential", "threading", "multiprocessing",
            pytest.param("dask", marks=pytest.mark.slow)]  # fmt: skip


class CustomError(Exception):
    """A user's exception class, with an attribute of its own."""

    def __init__(self, message: str, code: int = 7):
        super().__init__(message)
        self.code = code


ERRORS = {"ValueError": ValueError, "TypeError": TypeError, "KeyError": KeyError,
          "CustomError": CustomError}  # fmt: skip


class Raising(RegressorMixin, BaseEstimator):
    """Least squares that raises ``ERRORS[error]`` in ``when`` ("fit" or "predict").

    ``predict`` raises only on rows with a negative first column, so a fit
    job succeeds and a predict job on such rows fails.
    """

    def __init__(self, error: str = "ValueError", when: str = "fit"):
        self.error = error
        self.when = when

    def fit(self, X, y):
        if self.when == "fit":
            raise ERRORS[self.error](f"{self.error} raised in fit")
        self.coef_ = np.linalg.lstsq(X, y, rcond=None)[0]
        return self

    def predict(self, X):
        if self.when == "predict" and X[:, 0].min() < 0:
            raise ERRORS[self.error](f"{self.error} raised in predict")
        return X @ self.coef_


@pytest.fixture(scope="module", params=BACKENDS)
def manager(request):
    kwargs = {"start_method": "fork"} if request.param == "multiprocessing" else {}
    if request.param == "dask":
        distributed = pytest.importorskip("distributed")
        cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                           dashboard_address=":0")  # fmt: skip
        client = distributed.Client(cluster, set_as_default=False)
        kwargs = {"client": client}
    pp = ParallelProcessing(request.param, n_jobs=2, **kwargs)
    yield pp
    pp.clear()
    if request.param == "dask":
        client.close()
        cluster.close()


def failing_run(manager, error: str, when: str) -> None:
    """Run a job that raises ``ERRORS[error]`` in the estimator's ``when``."""
    task = Learner(Raising(error, when), FoldIndex(2), name="bad")
    manager.map(task, "fit", X, Y)
    manager.map(task, "predict", -X)


@pytest.mark.parametrize("when", ["fit", "predict"])
@pytest.mark.parametrize("error", list(ERRORS))
def test_estimator_error_keeps_its_class(manager, error: str, when: str):
    cls = ERRORS[error]
    try:
        failing_run(manager, error, when)
    except cls as caught:  # the estimator's own class catches it ...
        err = caught
    else:
        pytest.fail("the run did not fail")
    assert isinstance(err, TaskError)  # ... and so would TaskError
    assert type(err).__name__ == f"TaskError[{error}]"
    job = "fit" if when == "fit" else "predict"
    assert err.task == "bad" and err.node.startswith(f"bad/{job}/")
    assert re.fullmatch(rf"task 'bad' failed at node 'bad/{job}/[\w-]+': {error}: "
                        rf"'?{error} raised in {when}'?", str(err))  # fmt: skip
    assert str(err) == err.args[0]  # KeyError's own str() would quote the message
    assert type(err.__cause__) is cls and f"raised in {when}" in str(err.__cause__)
    assert f"raised in {when}" in err.worker_traceback
    if manager.backend == "multiprocessing":  # the worker's traceback text, as the cause's cause
        assert isinstance(err.__cause__.__cause__, RemoteTraceback)
        assert "raise ERRORS[self.error]" in str(err.__cause__.__cause__)
    if error == "CustomError":
        assert err.code == 7 and err.__cause__.code == 7
    with pytest.raises(ValueError, match="failed at node 'bad/fit/"):  # the manager still works
        manager.map(Learner(Raising("ValueError"), FoldIndex(2), name="bad"), "fit", X, Y)
    assert manager.map(Learner(Raising(when="never"), FoldIndex(2)), "fit", X, Y,
                       return_preds=True).shape == (N, 1)  # fmt: skip


def test_except_task_error_catches_it_too():
    with ParallelProcessing("sequential") as pp:
        try:
            failing_run(pp, "ValueError", "fit")
        except TaskError as caught:
            err = caught
        else:
            pytest.fail("the run did not fail")
    assert isinstance(err, ValueError)
    assert err.node in ("bad/fit/fold-0", "bad/fit/full")  # the first to run (strategy)


@pytest.mark.parametrize("dumps, loads", [(pickle.dumps, pickle.loads),
                                          (cloudpickle.dumps, pickle.loads)])  # fmt: skip
@pytest.mark.parametrize("error", list(ERRORS))
def test_error_pickles(error: str, dumps, loads):
    with ParallelProcessing("sequential") as pp, pytest.raises(TaskError) as info:
        failing_run(pp, error, "fit")
    err = info.value
    back = loads(dumps(err))
    assert type(back) is type(err)  # the class is made once per exception class
    assert isinstance(back, ERRORS[error]) and isinstance(back, TaskError)
    assert (str(back), back.args, back.task, back.node, back.worker_traceback) == (
        str(err), err.args, err.task, err.node, err.worker_traceback)
    if error == "CustomError":
        assert back.code == 7


@pytest.mark.parametrize("cause", [
    OSError(2, "no such file"), FileNotFoundError("x.csv"), ZeroDivisionError("no luck"),
    UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    ArithmeticError("a"), UserWarning("raised as an error"),
], ids=lambda cause: type(cause).__name__)  # fmt: skip
def test_builtin_classes_combine(cause: Exception):
    err = wrap_error(cause, "t", "t/fit/fold-0", "tb")
    assert isinstance(err, type(cause)) and isinstance(err, TaskError)
    assert str(err) == f"task 't' failed at node 't/fit/fold-0': {type(cause).__name__}: {cause}"
    assert err.__cause__ is cause and err.worker_traceback == "tb"
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and str(back) == str(err)
    assert type(wrap_error(cause, "u", "u/fit/full")) is type(err)  # made once


class Sealed(Exception):
    """An exception class that refuses subclasses."""

    def __init_subclass__(cls, **kwargs):
        raise TypeError("Sealed is final")


class OneArgument(type):
    """A metaclass whose classes take one argument only (ExceptionGroup wants two)."""

    def __call__(cls, code):
        return super().__call__(f"code {code}")


class CodedError(Exception, metaclass=OneArgument):
    pass


@pytest.mark.parametrize("cause", [
    KeyboardInterrupt(), SystemExit(1), RuntimeError("r"), Exception("e"), Sealed("s"),
    CodedError(3),
], ids=lambda cause: type(cause).__name__)  # fmt: skip
def test_plain_task_error_when_the_classes_cannot_combine(cause: BaseException):
    err = wrap_error(cause, "t", "t/fit/fold-0")
    assert type(err) is TaskError and err.__cause__ is cause
    assert str(err).startswith("task 't' failed at node 't/fit/fold-0': ")
    assert type(cause).__name__ in str(err)  # "its estimator raised KeyboardInterrupt"...


def test_worker_died_and_nested_errors_keep_their_class():
    died = wrap_error(WorkerDied("worker 0 died", node="t/fit/fold-0"), "t", "t/fit/fold-0")
    assert type(died) is WorkerDied and died.__cause__ is None and died.task == "t"
    inner = wrap_error(ValueError("v"), "inner", "inner/fit/full")
    outer = wrap_error(inner, "outer", "outer/fit/fold-0")
    assert type(outer) is type(inner) and outer.node == "outer/fit/fold-0"
    assert outer.__cause__ is inner and isinstance(outer, ValueError)


def test_superlearner_passes_the_nan_inf_check():
    """Base learners refuse NaN and inf with a ValueError, which now reaches the caller."""
    ens = SuperLearner(folds=2, backend="sequential")
    ens = ens.add([DecisionTreeRegressor(random_state=0), Ridge()]).add_meta(LinearRegression())
    check_estimators_nan_inf("SuperLearner", ens)
    with pytest.raises(ValueError, match="NaN") as info:
        ens.fit(np.where(X == X[0, 0], np.nan, X), Y)
    assert isinstance(info.value, TaskError) and info.value.task.startswith("layer-1.")
