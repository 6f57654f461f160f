"""LayerSpec: what ``add`` records for one layer of an ensemble.

A spec stores the estimators, preprocessing cases and options verbatim
(scikit-learn's constructor contract, so ``clone`` and ``get_params`` work)
and knows how to turn them into tasks: one Transformer per preprocessing
case and one Learner per (case, estimator), named like tasks (class name in
lower case, ``-1``, ``-2`` suffixes; ``(name, estimator)`` pairs set names).

Forms accepted by ``add`` (as in mlens):

- ``estimators=[est, ("name", est), ...]`` with ``preprocessing=None``: no
  preprocessing;
- ``estimators=[...]`` with ``preprocessing=[tr, ...]``: every estimator
  gets that one pipeline (case ``"pr"``);
- ``estimators={"case": [...], ...}`` with ``preprocessing={"case": [...]}``:
  per-case pipelines; a case missing from ``preprocessing`` has none.
"""

from __future__ import annotations

from sklearn.base import BaseEstimator, clone

from foldgraph.errors import GraphError
from foldgraph.tasks.indexers import INDEXERS
from foldgraph.tasks.learner import Learner, Transformer
from foldgraph.tasks.pipeline import Pipeline

__all__ = ["LayerSpec", "named_estimators"]

KINDS = ("stack", "blend", "subsemble", "temporal", "full")


def named_estimators(estimators, where: str) -> list[tuple[str, object]]:
    """``[(name, estimator)]`` with automatic names made unique, in order.

    An estimator without a name is named after its class in lower case,
    with ``-1``, ``-2`` suffixes when the class appears more than once.
    ``where`` names the layer or case in error messages.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> pairs = named_estimators([Ridge(), Ridge(), ("ols", LinearRegression())], "layer-1")
    >>> [name for name, _ in pairs]
    ['ridge-1', 'ridge-2', 'ols']
    """
    if estimators is None:
        return []
    if not isinstance(estimators, (list, tuple)):
        estimators = [estimators]
    pairs, auto = [], []
    for item in estimators:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            pairs.append(item)
        else:
            pairs.append((None, item))
            auto.append(type(item).__name__.lower())
    counts = {n: auto.count(n) for n in auto}
    taken = {n for n, _ in pairs if n is not None}
    seen: dict[str, int] = {}
    out = []
    for name, est in pairs:
        if not callable(getattr(est, "fit", None)):
            raise TypeError(
                f"{where}: {type(est).__name__} does not implement fit: pass "
                f"scikit-learn estimators"
            )
        if name is None:
            base = type(est).__name__.lower()
            if counts[base] == 1 and base not in taken:
                name = base
            else:
                seen[base] = seen.get(base, 0) + 1
                while f"{base}-{seen[base]}" in taken:
                    seen[base] += 1
                name = f"{base}-{seen[base]}"
        if "/" in name or "." in name:
            raise GraphError(f"{where}: estimator name {name!r} may not contain '/' or '.'")
        if name in taken and any(n == name for n, _ in out):
            raise GraphError(f"{where}: two estimators are named {name!r}: rename one")
        taken.add(name)
        out.append((name, est))
    return out


