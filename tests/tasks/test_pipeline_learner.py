"""Pipeline, Learner, Transformer and the node ops."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler

from foldgraph import FoldIndex, Learner, ParallelProcessing, Pipeline, Transformer
from foldgraph.tasks.ops import fit_fold, predict_fold, put, take
from foldgraph.testing import OLS, Scale

X = np.arange(24.0).reshape(8, 3)
Y = np.arange(8.0)


class AddY(BaseEstimator, TransformerMixin):
    """Appends y as a column and doubles y: a step that transforms both."""

    def fit(self, X, y):
        return self

    def transform(self, X, y):
        return np.column_stack([X, y]), 2 * y


class TestPipeline:
    def test_steps_in_order_like_sklearn(self):
        ours = Pipeline([("sc", StandardScaler()), ("c", Scale())]).fit_transform(X)
        ref = Scale().fit_transform(StandardScaler().fit_transform(X))
        np.testing.assert_allclose(ours, ref)

    def test_return_y_passes_the_new_y_on(self):
        pipe = Pipeline([("add", AddY()), ("add2", AddY())], return_y=True)
        Xt, yt = pipe.fit_transform(X, Y)
        np.testing.assert_array_equal(Xt[:, 3], Y)
        np.testing.assert_array_equal(Xt[:, 4], 2 * Y)
        np.testing.assert_array_equal(yt, 4 * Y)
        Xt2, _ = pipe.transform(X, Y)
        np.testing.assert_array_equal(Xt, Xt2)

    def test_without_return_y_only_X(self):
        out = Pipeline([("add", AddY())]).fit_transform(X, Y)
        assert isinstance(out, np.ndarray) and out.shape == (8, 4)

    def test_empty_pipeline_is_identity_and_bare_steps_get_names(self):
        np.testing.assert_array_equal(Pipeline([]).fit_transform(X), X)
        pipe = Pipeline([Scale()]).fit(X)
        assert [name for name, _ in pipe.steps_] == ["scale"]

    def test_template_steps_are_never_fitted(self):
        step = Scale()
        Pipeline([("s", step)]).fit(X)
        assert not hasattr(step, "mean_")

    def test_errors(self):
        with pytest.raises(NotFittedError, match="call fit"):
            Pipeline([("s", Scale())]).transform(X)
        with pytest.raises(TypeError, match="step 'x'.*no fit/transform"):
            Pipeline([("x", OLS())]).fit(X, Y)
        with pytest.raises(ValueError, match="not a \\(name, transformer\\) pair"):
            Pipeline([("a", "b", "c")]).fit(X)


class TestTasks:
    def test_constructor_stores_arguments_and_clones(self):
        learner = Learner(OLS(offset=2), FoldIndex(3), name="o", proba=False)
        params = learner.get_params(deep=True)
        assert params["estimator__offset"] == 2 and params["indexer__folds"] == 3
        twin = clone(learner)
        assert twin.name == "o" and twin.estimator is not learner.estimator
        assert repr(Transformer(Scale(), name="s")) == "Transformer(estimator=Scale(), name='s')"

    def test_fitted_attributes_after_a_fit_job(self):
        learner = Learner(OLS(), FoldIndex(4), name="o")
        with ParallelProcessing("sequential") as pp:
            pp.map(learner, "fit", X, Y)
        assert len(learner.fold_estimators_) == 4 and len(learner.folds_) == 5
        assert learner.partition_estimators_ == [learner.estimator_]
        np.testing.assert_allclose(learner.estimator_.coef_, OLS().fit(X, Y).coef_)
        assert learner.n_features_in_ == 3 and learner.n_outputs_ == 1
        assert learner.__sklearn_is_fitted__()
        learner.reset()
        assert not learner.__sklearn_is_fitted__() and not hasattr(learner, "estimator_")

    def test_clone_of_fitted_task_is_unfitted(self):
        learner = Learner(OLS(), FoldIndex(2), name="o")
        with ParallelProcessing("sequential") as pp:
            pp.map(learner, "fit", X, Y)
        assert not hasattr(clone(learner), "estimator_")


class TestOps:
    def test_take_is_a_view_for_one_range(self):
        view = take(X, ((2, 5),))
        assert np.shares_memory(view, X)
        np.testing.assert_array_equal(take(X, ((0, 1), (6, 8))), X[[0, 6, 7]])

    def test_put_writes_rows_and_columns_it_owns(self):
        P = np.zeros((6, 2), dtype=np.float32)
        put(P, ((0, 2), (4, 6)), (1, 2), np.array([[1], [2], [3], [4]]))
        np.testing.assert_array_equal(P[:, 1], [1, 2, 0, 0, 3, 4])
        assert not P[:, 0].any()

    def test_fit_fold_writes_only_test_rows_and_returns_the_estimator(self):
        P = np.full((8, 1), -1.0, dtype=np.float32)
        res = fit_fold(OLS(), X, Y, train=((0, 4),), test=((4, 8),), P=P, out_rows=((4, 8),),
                       scorer=lambda t, p: float(np.abs(t - p).max()))  # fmt: skip
        expected = OLS().fit(X[:4], Y[:4]).predict(X[4:])
        np.testing.assert_allclose(P[4:, 0], expected, rtol=1e-6)
        assert (P[:4] == -1).all()
        assert res.score == pytest.approx(np.abs(Y[4:] - expected).max(), rel=1e-5)

    def test_wrong_prediction_width_is_refused(self):
        P = np.zeros((8, 2), dtype=np.float32)
        with pytest.raises(ValueError, match=r"shape \(4, 1\), expected \(4, 2\)"):
            predict_fold(OLS().fit(X, Y), X, ((0, 4),), P, ((0, 4),), cols=(0, 2))
