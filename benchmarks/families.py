"""Graph families for the scheduling-strategy benchmark (``benchmarks/strategies.py``).

Each generator returns a :class:`~foldgraph.graph.TaskGraph` whose node
``cost`` attributes are the seconds the node is meant to take. The graphs
are built with the real builders (``SuperLearner(...).graph("fit", X, y)``,
``TaskGraph.add_task``), so they can run on any backend. Their estimators
are :class:`Sleep` regressors (and :class:`SleepTransformer` transformers):
``fit`` sleeps for the node's cost. A real run then takes the intended
durations plus the scheduler's own overhead, and the simulator, given the
same costs, can be compared with it.

Where costs come from:

1. **Measured**: the fit time of real scikit-learn estimators (ridge, lasso,
   k-NN, tree, SVR, MLP, histogram boosting, random forest, gradient
   boosting; scaler and PCA for transformers) on ``make_friedman1`` rows,
   measured once by :func:`measure_costs` (``python benchmarks/families.py
   --measure``) and stored in ``benchmarks/results/costs.json``. Each task of a family is given an
   estimator *kind*; its cost is that kind's measured fit time.
2. **Skew**: times a lognormal factor per task, ``exp(N(0, skew))`` (a
   parameter draw, a harder data set...).
3. **Rows**: a node fitting on ``r`` of the task's ``n`` input rows costs
   ``r / n`` of the task's full-fit cost (a fold fit on K-1 of K folds, a
   subsemble partition).
4. **Scale**: all costs are multiplied by one factor so that the graph's
   total work is ``work`` seconds (short for real runs, any value for the
   simulation, whose ratios do not depend on it).

Families (``FAMILIES``): ``wide`` (many learners x folds, one meta),
``deep`` (a sequential ensemble of many layers), ``subsemble``
(partitions x folds), ``hetero`` (a few slow learners after many fast ones),
``grid`` (Evaluator-shaped: a few shared transformers per fold feeding many
candidates), ``random`` (random layered DAGs) and ``stacks`` (the random
family with no cross edges: independent chains). Each has three presets:
``quick`` (tiny, for ``--quick``), ``real`` (about 60 nodes, about 10 s of
work: the real runs at P=2) and ``full`` (hundreds of nodes, enough for 256
workers).

``python benchmarks/families.py [--quick | --preset real]`` prints the
families of a preset (nodes, edges, work, critical path).
"""

from __future__ import annotations

import math
import time

import _common  # noqa: F401  (first: it sets one BLAS thread per process before numpy loads)
import numpy as np
from _common import markdown_table
from _family_costs import COSTS_PATH, DEFAULT_COSTS, load_costs, measure_costs
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin

from foldgraph.graph.builders import gc_paused

__all__ = [
    "Sleep",
    "SleepTransformer",
    "FAMILIES",
    "PRESETS",
    "make",
    "measure_costs",
    "load_costs",
    "COSTS_PATH",
    "DEFAULT_COSTS",
    "wide_super_learner",
    "deep_ensemble",
    "subsemble",
    "heterogeneous",
    "selection_grid",
    "random_layered",
    "independent_stacks",
]


# -- estimators whose fit takes a known time -----------------------------------------
class Sleep(RegressorMixin, BaseEstimator):
    """A regressor whose ``fit`` sleeps ``seconds x len(X) / rows``; predicts zeros.

    Module-level, so that worker processes unpickle it by reference.

    Parameters
    ----------
    seconds : float
        Seconds a fit on ``rows`` rows takes.
    rows : int or None
        Rows of a full fit; ``None``: every fit takes ``seconds``.
    """

    def __init__(self, seconds: float = 0.01, rows: int | None = None):
        self.seconds = seconds
        self.rows = rows

    def duration(self, n_rows: int) -> float:
        """Seconds a fit on ``n_rows`` rows sleeps."""
        return self.seconds * (n_rows / self.rows if self.rows else 1.0)

    def fit(self, X, y=None):
        """Sleep, then return self."""
        time.sleep(self.duration(X.shape[0]))
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        """Zeros, one per row."""
        return np.zeros(X.shape[0])


