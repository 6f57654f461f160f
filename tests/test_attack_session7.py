"""Wrong answers found by attacking the newest features (session 7).

Each test compares foldgraph with an independent computation: the same
estimator fitted by hand, or the sequential backend in the calling thread.
"""

import os
import sys

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import make_pipeline

from foldgraph import FoldIndex, Learner, ParallelProcessing, SplitIndex, SuperLearner


def _categorical_data(n=300):
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 6, n)
    X = pd.DataFrame({"a": rng.normal(size=n), "c": pd.Categorical(codes)})
    y = np.array([3.0, -2.0, 5.0, 0.0, 1.0, -4.0])[codes] + X["a"].to_numpy()
    return X, y


def _categorical_pipeline():
    # with transform_output="pandas" the ColumnTransformer keeps the category dtype,
    # which HistGradientBoosting reads as categorical: the config changes the numbers
    return make_pipeline(
        ColumnTransformer([("keep", "passthrough", ["a", "c"])], verbose_feature_names_out=False),
        HistGradientBoostingRegressor(max_iter=20, categorical_features="from_dtype",
                                      random_state=0),
    )  # fmt: skip


@pytest.mark.parametrize("backend,timeout", [("threading", None), ("multiprocessing", None),
                                             ("sequential", 30.0)])  # fmt: skip
def test_nodes_run_under_the_callers_sklearn_config(backend, timeout):
    """``sklearn.set_config`` of the calling thread reaches every node, as joblib does."""
    X, y = _categorical_data()
    cv = KFold(3, shuffle=True, random_state=0)
    with sklearn.config_context(transform_output="pandas"):
        expected = cross_val_predict(_categorical_pipeline(), X, y, cv=cv)
        with ParallelProcessing(backend, n_jobs=2, timeout=timeout) as pp:
            got = pp.map(Learner(_categorical_pipeline(), SplitIndex(cv), name="hgb"), "fit",
                         X, y, return_preds=True)  # fmt: skip
    with ParallelProcessing("sequential") as pp:  # default config: the numbers differ
        default = pp.map(Learner(_categorical_pipeline(), SplitIndex(cv), name="hgb"), "fit",
                         X, y, return_preds=True)  # fmt: skip
    assert np.abs(default.ravel() - expected).max() > 0.1  # the config matters here
    np.testing.assert_allclose(got.ravel(), expected, rtol=1e-9, atol=1e-9)


def test_a_pooled_worker_forgets_the_config_of_an_earlier_run():
    """A worker taken from the pool runs under this run's config, not the last one's."""
    X, y = _categorical_data()
    cv = KFold(3, shuffle=True, random_state=0)
    expected = cross_val_predict(_categorical_pipeline(), X, y, cv=cv)  # default config
    for config in ("pandas", "default"):
        with sklearn.config_context(transform_output=config):
            with ParallelProcessing("multiprocessing", n_jobs=2, start_method="fork") as pp:
                got = pp.map(Learner(_categorical_pipeline(), SplitIndex(cv), name="hgb"), "fit",
                             X, y, return_preds=True)  # fmt: skip
    np.testing.assert_allclose(got.ravel(), expected, rtol=1e-9, atol=1e-9)


_CONST = """
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


class Const(RegressorMixin, BaseEstimator):
    def fit(self, X, y):
        self.value_ = {value}
        return self

    def predict(self, X):
        return np.full(len(X), float(self.value_))
"""


@pytest.mark.parametrize("start_method", ["forkserver", "fork"])
def test_an_edited_and_reloaded_module_reaches_the_workers(tmp_path, monkeypatch, start_method):
    """After you edit and reload your module, the next fit runs its new code: the pool
    lends no worker that imported the old one (they outlive a manager)."""
    import importlib

    source = tmp_path / "fg_attack_const.py"
    source.write_text(_CONST.format(value=1))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fg_attack_const", raising=False)  # gone after the test
    module = importlib.import_module("fg_attack_const")
    X, y = np.ones((12, 2)), np.ones(12)

    def fitted_values():
        with ParallelProcessing("multiprocessing", n_jobs=2, start_method=start_method) as pp:
            task = Learner(module.Const(), FoldIndex(3), name="const")
            return set(pp.map(task, "fit", X, y, return_preds=True).ravel().tolist())

    assert fitted_values() == {1.0}
    source.write_text(_CONST.format(value=2))
    importlib.reload(module)
    assert module.Const().fit(X, y).value_ == 2  # the parent has the new code
    assert fitted_values() == {2.0}


def test_your_own_modules_are_not_preloaded_in_the_fork_server(tmp_path, monkeypatch):
    """The fork server keeps what it preloads for the life of the process: only installed
    packages are preloaded, never a module of yours (you may edit it)."""
    import importlib

    from sklearn.linear_model import Ridge

    from foldgraph.engine.processes import estimator_modules

    (tmp_path / "fg_attack_own.py").write_text(_CONST.format(value=1))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fg_attack_own", raising=False)  # gone after the test
    module = importlib.import_module("fg_attack_own")
    tasks = [Learner(module.Const(), FoldIndex(2), name="own"), Learner(Ridge(), FoldIndex(2))]
    assert estimator_modules(tasks) == ["sklearn.linear_model._ridge"]


