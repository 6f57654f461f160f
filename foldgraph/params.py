"""The parameters of an ensemble's layers, and what a fitted ensemble keeps.

``get_params(deep=True)`` of an ensemble lists each layer (``layer-1``...,
``meta``) and, below it, every estimator and preprocessing step of the layer
(see :class:`~foldgraph.layerspec.LayerSpec`); :func:`set_layer_params` is the
way back, so that every listed key can be set.
"""

from __future__ import annotations

from functools import update_wrapper
from types import MethodType

import numpy as np
from sklearn.utils import ClassifierTags, RegressorTags, TransformerTags

from .layerspec import LayerSpec

__all__ = ["named_layers", "set_layer_params", "if_meta_has", "without_data", "pickle_state",
           "unpickle_state", "feature_names_out", "check_meta_has", "ensemble_tags", "meta_name", "drop_full_fits", "keep_only",
           "set_or_drop"]


def named_layers(ensemble) -> dict:
    """``{"layer-1": spec, ..., "meta": spec}`` of an ensemble, ``{}`` before ``add``.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> from foldgraph import SuperLearner
    >>> list(named_layers(SuperLearner().add([Ridge()]).add_meta(LinearRegression())))
    ['layer-1', 'meta']
    """
    layers = ensemble.layers
    if not (isinstance(layers, (list, tuple)) and layers
            and all(isinstance(spec, LayerSpec) for spec in layers)):  # fmt: skip
        return {}
    n_base = len(layers) - bool(layers[-1].meta)
    names = [f"layer-{i + 1}" for i in range(n_base)] + ["meta"] * (len(layers) - n_base)
    return dict(zip(names, layers))


def set_layer_params(ensemble, named: dict, params: dict) -> list:
    """The ensemble's layers with the ``<layer>[__...]`` keys of ``params`` applied.

    ``layer-1=LayerSpec`` replaces a layer, ``meta=estimator`` the meta
    learner; deeper keys go to the layer's own ``set_params``.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> from foldgraph import SuperLearner
    >>> ens = SuperLearner().add([Ridge()]).add_meta(LinearRegression())
    >>> layers = set_layer_params(ens, named_layers(ens), {"meta": Ridge(alpha=2.0)})
    >>> layers[-1].estimators
    [Ridge(alpha=2.0)]
    """
    layers = list(ensemble.layers or [])
    names = list(named)
    for key, value in params.items():
        name, _, sub = key.partition("__")
        if name not in named:
            continue
        i = names.index(name)
        if sub:
            try:
                layers[i] = layers[i].set_params(**{sub: value})
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}").with_traceback(None) from None
        elif isinstance(value, LayerSpec):
            layers[i] = value
        elif layers[i].meta:
            layers[i] = LayerSpec("full", [value], None, layers[i].proba, None, None, meta=True)
        else:
            raise ValueError(f"{key}= takes a LayerSpec, got {type(value).__name__}: to "
                             f"replace one learner use {key}__<name>=estimator")
    return layers


def if_meta_has(fn):
    """A method that exists only if the meta learner has a method of the same name;
    otherwise the AttributeError names the meta learner (``hasattr`` is False).

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> from foldgraph import SuperLearner
    >>> hasattr(SuperLearner().add([Ridge()]).add_meta(LinearRegression()), "predict_proba")
    False
    """

    class Conditional:
        def __get__(self, obj, owner=None):
            if obj is None:
                return fn
            check_meta_has(obj, fn.__name__)
            return MethodType(fn, obj)

    return update_wrapper(Conditional(), fn)


def meta_name(ensemble) -> str:
    """The meta learner as error messages name it: ``'name' (Class)``.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> from foldgraph import SuperLearner
    >>> meta_name(SuperLearner().add([Ridge()]).add_meta(LinearRegression()))
    "'linearregression' (LinearRegression)"
    """
    meta = named_layers(ensemble).get("meta")
    if meta is None:
        return "(none)"
    name, est = meta.named()[0]
    return f"{name!r} ({type(est).__name__})"


def check_meta_has(ensemble, method: str) -> None:
    """Raise AttributeError naming the meta learner if it lacks ``method``.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> from foldgraph import SuperLearner
    >>> check_meta_has(SuperLearner().add([Ridge()]).add_meta(LinearRegression()), "predict_proba")
    Traceback (most recent call last):
      ...
    AttributeError: This SuperLearner has no predict_proba: its meta learner 'linearregression' (LinearRegression) does not implement predict_proba
    """
    owner = type(ensemble).__name__
    layers = named_layers(ensemble)
    meta = layers.get("meta")
    if meta is None:
        raise AttributeError(f"This {owner} has no {method}: it has no meta learner yet (call "
                             f"add_meta)")
    for name, est in meta.named():
        if not hasattr(est, method):
            raise AttributeError(f"This {owner} has no {method}: its meta learner {name!r} "
                                 f"({type(est).__name__}) does not implement {method}")