class SleepTransformer(TransformerMixin, BaseEstimator):
    """A transformer whose ``fit`` sleeps like :class:`Sleep`; ``transform`` is the identity."""

    def __init__(self, seconds: float = 0.01, rows: int | None = None):
        self.seconds = seconds
        self.rows = rows

    def duration(self, n_rows: int) -> float:
        """Seconds a fit on ``n_rows`` rows sleeps."""
        return self.seconds * (n_rows / self.rows if self.rows else 1.0)

    def fit(self, X, y=None):
        """Sleep, then return self."""
        time.sleep(self.duration(X.shape[0]))
        return self

    def transform(self, X):
        """Return ``X`` unchanged."""
        return X


# -- helpers -------------------------------------------------------------------------
def _data(rows: int, features: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((rows, features)), rng.standard_normal(rows)


def _skew(rng, sigma: float) -> float:
    return float(math.exp(rng.normal(0.0, sigma))) if sigma > 0 else 1.0


def _sleep(kind: str, costs: dict, rng, sigma: float, rows: int, cls=Sleep):
    return cls(seconds=costs[kind] * _skew(rng, sigma), rows=rows)


def node_seconds(graph, key: str) -> float:
    """The intended seconds of node ``key``: its task's Sleep duration on its train rows."""
    attrs = graph.attrs(key)
    if attrs.get("kind") == "propagate":
        return 1e-4
    est = graph.tasks[attrs["task"]].estimator
    rows = sum(b - a for a, b in attrs.get("train") or attrs.get("test") or ())
    return est.duration(rows)


def _finish(graph, work: float | None, name: str, params: dict):
    """Scale the Sleep estimators so the total node time is ``work``; set node costs."""
    if work is not None:
        total = sum(node_seconds(graph, k) for k in graph.nx)
        factor = work / total
        for task in graph.tasks.values():
            task.estimator.set_params(seconds=task.estimator.seconds * factor)
    for key in graph.nx:
        attrs = graph.attrs(key)
        attrs["cost"] = node_seconds(graph, key)
        attrs["cost_source"] = "family"
    graph.family = {"name": name, **params}
    return graph


# -- the families ----------------------------------------------------------------------
WIDE_KINDS = ("ridge", "lasso", "knn", "tree", "svr", "mlp", "hgb", "forest")


def wide_super_learner(n_learners: int = 48, folds: int = 10, rows: int = 400,
                       skew: float = 0.5, work: float | None = 100.0, seed: int = 0,
                       costs: dict | None = None):  # fmt: skip
    """A SuperLearner with one wide layer (``n_learners`` kinds cycled) and a meta learner.

    Nodes: ``n_learners x (folds + 1) + 1``.
    """
    from foldgraph import SuperLearner

    costs = costs or load_costs()
    rng = np.random.default_rng(seed)
    ests = [(f"l{i:02d}", _sleep(WIDE_KINDS[i % len(WIDE_KINDS)], costs, rng, skew, rows))
            for i in range(n_learners)]  # fmt: skip
    ens = SuperLearner(folds=folds).add(ests).add_meta(Sleep(costs["ridge"], rows))
    X, y = _data(rows, seed=seed)
    graph = ens.graph("fit", X, y)
    return _finish(graph, work, "wide", dict(n_learners=n_learners, folds=folds, rows=rows,
                                             skew=skew, seed=seed))  # fmt: skip


DEEP_KINDS = ("ridge", "tree", "knn", "hgb", "svr", "lasso")


def deep_ensemble(n_layers: int = 16, width: int = 4, folds: int = 5, rows: int = 400,
                  skew: float = 0.5, work: float | None = 100.0, seed: int = 0,
                  costs: dict | None = None):  # fmt: skip
    """A SuperLearner of ``n_layers`` stacked layers of ``width`` learners, plus a meta.

    Each layer reads the previous layer's out-of-fold predictions, so the
    fold fits of layer ``i`` wait for every fold fit of layer ``i - 1``; the
    full fits are off the chain. Nodes: ``n_layers x width x (folds + 1) + 1``.
    """
    from foldgraph import SuperLearner

    costs = costs or load_costs()
    rng = np.random.default_rng(seed)
    ens = SuperLearner(folds=folds)
    for layer in range(n_layers):
        ens.add([(f"d{j}", _sleep(DEEP_KINDS[(layer + j) % len(DEEP_KINDS)], costs, rng, skew,
                                  rows)) for j in range(width)])  # fmt: skip
    ens.add_meta(Sleep(costs["ridge"], rows))
    X, y = _data(rows, seed=seed)
    graph = ens.graph("fit", X, y)
    return _finish(graph, work, "deep", dict(n_layers=n_layers, width=width, folds=folds,
                                             rows=rows, skew=skew, seed=seed))  # fmt: skip


SUB_KINDS = ("ridge", "tree", "svr", "mlp", "hgb", "forest", "knn", "gbm")


def subsemble(n_learners: int = 8, partitions: int = 8, folds: int = 5, rows: int = 800,
              skew: float = 0.5, work: float | None = 100.0, seed: int = 0,
              costs: dict | None = None):  # fmt: skip
    """A Subsemble: ``n_learners`` x ``partitions`` x (``folds`` + 1) nodes, plus a meta.

    A partition's fit trains on its own rows only (1 / partitions of the task's
    full-data cost).
    """
    from foldgraph import Subsemble

    costs = costs or load_costs()
    rng = np.random.default_rng(seed)
    ests = [(f"s{i}", _sleep(SUB_KINDS[i % len(SUB_KINDS)], costs, rng, skew, rows))
            for i in range(n_learners)]  # fmt: skip
    ens = Subsemble(partitions=partitions, folds=folds).add(ests)
    ens.add_meta(Sleep(costs["ridge"], rows))
    X, y = _data(rows, seed=seed)
    graph = ens.graph("fit", X, y)
    return _finish(graph, work, "subsemble", dict(n_learners=n_learners, partitions=partitions,
                                                  folds=folds, rows=rows, skew=skew,
                                                  seed=seed))  # fmt: skip


FAST_KINDS = ("ridge", "lasso", "knn", "tree")
SLOW_KINDS = ("gbm", "forest")


def heterogeneous(n_fast: int = 40, n_slow: int = 4, folds: int = 10, rows: int = 400,
                  skew: float = 0.3, work: float | None = 100.0, seed: int = 0,
                  costs: dict | None = None):  # fmt: skip
    """A SuperLearner whose last ``n_slow`` learners are slow (forests, boosting).

    Listed after the fast ones, as users tend to write them: build order
    (FIFO) reaches the slow fold fits last. Nodes: ``(n_fast + n_slow) x
    (folds + 1) + 1``.
    """
    from foldgraph import SuperLearner

    costs = costs or load_costs()
    rng = np.random.default_rng(seed)
    ests = [(f"f{i:02d}", _sleep(FAST_KINDS[i % len(FAST_KINDS)], costs, rng, skew, rows))
            for i in range(n_fast)]  # fmt: skip
    ests += [(f"slow{i}", _sleep(SLOW_KINDS[i % len(SLOW_KINDS)], costs, rng, skew, rows))
             for i in range(n_slow)]  # fmt: skip
    ens = SuperLearner(folds=folds).add(ests).add_meta(Sleep(costs["ridge"], rows))
    X, y = _data(rows, seed=seed)
    graph = ens.graph("fit", X, y)
    return _finish(graph, work, "hetero", dict(n_fast=n_fast, n_slow=n_slow, folds=folds,
                                               rows=rows, skew=skew, seed=seed))  # fmt: skip


GRID_KINDS = ("ridge", "lasso", "knn", "tree", "svr", "mlp", "hgb")
CASE_KINDS = ("scaler", "pca")


def selection_grid(n_cases: int = 3, n_candidates: int = 40, folds: int = 5, rows: int = 400,
                   skew: float = 0.7, work: float | None = 100.0, seed: int = 0,
                   costs: dict | None = None):  # fmt: skip
    """Evaluator-shaped: per case one Transformer (fitted per fold) feeding candidates.

    ``n_candidates`` learners per case (estimator kinds cycled, a lognormal
    factor per draw as for a random parameter search), each with
    ``preprocess=<case>``; like :class:`foldgraph.Evaluator`, the full-data
    fits are removed. Nodes: ``n_cases x (1 + n_candidates) x folds``.
    """
    from foldgraph import FoldIndex, Learner, Transformer
    from foldgraph.graph import TaskGraph

    costs = costs or load_costs()
    rng = np.random.default_rng(seed)
    X, y = _data(rows, seed=seed)
    graph = TaskGraph("fit", X=X, y=y)
    for c in range(n_cases):
        case = f"case{c}"
        pre = _sleep(CASE_KINDS[c % len(CASE_KINDS)], costs, rng, 0.0, rows, SleepTransformer)
        graph.add_task(Transformer(pre, FoldIndex(folds), name=case))
        for i in range(n_candidates):
            est = _sleep(GRID_KINDS[i % len(GRID_KINDS)], costs, rng, skew, rows)
            graph.add_task(Learner(est, FoldIndex(folds), name=f"{case}.m{i:02d}",
                                   preprocess=case))  # fmt: skip
    for key in [k for k, d in graph.nx.nodes(data=True) if d["fold"] == "full"]:
        graph.remove_node(key)  # evaluation needs the fold fits only
    graph.validate()
    return _finish(graph, work, "grid", dict(n_cases=n_cases, n_candidates=n_candidates,
                                             folds=folds, rows=rows, skew=skew,
                                             seed=seed))  # fmt: skip


RANDOM_KINDS = ("ridge", "lasso", "knn", "tree", "svr", "mlp", "hgb", "forest", "gbm")


def _random_structure(n_layers, width, p_edge, skew, seed, costs):
    """Layers of task names, each task's parents and its kind-and-skew seconds."""
    rng = np.random.default_rng(seed)
    table = np.array([costs[k] for k in RANDOM_KINDS])
    layers, parents, seconds = [], {}, {}
    for i in range(n_layers):
        names = [f"r{i:02d}-{j:03d}" for j in range(width)]
        secs = table[rng.integers(len(RANDOM_KINDS), size=width)]
        if skew > 0:
            secs = secs * np.exp(rng.normal(0.0, skew, size=width))
        seconds.update(zip(names, secs.tolist()))
        if i == 0:
            parents.update((name, []) for name in names)
            layers.append(names)
            continue
        prev = layers[-1]
        perm = rng.permutation(width)  # every buffer of layer i - 1 is read once
        n_extra = rng.binomial(width - 1, p_edge, size=width) if p_edge > 0 else [0] * width
        for j, name in enumerate(names):
            extra = []
            if n_extra[j]:  # each other task of layer i - 1 with probability p_edge
                others = rng.choice(width - 1, size=n_extra[j], replace=False)
                extra = [prev[k if k < perm[j] else k + 1] for k in sorted(others.tolist())]
            parents[name] = [prev[perm[j]]] + extra
        layers.append(names)
    return layers, parents, seconds


def random_layered(n_layers: int = 10, width: int = 48, p_edge: float = 0.02, rows: int = 400,
                   skew: float = 1.0, work: float | None = 100.0, seed: int = 0,
                   costs: dict | None = None, runnable: bool = True,
                   name: str = "random"):  # fmt: skip
    """A random layered DAG of one-node tasks (``Learner(Sleep, FullIndex())``).

    Layer 0 reads X; the tasks of layer ``i`` read the output buffers of
    layer ``i - 1`` in a random permutation (an edge each; a buffer is live
    from its writer's start to its reader's end, the last layer's until the
    end) and also wait for each other task of layer ``i - 1`` with
    probability ``p_edge`` (an ordering edge, no data). The last layer's
    tasks are sinks that write nothing (Transformers: like the full fits of
    an ensemble), so the live bytes are those of intermediate buffers.
    Costs: a random estimator kind per task times a lognormal factor.
    Nodes: ``n_layers x width``.

    ``runnable=False`` adds the same nodes with ``TaskGraph.add_node`` (reads,
    writes and buffers included, so memory is tracked): about 20x faster to
    build, for simulation only (the scale check).
    """
    costs = costs or load_costs()
    layers, parents, seconds = _random_structure(n_layers, width, p_edge, skew, seed, costs)
    X, y = _data(rows, seed=seed)
    params = dict(n_layers=n_layers, width=width, p_edge=p_edge, rows=rows, skew=skew,
                  seed=seed)  # fmt: skip
    factor = 1.0 if work is None else work / sum(seconds.values())
    full = ((0, rows),)
    sinks = set(layers[-1]) if n_layers > 1 else set()
    with gc_paused():  # as the builders do: no cycles, and full collections cost
        return _build_random(layers, parents, seconds, sinks, factor, full, X, y, rows, work,
                             name, params, runnable)  # fmt: skip


def _build_random(layers, parents, seconds, sinks, factor, full, X, y, rows, work, name,
                  params, runnable):  # fmt: skip
    from foldgraph import FullIndex, Learner, Transformer
    from foldgraph.graph import TaskGraph
    from foldgraph.graph.nodes import BufferSpec

    if not runnable:
        graph = TaskGraph("fit")
        for layer in layers:
            for task in layer:
                out, src = f"P:{task}", parents[task][:1]
                writes = ()
                if task not in sinks:
                    graph.buffers[out] = BufferSpec(out, (rows, 1), "float64")
                    writes = ((out, full, (0, 1)),)
                reads = ((f"P:{src[0]}" if src else "X", full, None),)
                graph.add_node(f"{task}/fit/full", task=task,
                               kind="transformer" if task in sinks else "learner", op="fit",
                               fold="full", train=full, test=full, reads=reads, writes=writes,
                               cost=seconds[task] * factor, cost_source="family")  # fmt: skip
                for p in parents[task]:
                    graph.add_edge(f"{p}/fit/full", f"{task}/fit/full")
        graph.family = {"name": name, **params}
        return graph
    graph = TaskGraph("fit", X=X, y=y)
    for layer in layers:
        for task in layer:
            src = parents[task][:1]
            if task in sinks:
                node = Transformer(SleepTransformer(seconds[task], rows), FullIndex(), name=task)
            else:
                node = Learner(Sleep(seconds[task], rows), FullIndex(), name=task)
            graph.add_task(node, input=f"P:{src[0]}" if src else "X")
            for p in parents[task][1:]:
                graph.add_edge(f"{p}/fit/full", f"{task}/fit/full", via="order")
    graph.validate()
    return _finish(graph, work, name, params)


def independent_stacks(n_stacks: int = 48, depth: int = 10, rows: int = 400, skew: float = 1.0,
                       work: float | None = 100.0, seed: int = 0, costs: dict | None = None,
                       runnable: bool = True):  # fmt: skip
    """``n_stacks`` independent chains of ``depth`` one-node tasks (a random layered DAG
    with no cross edges): many small stacks in one graph, where the order of the
    ready nodes decides how many intermediate buffers are live at once.
    """
    return random_layered(n_layers=depth, width=n_stacks, p_edge=0.0, rows=rows, skew=skew,
                          work=work, seed=seed, costs=costs, runnable=runnable,
                          name="stacks")  # fmt: skip


# -- registry ------------------------------------------------------------------------
FAMILIES = {
    "wide": wide_super_learner,
    "deep": deep_ensemble,
    "subsemble": subsemble,
    "hetero": heterogeneous,
    "grid": selection_grid,
    "random": random_layered,
    "stacks": independent_stacks,
}

#: per family: the parameters of each preset (``work`` in seconds)
PRESETS = {
    "quick": {
        "wide": dict(n_learners=8, folds=4, work=10.0),
        "deep": dict(n_layers=4, width=3, folds=3, work=10.0),
        "subsemble": dict(n_learners=3, partitions=3, folds=3, work=10.0),
        "hetero": dict(n_fast=8, n_slow=2, folds=4, work=10.0),
        "grid": dict(n_cases=2, n_candidates=6, folds=3, work=10.0),
        "random": dict(n_layers=4, width=8, work=10.0),
        "stacks": dict(n_stacks=8, depth=4, work=10.0),
    },
    "real": {
        "wide": dict(n_learners=8, folds=5, work=10.0),
        "deep": dict(n_layers=5, width=3, folds=3, work=10.0),
        "subsemble": dict(n_learners=4, partitions=3, folds=3, work=10.0),
        "hetero": dict(n_fast=10, n_slow=2, folds=5, work=10.0),
        "grid": dict(n_cases=2, n_candidates=8, folds=4, work=10.0),
        "random": dict(n_layers=5, width=12, work=10.0),
        "stacks": dict(n_stacks=12, depth=5, work=10.0),
    },
    "full": {
        "wide": dict(n_learners=48, folds=10, work=100.0),
        "deep": dict(n_layers=16, width=4, folds=5, work=100.0),
        "subsemble": dict(n_learners=8, partitions=8, folds=5, work=100.0),
        "hetero": dict(n_fast=40, n_slow=4, folds=10, work=100.0),
        "grid": dict(n_cases=3, n_candidates=40, folds=5, work=100.0),
        "random": dict(n_layers=10, width=48, work=100.0),
        "stacks": dict(n_stacks=48, depth=10, work=100.0),
    },
}


def make(family: str, preset: str = "full", **overrides):
    """Build ``family`` with the parameters of ``preset`` (and ``overrides``)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}: choose one of {', '.join(FAMILIES)}")
    return FAMILIES[family](**{**PRESETS[preset][family], **overrides})


def describe(preset: str = "full") -> str:
    """A markdown table of the families of ``preset``: nodes, edges, work, critical path."""
    rows = []
    for family in FAMILIES:
        g = make(family, preset)
        cp = max(g.bottom_level().values())
        rows.append([family, f"{len(g):,}", f"{g.nx.number_of_edges():,}", f"{g.total_cost():.1f}",
                     f"{cp:.2f}"])  # fmt: skip
    return markdown_table(["family", "nodes", "edges", "work s", "critical path s"], rows)


def main(argv=None) -> int:
    """``python benchmarks/families.py [--quick] [--measure]``: describe the families;
    ``--measure`` re-measures the cost table (results/costs.json)."""
    import argparse

    parser = argparse.ArgumentParser(description="Graph families of the strategy benchmark")
    parser.add_argument("--quick", action="store_true", help="describe the quick preset")
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None)
    parser.add_argument("--measure", action="store_true",
                        help="fit the real estimators and rewrite results/costs.json")
    args = parser.parse_args(argv)
    if args.measure:
        table = measure_costs()
        rows = [[kind, f"{s * 1000:.1f}"] for kind, s in table["seconds"].items()]
        print(markdown_table(["kind", "fit ms"], rows) + "\n")
    preset = args.preset or ("quick" if args.quick else "full")
    print(f"{preset} preset:\n\n{describe(preset)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
