"""BaseEnsemble: the scikit-learn estimator behind every ensemble.

Each ``add`` records a :class:`~foldgraph.layerspec.LayerSpec`; ``fit``
turns the layers into tasks and the tasks into one graph: layer ``i`` reads
the output buffer of layer ``i - 1`` (``X`` for the first), the meta layer
(``add_meta``, a full-data fit) reads the last one. The ensemble's own
settings (``folds``, ``test_size``, ``shuffle``...) are read at every fit,
so ``set_params`` takes effect at the next one; a layer's ``indexer_args``
override them for that layer only.

Classification: labels of any type are encoded once per fit (``classes_``);
an int ``folds`` means stratified folds, as in scikit-learn's stacking; base
learners with ``proba=True`` stack one column per class, the same columns on
every fold; ``predict_proba`` has one column per class of ``classes_``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelEncoder

from foldgraph.errors import GraphError
from foldgraph.graph import TaskGraph, add_layer
from foldgraph.tasks.frames import as_frame

from .inputs import (
    as_numeric,
    check_fit_data,
    check_fit_params,
    check_groups,
    check_predict_data,
    check_propagated,
    check_weights,
    column_positions,
    feature_names,
    fit_seed,
    frame_dtypes,
    on_classes,
    take_rows,
    user_order,
)
from .layerspec import LayerSpec
from .leaderboard import leaderboard
from .managers import manager_for
from .notebook import ensemble_html
from .params import (
    drop_full_fits,
    ensemble_tags,
    feature_names_out,
    if_meta_has,
    keep_only,
    meta_name,
    named_layers,
    pickle_state,
    set_layer_params,
    set_or_drop,
    unpickle_state,
    without_data,
)
from .summary import FitSummary
from .templates import ensemble_template

__all__ = ["BaseEnsemble", "META"]

META = "meta"  # the meta layer's name, as in get_params
_PERMUTED_KINDS = ("blend", "subsemble")  # indexers that cut contiguous blocks


class BaseEnsemble(BaseEstimator):
    """Shared machinery; subclasses set ``_kind`` and :meth:`_indexer_args`.

    Examples
    --------
    >>> from foldgraph import SuperLearner
    >>> issubclass(SuperLearner, BaseEnsemble)
    True
    """

    _kind = "stack"

    # -- building -----------------------------------------------------------
    def _indexer_args(self) -> dict:
        return {}

    def _defaults(self, spec: LayerSpec) -> dict:
        """The ensemble's indexer arguments, for the layers of its own kind."""
        return self._indexer_args() if spec.kind == self._kind and not spec.meta else {}

    def _add(self, kind, estimators, preprocessing, proba, propagate_features, indexer_args):
        layers = list(self.layers or [])
        if layers and layers[-1].meta:
            raise GraphError("a meta learner was already added: add layers before add_meta")
        spec = LayerSpec(kind, estimators, preprocessing, proba, propagate_features,
                         dict(indexer_args) or None)  # fmt: skip
        spec.make_indexer(self._defaults(spec))  # an unknown kind or argument fails here
        spec.named(f"layer-{len(layers) + 1}")  # so do estimators without fit, duplicate names
        spec.named_steps()
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
            Stack class probabilities (a column per class; one for two classes).
        propagate_features : list of int or str, or "all", optional
            Input columns copied beside the predictions for the next layer:
            positions, column names of a DataFrame (first layer), or "all"
            (a skip connection: every layer can see the original features).
        **indexer_args
            Override the ensemble's indexer arguments for this layer only
            (e.g. ``folds=5``); the others follow the ensemble's parameters.
        """
        return self._add(self._kind, estimators, preprocessing, proba, propagate_features,
                         indexer_args)  # fmt: skip

    def add_meta(self, estimator, proba=False):
        """Add the meta learner, fitted on all rows of the last layer's output; a second
        one raises GraphError (replace it with ``set_params(meta=estimator)``)."""
        if not self.layers:
            raise GraphError("add_meta before add: add at least one layer of base learners")
        if self.layers[-1].meta:
            name = self.layers[-1].named()[0][0]
            raise GraphError(
                f"a meta learner was already added ({name!r}): an ensemble has one. Replace "
                f"it with set_params(meta=estimator), or add a layer with add() before it"
            )
        spec = LayerSpec("full", [estimator], None, proba, None, None, meta=True)
        self.layers = list(self.layers) + [spec]
        return self

    def _specs(self) -> tuple[list, LayerSpec | None]:
        layers = list(self.layers or [])
        if not layers:
            raise GraphError(f"{type(self).__name__} has no layers: call add(estimators) first")
        return (layers[:-1], layers[-1]) if layers[-1].meta else (layers, None)

    def _layer_names(self, n_base: int, meta: bool) -> list[str]:
        return [f"layer-{i + 1}" for i in range(n_base)] + ([META] if meta else [])

    def graph(self, job: str = "fit", X=None, y=None) -> TaskGraph:
        """The ensemble's task graph for ``job``; for "fit" without X, the fitted graph, or
        before fit its structure (a template: :mod:`foldgraph.templates`)."""
        if X is None:
            if job == "fit":
                fitted = getattr(self, "graph_", None)
                return fitted if fitted is not None else ensemble_template(self)
            raise GraphError(f"graph({job!r}) needs X")
        frame = as_frame(X)
        X = frame if frame is not None else as_numeric(np.asarray(X), feature_names(X))
        if job == "fit":
            if y is not None and self._is_classifier():
                y = LabelEncoder().fit_transform(np.asarray(y))
            return self._build("fit", X, y, context=self._context(y))[0]
        self._check_fitted()
        return self._build(job, X, None, tasks=self._tasks)[0]

    def _context(self, y, groups=None, seed=None) -> dict:
        stratify = self._is_classifier() and y is not None and np.ndim(y) == 1
        return {"classifier": stratify, "shuffle": bool(self.shuffle),
                "seed": fit_seed(self.random_state) if seed is None else seed,
                "groups": groups}  # fmt: skip

    def _build(self, job, X, y, tasks=None, upto=None, sample_weight=None, context=None):
        base, meta = self._specs()
        specs = base + ([meta] if meta is not None else [])
        names = self._layer_names(len(base), meta is not None)
        if upto is not None:
            specs, names = specs[:upto], names[:upto]
        graph = TaskGraph(job, X=X, y=y, sample_weight=sample_weight)
        made, stream = [], "X"
        for i, (spec, name) in enumerate(zip(specs, names)):
            layer_tasks = tasks[i] if tasks is not None else spec.make_tasks(
                name, self.scorer, spec.make_indexer(self._defaults(spec), **(context or {})))
            columns = column_positions(spec.propagate_features, i, self)
            if i == 0:
                check_propagated(X, columns)
            stream = add_layer(graph, name, layer_tasks, [t.name for t in layer_tasks],
                               input=stream, propagate_features=columns)
            made.append(layer_tasks)
        if job == "fit" and not getattr(self, "refit", True):
            drop_full_fits(graph, META)  # bagged: the fold models predict, no full-data fits
        return graph.validate(), made

    # -- fitting and predicting ------------------------------------------------
    def _manager(self):
        """The manager of a fit or predict, as a context manager (see :mod:`.managers`)."""
        cache = self._node_store()  # a user's manager keeps its own cache=; the memory is set
        return manager_for(self, {"n_jobs": self.n_jobs, "strategy": self.strategy, "cache": cache,
                                  "verbose": bool(self.verbose), **self._dtype_kw()})

    def _dtype_kw(self) -> dict:
        return {k: getattr(self, k) for k in ("dtype", "timeout", "memory_limit")
                if getattr(self, k, None) is not None}  # fmt: skip

    def _node_store(self):
        """Where fitted nodes are kept: ``cache`` if given, else the in-memory node memory."""
        if self.cache is False:
            return None
        if self.cache is not None:
            return self.cache
        if getattr(self, "node_memory_", None) is None:
            self.node_memory_ = {}  # the fitted nodes, by fingerprint: see the docstring
        return self.node_memory_

    def fit(self, X, y, sample_weight=None, groups=None, **fit_params):
        """Fit every layer as one task graph; returns self.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
            Sliced per fold and passed to every estimator's ``fit``.
        groups : array-like of shape (n_samples,), optional
            Group labels for a splitter given as ``folds`` (GroupKFold...).
        **fit_params
            Not supported: raises TypeError naming them.
        """
        check_fit_params(fit_params)
        base, meta = self._specs()
        if meta is None:
            raise GraphError(f"{type(self).__name__} has no meta learner: call add_meta(est)")
        names = feature_names(X)
        X, y = check_fit_data(self, X, y, names, self._is_classifier(), meta_name(self))
        set_or_drop(self, "feature_dtypes_", frame_dtypes(X))  # a frame's: frames at predict
        n = X.shape[0]
        sample_weight = check_weights(sample_weight, n)
        groups = check_groups(groups, n)
        if self._is_classifier():
            encoder = LabelEncoder().fit(y.ravel() if y.ndim == 1 else y[:, 0])
            self._encoder = encoder if y.ndim == 1 else None
            self.classes_ = encoder.classes_ if y.ndim == 1 else None
            if y.ndim == 1:
                y = encoder.transform(y)
        seed = fit_seed(self.random_state)
        order = None
        if self.shuffle and any(spec.kind in _PERMUTED_KINDS for spec in base):
            order = np.random.RandomState(seed).permutation(n)
            X, y, sample_weight, groups = take_rows(order, X, y, sample_weight, groups)
        graph, tasks = self._build("fit", X, y, sample_weight=sample_weight,
                                   context=self._context(y, groups, seed))  # fmt: skip
        base_names = self._layer_names(len(base), True)[:-1]
        with self._manager() as pp, pp.exclusive():  # this run's trace, not another thread's
            outs = pp.run(graph, X, y, return_preds=base_names, sample_weight=sample_weight)
            self.trace_ = pp.trace
            if self.cache is None:  # remember this fit's nodes only
                keep_only(self.node_memory_, pp.fingerprints.values())
        self.fit_transform_, self.meta_rows_ = user_order(outs[-1], n, order)
        self._oof = {"y": y, "layers": dict(zip(base_names, outs))}  # leaderboard(); no pickle
        self._tasks = tasks
        self.layers_ = [{t.name.split(".", 1)[1]: t for t in layer} for layer in tasks]
        self.layer_names_ = self._layer_names(len(base), True)
        self.meta_ = next(iter(self.layers_[-1].values()))
        self.graph_ = without_data(graph)
        if names is None:
            set_or_drop(self, "feature_names_in_", None)
        return self

    def _check_fitted(self):
        if not hasattr(self, "layers_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet: "
                                 f"call fit(X, y) first")

    def _base_output(self, X) -> np.ndarray:
        """The last base layer's predictions for new rows: the meta learner's input."""
        self._check_fitted()
        names = feature_names(X)
        X = check_predict_data(self, X, names)
        graph, _ = self._build("predict", X, None, tasks=self._tasks, upto=-1)
        with self._manager() as pp:
            return pp.run(graph, X, return_preds=[self.layer_names_[-2]])[0]

    def transform(self, X) -> np.ndarray:
        """The prediction matrix the meta learner reads, for new rows."""
        return self._base_output(X)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the columns of :meth:`transform`, as scikit-learn's stacking names them."""
        self._check_fitted()
        if input_features is None:
            input_features = getattr(self, "feature_names_in_", None)
        if input_features is None:
            input_features = [f"x{i}" for i in range(self.n_features_in_)]
        if len(input_features) != self.n_features_in_:
            raise ValueError(f"input_features has {len(input_features)} names for "
                             f"{self.n_features_in_} features")
        return feature_names_out(self.graph_, self.layer_names_, input_features,
                                 type(self).__name__.lower())  # fmt: skip

    def predict(self, X, **predict_params) -> np.ndarray:
        """Predictions of the meta learner on the base layers' predictions.

        ``predict_params`` go to the meta learner's ``predict`` (e.g.
        ``return_std=True``), as in scikit-learn's stacking.
        """
        self._check_fitted()
        pred = self.meta_.estimator_.predict(self._base_output(X), **predict_params)
        if predict_params:  # e.g. (mean, std) from return_std=True: the meta learner's own
            return pred
        if np.asarray(pred).dtype.kind == "f" and not np.isfinite(pred).all():
            raise ValueError(f"the meta learner {meta_name(self)} returned non-finite "
                             f"predictions (nan or inf): its input or targets are out of range")
        if self._is_classifier() and self._encoder is not None:
            return self._encoder.inverse_transform(np.asarray(pred).astype(int))
        return pred

    def fit_transform(self, X, y, sample_weight=None, groups=None, **fit_params) -> np.ndarray:
        """Fit; return the out-of-fold predictions the meta learner was trained on (no
        leakage), rows ``meta_rows_`` in the user's order; ``transform(X)`` differs."""
        return self.fit(X, y, sample_weight=sample_weight, groups=groups,
                        **fit_params).fit_transform_  # fmt: skip

    def __getstate__(self) -> dict:
        return pickle_state(super().__getstate__())

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(unpickle_state(state))

    @if_meta_has
    def predict_proba(self, X) -> np.ndarray:
        """The meta learner's class probabilities, one column per class of ``classes_``
        (zeros for a class its training rows missed)."""
        self._check_fitted()
        meta = self.meta_.estimator_
        return on_classes(meta.predict_proba(self._base_output(X)),
                          getattr(meta, "classes_", None), self.classes_)  # fmt: skip

    def leaderboard(self, scoring=None):
        """Out-of-fold score (any scikit-learn ``scoring``), times and meta share of every
        learner (:mod:`foldgraph.leaderboard`): a DataFrame with pandas, else a table."""
        self._check_fitted()
        if getattr(self, "_oof", None) is None:
            raise ValueError("leaderboard() needs the fit's out-of-fold predictions, which a "
                             "pickle does not keep: call it before saving, or refit")
        return leaderboard(self, self._oof, scoring).frame_or_table()

    def _repr_html_(self) -> str:
        return ensemble_html(self, named_layers(self))

    def _repr_mimebundle_(self, **kwargs) -> dict:  # Jupyter asks this first
        return {"text/plain": repr(self), "text/html": self._repr_html_()}

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy for a classifier, R^2 for a regressor."""
        metric = accuracy_score if self._is_classifier() else r2_score
        return metric(y, self.predict(X), sample_weight=sample_weight)

    @property
    def data(self) -> FitSummary:
        """Fit summary per learner: fold score, fit and predict time (mean and std)."""
        self._check_fitted()
        return FitSummary.from_layers(self.layer_names_, self.layers_)

    # -- scikit-learn parameters and tags -----------------------------------------
    def _is_classifier(self) -> bool:
        if not isinstance(self.layers, (list, tuple)):
            return False
        ests = [e for spec in list(self.layers)[-1:] for _, e in spec.named()]
        return bool(ests) and is_classifier(ests[0])

    def __sklearn_tags__(self):
        return ensemble_tags(super().__sklearn_tags__(), self._is_classifier(),
                             getattr(self, "dtype", None))  # fmt: skip

    def get_params(self, deep: bool = True) -> dict:
        params = super().get_params(deep=False)
        if deep:
            for name, spec in named_layers(self).items():
                params[name] = spec
                params.update({f"{name}__{k}": v for k, v in spec.get_params(deep=True).items()})
        return params

    def set_params(self, **params):
        """Set the ensemble's parameters and, at any depth ``get_params`` lists, its layers'.

        ``layer-1__ridge__alpha=3`` sets a learner's parameter,
        ``layer-1__ridge=SVR()`` replaces the learner (keeping its name),
        ``layer-1__pr.standardscaler__with_mean=False`` reaches a
        preprocessing step, ``meta=Ridge()`` or ``meta__ridge=Lasso()``
        replaces the meta learner. Every change takes effect at the next fit.
        """
        named = named_layers(self)
        own = {k: v for k, v in params.items() if k.partition("__")[0] not in named}
        super().set_params(**own)
        if len(own) < len(params):
            self.layers = set_layer_params(self, named, params)
        return self
