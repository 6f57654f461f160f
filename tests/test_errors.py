"""Error table: every bad input is refused before any estimator is fitted.

Each row of ``CASES`` makes one bad call; the test asserts the exception type
and a message regex (sklearn style), then that

- no estimator was fitted (the spies below record every ``fit`` in the
  module-level ``FITTED`` list, which survives ``sklearn.base.clone``),
- the manager's buffers are released, and
- no ``foldgraph*`` thread is alive after ``manager.clear()``.

Messages must name the culprit (task, node key or parameter) and, where
there is a closed set of choices, list them. A second group of tests checks
that an exception raised inside ``fit`` surfaces as :class:`TaskError`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, NamedTuple

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
from sklearn.exceptions import NotFittedError

from foldgraph import (
    BlendIndex,
    FoldgraphError,
    FoldIndex,
    GraphError,
    Learner,
    ParallelProcessing,
    SubsetIndex,
    TaskError,
    TaskGraph,
    TemporalIndex,
    Transformer,
    WorkerDied,
    map_graph,
)

BACKENDS = ["sequential", "threading", "multiprocessing"]

#: every fit of a spy estimator, as "<Class>.fit"; shared by all clones
FITTED: list[str] = []

N = 10
X = np.column_stack([np.arange(N, dtype=float), np.linspace(1.0, 2.0, N)])
Y = X @ np.array([1.0, 2.0])


# -- spy estimators ----------------------------------------------------------
class SpyOLS(RegressorMixin, BaseEstimator):
    """Least squares; records each fit in ``FITTED``."""

    def __init__(self, offset: float = 0.0):
        self.offset = offset

    def fit(self, X, y):
        FITTED.append(f"{type(self).__name__}.fit")
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        self.coef_ = np.linalg.lstsq(X, y, rcond=None)[0] + self.offset
        return self

    def predict(self, X):
        return np.asarray(X, dtype=float) @ self.coef_


class SpyScale(TransformerMixin, BaseEstimator):
    """Mean-centring; records each fit in ``FITTED``."""

    def __init__(self, copy: bool = True):
        self.copy = copy

    def fit(self, X, y=None):
        FITTED.append(f"{type(self).__name__}.fit")
        self.mean_ = np.asarray(X, dtype=float).mean(axis=0)
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float) - self.mean_


class NoPredict(BaseEstimator):
    """Has fit, lacks predict."""

    def fit(self, X, y=None):
        FITTED.append("NoPredict.fit")
        return self


class NoFit(BaseEstimator):
    """Has predict, lacks fit."""

    def predict(self, X):
        return np.zeros(len(X))


class NoTransform(BaseEstimator):
    """Has fit, lacks transform."""

    def fit(self, X, y=None):
        FITTED.append("NoTransform.fit")
        return self


class BoomError(Exception):
    """Raised by :class:`Boom`; a custom type, so we can check it is preserved."""


class Boom(RegressorMixin, BaseEstimator):
    """Fails to fit when its first training row index (column 0) is >= ``fail_from``.

    With ``FoldIndex(2)`` on ``X`` above, only fold 0 (trained on rows 5-9) fails.
    """

    def __init__(self, fail_from: float = 5.0):
        self.fail_from = fail_from

    def fit(self, X, y):
        X = np.asarray(X, dtype=float)
        if X[:, 0].min() >= self.fail_from:
            raise BoomError(f"cannot fit rows starting at {X[0, 0]:g}")
        FITTED.append("Boom.fit")
        self.coef_ = np.linalg.lstsq(X, y, rcond=None)[0]
        return self

    def predict(self, X):
        return np.asarray(X, dtype=float) @ self.coef_


# -- helpers -----------------------------------------------------------------
def L(name=None, indexer=None, estimator=None, **kw) -> Learner:
    """A learner over a spy (default FoldIndex(2))."""
    indexer = FoldIndex(2) if indexer is None else indexer
    return Learner(SpyOLS() if estimator is None else estimator, indexer, name=name, **kw)


def T(name=None, indexer=None, estimator=None) -> Transformer:
    """A transformer over a spy (default FoldIndex(2))."""
    indexer = FoldIndex(2) if indexer is None else indexer
    return Transformer(SpyScale() if estimator is None else estimator, indexer, name=name)


def all_of(*parts: str) -> str:
    """A regex matching text that contains every literal part, in any order."""
    return "(?s)^" + "".join(f"(?=.*{re.escape(p)})" for p in parts)


def foldgraph_threads() -> list[str]:
    return [
        t.name for t in threading.enumerate()
        if t.name.startswith("foldgraph") and t.is_alive()
        and not t.name.startswith("foldgraph-pool")  # the pool's timer and background start
    ]


def fitted_tasks(ctx) -> None:
    """Setup: fit ``ctx.task`` ('ols') on X, Y, so predict/transform may run."""
    ctx.task = L("ols")
    ctx.pp.map(ctx.task, "fit", X, Y)


def graph_cycle() -> TaskGraph:
    """a -> b -> a, drawn by hand."""
    g = TaskGraph("fit")
    g.add_node("a", task="a")
    g.add_node("b", task="b")
    g.add_edge("a", "b")
    g.add_edge("b", "a")
    return g


def hand_built() -> TaskGraph:
    """A graph built task by task for X: it keeps the rows it was built for."""
    g = TaskGraph("fit", X=X, y=Y)
    g.add_task(L("ols"))
    return g.validate()


def graph_unordered_writers() -> TaskGraph:
    """w1 and w2 both write rows 0-4 of P:t, with no edge between them."""
    g = TaskGraph("fit")
    writes = (("P:t", ((0, 5),), (0, 1)),)
    g.add_node("w1", task="t", writes=writes)
    g.add_node("w2", task="t", writes=writes)
    return g


def bad_suffix(ctx):
    path = ctx.tmp / "data.txt"
    np.savetxt(path, X)
    return ctx.pp.map(L("ols"), "fit", str(path), Y)


class Case(NamedTuple):
    id: str
    call: Callable[[Any], Any]
    exc: type[BaseException]
    match: str
    setup: Callable[[Any], Any] | None = None


def pp_with(**kw):
    """A call building ParallelProcessing(**kw) on the case's backend."""
    return lambda ctx: ParallelProcessing(**{"backend": ctx.backend, **kw})