def ensemble_tags(tags, classifier: bool, dtype=None):
    """scikit-learn tags of an ensemble: sparse input, the estimator type, the dtype kept.

    Examples
    --------
    >>> from foldgraph import SuperLearner
    >>> SuperLearner().__sklearn_tags__().estimator_type
    'regressor'
    """
    tags.transformer_tags = TransformerTags(preserves_dtype=[np.dtype(dtype or np.float64).name])
    tags.input_tags.sparse = True  # CSR: rows sliced in place, shared with workers
    if classifier:
        tags.estimator_type, tags.classifier_tags = "classifier", ClassifierTags()
    else:
        tags.estimator_type, tags.regressor_tags = "regressor", RegressorTags()
    return tags


def without_data(graph):
    """The fitted graph without training rows: a fitted model holds no data.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import TaskGraph
    >>> without_data(TaskGraph("fit", X=np.ones((4, 2)), y=np.ones(4))).X is None
    True
    """
    graph.X = graph.y = graph.sample_weight = None
    for info in graph.info.values():
        info.pop("y_values", None)
        forget = getattr(info.get("indexer"), "forget", None)
        if forget is not None:
            forget()
    return graph


def feature_names_out(graph, layer_names: list, input_names, prefix: str) -> np.ndarray:
    """Names of the columns of the last base layer's output, as scikit-learn's stacking
    names them: ``<prefix>_<learner>``, or ``<prefix>_<learner><i>`` for a learner with
    several columns (classes, partitions); propagated features keep their names, first.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> from foldgraph import SuperLearner
    >>> X, y = make_regression(40, 3, random_state=0)
    >>> ens = SuperLearner(backend="sequential").add([Ridge()], propagate_features=[2])
    >>> ens = ens.add_meta(LinearRegression()).fit(X, y)
    >>> feature_names_out(ens.graph_, ens.layer_names_, ["a", "b", "c"], "superlearner").tolist()
    ['c', 'superlearner_ridge']
    """
    names = list(input_names)
    for layer in layer_names[:-1]:
        spec = graph.layers[layer]
        out = [names[c] for c in spec["propagate"]]
        for task, (c0, c1) in spec["blocks"].items():
            local = task.split(".", 1)[1]
            out += [f"{prefix}_{local}"] if c1 - c0 == 1 else [
                f"{prefix}_{local}{i}" for i in range(c1 - c0)]
        names = out
    return np.asarray(names, dtype=object)


def drop_full_fits(graph, keep_layer: str) -> None:
    """Remove the full-data fits of every layer but ``keep_layer`` (bagged stacking:
    such tasks then predict with the mean of their fold models).

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> from foldgraph import SuperLearner
    >>> X, y = make_regression(40, 3, random_state=0)
    >>> graph = SuperLearner().add([Ridge()]).add_meta(LinearRegression()).graph("fit", X, y)
    >>> drop_full_fits(graph, "meta")
    >>> sorted(k for k in graph.nx if k.endswith("full"))
    ['meta.linearregression/fit/full']
    """
    for key, attrs in list(graph.nx.nodes(data=True)):
        if attrs["fold"] == "full" and not attrs["task"].startswith(f"{keep_layer}."):
            graph.remove_node(key)


def pickle_state(state: dict) -> dict:
    """A fitted ensemble's pickle state: no per-row data (node memory, ``fit_transform_``).

    Examples
    --------
    >>> import numpy as np
    >>> pickle_state({"fit_transform_": np.ones((3, 1)), "meta_rows_": np.arange(2, 5)})
    {'meta_rows_': range(2, 5)}
    """
    state = dict(state)
    for key in ("node_memory_", "fit_transform_", "_oof", "_dask_manager"):
        state.pop(key, None)
    rows = state.get("meta_rows_")
    if rows is not None and len(rows) and rows[-1] - rows[0] == len(rows) - 1:
        state["meta_rows_"] = range(int(rows[0]), int(rows[-1]) + 1)  # contiguous
    return state


def unpickle_state(state: dict) -> dict:
    """The inverse of :func:`pickle_state` (what can be restored).

    Examples
    --------
    >>> unpickle_state({"meta_rows_": range(2, 5)})["meta_rows_"].tolist()
    [2, 3, 4]
    """
    state = dict(state)
    if isinstance(state.get("meta_rows_"), range):
        state["meta_rows_"] = np.arange(state["meta_rows_"].start, state["meta_rows_"].stop)
    return state


def keep_only(memory: dict, fingerprints) -> None:
    """Drop, in place, the entries of the node ``memory`` not in ``fingerprints`` (this fit's):
    a manager kept across fits holds the same dict.

    Examples
    --------
    >>> memory = {"a": 1, "b": 2}
    >>> keep_only(memory, ["b"]); memory
    {'b': 2}
    """
    kept = {fp: memory[fp] for fp in fingerprints if fp in memory}
    memory.clear()
    memory.update(kept)


def set_or_drop(obj, name: str, value) -> None:
    """Set the fitted attribute ``name``, or remove it (from an earlier fit) when ``value``
    is None: ``hasattr`` then says whether this fit has it.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> obj = SimpleNamespace(a=1)
    >>> set_or_drop(obj, "a", None); set_or_drop(obj, "b", 2); vars(obj)
    {'b': 2}
    """
    if value is not None:
        setattr(obj, name, value)
    elif hasattr(obj, name):
        delattr(obj, name)
