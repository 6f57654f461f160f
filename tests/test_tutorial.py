"""The "Parallel Mechanics" tutorial (the seed), every call, in foldgraph's names.

Expected numbers are those of mlens 0.2.3 on the same data (see
shared reference, section 6): foldgraph must reproduce them to rtol=1e-4.
Not exactly: the last bits of a least-squares fit depend on the CPU's BLAS,
and in float32 one ulp upstream moves a stacked value by up to 4e-5.
"""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

from foldgraph import FoldIndex, Job, Learner, ParallelProcessing, Pipeline, Transformer
from foldgraph.testing import OLS

MAP_OUT = [0.3665536, 0.36335272, 0.3601518, 0.3569509, 0.35375,
           0.48689735, 0.52471155, 0.56252575, 0.60033995, 0.63815415]  # fmt: skip
STACK_OUT = [0.22054635, 0.22811265, 0.235679, 0.24324532, 0.25081167,
             0.27373537, 0.23783192, 0.20192847, 0.16602501, 0.09709236]  # fmt: skip
OLS2_OUT = [2.4673765, 2.3550305, 2.2426836, 2.1303375, 2.0179906,
            1.1829019, 1.2895712, 1.3962405, 1.5029098, 1.707709]  # fmt: skip

BACKENDS = ["sequential", "threading", "multiprocessing"]


def error_scorer(p, y):
    return np.abs(p - y)


class Error(BaseEstimator, TransformerMixin):
    """Transformer that computes the errors of a base learner."""

    def __init__(self, scorer):
        self.scorer = scorer

    def fit(self, X, y):
        return self

    def transform(self, X, y):
        return self.scorer(X, y), y


@pytest.fixture
def data():
    np.random.seed(2)
    X = np.arange(20).reshape(10, 2)
    y = np.random.rand(10)
    return X, y


def make_tasks(indexer):
    tasks = []
    for i in range(3):
        if i != 0:
            pipeline = Pipeline([("err", Error(error_scorer))], return_y=True)
            tasks.append(Transformer(estimator=pipeline, indexer=indexer, name=f"sc-{i + 1}"))
        tasks.append(Learner(
            estimator=OLS(), preprocess=f"sc-{i + 1}" if i != 0 else None,
            indexer=indexer, name=f"ols-{i + 1}",
        ))  # fmt: skip
    return tasks


def check_column(out, expected):
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.float64
    assert out.shape == (10, 1)
    np.testing.assert_allclose(out.ravel(), np.array(expected, dtype=np.float32), rtol=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tutorial_end_to_end(data, backend):
    X, y = data
    indexer = FoldIndex(folds=2)
    learner = Learner(estimator=OLS(), indexer=indexer, name="ols")
    manager = ParallelProcessing(backend=backend, n_jobs=-1)

    # Basic map
    out = manager.map(learner, "fit", X, y, return_preds=True)
    check_column(out, MAP_OUT)

    # Stacking a set of parallel jobs
    tasks = make_tasks(indexer)
    out = manager.stack(tasks, "fit", X, y, return_preds=True, split=False)
    check_column(out, STACK_OUT)

    # Manual initialization and processing
    out = manager.initialize(
        "fit", X, y, None, return_preds=["ols-1", "ols-3"], stack=True, split=False
    )
    assert out == {"return_final": False, "return_names": ["ols-1", "ols-3"]}
    assert isinstance(manager.job, Job)
    out = manager.process(tasks, out)
    assert isinstance(out, list) and len(out) == 2
    check_column(out[0], MAP_OUT)
    check_column(out[1], STACK_OUT)

    # the web page's variant asks for ols-1 and ols-2
    out = manager.initialize(
        "fit", X, y, None, return_preds=["ols-1", "ols-2"], stack=True, split=False
    )
    out = manager.process(tasks, out)
    check_column(out[1], OLS2_OUT)

    # Memory management
    manager.clear()
    assert manager.job is None

    learner = Learner(estimator=OLS(), indexer=indexer)
    with ParallelProcessing(backend=backend) as manager:
        manager.stack(learner, "fit", X, y, split=False)
        out = manager.stack(learner, "predict", X, split=False)
    assert out is None
    assert manager.job is None
    # the predict job used the full-data estimator fitted in the fit job
    full = OLS().fit(X, y)
    np.testing.assert_allclose(learner.estimator_.coef_, full.coef_)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tutorial_stack_equals_manual_chain(data, backend):
    """The stack's output equals a manual loop over the folds, learner by learner."""
    X, y = data
    folds = [((5, 10), (0, 5)), ((0, 5), (5, 10))]  # (train, test) rows of FoldIndex(2)
    inp = X
    for i in range(3):
        P = np.zeros((10, 1))
        for (a, b), (c, d) in folds:
            Xtr, Xte = inp[a:b], inp[c:d]
            if i:
                Xtr, Xte = np.abs(Xtr - y[a:b]), np.abs(Xte - y[c:d])
            P[c:d] = OLS().fit(Xtr, y[a:b]).predict(Xte).reshape(-1, 1)
        inp = P
    with ParallelProcessing(backend=backend) as manager:
        out = manager.stack(make_tasks(FoldIndex(2)), "fit", X, y, return_preds=True, split=False)
    rtol = 1e-4 if np.float32 in (out.dtype, inp.dtype) else 1e-10  # see the module docstring
    np.testing.assert_allclose(out, inp, rtol=rtol)


def test_tutorial_graph_shape(data):
    """Five tasks x (2 folds + full) nodes; each learner's folds wait for the previous one."""
    X, y = data
    with ParallelProcessing(backend="sequential") as manager:
        manager.stack(make_tasks(FoldIndex(2)), "fit", X, y, split=False)
        g = manager.graph
    assert len(g) == 15
    assert g.outputs == ["ols-1", "ols-2", "ols-3"]
    assert g.nx.edges["sc-2/fit/fold-0", "ols-2/fit/fold-0"]["via"] == "estimator"
    assert g.nx.edges["ols-1/fit/fold-1", "ols-2/fit/fold-0"]["via"] == "P:ols-1"
    assert not g.nx.has_edge("sc-2/fit/fold-1", "ols-2/fit/fold-0")
    assert set(g.nx.predecessors("ols-1/fit/fold-0")) == set()
