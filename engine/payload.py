"""Build a node's payload in the parent: handles and estimators, never arrays.

For a ``"fit"`` job the payload carries the task's template with
``clone=True``: the worker fits a fresh ``sklearn.base.clone`` of it (so the
parent never clones, and the template is never fitted); ``"predict"`` and
``"transform"`` jobs use the task's fitted estimators. A ``preprocess=``
link supplies the fitted transformer: from its node's result in a fit job,
from the Transformer's fitted estimators otherwise.
"""

from __future__ import annotations

from foldgraph.graph.nodes import node_key
from foldgraph.graph.resources import exact_predict

from .worker import Payload

__all__ = ["make_payload"]

_payload = Payload._make


def _fitted(task, partition: int, fold):
    if fold == "full":
        return task.partition_estimators_[partition]
    fits = [f for f in task.folds_ if f.fold != "full"]
    for i, f in enumerate(fits):
        if (f.partition, f.fold) == (partition, fold):
            return task.fold_estimators_[i]
    raise KeyError(f"no fitted estimator for partition {partition}, fold {fold}")


def _preprocess(graph, attrs, state):
    link = attrs.get("preprocess")
    if link is None:
        return None
    if graph.job == "fit":
        parts = graph.info[link]["n_partitions"]
        key = node_key(link, "fit", attrs["fold"], attrs["partition"] if parts > 1 else None)
        return state.results[key].estimator
    return _fitted(graph.tasks[link], attrs["partition"], attrs["fold"])


def make_payload(graph, key: str, state, threads: int | None = None) -> Payload:
    """The Payload of node ``key``; predecessors' results come from ``state``.

    Parameters
    ----------
    graph : TaskGraph
    key : str
        A node of ``graph``.
    state : RunState
        The run so far: a ``preprocess=`` link in a fit job takes the fitted
        transformer from ``state.results``.
    threads : int, optional
        Threads granted to the node, instead of its ``threads`` attribute
        (see :func:`~foldgraph.graph.resources.set_cores`; the tail policy,
        :func:`~foldgraph.engine.tail.tail_threads`, raises it). Applies
        only to a node with ``thread_params`` or set by ``threads="auto"``. A
        raised fit predicts its test rows on its grant, unless its
        predictions do not depend on threads
        (:func:`~foldgraph.graph.resources.exact_predict`).

    Returns
    -------
    Payload
        Buffer names and row ranges, never arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, map_graph
    >>> from foldgraph.engine.scheduler import start_state
    >>> from foldgraph.testing import OLS
    >>> g = map_graph(Learner(OLS(), FoldIndex(2), name="ols"), "fit", X=np.ones((4, 2)),
    ...               y=np.ones(4))
    >>> p = make_payload(g, "ols/fit/fold-0", start_state(g.nx, dict.fromkeys(g.nx, 0)))
    >>> p.x, p.train, p.test, p.out, p.out_rows
    ('X', ((2, 4),), ((0, 2),), 'P:ols', ((0, 2),))
    >>> p.estimator, p.clone  # the task's template: the worker fits a clone of it
    (OLS(), True)
    >>> p.threads  # no grant (see graph.resources.set_cores): threads left as they are
    """
    attrs = graph.attrs(key)
    kind = attrs["kind"]
    if kind == "propagate":
        return Payload(
            key=key, kind="propagate", op=attrs["op"], estimator=None, x=attrs["x"], y=None,
            y_offset=0, train=(), test=attrs["test"], out=attrs["out"],
            out_rows=attrs["out_rows"], cols=attrs["cols"], columns=attrs["columns"],
        )  # fmt: skip
    name = attrs["task"]
    task = graph.tasks[name]
    fresh = graph.job == "fit"
    estimator = task.estimator if fresh else _fitted(task, attrs["partition"], attrs["fold"])
    preprocess = None if attrs.get("preprocess") is None else _preprocess(graph, attrs, state)
    grant = attrs.get("threads")  # None: foldgraph may not set this node's threads
    raised = threads is not None and grant is not None and threads != grant
    # positionally, in Payload's field order (this runs once per node: keywords cost more)
    return _payload((
        key, kind, attrs["op"], estimator, attrs["x"], attrs["y"], attrs["y_offset"],
        attrs["train"], attrs["test"], attrs["out"], attrs["out_rows"], attrs["cols"],
        preprocess, bool(getattr(task, "proba", False)), graph.info[name].get("classes"),
        getattr(task, "scorer", None), float(attrs.get("cost", 0.0)), (), attrs.get("w"), fresh,
        attrs.get("repeat", 0), bool(getattr(task, "drop_binary", False)),
        fresh and kind == "learner" and attrs["fold"] != "full",
        grant if threads is None or grant is None else threads, attrs.get("thread_params", ()),
        grant if raised and not exact_predict(task.estimator) else None,
    ))  # fmt: skip
