"""Prediction buffers keep scikit-learn's precision; a non-finite prediction fails at its node."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import KFold

from foldgraph import FoldIndex, Learner, ParallelProcessing, TaskError, TaskGraph, map_graph

BACKENDS = ["sequential", "threading", "multiprocessing"]

RNG = np.random.default_rng(16)
X = RNG.normal(size=(120, 4))
SIGNAL = X @ np.array([1.0, -2.0, 0.5, 3.0]) + RNG.normal(scale=0.1, size=120)


class NaNAt(RegressorMixin, BaseEstimator):
    """Least squares whose predictions are nan at ``rows`` of each predicted block."""

    def __init__(self, rows=(0,)):
        self.rows = rows

    def fit(self, X, y):
        self.coef_ = np.linalg.lstsq(np.asarray(X, float), np.asarray(y, float), rcond=None)[0]
        return self

    def predict(self, X):
        pred = np.asarray(X, float) @ self.coef_
        pred[list(self.rows)] = np.nan
        return pred


def manual_oof(estimator, X, y, k=5):
    """Out-of-fold predictions of ``estimator`` by a plain loop over KFold, in float64."""
    out = np.zeros((len(y), 1))
    for train, test in KFold(k).split(X):
        out[test, 0] = clone(estimator).fit(X[train], y[train]).predict(X[test])
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_large_offset_keeps_float64_precision(backend):
    y = SIGNAL + 1e8  # float32 keeps ~7 digits: its unit at 1e8 is 8, far above the noise
    with ParallelProcessing(backend, n_jobs=2) as pp:
        got = pp.map(Learner(Ridge(), FoldIndex(5), name="r"), "fit", X, y, return_preds=True)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, manual_oof(Ridge(), X, y), rtol=1e-12)
    assert np.sqrt(np.mean((got.ravel() - y) ** 2)) < 0.5  # float32 would be ~2


def test_stack_of_two_learners_keeps_precision():
    y = SIGNAL + 1e8
    base = [Learner(Ridge(), FoldIndex(5), name="ridge"),
            Learner(LinearRegression(), FoldIndex(5), name="ols")]  # fmt: skip
    with ParallelProcessing("sequential") as pp:
        got = pp.map(base, "fit", X, y, return_preds=["ridge", "ols"])
    for est, p in zip((Ridge(), LinearRegression()), got):
        assert p.dtype == np.float64
        np.testing.assert_allclose(p, manual_oof(est, X, y), rtol=1e-12)


def test_float32_on_request():
    y = SIGNAL + 1e8
    with ParallelProcessing("threading", n_jobs=2, dtype=np.float32) as pp:
        got = pp.map(Learner(Ridge(), FoldIndex(5), name="r"), "fit", X, y, return_preds=True)
        graph = pp.graph
    assert got.dtype == np.float32 and graph.buffers["P:r"].dtype == "float32"
    np.testing.assert_allclose(got, manual_oof(Ridge(), X, y), rtol=1e-6)
    node = graph.attrs("r/fit/fold-0")
    assert node["bytes_written"] == 24 * 4  # 24 held-out rows, 4 bytes each


def test_run_gives_the_graph_the_managers_dtype():
    y = SIGNAL + 1e8
    graph = map_graph(Learner(Ridge(), FoldIndex(5), name="r"), "fit", X, y)
    assert graph.buffers["P:r"].dtype == "float64"
    assert graph.attrs("r/fit/fold-0")["bytes_written"] == 24 * 8
    with ParallelProcessing("sequential", dtype="float32") as pp:
        assert pp.run(graph, X, y, return_preds=True).dtype == np.float32
    with ParallelProcessing("sequential") as pp:
        got = pp.run(graph, X, y, return_preds=True)
    assert got.dtype == np.float64 and graph.attrs("r/fit/fold-0")["bytes_written"] == 24 * 8
    np.testing.assert_allclose(got, manual_oof(Ridge(), X, y), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_overflow_of_float32_fails_at_the_node(backend):
    y = SIGNAL * 1e39  # finite in float64, inf in float32
    learner = Learner(LinearRegression(), FoldIndex(3), name="big")
    with ParallelProcessing(backend, n_jobs=2, dtype=np.float32) as pp:
        with pytest.raises(TaskError, match=r"overflow the float32 buffer") as info:
            pp.map(learner, "fit", X, y, return_preds=True)
    assert info.value.task == "big" and info.value.node.startswith("big/fit/fold-")
    assert "dtype=np.float64" in str(info.value) and "big/fit/fold-" in str(info.value)
    with ParallelProcessing(backend, n_jobs=2) as pp:  # float64 holds them
        got = pp.map(learner, "fit", X, y, return_preds=True)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, manual_oof(LinearRegression(), X, y, k=3), rtol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_prediction_fails_at_the_base_learner_not_downstream(backend):
    y = SIGNAL
    stack = [Learner(NaNAt(rows=(0, 2, 5)), FoldIndex(2), name="base"),
             Learner(LinearRegression(), FoldIndex(2), name="meta")]  # fmt: skip
    with ParallelProcessing(backend, n_jobs=2) as pp:
        with pytest.raises(TaskError, match=r"3 non-finite predictions \(nan or inf\)") as info:
            pp.stack(stack, "fit", X, y, return_preds=True)
    assert info.value.task == "base" and info.value.node.startswith("base/fit/fold-")
    assert isinstance(info.value.__cause__, ValueError)


def test_nan_in_predict_job_names_the_node():
    learner = Learner(NaNAt(rows=()), FoldIndex(2), name="n")
    with ParallelProcessing("sequential") as pp:
        pp.map(learner, "fit", X, SIGNAL)
        learner.estimator_.rows = (1,)
        with pytest.raises(TaskError, match="1 non-finite prediction ") as info:
            pp.map(learner, "predict", X, return_preds=True)
    assert info.value.node == "n/predict/full"


@pytest.mark.parametrize("bad", [np.float16, np.int64, "int32", "bogus", None, object])
def test_bad_dtype_is_refused(bad):
    with pytest.raises(ValueError, match=r"dtype=.* np\.float64 .* np\.float32") as info:
        ParallelProcessing(dtype=bad)
    assert "not supported" in str(info.value)
    with pytest.raises(ValueError, match="np.float64"):
        TaskGraph("fit", X, SIGNAL, dtype=bad)


def test_bad_dtype_names_the_value():
    with pytest.raises(ValueError, match=r"^dtype=int64 is not supported"):
        ParallelProcessing(dtype=np.int64)
    with pytest.raises(ValueError, match=r"^dtype='bogus' is not supported"):
        ParallelProcessing(dtype="bogus")


def test_a_float32_cache_entry_is_not_restored_into_a_float64_run():
    """A block cached by a float32 run would carry float32 precision into float64."""
    from sklearn.linear_model import Ridge

    from foldgraph import FoldIndex, Learner, ParallelProcessing

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X @ [1.0, 2.0, 3.0] + 1e8
    memory = {}
    with ParallelProcessing("sequential", dtype=np.float32, cache=memory) as pp:
        pp.map(Learner(Ridge(), FoldIndex(3), name="r"), "fit", X, y, return_preds=True)
    with ParallelProcessing("sequential", cache=memory) as pp:
        P = pp.map(Learner(Ridge(), FoldIndex(3), name="r"), "fit", X, y, return_preds=True)
        assert [k for k in pp.trace.cached if "fold" in k] == []  # the full fit writes nothing
    manual = np.concatenate([Ridge().fit(np.delete(X, te, 0), np.delete(y, te)).predict(X[te])
                             for te in np.array_split(np.arange(60), 3)])  # fmt: skip
    np.testing.assert_allclose(P[:, 0], manual, rtol=1e-12)
