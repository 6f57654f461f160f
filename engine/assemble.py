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
    for name, task in graph.tasks.items():
        info = graph.info[name]
        keys = graph.nodes_of(name)
        nodes = [(graph.attrs(k), results[k]) for k in keys]
        folds = [a for a, _ in nodes if a["fold"] != "full"]
        extra = {"n_features_in_": info["n_features"]}
        if task.kind == "learner":
            extra["n_outputs_"] = info["width"]
            extra["cv_results_"] = {
                "fold": [a["fold"] for a in folds],
                "partition": [a["partition"] for a in folds],
                "score": [r.score for a, r in nodes if a["fold"] != "full"],
                "fit_time": [r.fit_time for a, r in nodes if a["fold"] != "full"],
                "predict_time": [r.predict_time for a, r in nodes if a["fold"] != "full"],
            }
            if info["classes"] is not None:
                extra["classes_"] = info["classes"]
        task.set_fitted(
            info["folds"],
            [r.estimator for a, r in nodes if a["fold"] != "full"],
            [r.estimator for a, r in sorted(
                ((a, r) for a, r in nodes if a["fold"] == "full"),
                key=lambda ar: ar[0]["partition"],
            )],
            **extra,
        )  # fmt: skip
