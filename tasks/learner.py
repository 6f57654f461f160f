"""Learner and Transformer: an estimator template, an indexer and a name.

A task only stores its arguments (scikit-learn's constructor contract: no
validation in ``__init__``, so ``clone`` and ``get_params`` work). The graph
builders cut it into fold-level nodes; after a run the engine attaches the
fitted estimators with :meth:`Learner.set_fitted`, following scikit-learn's
trailing-underscore convention:

``fold_estimators_``
    one fitted estimator per fold fit, in the indexer's fold order;
``partition_estimators_``
    one estimator fitted on all rows of each partition (a single one unless
    the indexer makes subsets); ``estimator_`` is that one when there is one;
``folds_``
    the :class:`~foldgraph.tasks.indexers.Fold` list the task was fitted on,
    which a later ``"transform"`` job replays;
``cv_results_`` (learners)
    per fold: ``fold``, ``partition``, ``score``, ``fit_time``, ``predict_time``.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from .deferred import Pickled, loaded

__all__ = ["Learner", "Transformer", "default_name", "check_fitted"]

#: attributes set by :meth:`Learner.set_fitted`; cleared before a new fit.
FITTED_ATTRS = (
    "fold_estimators_",
    "partition_estimators_",
    "estimator_",
    "folds_",
    "cv_results_",
    "classes_",
    "n_outputs_",
    "n_features_in_",
)


def default_name(task) -> str:
    """The automatic name of a task: its estimator's class name in lower case.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> default_name(Learner(Ridge()))
    'ridge'
    """
    return type(task.estimator).__name__.lower()


def check_fitted(task, name: str) -> None:
    """Raise sklearn's ``NotFittedError`` if ``task`` holds no fitted estimators.

    Examples
    --------
    >>> from foldgraph.testing import OLS
    >>> check_fitted(Learner(OLS()), "ols")
    Traceback (most recent call last):
      ...
    sklearn.exceptions.NotFittedError: task 'ols' is not fitted: run a 'fit' job on it first (e.g. manager.map(task, 'fit', X, y)) before 'predict' or 'transform'
    """
    if getattr(task, "partition_estimators_", None) is None:
        raise NotFittedError(
            f"task '{name}' is not fitted: run a 'fit' job on it first "
            f"(e.g. manager.map(task, 'fit', X, y)) before 'predict' or 'transform'"
        )


class _Task(BaseEstimator):
    """Shared fitted-state handling of Learner and Transformer (not public)."""

    kind = "task"

    def set_fitted(self, folds, fold_estimators, partition_estimators, **extra: Any) -> None:
        """Attach the results of a fit job (called by the engine after a run).

        Parameters
        ----------
        folds : list of Fold
        fold_estimators : list
            Fitted estimators of the fold fits, in ``folds`` order.
        partition_estimators : list
            Fitted full-data estimators, one per partition.
        **extra
            Further fitted attributes, e.g. ``cv_results_``, ``classes_``.
        """
        self.reset()
        fitted = self.__dict__  # plain attributes: one update, not a setattr each
        fitted["folds_"] = list(folds)
        fitted["fold_estimators_"] = list(fold_estimators)
        partition = fitted["partition_estimators_"] = list(partition_estimators)
        if len(partition) == 1:
            fitted["estimator_"] = partition[0]
        fitted.update(extra)

    @property
    def fold_estimators_(self) -> list:
        """Fitted estimators of the fold fits, in ``folds_`` order.

        Those fitted in a worker process arrive pickled and are loaded here,
        at the first access (see :mod:`foldgraph.tasks.deferred`).
        """
        try:
            items = self.__dict__["fold_estimators_"]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute 'fold_estimators_'") from None
        if any(type(e) is Pickled for e in items):
            items[:] = [loaded(e) for e in items]
        return items

    def reset(self) -> None:
        """Drop every fitted attribute."""
        fitted = self.__dict__
        for attr in FITTED_ATTRS:
            if attr in fitted:
                del fitted[attr]

    def __sklearn_is_fitted__(self) -> bool:
        return getattr(self, "partition_estimators_", None) is not None


class Learner(_Task):
    """An estimator whose fold fits write out-of-fold predictions.

    Parameters
    ----------
    estimator : estimator object
        Template with ``fit`` and ``predict`` (``predict_proba`` if
        ``proba``); cloned once per node, never fitted itself.
    indexer : indexer, optional
        How rows are cut into folds (see :mod:`foldgraph.tasks.indexers`).
        ``None`` means ``FoldIndex(folds=2)``.
    name : str, optional
        Unique name in a graph. ``None``: the estimator's class name in
        lower case, made unique with ``-1``, ``-2`` suffixes by the graph.
    preprocess : str, optional
        Name of a :class:`Transformer` of the same graph whose fold ``k``
        pipeline transforms this learner's fold ``k`` input.
    proba : bool, default=False
        Predict class probabilities, one column per class of ``y``.
    scorer : callable, optional
        ``scorer(y_true, y_pred) -> float``, applied to each fold's
        out-of-fold predictions; results land in ``cv_results_["score"]``.
    drop_binary : bool, default=False
        With ``proba=True`` and two classes, keep only the second class's
        column (the first is one minus it), as scikit-learn's stacking does;
        the ensembles set it.

    Examples
    --------
    >>> from foldgraph.testing import OLS
    >>> Learner(OLS(), name="ols")
    Learner(estimator=OLS(), name='ols')
    """

    kind = "learner"

    def __init__(
        self,
        estimator,
        indexer=None,
        name: str | None = None,
        preprocess: str | None = None,
        proba: bool = False,
        scorer=None,
        drop_binary: bool = False,
    ):
        self.estimator = estimator
        self.indexer = indexer
        self.name = name
        self.preprocess = preprocess
        self.proba = proba
        self.scorer = scorer
        self.drop_binary = drop_binary


class Transformer(_Task):
    """A transformer fitted fold by fold, feeding the learners that name it.

    A Transformer writes no output of its own: a :class:`Learner` with
    ``preprocess=<this name>`` applies its fold ``k`` fit to the learner's
    fold ``k`` input (an edge of the task graph, not a cache look-up).

    Parameters
    ----------
    estimator : transformer or Pipeline
        Object with ``fit`` and ``transform``; ``transform`` may return
        ``(X, y)`` (see :class:`~foldgraph.tasks.pipeline.Pipeline`).
    indexer : indexer, optional
        Must cut rows exactly like the indexers of the learners using it.
        ``None`` means ``FoldIndex(folds=2)``.
    name : str, optional
        Name the learners refer to in ``preprocess=``.

    Examples
    --------
    >>> from foldgraph.testing import Scale
    >>> Transformer(Scale(), name="sc")
    Transformer(estimator=Scale(), name='sc')
    """

    kind = "transformer"

    def __init__(self, estimator, indexer=None, name: str | None = None):
        self.estimator = estimator
        self.indexer = indexer
        self.name = name
