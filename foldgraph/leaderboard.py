"""The leaderboard of a fitted ensemble: which learner earned its place.

One row per base learner of every layer, then one for the ensemble: the
score of its out-of-fold predictions on the training rows (any scikit-learn
scorer, probability-based ones included), the summed durations and the wall
time of its nodes, and its share of the meta learner's weights (``coef_``
or ``feature_importances_``) for the learners the meta learner reads. The
ensemble's row scores the meta learner on its own training rows (the
out-of-fold matrix), which is optimistic; ``cross_val_score`` of the
ensemble gives an honest estimate.
"""

from __future__ import annotations

from importlib.util import find_spec

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.metrics import get_scorer

__all__ = ["Leaderboard", "leaderboard"]

COLUMNS = ("layer", "learner", "score", "scored_on", "fit_s", "wall_s", "meta_share")


class _Classified(ClassifierMixin, BaseEstimator):
    """Stands for a learner whose out-of-fold predictions are known: a scorer asks it."""

    def __init__(self, labels=None, proba=None, classes=None):
        self.labels, self.proba, self.classes = labels, proba, classes

    def fit(self, X, y):  # pragma: no cover - never fitted, only asked
        return self

    @property
    def classes_(self):
        return self.classes

    def predict(self, X):
        return self.labels

    def predict_proba(self, X):
        if self.proba is None:
            raise AttributeError("this learner stacks labels, not probabilities")
        return self.proba


class _Regressed(RegressorMixin, BaseEstimator):
    def __init__(self, values=None):
        self.values = values

    def fit(self, X, y):  # pragma: no cover
        return self

    def predict(self, X):
        return self.values


class Leaderboard:
    """The rows of :func:`leaderboard`, printable; :meth:`to_frame` needs pandas.

    Examples
    --------
    >>> Leaderboard([{"layer": "layer-1", "learner": "ridge", "score": 0.5,
    ...               "scored_on": "out-of-fold", "fit_s": 0.01, "wall_s": 0.02,
    ...               "meta_share": 1.0}])
    layer    learner   score  scored_on    fit_s  wall_s  meta_share
    layer-1  ridge    0.5000  out-of-fold  0.010   0.020       1.000
    """

    def __init__(self, rows: list[dict]):
        self.rows = rows

    def to_frame(self):
        """A pandas DataFrame of the rows."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(COLUMNS))

    def frame_or_table(self):
        """:meth:`to_frame` when pandas is installed (an optional extra), else self."""
        return self.to_frame() if find_spec("pandas") is not None else self

    def __repr__(self) -> str:
        def cell(col, v):
            if v is None:
                return ""
            if col == "score":
                return f"{v:.4f}"
            return f"{v:.3f}" if isinstance(v, float) else str(v)

        cells = [[cell(c, r.get(c)) for c in COLUMNS] for r in self.rows]
        widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(COLUMNS)]
        left = {0, 1, 3}
        fmt = [(f"{{:<{w}}}" if i in left else f"{{:>{w}}}") for i, w in enumerate(widths)]
        lines = ["  ".join(f.format(c) for f, c in zip(fmt, COLUMNS)).rstrip()]
        lines += ["  ".join(f.format(v) for f, v in zip(fmt, row)).rstrip() for row in cells]
        return "\n".join(lines)


def leaderboard(ensemble, oof: dict, scoring=None) -> Leaderboard:
    """The leaderboard of a fitted ``ensemble`` from its fit's out-of-fold outputs ``oof``.

    Parameters
    ----------
    ensemble : fitted ensemble
    oof : dict
        ``{"y": targets of the run, "layers": {layer: output}}``, kept by ``fit``.
    scoring : str or callable, optional
        A scikit-learn scorer name (``"roc_auc"``, ``"neg_log_loss"``...) or
        ``scorer(estimator, X, y)``; default accuracy or R^2.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> from foldgraph import SuperLearner
    >>> X, y = make_regression(80, 3, noise=1.0, random_state=0)
    >>> ens = SuperLearner(backend="sequential").add([Ridge(), LinearRegression()])
    >>> ens = ens.add_meta(LinearRegression()).fit(X, y)
    >>> board = leaderboard(ens, ens._oof)
    >>> [(row["layer"], row["learner"], row["scored_on"]) for row in board.rows]
    [('layer-1', 'ridge', 'out-of-fold'), ('layer-1', 'linearregression', 'out-of-fold'), ('ensemble', 'meta', "meta's training rows")]
    """
    classifier = is_classifier(ensemble)
    scorer = get_scorer(scoring or ("accuracy" if classifier else "r2"))
    y, layers, graph = oof["y"], oof["layers"], ensemble.graph_
    classes = getattr(ensemble, "classes_", None)
    decode = classes is not None and np.ndim(y) == 1
    rows = []
    names = ensemble.layer_names_
    shares = _meta_shares(ensemble, graph.layers[names[-2]]["blocks"])
    for layer in names[:-1]:
        out = layers[layer]
        y_rows = y[len(y) - out.shape[0]:]
        y_true = classes[y_rows] if decode else y_rows
        for task, (c0, c1) in graph.layers[layer]["blocks"].items():
            block = out[:, c0:c1]
            info, spec = graph.info[task], ensemble.graph_.tasks[task]
            stand = _stand_in(block, info, spec, classifier, classes, decode)
            score = float(scorer(stand, np.empty((len(y_true), 0)), y_true))
            fit_s, wall_s = _times(ensemble.trace_, task)
            rows.append({"layer": layer, "learner": task.split(".", 1)[1], "score": score,
                         "scored_on": "out-of-fold", "fit_s": fit_s, "wall_s": wall_s,
                         "meta_share": shares.get(task) if layer == names[-2] else None})
    last = layers[names[-2]]
    y_rows = y[len(y) - last.shape[0]:]
    meta = _Decoded(ensemble.meta_.estimator_, classes) if decode else ensemble.meta_.estimator_
    score = float(scorer(meta, last, classes[y_rows] if decode else y_rows))
    fit_s, wall_s = _times(ensemble.trace_, ensemble.meta_.name)
    rows.append({"layer": "ensemble", "learner": "meta", "score": score,
                 "scored_on": "meta's training rows", "fit_s": fit_s, "wall_s": wall_s,
                 "meta_share": None})
    return Leaderboard(rows)


class _Decoded(ClassifierMixin, BaseEstimator):
    """The meta learner answering in the ensemble's labels, not the encoded ones."""

    def __init__(self, meta=None, classes=None):
        self.meta, self.classes = meta, classes

    def fit(self, X, y):  # pragma: no cover
        return self

    @property
    def classes_(self):
        return self.classes[np.asarray(self.meta.classes_).astype(int)]

    def predict(self, X):
        return self.classes[np.asarray(self.meta.predict(X)).astype(int)]

    def predict_proba(self, X):
        return self.meta.predict_proba(X)


