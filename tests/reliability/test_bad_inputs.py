"""Bad input, at every entry point, is refused before any node runs (issue 16).

One table: each row is a call, the exception class a caller would catch and
a regex its message must match, naming the culprit (and mostly the fix).
The estimators record every fit and predict into ``CALLS``: the test
asserts that none ran and that no worker process was started.

Entry points: ``ParallelProcessing`` (constructor, ``map``, ``stack``,
``run``, ``initialize`` + ``process``), every ensemble's ``fit``,
``predict``, ``predict_proba``, ``transform``, ``add``, ``add_meta`` and
``set_params``, and the indexers (directly and through a ``Learner``).
"""

import re

import numpy as np
import pytest
from procs import workers
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import (
    GroupKFold,
    KFold,
    PredefinedSplit,
    ShuffleSplit,
    StratifiedKFold,
)

from foldgraph import (
    BlendEnsemble,
    BlendIndex,
    FoldIndex,
    GraphError,
    Learner,
    ParallelProcessing,
    SequentialEnsemble,
    SplitIndex,
    Subsemble,
    SubsetIndex,
    SuperLearner,
    TaskGraph,
    TemporalEnsemble,
    TemporalIndex,
)
from foldgraph.graph import map_graph

pytestmark = [pytest.mark.usefixtures("no_leaks"), pytest.mark.timeout(60)]

rng = np.random.RandomState(0)
X = rng.rand(30, 3)
Y = X @ np.array([1.0, -2.0, 0.5])
YC = np.array([0, 1] * 15)
W = np.ones(30)
NAN_Y = np.r_[Y[:4], np.nan, Y[5:]]
INF_Y = np.r_[Y[:29], np.inf]
LABELS = np.array(["a", "b", "c"] * 10)
STRING_X = np.c_[X, ["red"] * 30].astype(object)
CALLS = []


class Recorder(RegressorMixin, BaseEstimator):
    """Least squares that records each fit and predict: proof that a node ran."""

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def fit(self, X, y, sample_weight=None):
        CALLS.append("fit")
        self.coef_ = np.linalg.lstsq(np.asarray(X), y, rcond=None)[0]
        return self

    def predict(self, X):
        CALLS.append("predict")
        return np.asarray(X) @ self.coef_


class RecorderClassifier(ClassifierMixin, BaseEstimator):
    """Class priors that record each fit and predict."""

    def fit(self, X, y, sample_weight=None):
        CALLS.append("fit")
        self.classes_, counts = np.unique(y, return_counts=True)
        self.prior_ = counts / counts.sum()
        return self

    def predict_proba(self, X):
        CALLS.append("predict_proba")
        return np.tile(self.prior_, (len(X), 1))

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(1)]


def rec(name="rec", indexer=None):
    return Learner(Recorder(), FoldIndex(3) if indexer is None else indexer, name=name)


def seq(**kw):
    return ParallelProcessing("sequential", **kw)


def mp():
    return ParallelProcessing("multiprocessing", n_jobs=2)


def weighted_graph():
    graph = TaskGraph("fit", X, Y, sample_weight=W)
    graph.add_task(rec())
    return graph.validate()


ENSEMBLES = {
    "super": (SuperLearner, {"folds": 2}),
    "blend": (BlendEnsemble, {"test_size": 0.5}),
    "subsemble": (Subsemble, {"partitions": 2, "folds": 2}),
    "temporal": (TemporalEnsemble, {"step_size": 5, "burn_in": 10}),
    "sequential": (SequentialEnsemble, {}),
}


def ens(kind, meta=None, classifier=False, **kw):
    """An unfitted ensemble of ``kind`` with two recording learners and a meta learner."""
    cls, defaults = ENSEMBLES[kind]
    made = cls(**{"backend": "sequential", **defaults, **kw})
    base = [("r1", RecorderClassifier() if classifier else Recorder()),
            ("r2", RecorderClassifier() if classifier else Recorder(2.0))]  # fmt: skip
    made = made.add("stack", base, folds=2) if kind == "sequential" else made.add(base)
    if meta is None:
        meta = RecorderClassifier() if classifier else Recorder()
    return made.add_meta(meta)


