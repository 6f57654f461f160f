"""The graph families of benchmarks/families.py and the --quick strategy report (fast)."""

import json
import pickle
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
if not (BENCH / "families.py").is_file():
    pytest.skip("no benchmarks/families.py in this tree", allow_module_level=True)
sys.path.insert(0, str(BENCH))

import families as F  # noqa: E402

from foldgraph.engine import simulate  # noqa: E402

#: expected node counts of the quick preset, from each family's formula
QUICK_NODES = {
    "wide": 8 * (4 + 1) + 1,  # learners x (folds + full) + meta
    "deep": 4 * 3 * (3 + 1) + 1,  # layers x width x (folds + full) + meta
    "subsemble": 3 * 3 * (3 + 1) + 1,  # learners x partitions x (folds + full) + meta
    "hetero": (8 + 2) * (4 + 1) + 1,
    "grid": 2 * (1 + 6) * 3,  # cases x (transformer + candidates) x folds, no full fits
    "random": 4 * 8,  # layers x width
    "stacks": 8 * 4,  # stacks x depth
}


@pytest.mark.parametrize("family", list(F.FAMILIES))
def test_quick_family_shape_costs_and_work(family):
    g = F.make(family, "quick")
    assert len(g) == QUICK_NODES[family]
    assert nx.is_directed_acyclic_graph(g.nx)
    costs = [d["cost"] for _, d in g.nx.nodes(data=True)]
    assert all(c > 0 for c in costs)
    assert sum(costs) == pytest.approx(F.PRESETS["quick"][family]["work"])
    assert g.family["name"] == family
    # every node's cost is what its task's Sleep sleeps on its train rows
    for key in g.nx:
        assert g.attrs(key)["cost"] == pytest.approx(F.node_seconds(g, key))
    g.validate()


@pytest.mark.parametrize("family", list(F.FAMILIES))
def test_families_are_deterministic_and_seeded(family):
    a, b = F.make(family, "quick"), F.make(family, "quick")
    assert [(k, d["cost"]) for k, d in a.nx.nodes(data=True)] == [
        (k, d["cost"]) for k, d in b.nx.nodes(data=True)
    ]
    c = F.make(family, "quick", seed=1)
    assert [d["cost"] for _, d in a.nx.nodes(data=True)] != [
        d["cost"] for _, d in c.nx.nodes(data=True)
    ]


def test_full_presets_are_large_enough_for_256_workers():
    for family in F.FAMILIES:
        g = F.make(family, "full")
        assert len(g) > 256
        assert sum(d["cost"] for _, d in g.nx.nodes(data=True)) == pytest.approx(100.0)
    assert len(F.make("wide", "full")) == 48 * 11 + 1


def test_heterogeneous_has_slow_learners_last():
    g = F.heterogeneous(n_fast=6, n_slow=2, folds=3, work=None)
    tasks = list(g.tasks)
    slow = [t for t in tasks if ".slow" in t]
    assert slow == tasks[-3:-1]  # then the meta learner
    fast_max = max(g.tasks[t].estimator.seconds for t in tasks if ".f" in t)
    assert min(g.tasks[t].estimator.seconds for t in slow) > 10 * fast_max


def test_grid_shares_one_transformer_per_fold():
    g = F.selection_grid(n_cases=2, n_candidates=3, folds=3, work=None)
    fold = "case0/fit/fold-1"
    assert g.attrs(fold)["kind"] == "transformer"
    assert sorted(g.nx.successors(fold)) == [f"case0.m{i:02d}/fit/fold-1" for i in range(3)]
    assert not [k for k in g.nx if k.endswith("/full")]


def test_random_runnable_and_hand_built_have_the_same_structure():
    kw = dict(n_layers=4, width=6, p_edge=0.3, seed=3)
    a = F.random_layered(**kw)
    b = F.random_layered(runnable=False, **kw)
    assert set(a.nx.edges) == set(b.nx.edges)
    assert {k: round(d["cost"], 12) for k, d in a.nx.nodes(data=True)} == {
        k: round(d["cost"], 12) for k, d in b.nx.nodes(data=True)
    }
    ra, rb = simulate(a, 2, "memory"), simulate(b, 2, "memory")
    assert ra.makespan == pytest.approx(rb.makespan)
    assert ra.peak_live_bytes == rb.peak_live_bytes > 0


def test_stacks_are_independent_chains():
    g = F.independent_stacks(n_stacks=5, depth=3, work=None)
    assert nx.number_weakly_connected_components(g.nx) == 5
    assert all(d <= 1 for _, d in g.nx.in_degree())


def test_sleep_fits_for_its_rows_and_pickles_by_reference():
    est = F.Sleep(seconds=0.02, rows=100)
    assert est.duration(50) == pytest.approx(0.01)
    assert F.Sleep(seconds=0.02).duration(7) == pytest.approx(0.02)
    X = np.zeros((10, 2))
    assert est.fit(X).predict(X).shape == (10,)
    assert F.SleepTransformer(0.0).fit(X).transform(X) is X
    blob = pickle.dumps(est)
    assert b"families" in blob and b"Sleep" in blob and len(blob) < 300


def test_cost_table_has_every_kind():
    costs = F.load_costs()
    kinds = set(F.WIDE_KINDS + F.DEEP_KINDS + F.SUB_KINDS + F.FAST_KINDS + F.SLOW_KINDS
                + F.GRID_KINDS + F.CASE_KINDS + F.RANDOM_KINDS)  # fmt: skip
    assert kinds <= set(costs)
    assert all(v > 0 for v in costs.values())


def test_strategies_quick_report(tmp_path, capsys):
    import strategies

    out = tmp_path / "quick.json"
    assert strategies.main(["--quick", "--output", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["workers"] == [2, 16]
    n = len(F.FAMILIES) * len(strategies.STRATEGIES) * 2
    assert len(report["simulations"]) == n
    assert all(r["ratio"] >= 1 - 1e-9 for r in report["simulations"])
    assert "real_runs" not in report
    assert "Makespan / lower bound" in capsys.readouterr().out


def test_packing_bound():
    import strategies

    assert strategies.packing_bound([2.0, 2.0, 2.0, 0.1], 2) == 4.0
    assert strategies.packing_bound([1.0] * 8, 4) == 2.0
    assert strategies.packing_bound([3.0], 4) == 3.0
