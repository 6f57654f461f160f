"""An ensemble's task graph before any data: its structure, to draw or count.

``ensemble.graph("fit")`` before ``fit`` builds the graph on placeholder
rows (see :mod:`foldgraph.graph.binding`): the nodes and edges are those a
fit will run, the row ranges and buffer shapes are not.
"""

from __future__ import annotations

import warnings

from foldgraph.errors import GraphError
from foldgraph.graph.binding import check_dataless, explain, placeholder_data

__all__ = ["ensemble_template"]


def _n_features(layers) -> int:
    positions = [c for layer in layers or [] for c in (layer.propagate_features or [])
                 if not isinstance(layer.propagate_features, str) and isinstance(c, int)]
    return max(positions, default=0) + 1


def ensemble_template(ensemble):
    """The "fit" graph of an unfitted ``ensemble``, built without data.

    Raises
    ------
    GraphError
        A layer's folds depend on the data (a TemporalEnsemble's steps,
        clustered partitions, a splitter that needs groups), or its
        propagated features are named (the names come with X).

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> from foldgraph import SuperLearner
    >>> ens = SuperLearner(folds=5).add([Ridge(), LinearRegression()]).add_meta(Ridge())
    >>> g = ensemble_template(ens)
    >>> g.template, len(g), g.X is None
    (True, 13, True)
    """
    X, y = placeholder_data("fit", _n_features(ensemble.layers))
    try:
        with warnings.catch_warnings():  # a clusterer fitted on placeholders, refused below
            warnings.simplefilter("ignore")
            graph = ensemble.graph("fit", X, y)
    except (TypeError, ValueError) as exc:
        raise GraphError(f"{type(ensemble).__name__}'s graph cannot be built without data: "
                         f"{explain(exc)}") from exc
    check_dataless(graph.tasks.values())
    graph.X = graph.y = None  # placeholders, not data
    graph.template = True
    return graph