# -- the table ---------------------------------------------------------------
# fmt: off
CASES = [
    # data
    Case("X-y-length-mismatch", lambda c: c.pp.map(L("ols"), "fit", X, Y[:9]),
         GraphError, all_of("10 rows", "y has 9")),
    Case("X-empty", lambda c: c.pp.map(L("ols"), "fit", X[:0], Y[:0]),
         GraphError, all_of("X is empty", "(0, 2)")),
    Case("X-1d", lambda c: c.pp.map(L("ols"), "fit", X[:, 0], Y),
         GraphError, all_of("2-D", "(10,)", "reshape")),
    Case("X-3d", lambda c: c.pp.map(L("ols"), "fit", X.reshape(N, 1, 2), Y),
         GraphError, all_of("2-D", "(10, 1, 2)")),
    Case("y-3d", lambda c: c.pp.map(L("ols"), "fit", X, Y.reshape(N, 1, 1)),
         GraphError, all_of("y must be 1-D or 2-D", "(10, 1, 1)")),
    Case("X-path-unsupported-suffix", bad_suffix,
         GraphError, all_of("data.txt", "'.txt'", ".npy", ".csv")),
    Case("X-path-missing-file",
         lambda c: c.pp.map(L("ols"), "fit", str(c.tmp / "missing.npy"), Y),
         GraphError, all_of("missing.npy", "no such file")),
    Case("y-path-missing-file",
         lambda c: c.pp.map(L("ols"), "fit", X, c.tmp / "nope.npy"),
         GraphError, all_of("y=", "nope.npy", "no such file")),
    Case("y-missing-for-learner-fit", lambda c: c.pp.map(L("ols"), "fit", X),
         GraphError, all_of("'ols'", "needs y")),
    # folds vs rows: GraphError naming the task and the indexer parameter
    Case("FoldIndex-folds-gt-rows", lambda c: c.pp.map(L("ols", FoldIndex(11)), "fit", X, Y),
         GraphError, all_of("'ols'", "folds", "10")),
    Case("SubsetIndex-partitions-x-folds-gt-rows",
         lambda c: c.pp.map(L("sub", SubsetIndex(3, 4)), "fit", X, Y),
         GraphError, all_of("'sub'", "partitions", "folds")),
    Case("BlendIndex-train-plus-test-gt-rows",
         lambda c: c.pp.map(L("blend", BlendIndex(test_size=6, train_size=5)), "fit", X, Y),
         GraphError, all_of("'blend'", "train_size", "test_size")),
    Case("BlendIndex-test-size-gt-rows",
         lambda c: c.pp.map(L("blend", BlendIndex(test_size=11)), "fit", X, Y),
         GraphError, all_of("'blend'", "test_size")),
    Case("TemporalIndex-burn-in-ge-rows",
         lambda c: c.pp.map(L("ts", TemporalIndex(burn_in=10)), "fit", X, Y),
         GraphError, all_of("'ts'", "burn_in")),
    Case("TemporalIndex-lag-ge-burn-in",
         lambda c: c.pp.map(L("ts", TemporalIndex(burn_in=2, lag=2)), "fit", X, Y),
         GraphError, all_of("'ts'", "lag")),
    # names and links
    Case("duplicate-explicit-names", lambda c: c.pp.map([L("a"), L("a")], "fit", X, Y),
         GraphError, all_of("duplicate task name 'a'")),
    Case("duplicate-names-in-stack", lambda c: c.pp.stack([L("a"), L("a")], "fit", X, Y),
         GraphError, all_of("duplicate task name 'a'")),
    Case("duplicate-name-hand-built",
         lambda c: [g := TaskGraph("fit", X, Y), g.add_task(L("a")), g.add_task(L("a"))],
         GraphError, all_of("duplicate task name 'a'")),
    Case("name-with-slash", lambda c: c.pp.map(L("a/b"), "fit", X, Y),
         GraphError, all_of("'a/b'", "'/'")),
    Case("preprocess-names-no-task",
         lambda c: c.pp.map([T("sc-1"), L("ols", preprocess="sc-9")], "fit", X, Y),
         GraphError, all_of("'ols'", "preprocess='sc-9'", "known transformers: 'sc-1'")),
    Case("preprocess-names-no-task-in-stack",
         lambda c: c.pp.stack([T("sc-1"), L("ols", preprocess="sc-9")], "fit", X, Y, split=False),
         GraphError, all_of("'ols'", "'sc-9'", "'sc-1'")),
    Case("preprocess-names-a-learner",
         lambda c: c.pp.map([L("a"), L("b", preprocess="a")], "fit", X, Y),
         GraphError, all_of("'b'", "preprocess='a'", "not a transformer")),
    Case("preprocess-in-split-stack",
         lambda c: c.pp.stack([T("sc"), L("ols", preprocess="sc")], "fit", X, Y, split=True),
         GraphError, all_of("'ols'", "'sc'", "split=False")),
    Case("preprocess-different-indexers",
         lambda c: c.pp.map([T("sc", FoldIndex(2)), L("ols", FoldIndex(3), preprocess="sc")],
                            "fit", X, Y),
         GraphError, all_of("'ols'", "'sc'", "indexer")),
    # options
    Case("unknown-job", lambda c: c.pp.map(L("ols"), "score", X, Y),
         GraphError, all_of("'score'", "'fit'", "'predict'", "'transform'")),
    Case("unknown-job-hand-built", lambda c: TaskGraph("score"),
         GraphError, all_of("'score'", "'fit'", "'predict'", "'transform'")),
    Case("unknown-backend", lambda c: ParallelProcessing("foo"),
         ValueError, all_of("'foo'", "'sequential'", "'threading'")),
    Case("address-without-dask",
         lambda c: ParallelProcessing("threading", address="tcp://127.0.0.1:8786"),
         ValueError, all_of("address=", "backend='dask'", "'threading'")),
    Case("unknown-start-method", lambda c: ParallelProcessing("multiprocessing", start_method="x"),
         ValueError, all_of("start_method='x'", "'forkserver'", "'spawn'")),
    Case("bad-threads-per-worker", pp_with(threads_per_worker=0),
         ValueError, all_of("threads_per_worker=0", "positive int", "'auto'")),
    Case("unknown-strategy", pp_with(strategy="random"),
         ValueError, all_of("'random'", "'fifo'", "'lpt'", "'critical_path'")),
    Case("strategy-wrong-type", pp_with(strategy=42),
         ValueError, all_of("strategy", "int", "'fifo'")),
    Case("n_jobs-0", pp_with(n_jobs=0), ValueError, all_of("n_jobs=0", "-1")),
    Case("n_jobs-minus-2", pp_with(n_jobs=-2), ValueError, all_of("n_jobs=-2", "-1")),
    Case("n_jobs-float", pp_with(n_jobs=1.5), ValueError, all_of("n_jobs=1.5")),
    Case("n_jobs-bool", pp_with(n_jobs=True), ValueError, all_of("n_jobs=True")),
    Case("retries-negative", pp_with(retries=-1), ValueError, all_of("retries=-1")),
    # not fitted / fitted on other data
    Case("predict-before-fit", lambda c: c.pp.map(L("ols"), "predict", X),
         NotFittedError, all_of("'ols'", "not fitted", "'fit'")),
    Case("transform-before-fit", lambda c: c.pp.map(L("ols"), "transform", X),
         NotFittedError, all_of("'ols'", "not fitted")),
    Case("transformer-transform-before-fit", lambda c: c.pp.map(T("sc"), "transform", X),
         NotFittedError, all_of("'sc'", "not fitted")),
    Case("transform-different-rows", lambda c: c.pp.map(c.task, "transform", X[:8]),
         GraphError, all_of("'ols'", "10 rows", "8", "'predict'"), setup=fitted_tasks),
    Case("predict-different-n-features",
         lambda c: c.pp.map(c.task, "predict", np.ones((N, 3))),
         GraphError, all_of("'ols'", "2", "3", "features"), setup=fitted_tasks),
    # estimators and callers
    Case("estimator-without-predict", lambda c: c.pp.map(L("np", estimator=NoPredict()), "fit", X, Y),
         TypeError, all_of("'np'", "NoPredict", "predict")),
    Case("estimator-without-fit", lambda c: c.pp.map(L("nf", estimator=NoFit()), "fit", X, Y),
         TypeError, all_of("'nf'", "NoFit", "fit")),
    Case("proba-without-predict-proba", lambda c: c.pp.map(L("ols", proba=True), "fit", X, Y),
         TypeError, all_of("'ols'", "SpyOLS", "predict_proba")),
    Case("transformer-without-transform",
         lambda c: c.pp.map([T("nt", estimator=NoTransform()), L("ols")], "fit", X, Y),
         TypeError, all_of("'nt'", "NoTransform", "transform")),
    Case("bare-estimator-in-caller", lambda c: c.pp.map([L("a"), SpyOLS()], "fit", X, Y),
         TypeError, all_of("SpyOLS", "not a task", "Learner(")),
    Case("bare-estimator-in-stack", lambda c: c.pp.stack([L("a"), SpyScale()], "fit", X, Y),
         TypeError, all_of("SpyScale", "not a task", "Transformer(")),
    # return_preds
    Case("return_preds-unknown-task",
         lambda c: c.pp.map(L("ols"), "fit", X, Y, return_preds="nope"),
         GraphError, all_of("'nope'", "'ols'")),
    Case("return_preds-list-with-unknown",
         lambda c: c.pp.map([L("a"), L("b")], "fit", X, Y, return_preds=["a", "zz"]),
         GraphError, all_of("'zz'", "'a'", "'b'")),
    Case("return_preds-names-transformer",
         lambda c: c.pp.map([T("sc"), L("ols")], "fit", X, Y, return_preds="sc"),
         GraphError, all_of("'sc'", "'ols'")),
    Case("return_preds-True-only-transformers",
         lambda c: c.pp.map([T("sc-1"), T("sc-2")], "fit", X, Y, return_preds=True),
         GraphError, all_of("return_preds=True", "Learner")),
    # manager protocol and hand-built graphs
    Case("process-before-initialize", lambda c: c.pp.process(L("ols"), {}),
         RuntimeError, all_of("initialize")),
    Case("hand-built-cycle", lambda c: c.pp.run(graph_cycle(), X),
         GraphError, r"cycle.*(a -> b -> a|b -> a -> b)"),
    Case("hand-built-cycle-validate", lambda c: graph_cycle().validate(),
         GraphError, r"cycle.*(a -> b -> a|b -> a -> b)"),
    Case("hand-built-unordered-writers", lambda c: c.pp.run(graph_unordered_writers(), X),
         GraphError, all_of("'w1'", "'w2'", "'P:t'")),
    Case("run-hand-built-X-fewer-rows",  # a builder's graph is rebound (graph/binding.py)
         lambda c: c.pp.run(hand_built(), X[:8], Y[:8]),
         GraphError, all_of("(10, 2)", "(8, 2)")),
    Case("run-X-other-features",
         lambda c: c.pp.run(map_graph(L("ols"), "fit", X=X, y=Y), np.ones((N, 3)), Y),
         GraphError, all_of("(10, 2)", "(10, 3)")),
    Case("run-fit-graph-without-y",
         lambda c: c.pp.run(map_graph(L("ols"), "fit", X=X, y=Y), X),
         GraphError, r"(?s)\by\b.*(needs|missing|required)|(needs|missing|required).*\by\b"),
    # keywords are never silently dropped
    Case("map-unexpected-keyword",
         lambda c: c.pp.map(L("ols"), "fit", X, Y, warm_start=True),
         TypeError, all_of("warm_start")),
    Case("stack-unexpected-keyword",
         lambda c: c.pp.stack([L("ols")], "fit", X, Y, warm_start=True),
         TypeError, all_of("warm_start")),
]
# fmt: on


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused(case: Case, backend: str, tmp_path):
    pp = ParallelProcessing(backend, n_jobs=2)
    ctx = SimpleNamespace(pp=pp, backend=backend, tmp=tmp_path, task=None)
    try:
        if case.setup is not None:
            case.setup(ctx)
        before = list(FITTED)
        with pytest.raises(case.exc, match=case.match):
            case.call(ctx)
        assert FITTED == before, f"estimators fitted before the error: {FITTED[len(before) :]}"
        assert pp.job is None or pp.job.buffers == {}, "buffers left behind"
    finally:
        pp.clear()
    assert pp.job is None
    assert foldgraph_threads() == []


