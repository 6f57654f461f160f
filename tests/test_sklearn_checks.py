"""scikit-learn's estimator checks on SuperLearner (regressor and classifier)."""

from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from foldgraph import SuperLearner

#: checks that fail by design, and why
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "folds are cut by position: repeating a row moves the fold boundaries, so "
        "weights are not equivalent to repeated rows"
    ),
    "check_sample_weight_equivalence_on_sparse_data": "same, on sparse input",
    "check_transformer_general": (
        "fit_transform returns the out-of-fold predictions the meta learner was trained "
        "on, transform the full-data estimators' predictions"
    ),
    "check_transformer_data_not_an_array": "same as check_transformer_general",
}


def ensembles():
    reg = SuperLearner(folds=2, backend="sequential").add([Ridge()]).add_meta(LinearRegression())
    clf = SuperLearner(folds=2, backend="sequential").add([LogisticRegression()], proba=True)
    return [reg, clf.add_meta(LogisticRegression())]


@parametrize_with_checks(ensembles(), expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
