"""Wrong answers found by attacking the newest features (session 7).

Each test compares foldgraph with an independent computation: the same
estimator fitted by hand, or the sequential backend in the calling thread.
"""

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import make_pipeline

from foldgraph import Learner, ParallelProcessing, SplitIndex


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