def test_table_size():
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


def test_error_tree():
    assert issubclass(GraphError, FoldgraphError) and issubclass(GraphError, ValueError)
    assert issubclass(TaskError, FoldgraphError) and issubclass(TaskError, RuntimeError)
    assert issubclass(WorkerDied, TaskError)
    assert issubclass(NotFittedError, ValueError)


# -- failures inside a node --------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_error_surfaces_as_task_error(backend: str):
    task = Learner(Boom(), FoldIndex(2), name="boom")
    pp = ParallelProcessing(backend, n_jobs=2)
    try:
        with pytest.raises(
            TaskError, match=re.escape("task 'boom' failed at node 'boom/fit/fold-0'")
        ) as info:
            pp.map(task, "fit", X, Y, return_preds=True)
        err = info.value
        assert type(err.__cause__) is BoomError
        assert "cannot fit rows starting at 5" in str(err)
        assert err.task == "boom" and err.node == "boom/fit/fold-0"
        assert not hasattr(task, "estimator_")
        assert not hasattr(task, "fold_estimators_")
        assert pp.job is None or pp.job.buffers == {}

        # the same manager still works
        before = len(FITTED)
        good = L("ok")
        P = pp.map(good, "fit", X, Y, return_preds=True)
        assert P.shape == (N, 1) and P.dtype == np.float64
        if backend != "multiprocessing":  # worker processes fit their own copies
            assert len(FITTED) - before == 3  # two folds + the full fit
        assert hasattr(good, "estimator_") and len(good.fold_estimators_) == 2
        assert pp.job is None or pp.job.buffers == {}
    finally:
        pp.clear()
    assert foldgraph_threads() == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_failed_run_leaves_no_task_half_fitted(backend: str):
    """A task that finished before another one failed gets no fitted attributes."""
    ok, boom = L("ok"), Learner(Boom(), FoldIndex(2), name="boom")
    pp = ParallelProcessing(backend, n_jobs=2)
    try:
        with pytest.raises(TaskError, match=re.escape("'boom/fit/fold-0'")):
            pp.map([ok, boom], "fit", X, Y)
        assert not hasattr(ok, "estimator_") and not hasattr(boom, "estimator_")
    finally:
        pp.clear()
    assert foldgraph_threads() == []
