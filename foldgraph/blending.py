"""Ensembles whose base learners are fitted on part of the rows.

:class:`BlendEnsemble` fits them on the head of the rows and stacks their
predictions of the tail; :class:`Subsemble` fits one per partition of the
rows. Both are also importable from :mod:`foldgraph.ensembles`.
"""

from __future__ import annotations

import numpy as np

from .base import BaseEnsemble

__all__ = ["BlendEnsemble", "Subsemble"]


class BlendEnsemble(BaseEnsemble):
    """Blending: fit on the head of the rows, predict the tail (BlendIndex).

    The meta learner is fitted on the ``test_size`` last rows only.

    Parameters
    ----------
    test_size : int or float, default=0.5
        Rows the base learners predict, at the end of the data: a count, or
        a fraction in (0, 1) of the rows (floored); they are fitted on the
        rows before.
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
    backend : str or ParallelProcessing, default="auto"
        A backend name (``"auto"``: sequential or worker processes, picked
        per fit and predict from the estimated work, see
        :mod:`foldgraph.engine.auto`; ``"threading"``, ``"sequential"``,
        ``"multiprocessing"`` or ``"dask"``): each fit and predict runs on a
        new manager with ``n_jobs``, ``strategy`` and ``verbose``, cleared
        afterwards. Or a :class:`~foldgraph.ParallelProcessing`, used as is
        (its own workers, strategy and options; e.g. one with a dask
        ``client=``) and never cleared by the ensemble: its owner calls
        ``clear()``.
    n_jobs : int, default=-1
        Workers of a named ``backend``; -1 means every CPU this process may use.
    strategy : str or callable, default="critical_path"
        Order of the ready nodes on a named ``backend``: ``"fifo"``,
        ``"lpt"``, ``"critical_path"`` or ``fn(ready, graph, state) -> keys``.
    verbose : bool, default=False
        Show a progress bar over the nodes (a named ``backend``).
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
    memory_limit : None, int or str, optional
        Bytes a fit or predict may hold (``"6GB"``, ``"75%"`` of the machine's):
        nodes start only while their ``memory`` estimates fit beside the live
        buffers (see :class:`~foldgraph.engine.ParallelProcessing`). Ignored when
        ``backend`` is a ParallelProcessing (its own ``memory_limit``).

    Attributes
    ----------
    layers_ : list of dict
        The fitted tasks, one ``{name: Learner}`` per layer, the meta layer
        last; each Learner has its ``estimator_``, ``fold_estimators_`` and
        ``cv_results_``.
    layer_names_ : list of str
        The layers' names, as in ``get_params``: ``"layer-1"``, ..., ``"meta"``.
    meta_ : Learner
        The meta learner (the one task of ``layers_[-1]``).
    classes_ : ndarray of shape (n_classes,) or None
        A classifier's class labels (None for a multi-output target).
    n_features_in_ : int
        Number of features seen by ``fit``.
    feature_names_in_ : ndarray of str
        Column names of ``X`` seen by ``fit``, if it had any (a DataFrame).
    feature_dtypes_ : dict of str to str
        Dtype of each column of a DataFrame ``X`` seen by ``fit``; the
        learners get a DataFrame at predict too.
    fit_transform_ : ndarray of shape (n_meta_rows, n_base_outputs)
        The last base layer's out-of-fold predictions, which the meta
        learner was fitted on, in the user's row order (not pickled).
    meta_rows_ : ndarray of int
        Which rows of ``X`` those are: all of them unless a blend layer or a
        splitter leaves rows out.
    graph_ : TaskGraph
        The fit's task graph, without its data.
    trace_ : Trace
        What the last fit ran: one event per node that ran, and the nodes
        restored from the cache.
    node_memory_ : dict
        With ``cache=None``: the last fit's fitted nodes by content
        fingerprint (the node cache of the ensemble itself); the next fit
        reuses those whose estimator and inputs did not change. Not pickled.
    data : FitSummary
        Per learner: fold score, fit and predict time (mean and std).

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

    def __init__(
        self,
        test_size=0.5,
        shuffle=False,
        random_state=None,
        scorer=None,
        backend="auto",
        n_jobs=-1,
        strategy="critical_path",
        verbose=False,
        layers=None,
        cache=None,
        dtype=np.float64,
        timeout=None,
        refit=True,
        memory_limit=None,
    ):
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
        self.memory_limit = memory_limit
        self.refit = refit

    def _indexer_args(self):
        return {"test_size": self.test_size}


class Subsemble(BaseEnsemble):
    """Subsemble: one estimator per data partition, stacked (SubsetIndex).

    Parameters
    ----------
    partitions : int, default=2
        Number of partitions of the rows, >= 1: contiguous blocks, or the
        clusters asked of ``partition_estimator``. Each base estimator is
        fitted on each partition.
    partition_estimator : clusterer, optional
        Partition rows by its labels (ClusteredSubsetIndex) instead of
        contiguous blocks.
    folds : int, default=2
        Folds within each partition, >= 2.
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
    backend : str or ParallelProcessing, default="auto"
        A backend name (``"auto"``: sequential or worker processes, picked
        per fit and predict from the estimated work, see
        :mod:`foldgraph.engine.auto`; ``"threading"``, ``"sequential"``,
        ``"multiprocessing"`` or ``"dask"``): each fit and predict runs on a
        new manager with ``n_jobs``, ``strategy`` and ``verbose``, cleared
        afterwards. Or a :class:`~foldgraph.ParallelProcessing`, used as is
        (its own workers, strategy and options; e.g. one with a dask
        ``client=``) and never cleared by the ensemble: its owner calls
        ``clear()``.
    n_jobs : int, default=-1
        Workers of a named ``backend``; -1 means every CPU this process may use.
    strategy : str or callable, default="critical_path"
        Order of the ready nodes on a named ``backend``: ``"fifo"``,
        ``"lpt"``, ``"critical_path"`` or ``fn(ready, graph, state) -> keys``.
    verbose : bool, default=False
        Show a progress bar over the nodes (a named ``backend``).
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
    memory_limit : None, int or str, optional
        Bytes a fit or predict may hold (``"6GB"``, ``"75%"`` of the machine's):
        nodes start only while their ``memory`` estimates fit beside the live
        buffers (see :class:`~foldgraph.engine.ParallelProcessing`). Ignored when
        ``backend`` is a ParallelProcessing (its own ``memory_limit``).

    Attributes
    ----------
    layers_ : list of dict
        The fitted tasks, one ``{name: Learner}`` per layer, the meta layer
        last; each Learner has its ``estimator_``, ``fold_estimators_`` and
        ``cv_results_``.
    layer_names_ : list of str
        The layers' names, as in ``get_params``: ``"layer-1"``, ..., ``"meta"``.
    meta_ : Learner
        The meta learner (the one task of ``layers_[-1]``).
    classes_ : ndarray of shape (n_classes,) or None
        A classifier's class labels (None for a multi-output target).
    n_features_in_ : int
        Number of features seen by ``fit``.
    feature_names_in_ : ndarray of str
        Column names of ``X`` seen by ``fit``, if it had any (a DataFrame).
    feature_dtypes_ : dict of str to str
        Dtype of each column of a DataFrame ``X`` seen by ``fit``; the
        learners get a DataFrame at predict too.
    fit_transform_ : ndarray of shape (n_meta_rows, n_base_outputs)
        The last base layer's out-of-fold predictions, which the meta
        learner was fitted on, in the user's row order (not pickled).
    meta_rows_ : ndarray of int
        Which rows of ``X`` those are: all of them unless a blend layer or a
        splitter leaves rows out.
    graph_ : TaskGraph
        The fit's task graph, without its data.
    trace_ : Trace
        What the last fit ran: one event per node that ran, and the nodes
        restored from the cache.
    node_memory_ : dict
        With ``cache=None``: the last fit's fitted nodes by content
        fingerprint (the node cache of the ensemble itself); the next fit
        reuses those whose estimator and inputs did not change. Not pickled.
    data : FitSummary
        Per learner: fold score, fit and predict time (mean and std).

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

    def __init__(
        self,
        partitions=2,
        partition_estimator=None,
        folds=2,
        shuffle=False,
        random_state=None,
        scorer=None,
        backend="auto",
        n_jobs=-1,
        strategy="critical_path",
        verbose=False,
        layers=None,
        cache=None,
        dtype=np.float64,
        timeout=None,
        refit=True,
        memory_limit=None,
    ):
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
        self.memory_limit = memory_limit
        self.refit = refit

    def _indexer_args(self):
        return {
            "partitions": self.partitions,
            "folds": self.folds,
            "partition_estimator": self.partition_estimator,
        }