_FITTED = {}


def fitted(kind, classifier=False):
    """A fitted ensemble (made once per module); CALLS is emptied after its fit."""
    key = (kind, classifier)
    if key not in _FITTED:
        _FITTED[key] = ens(kind, classifier=classifier).fit(X, YC if classifier else Y)
    CALLS.clear()
    return _FITTED[key]


def case(id, call, exc, match, bug=None):
    marks = () if bug is None else [
        pytest.mark.xfail(strict=True, reason=bug),
        pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning"),
    ]  # fmt: skip
    return pytest.param(call, exc, match, id=id, marks=marks)


KINDS = list(ENSEMBLES)

# fmt: off
CASES = [
    # -- ParallelProcessing(...) ---------------------------------------------------------
    case("pp-backend-unknown", lambda: ParallelProcessing("gpu"), ValueError,
         r"unknown backend 'gpu': choose one of 'auto', 'sequential', 'threading'"),
    *[case(f"pp-n_jobs-{n!r}", lambda n=n: ParallelProcessing(n_jobs=n), ValueError,
           rf"n_jobs={n!r}: pass a positive number of workers, or -1 for every CPU")
      for n in (0, -2, 1.5, "2")],
    case("pp-strategy-unknown", lambda: ParallelProcessing(strategy="random"), ValueError,
         r"unknown strategy 'random': choose one of 'fifo'"),
    *[case(f"pp-dtype-{d}", lambda d=d: ParallelProcessing(dtype=d), ValueError,
           rf"dtype={np.dtype(d).name} is not supported for prediction buffers: pass np.float64")
      for d in ("int32", "float16")],
    *[case(f"pp-timeout-{t!r}", lambda t=t: ParallelProcessing(timeout=t), ValueError,
           rf"timeout={t!r}: pass a positive number of seconds per node, or None")
      for t in (0, -1, "5")],
    case("pp-client-without-dask", lambda: ParallelProcessing("threading", client=object()),
         ValueError, r"client= is for backend='dask', not 'threading': pass backend='dask'"),
    case("pp-address-without-dask", lambda: ParallelProcessing(address="tcp://127.0.0.1:1"),
         ValueError, r"address= is for backend='dask', not 'auto'"),
    case("pp-retries--1", lambda: ParallelProcessing(retries=-1), ValueError,
         r"retries=-1: pass a non-negative int"),
    case("pp-start_method", lambda: ParallelProcessing("multiprocessing", start_method="thread"),
         ValueError, r"start_method='thread' is not available on \w+: choose one of"),
    case("pp-threads_per_worker-0", lambda: ParallelProcessing(threads_per_worker=0), ValueError,
         r"threads_per_worker=0: pass a positive int, 'auto' or None"),
    # -- map -------------------------------------------------------------------------------
    case("map-X-1d", lambda: seq().map(rec(), "fit", X[:, 0], Y), GraphError,
         r"X must be 2-D \(n_samples, n_features\), got shape \(30,\): reshape it"),
    case("map-X-3d", lambda: seq().map(rec(), "fit", X[:, :, None], Y), GraphError,
         r"X must be 2-D \(n_samples, n_features\), got shape \(30, 3, 1\)"),
    case("map-X-empty", lambda: seq().map(rec(), "fit", X[:0], Y[:0]), GraphError,
         r"X is empty \(shape \(0, 3\)\): pass at least one row"),
    case("map-X-no-columns", lambda: seq().map(rec(), "fit", X[:, :0], Y), GraphError,
         r"X is empty \(shape \(30, 0\)\)"),
    case("map-X-complex", lambda: seq().map(rec(), "fit", X + 0j, Y), ValueError,
         r"X holds complex numbers \(dtype complex128\): estimators take real values"),
    case("map-X-ragged", lambda: seq().map(rec(), "fit", [[1.0, 2.0], [3.0]], [1.0, 2.0]),
         ValueError, r"X cannot be read as a 2-D array .*: give every row the same number"),
    case("map-X-strings", lambda: seq().map(rec(), "fit", STRING_X, Y), GraphError,
         r"X column 3 holds non-numeric values such as 'red' .*: encode it first"),
    case("map-y-length", lambda: seq().map(rec(), "fit", X, Y[:20]), GraphError,
         r"X has 30 rows but y has 20: pass one target per row"),
    case("map-y-3d", lambda: seq().map(rec(), "fit", X, Y[:, None, None]), GraphError,
         r"y must be 1-D or 2-D, got shape \(30, 1, 1\)"),
    case("map-y-missing", lambda: seq().map(rec(), "fit", X, None), GraphError,
         r"task 'rec' is a learner: a 'fit' job needs y"),
    case("map-y-nan", lambda: seq().map(rec(), "fit", X, NAN_Y), GraphError,
         r"y holds NaN or inf \(first at row 4\): a 'fit' job needs finite targets"),
    case("map-y-inf", lambda: seq().map(rec(), "fit", X, INF_Y), GraphError,
         r"y holds NaN or inf \(first at row 29\)"),
    case("map-y-labels-regressor", lambda: seq().map(rec(), "fit", X, LABELS), GraphError,
         r"task 'rec': y holds labels such as 'a', but its estimator Recorder is a regressor"),
    case("map-sample_weight-kw", lambda: seq().map(rec(), "fit", X, Y, sample_weight=W),
         TypeError, r"unexpected keyword argument 'sample_weight'"),
    case("map-job-unknown", lambda: seq().map(rec(), "score", X, Y), GraphError,
         r"unknown job 'score': choose one of 'fit', 'predict', 'transform'"),
    case("map-return_preds-unknown", lambda: seq().map(rec(), "fit", X, Y, return_preds=["nope"]),
         GraphError, r"return_preds names 'nope', which writes no predictions in this graph"),
    case("map-duplicate-names", lambda: seq().map([rec("a"), rec("a")], "fit", X, Y), GraphError,
         r"duplicate task name 'a': every task of a graph needs a unique name"),
    case("map-task-name-invalid", lambda: seq().map(Learner(Recorder(), name="a/b"), "fit", X, Y),
         GraphError, r"task name 'a/b' is invalid: use a non-empty string without '/'"),
    case("map-not-a-task", lambda: seq().map(Recorder(), "fit", X, Y), TypeError,
         r"task #0 \(Recorder\) is not a task: wrap estimators in Learner\(estimator\)"),
    case("map-indexer-str", lambda: seq().map(Learner(Recorder(), "kfold"), "fit", X, Y),
         TypeError, r"indexer 'kfold' is neither a foldgraph indexer nor a CV splitter"),
    case("map-predict-unfitted", lambda: seq().map(rec(), "predict", X), NotFittedError,
         r"task 'rec' is not fitted: run a 'fit' job on it first"),
    case("map-mp-y-nan", lambda: mp().map(rec(), "fit", X, NAN_Y), GraphError,
         r"y holds NaN or inf \(first at row 4\)"),
    case("map-threading-X-strings",
         lambda: ParallelProcessing(n_jobs=2).map(rec(), "fit", STRING_X, Y), GraphError,
         r"X column 3 holds non-numeric values"),
    # -- stack -----------------------------------------------------------------------------
    case("stack-X-1d", lambda: seq().stack([rec()], "fit", X[:, 0], Y), GraphError,
         r"X must be 2-D"),
    case("stack-y-nan", lambda: seq().stack([rec()], "fit", X, NAN_Y), GraphError,
         r"y holds NaN or inf \(first at row 4\)"),
    case("stack-y-length", lambda: seq().stack([rec()], "fit", X, Y[:20]), GraphError,
         r"X has 30 rows but y has 20"),
    case("stack-empty-return_preds", lambda: seq().stack([], "fit", X, Y, return_preds=True),
         GraphError, r"return_preds=True but no task of the graph writes predictions"),
    case("stack-mp-X-strings", lambda: mp().stack([rec()], "fit", STRING_X, Y), GraphError,
         r"X column 3 holds non-numeric values"),
    # -- run -------------------------------------------------------------------------------
    case("run-weights-unexpected",
         lambda: seq().run(map_graph(rec(), "fit", X, Y), X, Y, sample_weight=W), GraphError,
         r"sample_weight given, but the graph was built without weights: build it with"),
    case("run-weights-missing", lambda: seq().run(weighted_graph(), X, Y), GraphError,
         r"the graph was built with sample_weight: pass it to run\(\) too"),
    case("run-weights-negative", lambda: seq().run(weighted_graph(), X, Y, sample_weight=-W),
         GraphError, r"sample_weight must be non-negative: weight -1.0 at row 0"),
    case("run-weights-short", lambda: seq().run(weighted_graph(), X, Y, sample_weight=W[:5]),
         GraphError, r"sample_weight has shape \(5,\) for 30 rows of X: pass one weight per row"),
    case("run-weights-long", lambda: seq().run(weighted_graph(), X, Y, sample_weight=np.ones(60)),
         GraphError, r"sample_weight has shape \(60,\) for 30 rows"),
    case("run-y-nan", lambda: seq().run(map_graph(rec(), "fit", X, Y), X, NAN_Y), GraphError,
         r"y holds NaN or inf \(first at row 4\)"),
    case("run-X-other-columns", lambda: seq().run(map_graph(rec(), "fit", X, Y), X[:, :2], Y),
         GraphError, r"the graph was built for X of shape \(30, 3\), got \(30, 2\): rebuild"),
    case("run-mp-weights-nan",
         lambda: mp().run(weighted_graph(), X, Y, sample_weight=np.r_[np.nan, W[1:]]),
         GraphError, r"sample_weight holds NaN or inf at row 0"),
    # -- initialize + process --------------------------------------------------------------
    case("process-before-initialize", lambda: seq().process(rec(), {}), RuntimeError,
         r"the manager is not initialized: call initialize\(job, X, y\) before process"),
    case("initialize-X-1d", lambda: seq().initialize("fit", X[:, 0], Y), GraphError,
         r"X must be 2-D"),
    case("initialize-job-unknown", lambda: seq().initialize("score", X, Y), GraphError,
         r"unknown job 'score'"),
    case("initialize-process-y-inf",
         lambda: (lambda pp: pp.process(rec(), pp.initialize("fit", X, INF_Y)))(seq()),
         GraphError, r"y holds NaN or inf \(first at row 29\)"),
    case("initialize-process-folds-too-many",
         lambda: (lambda pp: pp.process(rec(indexer=FoldIndex(31)), pp.initialize("fit", X, Y)))(
             seq()), GraphError,
         r"task 'rec': FoldIndex\(folds=31\) needs at least 31 rows, got 30: lower folds"),
    # -- ensembles, before fit -------------------------------------------------------------
    *[case(f"{k}-{method}-unfitted", lambda k=k, m=method: getattr(ens(k, classifier=True), m)(X),
           NotFittedError, rf"This {ENSEMBLES[k][0].__name__} instance is not fitted yet: "
           r"call fit\(X, y\) first")
      for k in KINDS for method in ("predict", "predict_proba", "transform")],
    # -- ensembles, after fit --------------------------------------------------------------
    *[case(f"{k}-predict-other-n_features", lambda k=k: fitted(k).predict(X[:, :2]), ValueError,
           rf"X has 2 features, but {ENSEMBLES[k][0].__name__} is expecting 3 features")
      for k in KINDS],
    *[case(f"{k}-transform-1d", lambda k=k: fitted(k).transform(X[0]), ValueError,
           r"Expected 2D array, got 1D array instead") for k in ("super", "temporal")],
    case("blend-predict_proba-other-n_features",
         lambda: fitted("blend", classifier=True).predict_proba(X[:, :2]), ValueError,
         r"X has 2 features, but BlendEnsemble is expecting 3 features"),
    case("super-predict_proba-regressor-meta", lambda: fitted("super").predict_proba(X),
         AttributeError, r"This SuperLearner has no predict_proba: its meta learner 'recorder' "
         r"\(Recorder\) does not implement predict_proba"),
    case("subsemble-predict-strings", lambda: fitted("subsemble").predict(STRING_X[:, 1:]),
         ValueError, r"X column 2 holds non-numeric values such as 'red': encode it first"),
    # -- ensembles, fit: data ----------------------------------------------------------------
    *[case(f"{k}-fit-y-nan", lambda k=k: ens(k).fit(X, NAN_Y), ValueError, r"Input y contains NaN")
      for k in KINDS],
    *[case(f"{k}-fit-sample_weight-negative", lambda k=k: ens(k).fit(X, Y, sample_weight=-W),
           ValueError, r"sample_weight must be non-negative: weight -1.0 at row 0")
      for k in KINDS],
    case("super-fit-sample_weight-short", lambda: ens("super").fit(X, Y, sample_weight=W[:3]),
         ValueError, r"sample_weight has shape \(3,\) for 30 rows: pass one weight per row"),
    case("blend-fit-sample_weight-long", lambda: ens("blend").fit(X, Y, sample_weight=np.ones(31)),
         ValueError, r"sample_weight has shape \(31,\) for 30 rows"),
    case("subsemble-fit-sample_weight-nan",
         lambda: ens("subsemble").fit(X, Y, sample_weight=np.r_[W[:9], np.nan, W[10:]]),
         ValueError, r"sample_weight holds NaN or inf at row 9"),
    case("temporal-fit-sample_weight-zero", lambda: ens("temporal").fit(X, Y, sample_weight=0 * W),
         ValueError, r"sample_weight is all zero: give some row a positive weight"),
    case("super-fit-y-labels-regressor", lambda: ens("super").fit(X, LABELS), ValueError,
         r"y holds labels such as .*'a'.*, but the meta learner 'recorder' \(Recorder\) is a "
         r"regressor: use a classifier as the meta learner"),
    case("blend-fit-X-strings", lambda: ens("blend").fit(STRING_X, Y), ValueError,
         r"X column 3 holds non-numeric values such as 'red': encode it first"),
    case("subsemble-fit-X-empty", lambda: ens("subsemble").fit(X[:0], Y[:0]), ValueError,
         r"Found array with 0 sample\(s\) \(shape=\(0, 3\)\) while a minimum of 2 is required"),
    case("temporal-fit-X-1d", lambda: ens("temporal").fit(X[:, 0], Y), ValueError,
         r"Expected 2D array, got 1D array instead"),
    case("sequential-fit-y-length", lambda: ens("sequential").fit(X, Y[:20]), ValueError,
         r"inconsistent numbers of samples: \[30, 20\]"),
    case("super-fit-one-class", lambda: ens("super", classifier=True).fit(X, np.zeros(30)),
         ValueError, r"SuperLearner needs samples of at least 2 classes in y, got 1 class"),
    case("super-fit-params", lambda: ens("super").fit(X, Y, foo=1), TypeError,
         r"fit\(\) got fit parameters \['foo'\]: only sample_weight and groups are supported"),
    case("super-fit-groups-short",
         lambda: ens("super", folds=GroupKFold(3)).fit(X, Y, groups=np.arange(10)), ValueError,
         r"groups has 10 labels for 30 rows: pass one group label per row"),
    case("super-fit-GroupKFold-without-groups",
         lambda: ens("super", folds=GroupKFold(3)).fit(X, Y), GraphError,
         r"task 'layer-1.r1': SplitIndex\(splitter=GroupKFold.* could not split 30 rows: "
         r"The 'groups' parameter should not be None"),
    case("super-mp-fit-y-nan",
         lambda: ens("super", backend="multiprocessing", n_jobs=2).fit(X, NAN_Y), ValueError,
         r"Input y contains NaN"),
    # -- ensembles, fit: parameters (read at fit) --------------------------------------------
    *[case(f"super-folds-{f!r}", lambda f=f: ens("super", folds=f).fit(X, Y), ValueError,
           rf"folds={f!r}: pass an int >= 2, or a CV splitter such as KFold\(5\)")
      for f in (0, 1, "a", 2.5, None)],
    case("super-folds-31", lambda: ens("super", folds=31).fit(X, Y), GraphError,
         r"task 'layer-1.r1': FoldIndex\(folds=31\) needs at least 31 rows, got 30"),
    case("super-n_jobs-0", lambda: ens("super", n_jobs=0).fit(X, Y), ValueError,
         r"n_jobs=0: pass a positive number of workers"),
    case("super-backend-unknown", lambda: ens("super", backend="gpu").fit(X, Y), ValueError,
         r"unknown backend 'gpu': choose one of"),
    case("super-strategy-unknown", lambda: ens("super", strategy="random").fit(X, Y), ValueError,
         r"unknown strategy 'random'"),
    case("super-dtype-int64", lambda: ens("super", dtype=np.int64).fit(X, Y), ValueError,
         r"dtype=int64 is not supported for prediction buffers"),
    case("super-timeout--1", lambda: ens("super", timeout=-1).fit(X, Y), ValueError,
         r"timeout=-1: pass a positive number of seconds per node"),
    case("blend-test_size-0", lambda: ens("blend", test_size=0).fit(X, Y), GraphError,
         r"task 'layer-1.r1': BlendIndex\(test_size=0, .*needs at least 1 test row, got 0 of 30: "
         r"raise test_size"),
    case("blend-test_size-1.5", lambda: ens("blend", test_size=1.5).fit(X, Y), GraphError,
         r"BlendIndex\(test_size=1.5, .*needs test_size as an int count or a float in \(0, 1\)"),
    case("subsemble-partitions-0", lambda: ens("subsemble", partitions=0).fit(X, Y), GraphError,
         r"SubsetIndex\(partitions=0, folds=2\) needs an int partitions >= 1, got 0"),
    case("subsemble-partitions-20", lambda: ens("subsemble", partitions=20).fit(X, Y), GraphError,
         r"SubsetIndex\(partitions=20, folds=2\) needs at least partitions \* folds = 40 rows"),
    case("temporal-step_size-0", lambda: ens("temporal", step_size=0).fit(X, Y), GraphError,
         r"TemporalIndex\(step_size=0, .*needs an int step_size >= 1, got 0"),
    case("temporal-burn_in-30", lambda: ens("temporal", burn_in=30).fit(X, Y), GraphError,
         r"TemporalIndex\(.*burn_in=30.*needs an int burn_in in \[1, 30\), got 30 on 30 rows"),
    case("temporal-lag-10", lambda: ens("temporal", lag=10).fit(X, Y), GraphError,
         r"TemporalIndex\(.*lag=10\) needs an int lag in \[0, 10\), got 10 on 30 rows: lower lag"),
    # -- ensembles, building -----------------------------------------------------------------
    case("super-duplicate-names", lambda: SuperLearner().add([("a", Recorder()), ("a", Recorder())]),
         GraphError, r"layer-1: two estimators are named 'a': rename one"),
    case("super-add-no-fit", lambda: SuperLearner().add([object()]), TypeError,
         r"layer-1: object does not implement fit: pass scikit-learn estimators"),
    case("blend-add_meta-twice", lambda: ens("blend").add_meta(Recorder()), GraphError,
         r"a meta learner was already added \('recorder'\): an ensemble has one"),
    case("subsemble-add_meta-first", lambda: Subsemble().add_meta(Recorder()), GraphError,
         r"add_meta before add: add at least one layer of base learners"),
    case("temporal-fit-without-meta", lambda: TemporalEnsemble().add([Recorder()]).fit(X, Y),
         GraphError, r"TemporalEnsemble has no meta learner: call add_meta"),
    case("sequential-fit-without-layers", lambda: SequentialEnsemble().fit(X, Y), GraphError,
         r"SequentialEnsemble has no layers: call add\(estimators\) first"),
    case("sequential-kind-unknown", lambda: SequentialEnsemble().add("bag", [Recorder()]),
         GraphError, r"unknown layer kind 'bag': choose one of 'stack', 'blend'"),
    case("sequential-indexer-arg-unknown",
         lambda: SequentialEnsemble().add("stack", [Recorder()], test_size=0.5), TypeError,
         r"a 'stack' layer takes folds only, got \['test_size'\]"),
    case("super-set_params-unknown", lambda: ens("super").set_params(nope=1), ValueError,
         r"Invalid parameter 'nope' for estimator SuperLearner"),
    case("super-set_params-layer-unknown",
         lambda: ens("super").set_params(**{"layer-1__nope__alpha": 1}), ValueError,
         r"layer-1__nope__alpha: invalid parameter 'nope__alpha' for this layer \(its "
         r"estimators and preprocessing steps: 'r1', 'r2'\)"),
    case("super-set_params-learner-param-unknown",
         lambda: ens("super").set_params(**{"layer-1__r1__beta": 1}), ValueError,
         r"layer-1__r1__beta: Invalid parameter 'beta' for estimator Recorder"),
    # -- indexers, directly ----------------------------------------------------------------
    *[case(f"FoldIndex-{f!r}", lambda f=f: FoldIndex(f).fit(X), ValueError,
           rf"FoldIndex\(folds={re.escape(repr(f))}\) needs an int folds >= 2, got "
           rf"{re.escape(repr(f))} on 30 rows: pass folds >= 2")
      for f in (0, 1, "a", 2.5)],
    case("FoldIndex-31", lambda: FoldIndex(31).fit(X), ValueError,
         r"FoldIndex\(folds=31\) needs at least 31 rows, got 30: lower folds or pass more data"),
    case("FoldIndex-empty", lambda: FoldIndex(2).fit(X[:0]), ValueError,
         r"FoldIndex\(folds=2\) needs at least 1 row, got 0: pass non-empty data"),
    case("FoldIndex-generate-unfitted", lambda: FoldIndex(2).generate(), NotFittedError,
         r"This FoldIndex is not fitted yet: call fit\(X\) first"),
    *[case(f"BlendIndex-{t!r}", lambda t=t: BlendIndex(t).fit(X), ValueError,
           rf"BlendIndex\(test_size={t!r}, train_size=None\) needs {match}")
      for t, match in [(0, r"at least 1 test row, got 0 of 30: raise test_size"),
                       (1.5, r"test_size as an int count or a float in \(0, 1\), got 1.5"),
                       ("a", r"test_size as an int count or a float in \(0, 1\), got 'a'"),
                       (30, r"at least 1 train row, got 0 of 30: lower test_size")]],  # fmt: skip
    case("BlendIndex-train+test", lambda: BlendIndex(20, train_size=20).fit(X), ValueError,
         r"needs train \+ test <= 30 rows, got 20 \+ 20: lower train_size or test_size"),
    case("SubsetIndex-partitions-0", lambda: SubsetIndex(0).fit(X), ValueError,
         r"SubsetIndex\(partitions=0, folds=2\) needs an int partitions >= 1, got 0 on 30 rows"),
    case("SubsetIndex-folds-1", lambda: SubsetIndex(2, 1).fit(X), ValueError,
         r"SubsetIndex\(partitions=2, folds=1\) needs an int folds >= 2, got 1 on 30 rows"),
    case("SubsetIndex-too-many", lambda: SubsetIndex(10, 4).fit(X), ValueError,
         r"needs at least partitions \* folds = 40 rows, got 30: lower partitions or folds"),
    case("TemporalIndex-step_size-0", lambda: TemporalIndex(0).fit(X), ValueError,
         r"TemporalIndex\(step_size=0, .*\) needs an int step_size >= 1, got 0 on 30 rows"),
    case("TemporalIndex-burn_in-30", lambda: TemporalIndex(1, burn_in=30).fit(X), ValueError,
         r"needs an int burn_in in \[1, 30\), got 30 on 30 rows: lower burn_in"),
    case("TemporalIndex-lag-5", lambda: TemporalIndex(1, burn_in=5, lag=5).fit(X), ValueError,
         r"needs an int lag in \[0, 5\), got 5 on 30 rows: lower lag or raise burn_in"),
    case("TemporalIndex-window-0", lambda: TemporalIndex(1, window=0).fit(X), ValueError,
         r"needs an int window >= 1, got 0 on 30 rows"),
    case("SplitIndex-str", lambda: SplitIndex("kfold").fit(X), TypeError,
         r"'kfold' is neither a foldgraph indexer nor a CV splitter"),
    case("SplitIndex-object", lambda: SplitIndex(object()).fit(X), TypeError,
         r"object.* is neither a foldgraph indexer nor a CV splitter"),
    case("SplitIndex-class-not-instance", lambda: SplitIndex(KFold).fit(X), TypeError,
         r"KFold.* is neither a foldgraph indexer nor a CV splitter"),
    case("SplitIndex-KFold-31", lambda: SplitIndex(KFold(31)).fit(X), ValueError,
         r"SplitIndex\(splitter=KFold\(n_splits=31.* could not split 30 rows: Cannot have number "
         r"of splits n_splits=31 greater than the number of samples"),
    case("SplitIndex-GroupKFold-no-groups", lambda: SplitIndex(GroupKFold(3)).fit(X), ValueError,
         r"SplitIndex\(splitter=GroupKFold.* could not split 30 rows: The 'groups' parameter "
         r"should not be None"),
    case("SplitIndex-groups-short", lambda: SplitIndex(GroupKFold(3), groups=np.arange(10)).fit(X),
         ValueError, r"has 10 group labels for 30 rows: pass one group per row"),
    case("SplitIndex-ShuffleSplit", lambda: SplitIndex(ShuffleSplit(3, test_size=0.3,
         random_state=0)).fit(X), ValueError, r"ShuffleSplit.* split 1 predicts rows that earlier "
         r"splits predicted a different number of times \(row \d+\): each repeat must predict "
         r"every row once"),
    case("SplitIndex-row-left-out", lambda: SplitIndex(PredefinedSplit([0] * 10 + [-1] * 10
         + [1] * 10)).fit(X), ValueError, r"leaves row 10 out of every test set while predicting "
         r"later rows: rows never predicted must come first"),
    case("SplitIndex-StratifiedKFold-continuous-y",
         lambda: SplitIndex(StratifiedKFold(3)).fit(X, Y), ValueError,
         r"StratifiedKFold.* could not split 30 rows: Supported target types are"),
    # -- indexers, through a Learner ---------------------------------------------------------
    case("map-Learner-FoldIndex-0", lambda: seq().map(rec(indexer=FoldIndex(0)), "fit", X, Y),
         GraphError, r"task 'rec': FoldIndex\(folds=0\) needs an int folds >= 2"),
    case("map-Learner-BlendIndex-1.5",
         lambda: seq().map(rec(indexer=BlendIndex(1.5)), "fit", X, Y), GraphError,
         r"task 'rec': BlendIndex\(test_size=1.5, train_size=None\) needs test_size as an int"),
    case("stack-Learner-SubsetIndex-too-many",
         lambda: seq().stack([rec(indexer=SubsetIndex(10, 4))], "fit", X, Y), GraphError,
         r"task 'rec': SubsetIndex\(partitions=10, folds=4\) needs at least partitions \* folds"),
    case("map-mp-Learner-TemporalIndex-burn_in-30",
         lambda: mp().map(rec(indexer=TemporalIndex(1, burn_in=30)), "fit", X, Y), GraphError,
         r"task 'rec': TemporalIndex\(.*burn_in=30.* needs an int burn_in in \[1, 30\)"),
    case("map-Learner-SplitIndex-GroupKFold-no-groups",
         lambda: seq().map(rec(indexer=SplitIndex(GroupKFold(3))), "fit", X, Y), GraphError,
         r"task 'rec': SplitIndex\(splitter=GroupKFold.* could not split 30 rows"),
    case("map-Learner-SplitIndex-str",
         lambda: seq().map(rec(indexer=SplitIndex("kfold")), "fit", X, Y), TypeError,
         r"'kfold' is neither a foldgraph indexer nor a CV splitter"),
]
# fmt: on


@pytest.mark.parametrize("call, exc, match", CASES)
def test_refused_before_any_node_runs(call, exc, match):
    before = {p.pid for p in workers()}
    CALLS.clear()
    with pytest.raises(exc, match=match):
        call()
    assert CALLS == [], f"a node ran before the refusal: {CALLS}"
    assert not {p.pid for p in workers()} - before, "a worker process was started"


def test_the_table_covers_at_least_60_cases():
    assert len(CASES) >= 60
