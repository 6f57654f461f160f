"""After a run: copy outputs out of the buffers, attach fitted estimators.

Both happen only once every node succeeded, so a failed run never leaves a
task half-fitted.
"""

from __future__ import annotations

import numpy as np

from foldgraph.errors import GraphError

__all__ = ["check_return_preds", "collect_outputs", "attach_fitted"]


def check_return_preds(graph, return_preds) -> list[str]:
    """Names of the tasks whose outputs to return (validated before running)."""
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
    """Copies of the requested output buffers as float32 arrays."""
    arrays = []
    for name in names:
        buffer, cols = graph.output_of(name)
        block = buffers[buffer] if cols is None else buffers[buffer][:, cols[0] : cols[1]]
        arrays.append(np.array(block, dtype=np.float32))
    if return_preds is True or isinstance(return_preds, str):
        return arrays[0]
    return arrays if names else None


def attach_fitted(graph, results: dict) -> None:
    """Store each task's fitted estimators on it (fit jobs only)."""
    if graph.job != "fit":
        return
    attrs = graph.attrs
    for name, task in graph.tasks.items():
        info = graph.info[name]
        folds, fits, full = [], [], []
        for key in graph.nodes_of(name):  # one pass: fold fits, then full fits by partition
            a, r = attrs(key), results[key]
            if a["fold"] == "full":
                full.append((a["partition"], r.estimator))
            else:
                folds.append(a)
                fits.append(r)
        extra = {"n_features_in_": info["n_features"]}
        if task.kind == "learner":
            extra["n_outputs_"] = info["width"]
            extra["cv_results_"] = {
                "fold": [a["fold"] for a in folds],
                "partition": [a["partition"] for a in folds],
                "score": [r.score for r in fits],
                "fit_time": [r.fit_time for r in fits],
                "predict_time": [r.predict_time for r in fits],
            }
            if info["classes"] is not None:
                extra["classes_"] = info["classes"]
        full.sort(key=lambda pe: pe[0])
        task.set_fitted(info["folds"], [r.estimator for r in fits], [e for _, e in full], **extra)