class LayerSpec(BaseEstimator):
    """One layer of an ensemble, as given to ``add``.

    Parameters
    ----------
    kind : {"stack", "blend", "subsemble", "temporal", "full"}
        Indexer family of the layer.
    estimators : list or dict of lists
    preprocessing : list or dict of lists, optional
    proba : bool, default=False
        Stack class probabilities instead of predictions.
    propagate_features : list of int, optional
        Input columns copied beside the predictions.
    indexer_args : dict, optional
        Arguments of the indexer (e.g. ``{"folds": 5}``).
    meta : bool, default=False
        The meta layer (added by ``add_meta``): one estimator, all rows.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> from sklearn.preprocessing import StandardScaler
    >>> spec = LayerSpec("stack", [Ridge(), LinearRegression()],
    ...                  preprocessing=[StandardScaler()], indexer_args={"folds": 3})
    >>> spec.make_indexer()
    FoldIndex(folds=3)
    >>> [(t.name, t.kind) for t in spec.make_tasks("layer-1")]
    [('layer-1.pr', 'transformer'), ('layer-1.ridge', 'learner'), ('layer-1.linearregression', 'learner')]
    >>> spec.get_params()["ridge__alpha"]
    1.0
    """

    def __init__(self, kind="stack", estimators=None, preprocessing=None, proba=False,
                 propagate_features=None, indexer_args=None, meta=False):  # fmt: skip
        self.kind = kind
        self.estimators = estimators
        self.preprocessing = preprocessing
        self.proba = proba
        self.propagate_features = propagate_features
        self.indexer_args = indexer_args
        self.meta = meta

    # -- parameters of the estimators, reachable as <name>__<param> -----------
    def _flat(self) -> list[tuple[str, object]]:
        cases = self.estimators if isinstance(self.estimators, dict) else {"": self.estimators}
        flat = []
        for case, ests in cases.items():
            for name, est in named_estimators(ests, f"case {case!r}"):
                flat.append((f"{case}.{name}" if case else name, est))
        return flat

    def get_params(self, deep: bool = True) -> dict:
        params = super().get_params(deep=False)
        if deep:
            for name, est in self._flat():
                params[name] = est
                params.update({f"{name}__{k}": v for k, v in est.get_params(deep=True).items()})
        return params

    def set_params(self, **params):
        own = {k: v for k, v in params.items() if k in self._get_param_names()}
        super().set_params(**own)
        nested = {k: v for k, v in params.items() if k not in own}
        if nested:
            flat = dict(self._flat())
            for key, value in nested.items():
                name, _, sub = key.partition("__")
                if name not in flat or not sub:
                    raise ValueError(
                        f"invalid parameter {key!r} for this layer (estimators: "
                        f"{', '.join(map(repr, flat))})"
                    )
                flat[name].set_params(**{sub: value})
        return self

    # -- building tasks ---------------------------------------------------------
    def make_indexer(self):
        """A fresh indexer of the layer's kind."""
        if self.kind not in KINDS:
            raise GraphError(
                f"unknown layer kind {self.kind!r}: choose one of {', '.join(map(repr, KINDS))}"
            )
        args = dict(self.indexer_args or {})
        if self.kind == "subsemble" and args.get("partition_estimator") is not None:
            est = args.pop("partition_estimator")
            return INDEXERS["clustered"](est, **args)
        args.pop("partition_estimator", None)
        return INDEXERS[self.kind](**args)

    def make_tasks(self, layer: str, scorer=None) -> list:
        """Transformers (one per case) then Learners, named ``<layer>.<name>``."""
        cases = self._cases()
        tasks = []
        for case, steps in cases.items():
            if steps:
                pipe = Pipeline([(n, clone(s)) for n, s in named_estimators(steps, case)],
                                return_y=True)  # fmt: skip
                tasks.append(Transformer(pipe, self.make_indexer(), name=f"{layer}.{case}"))
        for local, est in self._flat():
            case = local.rsplit(".", 1)[0] if "." in local else ("pr" if "pr" in cases else "")
            pre = f"{layer}.{case}" if cases.get(case) else None
            tasks.append(Learner(clone(est), self.make_indexer(), name=f"{layer}.{local}",
                                 preprocess=pre, proba=self.proba, scorer=scorer))  # fmt: skip
        if not any(t.kind == "learner" for t in tasks):
            raise GraphError(f"{layer}: no estimators were given: pass at least one")
        return tasks

    def _cases(self) -> dict:
        pre = self.preprocessing
        if pre is None:
            return {}
        if isinstance(self.estimators, dict):
            if not isinstance(pre, dict):
                raise GraphError(
                    "estimators is a dict of cases, so preprocessing must be a dict with "
                    "the same keys"
                )
            unknown = sorted(set(pre) - set(self.estimators))
            if unknown:
                raise GraphError(
                    f"preprocessing case {unknown[0]!r} has no estimators (cases: "
                    f"{', '.join(map(repr, self.estimators))})"
                )
            return {case: pre.get(case) for case in self.estimators}
        if isinstance(pre, dict):
            raise GraphError("preprocessing is a dict of cases: estimators must be one too")
        return {"pr": pre}
