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

import _common  # noqa: F401  (first: it sets one BLAS thread per process before numpy loads)
import numpy as np
from _common import markdown_table
from _families_base import Sleep, SleepTransformer, finish, make_data, node_seconds, sleep_for
from _families_costs import COSTS_PATH, DEFAULT_COSTS, load_costs, measure_costs
from _families_random import RANDOM_KINDS, independent_stacks, random_layered

__all__ = [
    "Sleep",
    "SleepTransformer",
    "node_seconds",
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
    "RANDOM_KINDS",
]


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
    ests = [(f"l{i:02d}", sleep_for(WIDE_KINDS[i % len(WIDE_KINDS)], costs, rng, skew, rows))
            for i in range(n_learners)]  # fmt: skip
    ens = SuperLearner(folds=folds).add(ests).add_meta(Sleep(costs["ridge"], rows))
    X, y = make_data(rows, seed=seed)
    graph = ens.graph("fit", X, y)
    return finish(graph, work, "wide", dict(n_learners=n_learners, folds=folds, rows=rows,
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
        ens.add([(f"d{j}", sleep_for(DEEP_KINDS[(layer + j) % len(DEEP_KINDS)], costs, rng, skew,
                                  rows)) for j in range(width)])  # fmt: skip
    ens.add_meta(Sleep(costs["ridge"], rows))
    X, y = make_data(rows, seed=seed)
    graph = ens.graph("fit", X, y)
    return finish(graph, work, "deep", dict(n_layers=n_layers, width=width, folds=folds,
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
    ests = [(f"s{i}", sleep_for(SUB_KINDS[i % len(SUB_KINDS)], costs, rng, skew, rows))
            for i in range(n_learners)]  # fmt: skip
    ens = Subsemble(partitions=partitions, folds=folds).add(ests)
    ens.add_meta(Sleep(costs["ridge"], rows))
    X, y = make_data(rows, seed=seed)
    graph = ens.graph("fit", X, y)
    return finish(graph, work, "subsemble", dict(n_learners=n_learners, partitions=partitions,
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
    ests = [(f"f{i:02d}", sleep_for(FAST_KINDS[i % len(FAST_KINDS)], costs, rng, skew, rows))
            for i in range(n_fast)]  # fmt: skip
    ests += [(f"slow{i}", sleep_for(SLOW_KINDS[i % len(SLOW_KINDS)], costs, rng, skew, rows))
             for i in range(n_slow)]  # fmt: skip
    ens = SuperLearner(folds=folds).add(ests).add_meta(Sleep(costs["ridge"], rows))
    X, y = make_data(rows, seed=seed)
    graph = ens.graph("fit", X, y)
    return finish(graph, work, "hetero", dict(n_fast=n_fast, n_slow=n_slow, folds=folds,
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
    X, y = make_data(rows, seed=seed)
    graph = TaskGraph("fit", X=X, y=y)
    for c in range(n_cases):
        case = f"case{c}"
        pre = sleep_for(CASE_KINDS[c % len(CASE_KINDS)], costs, rng, 0.0, rows, SleepTransformer)
        graph.add_task(Transformer(pre, FoldIndex(folds), name=case))
        for i in range(n_candidates):
            est = sleep_for(GRID_KINDS[i % len(GRID_KINDS)], costs, rng, skew, rows)
            graph.add_task(Learner(est, FoldIndex(folds), name=f"{case}.m{i:02d}",
                                   preprocess=case))  # fmt: skip
    for key in [k for k, d in graph.nx.nodes(data=True) if d["fold"] == "full"]:
        graph.remove_node(key)  # evaluation needs the fold fits only
    graph.validate()
    return finish(graph, work, "grid", dict(n_cases=n_cases, n_candidates=n_candidates,
                                             folds=folds, rows=rows, skew=skew,
                                             seed=seed))  # fmt: skip


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
