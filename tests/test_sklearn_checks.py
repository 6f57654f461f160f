"""scikit-learn's estimator checks on SuperLearner, Subsemble and BlendEnsemble.

Each ensemble stacks a tree, a forest, a linear model and k-NN, as a regressor
and as a classifier, so the checks see plain scikit-learn base learners of
every family (their NaN, sparse and dtype behaviour included). Subsemble and
BlendEnsemble classifiers run twice: stacking probabilities (LogisticRegression,
which needs two classes in each of their tiny partitions: listed below) and
stacking labels (RidgeClassifier, which fits one class), where every check
passes except the design ones above.
"""

from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, RidgeClassifier
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

from foldgraph import BlendEnsemble, Subsemble, SuperLearner

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

#: with a k-NN base learner, which takes no sample_weight: weights are refused
#: before any node runs (StackingRegressor refuses them too), never dropped
NO_WEIGHTS = {name: "k-NN takes no sample_weight: a fit with weights is refused" for name in (
    "check_sample_weights_list", "check_sample_weights_not_an_array",
    "check_sample_weights_not_overwritten", "check_sample_weights_pandas_series",
    "check_sample_weights_shape", "check_classifiers_one_label_sample_weights",
)}  # fmt: skip

#: Subsemble and BlendEnsemble classifiers on the checks' tiny data sets: a
#: partition or a blend's head of 2-5 rows holds one class, so a base learner
#: that needs two (LogisticRegression) fails, naming its node
TINY_PARTS = {
    "check_fit2d_1feature": "a partition of the 10 rows holds one class",
    "check_estimators_nan_inf": "a partition of the 10 rows holds one class",
}


def expected_failures(est):
    out = dict(EXPECTED_FAILURES)
    base = [type(e).__name__ for spec in est.layers if not spec.meta for _, e in spec.named()]
    if any(name.startswith("KNeighbors") for name in base):
        out.update(NO_WEIGHTS)
    needs_two_classes = "LogisticRegression" in base  # on a partition of 2-5 rows
    if isinstance(est, Subsemble) and needs_two_classes:
        out.update(TINY_PARTS)
    if isinstance(est, BlendEnsemble) and needs_two_classes:
        out["check_fit2d_1feature"] = "the blend's head of 5 rows holds one class"
    return out


def regressors():
    return [DecisionTreeRegressor(max_depth=3, random_state=0),
            RandomForestRegressor(n_estimators=4, random_state=0), Ridge(),
            KNeighborsRegressor(n_neighbors=2)]  # fmt: skip


def classifiers():
    return [DecisionTreeClassifier(max_depth=3, random_state=0),
            RandomForestClassifier(n_estimators=4, random_state=0), LogisticRegression(),
            KNeighborsClassifier(n_neighbors=2)]  # fmt: skip


def ensembles():
    out = []
    for make in (lambda: SuperLearner(folds=2, backend="sequential"),
                 # contiguous partitions and a blend's tail would hold one class of
                 # the checks' label-sorted data: shuffled, as a user would
                 lambda: Subsemble(partitions=2, folds=2, shuffle=True, random_state=0,
                                   backend="sequential"),
                 lambda: BlendEnsemble(test_size=0.5, shuffle=True, random_state=0,
                                       backend="sequential")):  # fmt: skip
        out.append(make().add(regressors()).add_meta(LinearRegression()))
        out.append(make().add(classifiers(), proba=True).add_meta(LogisticRegression()))
    # the partitions of a subsemble or a blend's head hold 2-5 rows of the checks' tiny data
    # sets, often one class: stack labels of learners that fit one class (RidgeClassifier)
    for make in (lambda: Subsemble(partitions=2, folds=2, backend="sequential"),
                 lambda: BlendEnsemble(test_size=0.5, shuffle=True, random_state=0,
                                       backend="sequential")):  # fmt: skip
        labels = [DecisionTreeClassifier(max_depth=3, random_state=0), RidgeClassifier(),
                  KNeighborsClassifier(n_neighbors=1)]  # fmt: skip
        out.append(make().add(labels).add_meta(LogisticRegression()))
    # weights reach every learner of these two
    reg = SuperLearner(folds=2, backend="sequential").add([Ridge()]).add_meta(LinearRegression())
    clf = SuperLearner(folds=2, backend="sequential").add([LogisticRegression()], proba=True)
    return out + [reg, clf.add_meta(LogisticRegression())]


@parametrize_with_checks(ensembles(), expected_failed_checks=expected_failures)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