def test_a_module_made_importable_after_the_workers_started_reaches_them(tmp_path, monkeypatch):
    """A folder added to ``sys.path`` after an earlier fit: the next fit's workers import
    from it (a pooled worker, started before, would fail with ModuleNotFoundError)."""
    import importlib

    from sklearn.linear_model import Ridge

    X, y = np.ones((12, 2)), np.arange(12.0)
    with ParallelProcessing("multiprocessing", n_jobs=2) as pp:  # workers into the pool
        pp.map(Learner(Ridge(), FoldIndex(3), name="ridge"), "fit", X, y)
    late = tmp_path / "fg_attack_late.py"
    late.write_text(_CONST.format(value=3))
    os.utime(late, (0, 0))  # a module written long ago: only the new sys.path is new
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fg_attack_late", raising=False)  # gone after the test
    module = importlib.import_module("fg_attack_late")
    with ParallelProcessing("multiprocessing", n_jobs=2) as pp:
        task = Learner(module.Const(), FoldIndex(3), name="late")
        assert set(pp.map(task, "fit", X, y, return_preds=True).ravel().tolist()) == {3.0}


def _in_forked_child(work) -> str:
    """``work()``'s text in a child forked now (``repr`` of its exception if it raised)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            text = str(work())
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            text = repr(exc)
        os.write(write, text.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    return text


def test_a_child_forked_after_the_workers_started_runs_on_its_own_workers():
    """``os.fork`` after a run: the child's runs (same manager, or a new one) start their own
    workers, and the parent's keep serving the parent (it failed with an AssertionError,
    or CPython's fork server raised ChildProcessError)."""
    X = np.arange(40.0).reshape(20, 2)
    y = X @ [1.0, -2.0]
    expected = cross_val_predict(LinearRegression(), X, y, cv=KFold(2))

    def oof(pp):
        task = Learner(LinearRegression(), FoldIndex(2), name="ols")
        return pp.map(task, "fit", X, y, return_preds=True).ravel()

    with ParallelProcessing("multiprocessing", n_jobs=2) as pp:
        np.testing.assert_allclose(oof(pp), expected, atol=1e-8)
        parents = pp.worker_pids

        def child():
            with ParallelProcessing("multiprocessing", n_jobs=2) as other:
                fresh = oof(other)
            same = oof(pp)
            ok = np.allclose(same, expected, atol=1e-8) and np.allclose(fresh, expected, atol=1e-8)
            return f"{ok} {not set(pp.worker_pids) & set(parents)}"

        assert _in_forked_child(child) == "True True"
        np.testing.assert_allclose(oof(pp), expected, atol=1e-8)
        assert pp.worker_pids == parents


def test_memory_limit_takes_numpy_numbers_and_refuses_infinity_clearly():
    """A byte count computed with numpy (``X.nbytes * np.int64(4)``) is a number of bytes;
    infinity is refused with the accepted forms, not with an OverflowError."""
    from foldgraph.engine.admission import parse_memory_limit

    assert parse_memory_limit(np.int64(10**9)) == 10**9
    assert parse_memory_limit(np.float32(2e9)) == 2 * 10**9
    for bad in (float("inf"), float("nan"), np.int64(-1)):
        with pytest.raises(ValueError, match="memory_limit=.* is not understood"):
            parse_memory_limit(bad)
    with ParallelProcessing("sequential", memory_limit=np.int64(2**30)) as pp:
        X, y = np.ones((10, 2)), np.arange(10.0)
        preds = pp.map(Learner(LinearRegression(), FoldIndex(2), name="ols"), "fit", X, y,
                       return_preds=True)  # fmt: skip
    assert preds.shape == (10, 1)


def test_a_process_backend_inside_a_worker_process_says_what_to_do():
    """An inner manager with backend='multiprocessing' inside a worker: the error says why
    and what to pass (multiprocessing's own is a bare AssertionError)."""
    X, y = np.ones((12, 2)), np.arange(12.0)
    inner = SuperLearner(folds=2, backend="multiprocessing", n_jobs=2)
    inner.add([LinearRegression()]).add_meta(LinearRegression())
    outer = SuperLearner(folds=2, backend="multiprocessing", n_jobs=1).add([inner])
    outer.add_meta(LinearRegression())
    with pytest.raises(RuntimeError, match="backend='auto' .*or 'sequential'"):
        outer.fit(X, y)


def test_an_infinite_idle_timeout_keeps_the_workers_without_a_failing_timer():
    """``idle_timeout=inf`` (never stop idle workers): the pool arms no timer, which
    would die in its thread with OverflowError (printed with its traceback)."""
    import threading

    from foldgraph.engine.pool import WorkerPool, worker_pool

    pool = worker_pool()
    before = pool.idle_timeout
    failures = []
    hook, threading.excepthook = threading.excepthook, failures.append
    try:
        pool.idle_timeout = float("inf")
        X, y = np.ones((12, 2)), np.arange(12.0)
        with ParallelProcessing("multiprocessing", n_jobs=1, start_method="fork") as pp:
            pp.map(Learner(LinearRegression(), FoldIndex(2), name="ols"), "fit", X, y)
            pids = pp.worker_pids
        assert set(pids) <= set(pool.pids)  # kept, idle
        assert pool._timer is None and not failures
        assert WorkerPool(idle_timeout=float("inf")).idle_timeout == float("inf")
    finally:
        threading.excepthook = hook
        pool.idle_timeout = before
