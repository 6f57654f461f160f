"""Bad input is refused at every entry of the manager, before any node runs.

Issue 16 items 5 and 9: ``map``, ``stack``, ``initialize``/``process``, ``run`` and
``plan`` check X, y and sample_weight up front (GraphError, a ValueError, naming
the culprit and the fix), and a sparse X of any format runs as CSR on every backend.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge

from foldgraph import FoldIndex, GraphError, Learner, ParallelProcessing, TaskGraph
from foldgraph.graph import map_graph

pytestmark = [pytest.mark.usefixtures("no_leaks"), pytest.mark.timeout(60)]

rng = np.random.RandomState(0)
X = rng.rand(30, 3)
Y = X @ np.array([1.0, -2.0, 0.5])
W = np.ones(30)
CALLS = []


class Recorder(RegressorMixin, BaseEstimator):
    """Least squares that records each fit and predict: proof that a node ran."""

    def fit(self, X, y, sample_weight=None):
        CALLS.append("fit")
        self.coef_ = np.linalg.lstsq(np.asarray(X), y, rcond=None)[0]
        return self

    def predict(self, X):
        CALLS.append("predict")
        return np.asarray(X) @ self.coef_


def learner():
    return Learner(Recorder(), FoldIndex(3), name="rec")


def weighted_graph():
    graph = TaskGraph("fit", X, Y, sample_weight=W)
    graph.add_task(learner())
    return graph.validate()


@pytest.fixture
def pp():
    CALLS.clear()
    manager = ParallelProcessing("sequential")
    yield manager
    manager.clear()


def refused(call, match):
    """``call()`` raises GraphError (a ValueError) matching ``match``; no node ran."""
    with pytest.raises(GraphError, match=match) as info:
        call()
    assert isinstance(info.value, ValueError)
    assert CALLS == [], f"a node ran before the refusal: {CALLS}"


# -- sample_weight (run) ---------------------------------------------------------
@pytest.mark.parametrize("w, match", [
    (np.ones(60), r"sample_weight has shape \(60,\) for 30 rows of X: pass one weight per row"),
    (np.ones(5), r"sample_weight has shape \(5,\) for 30 rows"),
    (np.r_[np.ones(29), -1.0], r"sample_weight must be non-negative: weight -1.0 at row 29"),
    (np.r_[np.nan, np.ones(29)], r"sample_weight holds NaN or inf at row 0"),
    (np.r_[np.ones(29), np.inf], r"sample_weight holds NaN or inf at row 29"),
    (np.zeros(30), r"sample_weight is all zero"),
])  # fmt: skip
def test_run_refuses_bad_weights(pp, w, match):
    graph = weighted_graph()
    refused(lambda: pp.run(graph, X, Y, sample_weight=w), match)
    refused(lambda: pp.plan(graph, X, Y, sample_weight=w), match)
    assert pp.trace is None


def test_graph_refuses_bad_weights():
    refused(lambda: TaskGraph("fit", X, Y, sample_weight=-W), "must be non-negative")


# -- X and y, on every entry point --------------------------------------------------
BAD_DATA = [
    (X[:, 0], Y, "X must be 2-D"),
    (X[:0], Y[:0], r"X is empty"),
    (X, Y[:20], "X has 30 rows but y has 20: pass one target per row"),
    (X, np.r_[Y[:4], np.nan, Y[5:]], r"y holds NaN or inf \(first at row 4\)"),
    (X, np.r_[Y[:29], np.inf], r"y holds NaN or inf \(first at row 29\)"),
    (X, np.array(["a", "b", "c"] * 10),
     "task 'rec': y holds labels such as 'a', but its estimator Recorder is a regressor"),
    (np.c_[X, ["red"] * 30].astype(object), Y,
     "X column 3 holds non-numeric values such as 'red'.*encode it first"),
]  # fmt: skip
IDS = ["X-1d", "X-empty", "y-length", "y-nan", "y-inf", "y-labels-regressor", "X-strings"]


@pytest.mark.parametrize("Xb, yb, match", BAD_DATA, ids=IDS)
def test_map_and_stack_refuse(pp, Xb, yb, match):
    refused(lambda: pp.map(learner(), "fit", Xb, yb, return_preds=True), match)
    refused(lambda: pp.stack([learner()], "fit", Xb, yb, return_preds=True), match)
    assert pp.trace is None


@pytest.mark.parametrize("Xb, yb, match", BAD_DATA, ids=IDS)
def test_initialize_and_process_refuse(pp, Xb, yb, match):
    def both():
        pp.process(learner(), pp.initialize("fit", Xb, yb, return_preds=True))

    refused(both, match)


@pytest.mark.parametrize("Xb, yb, match", BAD_DATA, ids=IDS)
def test_run_refuses(pp, Xb, yb, match):
    graph = map_graph(learner(), "fit", X, Y)  # built on good data, run on bad
    refused(lambda: pp.run(graph, Xb, yb, return_preds=True), match)
    assert not pp.trace or not pp.trace.events


def test_a_dataframe_reaches_the_learner_which_names_what_it_cannot_read(pp):
    """A frame goes to the learners as it is (tests/test_frames.py): its categories are
    theirs to read; one that cannot fails as it would alone, naming its node."""
    frame = pd.DataFrame({"size": X[:, 0], "color": pd.Categorical(["red", "blue"] * 15)})
    with pytest.raises(TypeError, match=r"failed at node 'rec/fit/(fold-\d|full)'.*Cannot cast"):
        pp.map(learner(), "fit", frame, Y)
    P = pp.map(learner(), "fit", frame[["size"]], Y, return_preds=True)
    np.testing.assert_array_equal(P, pp.map(learner(), "fit", X[:, :1], Y, return_preds=True))


def test_numbers_as_objects_are_accepted(pp):
    P = pp.map(learner(), "fit", X.astype(object), Y, return_preds=True)
    np.testing.assert_array_equal(P, pp.map(learner(), "fit", X, Y, return_preds=True))


def test_labels_without_proba_are_refused_for_a_classifier_too(pp):
    from sklearn.linear_model import LogisticRegression

    labels = np.array(["a", "b"] * 15)
    refused(lambda: pp.map(Learner(LogisticRegression(), FoldIndex(3), name="clf"), "fit",
                           X, labels),
            "task 'clf': y holds labels such as 'a'.*pass proba=True")  # fmt: skip
    P = pp.map(Learner(LogisticRegression(), FoldIndex(3), name="clf", proba=True), "fit",
               X, labels, return_preds=True)  # fmt: skip
    assert P.shape == (30, 2)


def test_multiprocessing_refuses_before_starting_workers():
    pp = ParallelProcessing("multiprocessing", n_jobs=2)
    graph = weighted_graph()
    with pytest.raises(GraphError, match="sample_weight has shape"):
        pp.run(graph, X, Y, sample_weight=np.ones(60))
    with pytest.raises(GraphError, match="y holds NaN"):
        pp.map(learner(), "fit", X, np.r_[np.nan, Y[1:]])
    assert pp.worker_pids == []
    pp.clear()


# -- sparse X: any format runs as CSR ------------------------------------------------
FORMATS = {
    "coo": sparse.coo_matrix, "csc": sparse.csc_matrix, "lil": sparse.lil_matrix,
    "dok": sparse.dok_matrix, "bsr": sparse.bsr_matrix, "coo_array": sparse.coo_array,
}  # fmt: skip
XS = sparse.random(30, 4, density=0.5, random_state=0, format="csr")


@pytest.mark.parametrize("backend", ["sequential", "threading", "multiprocessing"])
def test_sparse_formats_give_the_csr_predictions(backend):
    def ridge():
        return Learner(Ridge(alpha=0.5), FoldIndex(3), name="ridge")

    with ParallelProcessing(backend, n_jobs=2) as pp:
        reference = pp.map(ridge(), "fit", XS, Y, return_preds=True)
        for name, fmt in FORMATS.items():
            Xf = fmt(XS)
            P = pp.map(ridge(), "fit", Xf, Y, return_preds=True)
            np.testing.assert_array_equal(P, reference, err_msg=name)
            graph = map_graph(ridge(), "fit", Xf, Y)
            np.testing.assert_array_equal(pp.run(graph, Xf, Y, return_preds=True), reference,
                                          err_msg=f"run {name}")  # fmt: skip
