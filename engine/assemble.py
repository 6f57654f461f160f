"""After a run: copy outputs out of the buffers, attach fitted estimators.

Both happen only once every node succeeded, so a failed run never leaves a
task half-fitted.
"""

from __future__ import annotations

import numpy as np

from foldgraph.errors import GraphError

__all__ = ["check_return_preds", "collect_outputs", "attach_fitted"]


def check_return_preds(graph, return_preds) -> list[str]:
    """Names of the tasks whose outputs to return (validated before running).

    Parameters
    ----------
    graph : TaskGraph
    return_preds : bool, str or list of str
        True: the last task with an output; False or None: none; a name or a
        list of names: those tasks.

    Returns
    -------
    list of str

    Raises
    ------
    GraphError
        A named task writes no predictions, or True with no learner in the graph.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, map_graph
    >>> from foldgraph.testing import OLS
    >>> g = map_graph([Learner(OLS(), FoldIndex(2), name="a"), Learner(OLS(), FoldIndex(2), name="b")],
    ...               "fit", X=np.ones((4, 2)), y=np.ones(4))
    >>> check_return_preds(g, True), check_return_preds(g, ["a", "b"]), check_return_preds(g, False)
    (['b'], ['a', 'b'], [])
    >>> check_return_preds(g, "c")
    Traceback (most recent call last):
      ...
    foldgraph.errors.GraphError: return_preds names 'c', which writes no predictions in this graph (tasks with outputs: 'a', 'b')
    """
    if return_preds is False or return_preds is None:
        return []
    if return_preds is True:
        if not graph.outputs:
            raise GraphError(
                "return_preds=True but no task of the graph writes predictions "
                "(transformers write none): add a Learner or pass return_preds=False"
            )
        return [graph.outputs[-1]]
    names = [return_preds] if isinstance(return_preds, str) else list(return_preds)
    unknown = [n for n in names if n not in graph.outputs]
    if unknown:
        raise GraphError(
            f"return_preds names {unknown[0]!r}, which writes no predictions in this "
            f"graph (tasks with outputs: {', '.join(map(repr, graph.outputs)) or 'none'})"
        )
    return names


def collect_outputs(graph, buffers: dict, names: list[str], return_preds):
    """Copies of the requested output buffers, in their dtype (``graph.dtype``).

    Parameters
    ----------
    graph : TaskGraph
    buffers : dict of str to ndarray
        The run's arrays, by buffer name (``Job.buffers``).
    names : list of str
        Tasks whose outputs to copy (from :func:`check_return_preds`).
    return_preds : bool, str or list of str
        As given by the caller: True or a name returns one array, a list
        returns a list.

    Returns
    -------
    ndarray, list of ndarray or None
        None when ``names`` is empty.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, map_graph
    >>> from foldgraph.testing import OLS
    >>> g = map_graph([Learner(OLS(), FoldIndex(2), name="a"), Learner(OLS(), FoldIndex(2), name="b")],
    ...               "fit", X=np.ones((4, 2)), y=np.ones(4))
    >>> buffers = {"P:a": np.full((4, 1), 2.0), "P:b": np.zeros((4, 1))}
    >>> collect_outputs(g, buffers, ["a"], "a").ravel()
    array([2., 2., 2., 2.])
    >>> [p.shape for p in collect_outputs(g, buffers, ["a", "b"], ["a", "b"])]
    [(4, 1), (4, 1)]
    """
    arrays = []
    for name in names:
        buffer, cols = graph.output_of(name)
        block = buffers[buffer] if cols is None else buffers[buffer][:, cols[0] : cols[1]]
        arrays.append(np.array(block, dtype=graph.buffers[buffer].dtype))
    if return_preds is True or isinstance(return_preds, str):
        return arrays[0]
    return arrays if names else None


def attach_fitted(graph, results: dict) -> None:
    """Store each task's fitted estimators on it (fit jobs only).

    Each task gets ``fold_estimators_``, ``partition_estimators_`` and
    ``estimator_`` (via ``set_fitted``), ``n_features_in_`` and, for a
    learner, ``n_outputs_``, ``cv_results_`` and ``classes_`` (classifiers).

    Parameters
    ----------
    graph : TaskGraph
    results : dict of str to NodeResult
        The result of every node of ``graph`` (what ``run_graph`` returns).

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, map_graph
    >>> from foldgraph.tasks.ops import NodeResult
    >>> from foldgraph.testing import OLS
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> ols = Learner(OLS(), FoldIndex(2), name="ols")
    >>> g = map_graph(ols, "fit", X=X, y=X @ [1.0, 2.0])
    >>> results = {key: NodeResult(OLS(offset=i).fit(X, X @ [1.0, 2.0]), fit_time=0.1)
    ...            for i, key in enumerate(g.nx)}  # as if the nodes had run
    >>> attach_fitted(g, results)
    >>> len(ols.fold_estimators_), ols.estimator_.offset, ols.cv_results_["fit_time"]
    (2, 2, [0.1, 0.1])
    """
    if graph.job != "fit":
        return
    attrs, infos, nodes = graph.attrs, graph.info, graph.task_nodes
    for name, task in graph.tasks.items():
        info = infos[name]
        folds, fits, full = [], [], []
        for key in nodes.get(name, ()):  # one pass: fold fits, then full fits by partition
            a, r = attrs(key), results[key]
            if a["fold"] == "full":
                full.append((a["partition"], r.estimator))
            else:
                folds.append(a)
                fits.append(r)
        extra = {"n_features_in_": info["n_features"]}
        if task.kind == "learner":
            extra["n_outputs_"] = info["width"]
            extra["cv_results_"] = _cv_results(folds, fits)
            if info["classes"] is not None:
                extra["classes_"] = info["classes"]
        if len(full) > 1:
            full.sort(key=_partition)
        task.set_fitted(info["folds"], [r.estimator for r in fits], [e for _, e in full], **extra)


def _cv_results(folds: list, fits: list) -> dict:
    return {
        "fold": [a["fold"] for a in folds],
        "partition": [a["partition"] for a in folds],
        "score": [r.score for r in fits],
        "fit_time": [r.fit_time for r in fits],
        "predict_time": [r.predict_time for r in fits],
    }


def _partition(item) -> int:
    return item[0]
