"""Evaluator: a randomized search as one graph, scores equal a manual loop."""

import numpy as np
import pytest
from scipy.stats import randint, uniform
from sklearn.datasets import make_friedman1
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, ParameterSampler
from sklearn.neighbors import KNeighborsRegressor
from sklearn.preprocessing import StandardScaler

from foldgraph import Evaluator, GraphError

X, Y = make_friedman1(180, 6, random_state=0)
SPACE = {"ridge": {"alpha": uniform(0.01, 10)}, "kneighborsregressor": {"n_neighbors": randint(2, 20)}}


def manual(est, steps, X, y, cv):
    scores = []
    for train, test in KFold(cv).split(X):
        Xtr, Xte = X[train], X[test]
        for step in steps:
            step = step.fit(Xtr)
            Xtr, Xte = step.transform(Xtr), step.transform(Xte)
        scores.append(r2_score(y[test], est.fit(Xtr, y[train]).predict(Xte)))
    return np.mean(scores)


@pytest.mark.parametrize("backend", ["sequential", "threading"])
def test_scores_equal_a_manual_cross_validation(backend):
    ev = Evaluator(r2_score, cv=3, shuffle=True, random_state=0, backend=backend, n_jobs=2)
    ev.fit(X, Y, [Ridge(), KNeighborsRegressor()], SPACE, n_iter=3,
           preprocessing={"sc": [StandardScaler()], "raw": []})  # fmt: skip
    assert sorted(ev.results) == ["raw.kneighborsregressor", "raw.ridge",
                                  "sc.kneighborsregressor", "sc.ridge"]  # fmt: skip
    order = np.random.RandomState(0).permutation(len(Y))
    Xs, ys = X[order], Y[order]
    draws = list(ParameterSampler(SPACE["ridge"], 3, random_state=0))
    for i, draw in enumerate(draws):
        want = manual(Ridge(**draw), [StandardScaler()], Xs, ys, 3)
        assert ev.draws[f"sc.ridge.{i}"] == pytest.approx(want, rel=1e-6)
    best = max(range(3), key=lambda i: ev.draws[f"sc.ridge.{i}"])
    assert ev.results["sc.ridge"]["params"] == draws[best]
    # one graph: the scaler is fitted once per fold and shared by 6 candidates
    keys = [r["key"] for r in ev.trace_.records]
    assert sorted(k for k in keys if k.startswith("sc/")) == [f"sc/fit/fold-{k}" for k in range(3)]
    assert not any(k.endswith("/full") for k in keys)


def test_estimator_without_space_is_evaluated_once():
    ev = Evaluator(r2_score, cv=2, backend="sequential").fit(X, Y, [Ridge()])
    assert list(ev.draws) == ["ridge.0"] and ev.results["ridge"]["params"] == {}


def test_unknown_param_dict_key():
    with pytest.raises(GraphError, match="param_dicts key 'lasso' names no estimator"):
        Evaluator(r2_score, backend="sequential").fit(X, Y, [Ridge()], {"lasso": {"alpha": [1]}})


def test_evaluator_takes_a_splitter_and_a_random_state_object():
    """Its folds match cross_val_score's with the same splitter (issue 15)."""
    from sklearn.model_selection import cross_val_score

    X, y = make_friedman1(120, random_state=0)
    cv = KFold(3, shuffle=True, random_state=0)
    ev = Evaluator(r2_score, cv=cv, backend="sequential").fit(X, y, [Ridge()])
    ref = cross_val_score(Ridge(), X, y, cv=cv, scoring="r2").mean()
    assert ev.results["ridge"]["test_score-m"] == pytest.approx(ref, rel=1e-9)
    ev = Evaluator(r2_score, cv=3, random_state=np.random.RandomState(0), backend="sequential")
    ev.fit(X, y, [Ridge()])
    assert 0 < ev.results["ridge"]["test_score-m"] <= 1


def test_probability_scorers_and_a_data_frame_of_results():
    """Issue 20: response_method='predict_proba' feeds roc_auc and log_loss their input."""
    from sklearn.datasets import load_breast_cancer, load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline

    Xb, yb = load_breast_cancer(return_X_y=True)
    est = make_pipeline(StandardScaler(), LogisticRegression())
    cv = StratifiedKFold(3)
    ev = Evaluator(roc_auc_score, cv=cv, response_method="predict_proba", backend="sequential")
    ev.fit(Xb, yb, [("lr", est)])
    manual = [roc_auc_score(yb[te], est.fit(Xb[tr], yb[tr]).predict_proba(Xb[te])[:, 1])
              for tr, te in cv.split(Xb, yb)]  # fmt: skip
    assert ev.results["lr"]["test_score-m"] == pytest.approx(np.mean(manual), rel=1e-9)
    frame = ev.to_frame()
    assert list(frame.index) == ["lr"] and frame.loc["lr", "test_score-m"] > 0.9
    Xi, yi = load_iris(return_X_y=True)  # three classes: one column per class
    ev = Evaluator(lambda y, p: -log_loss(y, p, labels=[0, 1, 2]), cv=cv,
                   response_method="predict_proba", backend="sequential")
    ev.fit(Xi, yi, [("lr", LogisticRegression(max_iter=1000))])
    manual = [-log_loss(yi[te], LogisticRegression(max_iter=1000).fit(Xi[tr], yi[tr])
                        .predict_proba(Xi[te]), labels=[0, 1, 2]) for tr, te in cv.split(Xi, yi)]
    assert ev.results["lr"]["test_score-m"] == pytest.approx(np.mean(manual), rel=1e-9)
    with pytest.raises(ValueError, match="response_method='decision'"):
        Evaluator(roc_auc_score, response_method="decision").fit(Xb, yb, [est])
