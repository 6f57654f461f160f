"""Ensembles as scikit-learn estimators, compiled into one task graph.

The machinery (fit, predict, parameters, tags) is
:class:`~foldgraph.base.BaseEnsemble`; each class here sets the indexer of
its layers and documents its parameters. Fitted tasks are public:
``ens.layers_[0]["ridge"]`` is the Learner of estimator ``ridge`` in the first
layer, with its ``estimator_`` and ``fold_estimators_``.
"""

from __future__ import annotations

import numpy as np

from foldgraph.errors import GraphError

from .base import BaseEnsemble
from .layerspec import KINDS

__all__ = ["SuperLearner", "BlendEnsemble", "Subsemble", "TemporalEnsemble",
           "SequentialEnsemble"]  # fmt: skip


_COMMON_DOC = """
    shuffle : bool, default=False
        Shuffle before cutting folds (``KFold(shuffle=True)`` or
        ``StratifiedKFold(shuffle=True)`` for an int ``folds``; blend and
        subsemble layers cut a shuffled copy of the rows). Every returned
        array stays in the user's row order.
    random_state : int, RandomState or None, default=None
        Seed of the shuffle, as ``sklearn.utils.check_random_state`` accepts;
        an int gives the folds of ``KFold(shuffle=True, random_state=int)``.
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
    dtype : np.float64 or np.float32, default=np.float64
        Of the prediction buffers, hence of ``transform`` and
        ``fit_transform_``: float64 keeps scikit-learn's precision; float32
        halves the buffers' memory but keeps ~7 significant digits and
        overflows beyond ~3.4e38 (a node that overflows fails, naming it).
        Ignored when ``backend`` is a ParallelProcessing (its own ``dtype``).
    timeout : float, optional
        Seconds a node may run: a slower node fails with ``NodeTimeout``
        naming it (on multiprocessing its worker is killed and replaced;
        in-process backends return at once and leave the thread behind).
        Ignored when ``backend`` is a ParallelProcessing (its own ``timeout``).
    refit : bool, default=True
        True: every base learner is also fitted on all rows, and that fit
        predicts new data. False (bagged stacking, AutoGluon's default): no
        full-data fits (the fit's longest nodes are often these); new data
        is predicted by the mean of the fold models (all of them with a
        repeated splitter). Not on the dask backend yet.
"""


class SuperLearner(BaseEnsemble):
    __doc__ = """Stacking with K-fold out-of-fold predictions (FoldIndex).

    Parameters
    ----------
    folds : int or CV splitter, default=2
        Folds of every layer added with :meth:`add`, read at every fit: an
        int means ``StratifiedKFold(folds)`` for a classifier and
        ``KFold(folds)`` for a regressor, as in scikit-learn's stacking; or
        any splitter (``GroupKFold`` with ``fit(X, y, groups=...)``,
        ``TimeSeriesSplit``, ``PredefinedSplit``...) or foldgraph indexer.""" + _COMMON_DOC + """
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
                 layers=None, cache=None,
                 dtype=np.float64, timeout=None, refit=True):  # fmt: skip
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
        self.dtype = dtype
        self.timeout = timeout
        self.refit = refit

    def _indexer_args(self):
        return {"folds": self.folds}


class BlendEnsemble(BaseEnsemble):
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
                 layers=None, cache=None,
                 dtype=np.float64, timeout=None, refit=True):  # fmt: skip
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
        self.dtype = dtype
        self.timeout = timeout
        self.refit = refit

    def _indexer_args(self):
        return {"test_size": self.test_size}


class Subsemble(BaseEnsemble):
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
                 strategy="fifo", verbose=False, layers=None, cache=None,
                 dtype=np.float64, timeout=None, refit=True):  # fmt: skip
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
        self.dtype = dtype
        self.timeout = timeout
        self.refit = refit

    def _indexer_args(self):
        return {"partitions": self.partitions, "folds": self.folds,
                "partition_estimator": self.partition_estimator}  # fmt: skip


class TemporalEnsemble(BaseEnsemble):
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
                 layers=None, cache=None,
                 dtype=np.float64, timeout=None, refit=True):  # fmt: skip
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
        self.dtype = dtype
        self.timeout = timeout
        self.refit = refit

    shuffle = False
    random_state = None

    def _indexer_args(self):
        return {"step_size": self.step_size, "burn_in": self.burn_in,
                "window": self.window, "lag": self.lag}  # fmt: skip


class SequentialEnsemble(BaseEnsemble):
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
                 n_jobs=-1, strategy="fifo", verbose=False, layers=None, cache=None,
                 dtype=np.float64, timeout=None, refit=True):  # fmt: skip
        self.shuffle = shuffle
        self.random_state = random_state
        self.scorer = scorer
        self.backend = backend
        self.n_jobs = n_jobs
        self.strategy = strategy
        self.verbose = verbose
        self.layers = layers
        self.cache = cache
        self.dtype = dtype
        self.timeout = timeout
        self.refit = refit

    def add(self, kind, estimators, preprocessing=None, proba=False,
            propagate_features=None, **indexer_args):  # fmt: skip
        """Add a layer of ``kind`` (see the class docstring); returns self."""
        if kind not in KINDS:
            raise GraphError(
                f"unknown layer kind {kind!r}: choose one of {', '.join(map(repr, KINDS))}"
            )
        return self._add(kind, estimators, preprocessing, proba, propagate_features,
                         indexer_args)  # fmt: skip
