"""The time-series ensemble: every fold trains on the past only.

:class:`TemporalEnsemble` is also importable from :mod:`foldgraph.ensembles`.
"""

from __future__ import annotations

import numpy as np

from .base import BaseEnsemble

__all__ = ["TemporalEnsemble"]


class TemporalEnsemble(BaseEnsemble):
    """Stacking for time series: each fold trains on the past only (TemporalIndex).

    Rows are never shuffled: there is no ``shuffle`` or ``random_state``.

    Parameters
    ----------
    step_size : int, default=1
        Rows each fold predicts, >= 1.
    burn_in : int, optional
        Leading rows never predicted, the first fold's training rows
        (``1 <= burn_in < n``); default ``step_size``.
    window : int, optional
        Train each fold on at most this many of the latest past rows;
        default all of them.
    lag : int, default=0
        Rows skipped between a fold's training rows and the rows it
        predicts, ``0 <= lag < burn_in``.
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
    >>> ens = TemporalEnsemble(step_size=50, burn_in=50, backend="sequential")
    >>> ens = ens.add([Ridge()]).add_meta(LinearRegression()).fit(X, y)
    >>> ens.layers_[0]["ridge"].cv_results_["fold"]  # rows 50-99, 100-149, 150-199
    [0, 1, 2]
    """

    _kind = "temporal"

    def __init__(
        self,
        step_size=1,
        burn_in=None,
        window=None,
        lag=0,
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
        self.memory_limit = memory_limit
        self.refit = refit

    shuffle = False
    random_state = None

    def _indexer_args(self):
        return {
            "step_size": self.step_size,
            "burn_in": self.burn_in,
            "window": self.window,
            "lag": self.lag,
        }
