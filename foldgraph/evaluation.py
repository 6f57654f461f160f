"""Evaluator: randomized parameter search over estimators x cases x folds, one graph.

Every (preprocessing case, estimator, parameter draw) becomes a Learner whose
fold fits are scored on their held-out rows; each case's pipeline is a
Transformer fitted once per fold and shared by all the learners of the case
(an edge per fold, not a refit per candidate). Full-data fits are not
needed to evaluate, so they are left out of the graph.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.model_selection import ParameterSampler

from foldgraph.engine import ParallelProcessing
from foldgraph.errors import GraphError
from foldgraph.graph import TaskGraph
from foldgraph.tasks import Learner, Pipeline, Transformer
from foldgraph.tasks.frames import as_frame

from .inputs import fit_seed
from .layerspec import named_estimators, stack_indexer

__all__ = ["Evaluator"]


class Evaluator:
    """Score many estimators, preprocessing cases and parameter draws by cross-validation.

    Parameters
    ----------
    scorer : callable
        ``scorer(y_true, y_pred) -> float`` (higher is better, as for
        ``sklearn.metrics.r2_score``; pass a negated loss otherwise).
    cv : int or CV splitter, default=2
        Folds: an int means ``StratifiedKFold`` when every estimator is a
        classifier, ``KFold`` otherwise; or any splitter.
    shuffle : bool, default=True
        Shuffle before cutting an int ``cv`` into folds (with ``random_state``).
    random_state : int, RandomState or None
        Seeds the shuffle and the parameter draws.
    backend, n_jobs, strategy
        As for :class:`~foldgraph.engine.ParallelProcessing`.
    response_method : {"predict", "predict_proba"}, default="predict"
        What ``scorer`` receives as ``y_pred``: predictions, or class
        probabilities (for two classes the second class's, as
        ``roc_auc_score`` and ``log_loss`` take them; one column per class
        otherwise).

    Attributes
    ----------
    results : dict
        ``{"<case>.<estimator>": {"test_score-m", "test_score-s", "fit_time-m",
        "fit_time-s", "pred_time-m", "pred_time-s", "params"}}``: the best draw
        of each estimator and case (highest mean test score).
    draws : dict
        Every draw's mean score, by learner name.

    Examples
    --------
    >>> from scipy.stats import uniform
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.metrics import r2_score
    >>> X, y = make_regression(100, 4, noise=1.0, random_state=0)
    >>> ev = Evaluator(r2_score, cv=3, random_state=0, backend="sequential")
    >>> ev = ev.fit(X, y, [Ridge()], {"ridge": {"alpha": uniform(0.1, 10)}}, n_iter=3)
    >>> sorted(ev.results), sorted(ev.results["ridge"])[:2]
    (['ridge'], ['fit_time-m', 'fit_time-s'])
    """

    def __init__(self, scorer, cv=2, shuffle=True, random_state=None, backend="auto",
                 n_jobs=-1, strategy="critical_path", response_method="predict"):  # fmt: skip
        self.scorer = scorer
        self.response_method = response_method
        self.cv = cv
        self.shuffle = shuffle
        self.random_state = random_state
        self.backend = backend
        self.n_jobs = n_jobs
        self.strategy = strategy

    def fit(self, X, y, estimators, param_dicts=None, n_iter=2, preprocessing=None):
        """Run the search as one graph; returns self (see ``results``)."""
        if not callable(self.scorer):
            raise GraphError("Evaluator needs a scorer(y_true, y_pred) -> float")
        if self.response_method not in ("predict", "predict_proba"):
            raise ValueError(f"response_method={self.response_method!r}: choose 'predict' or "
                             f"'predict_proba'")
        frame = as_frame(X)  # a DataFrame reaches the learners as it is
        X, y = (np.asarray(X) if frame is None else frame), np.asarray(y)
        cases = self._cases(estimators, preprocessing)
        flat = [e for _, ests in cases.values() for _, e in named_estimators(ests, "estimators")]
        stratify = y.ndim == 1 and bool(flat) and all(is_classifier(e) for e in flat)
        # one indexer for every task: the same folds, shuffled in place (rows never move)
        indexer = stack_indexer(self.cv, stratify, self.shuffle, fit_seed(self.random_state))
        tasks, params = self._tasks(cases, param_dicts or {}, n_iter, indexer)
        graph = TaskGraph("fit", X=X, y=y)
        for task in tasks:
            graph.add_task(task)
        for key in [k for k, d in graph.nx.nodes(data=True) if d["fold"] == "full"]:
            graph.remove_node(key)  # evaluation needs the fold fits only
        with ParallelProcessing(self.backend, n_jobs=self.n_jobs, strategy=self.strategy) as pp:
            pp.run(graph, X, y)
            self.trace_ = pp.trace
        self._collect(tasks, params)
        return self

    def to_frame(self):
        """``results`` as a pandas DataFrame, one row per estimator and case.

        Examples
        --------
        >>> from sklearn.datasets import make_regression
        >>> from sklearn.linear_model import Ridge
        >>> from sklearn.metrics import r2_score
        >>> X, y = make_regression(60, 3, noise=1.0, random_state=0)
        >>> ev = Evaluator(r2_score, backend="sequential").fit(X, y, [Ridge()])
        >>> list(ev.to_frame().index), list(ev.to_frame().columns)[:2]
        (['ridge'], ['test_score-m', 'test_score-s'])
        """
        import pandas as pd

        return pd.DataFrame.from_dict(self.results, orient="index")

    def _cases(self, estimators, preprocessing) -> dict:
        if isinstance(estimators, dict):
            pre = preprocessing or {}
            unknown = sorted(set(pre) - set(estimators))
            if unknown:
                raise GraphError(f"preprocessing case {unknown[0]!r} has no estimators")
            return {case: (pre.get(case), ests) for case, ests in estimators.items()}
        if isinstance(preprocessing, dict):
            return {case: (steps, estimators) for case, steps in preprocessing.items()}
        return {"": (preprocessing, estimators)}

    def _tasks(self, cases, param_dicts, n_iter, indexer):
        tasks, params = [], {}
        known = set()
        for case, (steps, ests) in cases.items():
            pre = None
            if steps:
                pre = case or "pr"
                pipe = Pipeline([(n, clone(s)) for n, s in named_estimators(steps, pre)],
                                return_y=True)  # fmt: skip
                tasks.append(Transformer(pipe, indexer, name=pre))
            for name, est in named_estimators(ests, case or "estimators"):
                full = f"{case}.{name}" if case else name
                known.update({name, full})
                space = param_dicts.get(full, param_dicts.get(name))
                draws = [{}] if not space else list(
                    ParameterSampler(space, n_iter, random_state=self.random_state))
                for i, draw in enumerate(draws):
                    draw = {k: v.item() if isinstance(v, np.generic) else v
                            for k, v in draw.items()}  # fmt: skip
                    tname = f"{full}.{i}"
                    tasks.append(Learner(clone(est).set_params(**draw), indexer, name=tname,
                                         preprocess=pre, scorer=self.scorer, drop_binary=True,
                                         proba=self.response_method == "predict_proba"))
                    params[tname] = (full, draw)
        unknown = sorted(set(param_dicts) - known)
        if unknown:
            raise GraphError(
                f"param_dicts key {unknown[0]!r} names no estimator (known: "
                f"{', '.join(map(repr, sorted(known)))})"
            )
        return tasks, params

    def _collect(self, tasks, params) -> None:
        self.results, self.draws = {}, {}
        for task in tasks:
            if task.kind != "learner":
                continue
            res = task.cv_results_
            full, draw = params[task.name]
            row = {"test_score-m": float(np.mean(res["score"])),
                   "test_score-s": float(np.std(res["score"])),
                   "fit_time-m": float(np.mean(res["fit_time"])),
                   "fit_time-s": float(np.std(res["fit_time"])),
                   "pred_time-m": float(np.mean(res["predict_time"])),
                   "pred_time-s": float(np.std(res["predict_time"])), "params": draw}  # fmt: skip
            self.draws[task.name] = row["test_score-m"]
            best = self.results.get(full)
            if best is None or row["test_score-m"] > best["test_score-m"]:
                self.results[full] = row
