"""ens.leaderboard(): each learner's out-of-fold score, times and meta share (issue 20)."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, make_friedman1
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import log_loss, r2_score, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from foldgraph import SuperLearner
from foldgraph.leaderboard import Leaderboard

X, Y = make_friedman1(240, random_state=0)
XB, YB = load_breast_cancer(return_X_y=True)


def test_regression_scores_are_each_learners_out_of_fold_r2():
    base = [Ridge(), KNeighborsRegressor()]
    ens = SuperLearner(folds=3, backend="sequential").add([clone(b) for b in base])
    board = ens.add_meta(LinearRegression()).fit(X, Y).leaderboard()
    rows = board.set_index("learner")
    for est, name in zip(base, ["ridge", "kneighborsregressor"]):
        oof = cross_val_predict(est, X, Y, cv=KFold(3))
        assert rows.loc[name, "score"] == pytest.approx(r2_score(Y, oof), rel=1e-9)
        assert rows.loc[name, "scored_on"] == "out-of-fold" and rows.loc[name, "fit_s"] > 0
    coef = np.abs(ens.meta_.estimator_.coef_)
    assert rows.loc["ridge", "meta_share"] == pytest.approx(coef[0] / coef.sum())
    meta = rows.loc["meta"]
    assert meta["layer"] == "ensemble" and meta["scored_on"] == "meta's training rows"
    assert meta["score"] == pytest.approx(r2_score(Y, ens.meta_.estimator_.predict(
        ens.fit_transform_)))


def test_probability_scorers_on_string_labels():
    labels = np.array(["benign", "malignant"])[YB]
    lr = make_pipeline(StandardScaler(), LogisticRegression())
    tree = DecisionTreeClassifier(max_depth=3, random_state=0)
    ens = SuperLearner(folds=3, backend="sequential").add([("lr", lr), ("tree", tree)], proba=True)
    ens.add_meta(LogisticRegression()).fit(XB, labels)
    cv = StratifiedKFold(3)
    for scoring, metric, sign in (("roc_auc", roc_auc_score, 1), ("neg_log_loss", log_loss, -1)):
        rows = ens.leaderboard(scoring).set_index("learner")
        for name, est in (("lr", lr), ("tree", tree)):
            proba = cross_val_predict(clone(est), XB, labels, cv=cv, method="predict_proba")
            expected = metric(labels == "malignant", proba[:, 1]) if scoring == "roc_auc" else \
                metric(labels, proba)
            assert rows.loc[name, "score"] == pytest.approx(sign * expected, rel=1e-9)
    accuracy = ens.leaderboard().set_index("learner").loc["tree", "score"]
    oof = cross_val_predict(clone(tree), XB, labels, cv=cv)
    assert accuracy == pytest.approx(np.mean(oof == labels))


def test_without_pandas_a_printable_table_and_not_after_unpickling(monkeypatch):
    ens = SuperLearner(backend="sequential").add([Ridge()]).add_meta(LinearRegression()).fit(X, Y)
    monkeypatch.setattr("foldgraph.leaderboard.find_spec", lambda name: None)  # no pandas
    board = ens.leaderboard()
    assert isinstance(board, Leaderboard)
    text = repr(board).splitlines()
    assert text[0].split()[:3] == ["layer", "learner", "score"] and text[1].startswith("layer-1")
    loaded = pickle.loads(pickle.dumps(ens))
    with pytest.raises(ValueError, match="a pickle does not keep"):
        loaded.leaderboard()
