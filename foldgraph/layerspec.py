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
from sklearn.model_selection import KFold, StratifiedKFold

from foldgraph.errors import GraphError
from foldgraph.tasks.indexers import INDEXERS, BaseIndex, FoldIndex
from foldgraph.tasks.learner import Learner, Transformer
from foldgraph.tasks.pipeline import Pipeline
from foldgraph.tasks.splitters import SplitIndex, is_splitter

from .inputs import check_folds

__all__ = ["LayerSpec", "named_estimators", "stack_indexer"]

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
        if not callable(getattr(est, "fit", None)) and not _is_drop(est):
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


def _is_drop(est) -> bool:
    return isinstance(est, str) and est == "drop"


def _replaced(items, local: str, value, where: str) -> list:
    """``items`` with the one named ``local`` replaced by ``value``, under the same name."""
    pairs = named_estimators(items, where)
    return [(n, value if n == local else e) for n, e in pairs]


def stack_indexer(folds, classifier=False, shuffle=False, seed=None, groups=None):
    """The indexer of a stacking layer: what scikit-learn's stacking would use for ``cv=folds``.

    Examples
    --------
    >>> stack_indexer(3)
    FoldIndex(folds=3)
    >>> stack_indexer(3, classifier=True).splitter
    StratifiedKFold(n_splits=3, random_state=None, shuffle=False)
    >>> stack_indexer(3, shuffle=True, seed=0).splitter
    KFold(n_splits=3, random_state=0, shuffle=True)
    """
    if isinstance(folds, BaseIndex):
        return folds
    if is_splitter(folds):
        return SplitIndex(folds, groups)
    check_folds(folds)
    seed = seed if shuffle else None
    if classifier:
        return SplitIndex(StratifiedKFold(folds, shuffle=bool(shuffle), random_state=seed), groups)
    if shuffle:
        return SplitIndex(KFold(folds, shuffle=True, random_state=seed), groups)
    return FoldIndex(folds)


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
    def named(self, where: str = "this layer") -> list[tuple[str, object]]:
        """``[(name, estimator)]`` of the layer, ``<case>.<name>`` in a dict of cases;
        ``where`` names the layer in error messages."""
        cases = self.estimators if isinstance(self.estimators, dict) else {"": self.estimators}
        flat = []
        for case, ests in cases.items():
            for name, est in named_estimators(ests, f"case {case!r}" if case else where):
                flat.append((f"{case}.{name}" if case else name, est))
        return flat

    def named_steps(self) -> list[tuple[str, str, object]]:
        """``(key, case, step)`` of every preprocessing step; keys ``pr.<step>`` or
        ``<case>.pr.<step>`` (a dot never appears in an estimator's own name)."""
        out = []
        for case, steps in self._cases().items():
            prefix = "pr" if case == "pr" and not isinstance(self.estimators, dict) else f"{case}.pr"
            for name, step in named_estimators(steps, f"preprocessing case {case!r}"):
                out.append((f"{prefix}.{name}", case, step))
        return out

    def get_params(self, deep: bool = True) -> dict:
        params = super().get_params(deep=False)
        if deep:
            for name, est in self.named() + [(k, s) for k, _, s in self.named_steps()]:
                params[name] = est
                if hasattr(est, "get_params"):
                    params.update({f"{name}__{k}": v for k, v in est.get_params(deep=True).items()})
        return params

    def set_params(self, **params):
        """Set the layer's own parameters, replace an estimator or a preprocessing step
        (``ridge=SVR()``, ``pr.standardscaler=MinMaxScaler()``) or set theirs
        (``ridge__alpha=3``). A replaced estimator keeps its name."""
        own = {k: v for k, v in params.items() if k in self._get_param_names()}
        super().set_params(**own)
        for key, value in params.items():
            if key in own:
                continue
            name, _, sub = key.partition("__")
            flat, steps = dict(self.named()), {k: (case, s) for k, case, s in self.named_steps()}
            if name in flat and sub:
                flat[name].set_params(**{sub: value})
            elif name in flat:
                self._replace_estimator(name, value)
            elif name in steps and sub:
                steps[name][1].set_params(**{sub: value})
            elif name in steps:
                self._replace_step(name, steps[name][0], value)
            else:
                known = ", ".join(map(repr, list(flat) + list(steps)))
                raise ValueError(f"invalid parameter {key!r} for this layer (its estimators "
                                 f"and preprocessing steps: {known})")
        return self

    def _replace_estimator(self, name: str, value) -> None:
        case, _, local = name.rpartition(".")
        if isinstance(self.estimators, dict):
            cases = dict(self.estimators)
            cases[case] = _replaced(cases[case], local, value, f"case {case!r}")
            self.estimators = cases
        else:
            self.estimators = _replaced(self.estimators, local, value, "this layer")

    def _replace_step(self, key: str, case: str, value) -> None:
        local = key.rsplit(".", 1)[1]
        if isinstance(self.preprocessing, dict):
            pre = dict(self.preprocessing)
            pre[case] = _replaced(pre[case], local, value, f"preprocessing case {case!r}")
            self.preprocessing = pre
        else:
            self.preprocessing = _replaced(self.preprocessing, local, value, "preprocessing")

    # -- building tasks ---------------------------------------------------------
    def make_indexer(self, defaults=None, classifier=False, shuffle=False, seed=None,
                     groups=None):  # fmt: skip
        """A fresh indexer of the layer's kind.

        ``defaults`` are the ensemble's indexer arguments (its ``folds``,
        ``test_size``...), read at every fit and overridden by the layer's
        own ``indexer_args``. A ``"stack"`` layer's ``folds`` may be an int
        (StratifiedKFold for a classifier, KFold otherwise, shuffled with
        ``seed`` if ``shuffle``) or any CV splitter (``groups`` reach it).
        """
        if self.kind not in KINDS:
            raise GraphError(
                f"unknown layer kind {self.kind!r}: choose one of {', '.join(map(repr, KINDS))}"
            )
        args = {**(defaults or {}), **(self.indexer_args or {})} if not self.meta else {}
        if self.kind == "stack":
            folds = args.pop("folds", 2)
            if args:
                raise TypeError(f"a 'stack' layer takes folds only, got {sorted(args)}")
            return stack_indexer(folds, classifier, shuffle, seed, groups)
        if self.kind == "subsemble" and args.get("partition_estimator") is not None:
            est = args.pop("partition_estimator")
            return INDEXERS["clustered"](est, **args)
        args.pop("partition_estimator", None)
        return INDEXERS[self.kind](**args)

    def make_tasks(self, layer: str, scorer=None, indexer=None) -> list:
        """Transformers (one per case) then Learners, named ``<layer>.<name>``.

        Every task of the layer shares ``indexer`` (default: :meth:`make_indexer`),
        so a learner and its preprocessing always cut the same folds.
        """
        indexer = self.make_indexer() if indexer is None else indexer
        cases = self._cases()
        tasks = []
        for case, steps in cases.items():
            if steps:
                pipe = Pipeline([(n, clone(s)) for n, s in named_estimators(steps, case)],
                                return_y=True)  # fmt: skip
                tasks.append(Transformer(pipe, indexer, name=f"{layer}.{case}"))
        for local, est in self.named(layer):
            if _is_drop(est):  # as in scikit-learn's stacking: set_params(<name>="drop")
                continue
            case = local.rsplit(".", 1)[0] if "." in local else ("pr" if "pr" in cases else "")
            pre = f"{layer}.{case}" if cases.get(case) else None
            tasks.append(Learner(clone(est), indexer, name=f"{layer}.{local}", preprocess=pre,
                                 proba=self.proba, scorer=scorer, drop_binary=True))  # fmt: skip
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
