"""Ensembles as scikit-learn estimators, compiled into one task graph.

Each ``add`` records a :class:`~foldgraph.layerspec.LayerSpec`; ``fit``
turns the layers into tasks and the tasks into one graph: layer ``i`` reads
the output buffer of layer ``i - 1`` (``X`` for the first), the meta layer
(``add_meta``, a full-data fit) reads the last one. The graph runs on a
:class:`~foldgraph.engine.ParallelProcessing` with the ensemble's backend,
``n_jobs`` and strategy. Fitted tasks are public: ``ens.layers_[0]["ridge"]``
is the Learner of estimator ``ridge`` in the first layer, with its
``estimator_`` and ``fold_estimators_``.

Classification: labels of any type are encoded once (``classes_``); base
learners with ``proba=True`` stack one column per class, the same columns on
every fold; ``predict_proba`` is always the meta learner's probabilities.
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import ClassifierTags, RegressorTags, TransformerTags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d, validate_data

from foldgraph.engine import ParallelProcessing
from foldgraph.errors import GraphError
from foldgraph.graph import TaskGraph, add_layer

from .layerspec import KINDS, LayerSpec
from .summary import FitSummary

__all__ = ["SuperLearner", "BlendEnsemble", "Subsemble", "TemporalEnsemble",
           "SequentialEnsemble"]  # fmt: skip

META = "meta"


def _as_array(X):
    """``(array, feature names or None)``; DataFrames keep their column names."""
    names = getattr(X, "columns", None)
    if names is not None:
        names = np.asarray([str(c) for c in names], dtype=object)
    if hasattr(X, "to_numpy"):
        X = X.to_numpy()
    X = np.asarray(X)
    if X.dtype == object:
        X = X.astype(float)
    return X, names


class _Ensemble(BaseEstimator):
    """Shared machinery; subclasses set ``_kind`` and the indexer arguments."""

    _kind = "stack"

    # -- building -----------------------------------------------------------
    def _indexer_args(self) -> dict:
        return {}

    def _add(self, kind, estimators, preprocessing, proba, propagate_features, indexer_args):
        layers = list(self.layers or [])
        if layers and layers[-1].meta:
            raise GraphError("a meta learner was already added: add layers before add_meta")
        spec = LayerSpec(kind, estimators, preprocessing, proba, propagate_features,
                         {**self._indexer_args(), **indexer_args})  # fmt: skip
        spec.make_indexer()  # an unknown kind or bad indexer argument fails here
        spec._flat()  # so do estimators without fit and duplicate names
        self.layers = layers + [spec]
        return self

    def add(self, estimators, preprocessing=None, proba=False, propagate_features=None,
            **indexer_args):  # fmt: skip
        """Add a layer of base learners; returns self.

        Parameters
        ----------
        estimators : list or dict of lists
            Estimators, ``(name, estimator)`` pairs, or ``{case: [...]}``.
        preprocessing : list or dict of lists, optional
            Transformers applied before the estimators (per case for a dict).
        proba : bool, default=False
            Stack class probabilities (one column per class).
        propagate_features : list of int, optional
            Input columns copied beside the predictions for the next layer.
        **indexer_args
            Override the ensemble's indexer arguments for this layer.
        """
        return self._add(self._kind, estimators, preprocessing, proba, propagate_features,
                         indexer_args)  # fmt: skip

    def add_meta(self, estimator, proba=False):
        """Add the meta learner, fitted on all rows of the last layer's output."""
        if not self.layers:
            raise GraphError("add_meta before add: add at least one layer of base learners")
        spec = LayerSpec("full", [estimator], None, proba, None, None, meta=True)
        self.layers = list(self.layers) + [spec]
        return self

    def _specs(self) -> tuple[list, LayerSpec | None]:
        layers = list(self.layers or [])
        if not layers:
            raise GraphError(f"{type(self).__name__} has no layers: call add(estimators) first")
        if layers[-1].meta:
            return layers[:-1], layers[-1]
        return layers, None

    def _layer_names(self, n_base: int, meta: bool) -> list[str]:
        return [f"layer-{i + 1}" for i in range(n_base)] + ([META] if meta else [])

    def graph(self, job: str = "fit", X=None, y=None) -> TaskGraph:
        """The ensemble's task graph for ``job`` (after fit, X may be omitted for "fit")."""
        if X is None:
            if job == "fit" and getattr(self, "graph_", None) is not None:
                return self.graph_
            raise GraphError(f"graph({job!r}) needs X (and y for 'fit')")
        X, _ = _as_array(X)
        if job == "fit":
            return self._build("fit", X, self._encode(np.asarray(y)) if y is not None else y)[0]
        self._check_fitted()
        return self._build(job, X, None, tasks=self._tasks)[0]

    def _build(self, job, X, y, tasks=None, upto=None, sample_weight=None):
        base, meta = self._specs()
        specs = base + ([meta] if meta is not None else [])
        names = self._layer_names(len(base), meta is not None)
        if upto is not None:
            specs, names = specs[:upto], names[:upto]
        graph = TaskGraph(job, X=X, y=y, sample_weight=sample_weight)
        made, stream = [], "X"
        for i, (spec, name) in enumerate(zip(specs, names)):
            layer_tasks = tasks[i] if tasks is not None else spec.make_tasks(name, self.scorer)
            stream = add_layer(graph, name, layer_tasks, [t.name for t in layer_tasks],
                               input=stream, propagate_features=spec.propagate_features)
            made.append(layer_tasks)
        return graph.validate(), made

    # -- fitting and predicting ------------------------------------------------
    def _manager(self):
        """The manager a fit or predict runs on, as a context manager.

        ``backend`` itself when it is a ParallelProcessing (the user's: left
        open, e.g. with its dask client), else a new one, cleared on exit.
        """
        if isinstance(self.backend, ParallelProcessing):
            self._node_store()  # the manager's own cache= applies; keep the node memory set
            return nullcontext(self.backend)
        return ParallelProcessing(self.backend, n_jobs=self.n_jobs, strategy=self.strategy,
                                  verbose=bool(self.verbose), cache=self._node_store())  # fmt: skip

    def _node_store(self):
        """Where fitted nodes are kept: ``cache`` if given, else the in-memory node memory."""
        if self.cache is False:
            return None
        if self.cache is not None:
            return self.cache
        if getattr(self, "_node_memory", None) is None:
            self._node_memory = {}
        return self._node_memory

    def _encode(self, y):
        if not self._is_classifier():
            return y
        if not hasattr(self, "_encoder") or getattr(self, "_encoder_for", None) is not y:
            self._encoder = LabelEncoder().fit(y)
            self._encoder_for = y
        return self._encoder.transform(y)

    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit every layer as one task graph; returns self.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
            Sliced per fold and passed to every estimator's ``fit``.
        **fit_params
            Not supported: raises TypeError naming them.
        """
        if fit_params:
            raise TypeError(
                f"fit() got fit parameters {sorted(fit_params)}: only sample_weight is "
                f"routed to the estimators"
            )
        base, meta = self._specs()
        if meta is None:
            raise GraphError(f"{type(self).__name__} has no meta learner: call add_meta(est)")
        X, y = self._validate_fit(X, y)
        names = getattr(self, "feature_names_in_", None)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=float)
            if sample_weight.shape != (len(y),) or not np.any(sample_weight):
                raise ValueError(
                    f"sample_weight must have one non-negative weight per row, not all zero "
                    f"(got shape {sample_weight.shape})"
                )
        if self._is_classifier():
            self._encoder = LabelEncoder().fit(y)
            self.classes_ = self._encoder.classes_
            y = self._encoder.transform(y)
        if self.shuffle and self._kind != "temporal":
            order = np.random.RandomState(self.random_state).permutation(len(y))
            X, y = X[order], y[order]
            sample_weight = None if sample_weight is None else np.asarray(sample_weight)[order]
        graph, tasks = self._build("fit", X, y, sample_weight=sample_weight)
        last = self._layer_names(len(base), True)[-2]
        with self._manager() as pp:
            self.fit_transform_ = pp.run(graph, X, y, return_preds=[last],
                                         sample_weight=sample_weight)[0]  # fmt: skip
            self.trace_ = pp.trace
            if self.cache is None:  # remember this fit's nodes only
                memory = self._node_memory
                self._node_memory = {fp: memory[fp] for fp in pp.fingerprints.values()
                                     if fp is not None and fp in memory}  # fmt: skip
        self._tasks = tasks
        names_ = self._layer_names(len(base), True)
        self.layers_ = [{t.name.split(".", 1)[1]: t for t in layer} for layer in tasks]
        self.layer_names_ = names_
        self.meta_ = next(iter(self.layers_[-1].values()))
        self.graph_ = graph
        if names is not None:
            self.feature_names_in_ = names
        return self

    def _validate_fit(self, X, y):
        """Check X and y the scikit-learn way; NaN and inf in X are the estimators' call."""
        if not hasattr(X, "shape"):
            X = np.asarray(X)
        X, y = validate_data(self, X, y, reset=True, ensure_all_finite=False,
                             ensure_min_samples=2, multi_output=True, y_numeric=False,
                             dtype=None, accept_sparse="csr")  # fmt: skip
        if X.dtype == object:
            X = X.astype(float)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)  # a column vector: warn and ravel, like sklearn
        if self._is_classifier():
            check_classification_targets(y)
            if len(np.unique(y)) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes in y, got 1 class"
                )
        return X, y

    def _check_fitted(self):
        if not hasattr(self, "layers_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet: call fit(X, y) first"
            )

    def _base_output(self, X) -> np.ndarray:
        """The last base layer's predictions for new rows: the meta learner's input."""
        self._check_fitted()
        X = validate_data(self, X, reset=False, ensure_all_finite=False, dtype=None,
                          accept_sparse="csr")  # fmt: skip
        if X.dtype == object:
            X = X.astype(float)
        graph, _ = self._build("predict", X, None, tasks=self._tasks, upto=-1)
        with self._manager() as pp:
            return pp.run(graph, X, return_preds=[self.layer_names_[-2]])[0]

    def transform(self, X) -> np.ndarray:
        """The prediction matrix the meta learner reads, for new rows (float32)."""
        return self._base_output(X)

    def predict(self, X) -> np.ndarray:
        """Predictions of the meta learner on the base layers' predictions."""
        self._check_fitted()
        pred = self.meta_.estimator_.predict(self._base_output(X))
        if self._is_classifier():
            return self._encoder.inverse_transform(np.asarray(pred).astype(int))
        return pred

    def fit_transform(self, X, y, sample_weight=None, **fit_params) -> np.ndarray:
        """Fit, and return the out-of-fold predictions of the last base layer.

        These are what the meta learner was trained on (no leakage); unlike
        ``fit(X, y).transform(X)``, which uses the full-data estimators.
        """
        return self.fit(X, y, sample_weight=sample_weight, **fit_params).fit_transform_

    def _meta_has_proba(self) -> bool:
        try:
            _, meta = self._specs()
        except GraphError:
            return False
        return meta is not None and all(hasattr(e, "predict_proba") for _, e in meta._flat())

    @available_if(_meta_has_proba)
    def predict_proba(self, X) -> np.ndarray:
        """The meta learner's class probabilities (columns follow ``classes_``)."""
        self._check_fitted()
        return self.meta_.estimator_.predict_proba(self._base_output(X))

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy for a classifier, R^2 for a regressor."""
        metric = accuracy_score if self._is_classifier() else r2_score
        return metric(y, self.predict(X), sample_weight=sample_weight)

    @property
    def data(self) -> FitSummary:
        """Fit summary per learner: fold score, fit and predict time (mean and std)."""
        self._check_fitted()
        return FitSummary.from_layers(self.layer_names_, self.layers_)

    # -- scikit-learn tags ---------------------------------------------------------
    def _is_classifier(self) -> bool:
        if not isinstance(self.layers, (list, tuple)):
            return False
        layers = list(self.layers)
        ests = [e for spec in layers[-1:] for _, e in spec._flat()]
        return bool(ests) and is_classifier(ests[0])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags(preserves_dtype=["float32"])
        tags.input_tags.sparse = True  # CSR: rows sliced in place, shared with workers
        if self._is_classifier():
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
        else:
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
        return tags

    def get_params(self, deep: bool = True) -> dict:
        params = super().get_params(deep=False)
        if deep:
            ok = isinstance(self.layers, (list, tuple)) and all(
                isinstance(spec, LayerSpec) for spec in self.layers
            )
            base, meta = self._specs() if ok and self.layers else ([], None)
            names = self._layer_names(len(base), meta is not None)
            for name, spec in zip(names, base + ([meta] if meta else [])):
                params[name] = spec
                params.update({f"{name}__{k}": v for k, v in spec.get_params(deep=True).items()})
        return params


_COMMON_DOC = """
    shuffle : bool, default=False
        Shuffle the rows (with ``random_state``) before cutting folds.
    random_state : int, optional
    scorer : callable, optional
        ``scorer(y_true, y_pred)`` applied to every fold's out-of-fold
        predictions; see :attr:`data`.
    backend : {"threading", "sequential", "multiprocessing", "dask"} or ParallelProcessing, default="threading"
        A backend name: each fit and predict runs on a new manager with
        ``n_jobs``, ``strategy`` and ``verbose``, cleared afterwards. Or a
        :class:`~foldgraph.ParallelProcessing`, used as is (its own workers,
        strategy and options; e.g. one with a dask ``client=``) and never
        cleared by the ensemble: its owner calls ``clear()``.
    n_jobs : int, default=-1
    strategy : str or callable, default="fifo"
    verbose : bool, default=False
    layers : list of LayerSpec, optional
        Set by :meth:`add` and :meth:`add_meta` (kept by ``clone``).
    cache : None, False, str, Path or NodeCache, default=None
        Reuse fitted nodes whose content did not change (see "Incremental
        fitting" in the docs). ``None``: the fitted ensemble remembers its
        nodes in memory, so ``set_params`` on one learner then ``fit`` on the
        same data refits only that learner and what reads it; a directory
        path or a :class:`~foldgraph.NodeCache`: nodes are kept on disk and
        shared with other ensembles and processes; ``False``: every fit runs
        every node.
"""


class SuperLearner(_Ensemble):
    __doc__ = """Stacking with K-fold out-of-fold predictions (FoldIndex).

    Parameters
    ----------
    folds : int, default=2
        Folds of every layer added with :meth:`add`.""" + _COMMON_DOC + """
    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> X, y = make_regression(200, 5, noise=1.0, random_state=0)
    >>> ens = SuperLearner(folds=3, random_state=0, backend="sequential")
    >>> ens = ens.add([Ridge(), DecisionTreeRegressor(max_depth=3)]).add_meta(LinearRegression())
    >>> ens.fit(X, y).predict(X[:2]).shape
    (2,)
    >>> sorted(ens.layers_[0])
    ['decisiontreeregressor', 'ridge']
    """

    _kind = "stack"

    def __init__(self, folds=2, shuffle=False, random_state=None, scorer=None,
                 backend="threading", n_jobs=-1, strategy="fifo", verbose=False,
                 layers=None, cache=None):  # fmt: skip
        self.folds = folds
        self.shuffle = shuffle
        self.random_state = random_state
        self.scorer = scorer
        self.backend = backend
        self.n_jobs = n_jobs
        self.strategy = strategy
        self.verbose = verbose
        self.layers = layers
        self.cache = cache

    def _indexer_args(self):
        return {"folds": self.folds}


class BlendEnsemble(_Ensemble):
    __doc__ = """Blending: fit on the head of the rows, predict the tail (BlendIndex).

    The meta learner is fitted on the ``test_size`` last rows only.

    Parameters
    ----------
    test_size : int or float, default=0.5""" + _COMMON_DOC + """
    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> X, y = make_regression(200, 5, noise=1.0, random_state=0)
    >>> ens = BlendEnsemble(test_size=0.4, backend="sequential")
    >>> ens = ens.add([Ridge()]).add_meta(LinearRegression())
    >>> ens.fit(X, y).predict(X[:2]).shape
    (2,)
    """

    _kind = "blend"

    def __init__(self, test_size=0.5, shuffle=False, random_state=None, scorer=None,
                 backend="threading", n_jobs=-1, strategy="fifo", verbose=False,
                 layers=None, cache=None):  # fmt: skip
        self.test_size = test_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.scorer = scorer
        self.backend = backend
        self.n_jobs = n_jobs
        self.strategy = strategy
        self.verbose = verbose
        self.layers = layers
        self.cache = cache

    def _indexer_args(self):
        return {"test_size": self.test_size}


class Subsemble(_Ensemble):
    __doc__ = """Subsemble: one estimator per data partition, stacked (SubsetIndex).

    Parameters
    ----------
    partitions : int, default=2
    partition_estimator : clusterer, optional
        Partition rows by its labels (ClusteredSubsetIndex) instead of
        contiguous blocks.
    folds : int, default=2""" + _COMMON_DOC + """
    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> X, y = make_regression(200, 5, noise=1.0, random_state=0)
    >>> ens = Subsemble(partitions=2, folds=2, backend="sequential")
    >>> ens = ens.add([Ridge()]).add_meta(LinearRegression()).fit(X, y)
    >>> ens.transform(X[:3]).shape  # one column per partition's Ridge
    (3, 2)
    """

    _kind = "subsemble"

    def __init__(self, partitions=2, partition_estimator=None, folds=2, shuffle=False,
                 random_state=None, scorer=None, backend="threading", n_jobs=-1,
                 strategy="fifo", verbose=False, layers=None, cache=None):  # fmt: skip
        self.partitions = partitions
        self.partition_estimator = partition_estimator
        self.folds = folds
        self.shuffle = shuffle
        self.random_state = random_state
        self.scorer = scorer
        self.backend = backend
        self.n_jobs = n_jobs
        self.strategy = strategy
        self.verbose = verbose
        self.layers = layers
        self.cache = cache

    def _indexer_args(self):
        return {"partitions": self.partitions, "folds": self.folds,
                "partition_estimator": self.partition_estimator}  # fmt: skip


class TemporalEnsemble(_Ensemble):
    __doc__ = """Stacking for time series: each fold trains on the past only (TemporalIndex).

    Rows are never shuffled.

    Parameters
    ----------
    step_size : int, default=1
    burn_in : int, optional
    window : int, optional
    lag : int, default=0""" + _COMMON_DOC + """
    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> X, y = make_regression(200, 5, noise=1.0, random_state=0)
    >>> ens = TemporalEnsemble(step_size=50, burn_in=50, backend="sequential")
    >>> ens = ens.add([Ridge()]).add_meta(LinearRegression()).fit(X, y)
    >>> ens.layers_[0]["ridge"].cv_results_["fold"]  # rows 50-99, 100-149, 150-199
    [0, 1, 2]
    """

    _kind = "temporal"

    def __init__(self, step_size=1, burn_in=None, window=None, lag=0, scorer=None,
                 backend="threading", n_jobs=-1, strategy="fifo", verbose=False,
                 layers=None, cache=None):  # fmt: skip
        self.step_size = step_size
        self.burn_in = burn_in
        self.window = window
        self.lag = lag
        self.scorer = scorer
        self.backend = backend
        self.n_jobs = n_jobs
        self.strategy = strategy
        self.verbose = verbose
        self.layers = layers
        self.cache = cache

    shuffle = False
    random_state = None

    def _indexer_args(self):
        return {"step_size": self.step_size, "burn_in": self.burn_in,
                "window": self.window, "lag": self.lag}  # fmt: skip


class SequentialEnsemble(_Ensemble):
    __doc__ = """Layers of any kind, stacked: ``add(kind, estimators, ...)``.

    ``kind`` is one of "stack", "blend", "subsemble", "temporal", "full";
    indexer arguments go by name (``folds=3``, ``test_size=0.3``,
    ``partitions=2``, ``partition_estimator=KMeans(2)``, ``step_size=5``...).
    """ + _COMMON_DOC + """
    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> X, y = make_regression(200, 5, noise=1.0, random_state=0)
    >>> ens = SequentialEnsemble(backend="sequential").add("blend", [Ridge()], test_size=0.5)
    >>> ens = ens.add("stack", [Ridge(), DecisionTreeRegressor(max_depth=3)], folds=3)
    >>> ens = ens.add_meta(LinearRegression()).fit(X, y)
    >>> [sorted(layer) for layer in ens.layers_]
    [['ridge'], ['decisiontreeregressor', 'ridge'], ['linearregression']]
    """

    _kind = "stack"

    def __init__(self, shuffle=False, random_state=None, scorer=None, backend="threading",
                 n_jobs=-1, strategy="fifo", verbose=False, layers=None, cache=None):  # fmt: skip
        self.shuffle = shuffle
        self.random_state = random_state
        self.scorer = scorer
        self.backend = backend
        self.n_jobs = n_jobs
        self.strategy = strategy
        self.verbose = verbose
        self.layers = layers
        self.cache = cache

    def add(self, kind, estimators, preprocessing=None, proba=False,
            propagate_features=None, **indexer_args):  # fmt: skip
        """Add a layer of ``kind`` (see the class docstring); returns self."""
        if kind not in KINDS:
            raise GraphError(
                f"unknown layer kind {kind!r}: choose one of {', '.join(map(repr, KINDS))}"
            )
        return self._add(kind, estimators, preprocessing, proba, propagate_features,
                         indexer_args)  # fmt: skip