def _stand_in(block, info, task, classifier, classes, decode):
    parts = info["n_partitions"]
    width = block.shape[1] // parts
    block = block.reshape(len(block), parts, width).mean(axis=1)  # subsembles: the mean
    if not classifier:
        return _Regressed(block[:, 0] if width == 1 else block)
    if getattr(task, "proba", False) and decode:
        seen = np.asarray(info["classes"]).astype(int)
        if block.shape[1] == 1 and len(seen) == 2:  # scikit-learn's binary column: P(second)
            block = np.column_stack([1.0 - block[:, 0], block[:, 0]])
        return _Classified(classes[seen][np.argmax(block, axis=1)], block, classes[seen])
    labels = np.rint(block[:, 0]).astype(int)
    return _Classified(classes[labels] if decode else block, None, classes)


def _times(trace, task: str) -> tuple[float, float]:
    records = [r for r in trace.records if r["task"] == task]
    if not records:
        return 0.0, 0.0
    busy = float(sum(r["duration"] for r in records))
    return busy, float(max(r["end"] for r in records) - min(r["start"] for r in records))


def _meta_shares(ensemble, blocks: dict) -> dict:
    meta = ensemble.meta_.estimator_
    weights = getattr(meta, "coef_", None)
    if weights is None:
        weights = getattr(meta, "feature_importances_", None)
    if weights is None:
        return {}
    weights = np.abs(np.atleast_2d(np.asarray(weights, dtype=float))).sum(axis=0)
    per = {task: float(weights[c0:c1].sum()) for task, (c0, c1) in blocks.items()}
    total = sum(per.values()) or 1.0
    return {task: w / total for task, w in per.items()}
