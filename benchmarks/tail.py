"""The tail policy: idle cores given to the critical node, simulated and real.

Simulated: every graph family of ``benchmarks/families.py`` with the
``critical_path`` strategy on P = 4, 16, 64, 256 workers (one core each),
every node moldable with Amdahl's law at a parallel fraction ``--fraction``
(0.9 by default: 1.82x on 2 threads, 3.1x on 4), simulated with and without
the tail policy (``simulate(..., tail=True, speedup=...)``). Reported: both
makespans, their ratio, and the lower bound for moldable nodes
``max(work / P, longest path with every node at its P-thread speed)``.

Real (2 workers, unless ``--no-real``): a bagged super learner
(``refit=False``: the layer-1 fold models predict, no full fits) whose meta
learner is a large forest, so the meta fit runs alone at the end: layer 1
Ridge, k-NN(10), RandomForest(40, depth 10) x 4 folds, meta
RandomForest(300, depth 14) on 20,000 x 20 rows, fitted with
``ParallelProcessing("multiprocessing", n_jobs=2, tail=True)`` and
``tail=False`` alternately (``--repeat`` times, medians), predictions
compared to the last bit. Beside it, the same ensemble with ``refit=True``,
where the layer-1 full fits are still ready when the meta fit starts: the
rule gives nothing (a node is raised only when fewer nodes are ready than
cores are free).

Usage::

    .venv/bin/python benchmarks/tail.py              # simulations + real runs (~3 min)
    .venv/bin/python benchmarks/tail.py --no-real    # simulations only
    .venv/bin/python benchmarks/tail.py --quick      # small graphs, 1 real repetition

Writes ``benchmarks/results/tail.json`` (``tail_quick.json``) and prints
markdown tables.
"""

from __future__ import annotations

import argparse
import sys
import time

import _common  # noqa: F401  (first: it sets one BLAS thread per process before numpy loads)
import families as F
import numpy as np
from _common import RESULTS, CpuMeter, display, environment, markdown_table, median, rnd, write_json

from foldgraph.engine.simulate import simulate

WORKERS = (4, 16, 64, 256)


def amdahl(fraction: float):
    """``speedup(node, threads)`` for a parallel fraction (every node alike)."""
    return lambda key, threads: 1.0 / ((1.0 - fraction) + fraction / max(1, threads))


def moldable_bound(graph, P: int, speed) -> float:
    """``max(work / P, longest path with every node at its P-thread speed)``."""
    work = sum(d["cost"] for _, d in graph.nx.nodes(data=True))
    fastest = {k: d["cost"] / speed(k, P) for k, d in graph.nx.nodes(data=True)}
    for key in fastest:
        graph.nx.nodes[key]["fast"] = fastest[key]
    return max(work / P, max(graph.bottom_level("fast").values()))


def simulated(preset: str, workers, fraction: float) -> list[dict]:
    speed, rows = amdahl(fraction), []
    for family in F.FAMILIES:
        graph = F.make(family, preset)
        for P in workers:
            t0 = time.perf_counter()
            plain = simulate(graph, P, "critical_path", memory=False)
            tail = simulate(graph, P, "critical_path", memory=False, tail=True, speedup=speed)
            rows.append({
                "family": family, "P": P, "nodes": len(graph), "makespan_s": plain.makespan,
                "tail_makespan_s": tail.makespan, "ratio": tail.makespan / plain.makespan,
                "raised": len(tail.raised), "bound_s": moldable_bound(graph, P, speed),
                "simulate_s": time.perf_counter() - t0,
            })  # fmt: skip
    return rows


def _data(n: int):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 20))
    y = X @ rng.standard_normal(20) + np.sin(3 * X[:, 0]) + 0.1 * rng.standard_normal(n)
    return X, y


def _ensemble(refit: bool, quick: bool):
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import Ridge
    from sklearn.neighbors import KNeighborsRegressor

    from foldgraph import SuperLearner

    ens = SuperLearner(folds=4, refit=refit, random_state=0)
    ens.add([Ridge(), KNeighborsRegressor(10),
             RandomForestRegressor(10 if quick else 40, max_depth=10, random_state=0)])
    ens.add_meta(RandomForestRegressor(60 if quick else 300, max_depth=14, random_state=0))
    return ens


def real(repeat: int, quick: bool) -> list[dict]:
    from foldgraph import ParallelProcessing

    X, y = _data(5_000 if quick else 20_000)
    rows, meter = [], CpuMeter()
    for refit in (False, True):
        times, raised, loads, preds = {True: [], False: []}, {}, [], {}
        for rep in range(repeat + 1):  # the first round warms the pool and the cost model
            for tail in (True, False):  # alternately: a change of foreign load hits both
                pp = ParallelProcessing("multiprocessing", n_jobs=2, tail=tail)
                ens = _ensemble(refit, quick).set_params(backend=pp)
                meter.start()
                t0 = time.perf_counter()
                ens.fit(X, y)
                seconds = time.perf_counter() - t0
                loads.append(meter.stop()["foreign_load_cpus"])
                if rep:
                    times[tail].append(seconds)
                raised[tail] = dict(pp.trace.raised)
                preds[tail] = ens.predict(X)
        rows.append({
            "refit": refit, "with_tail_s": median(times[True]), "without_s": median(times[False]),
            "ratio": median(times[True]) / median(times[False]), "raised": raised[True],
            "identical": bool(np.array_equal(preds[True], preds[False])),
            "foreign_load_cpus": median(loads),
        })  # fmt: skip
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-real", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fraction", type=float, default=0.9)
    args = parser.parse_args(argv)
    preset, workers = ("quick", (4, 16)) if args.quick else ("full", WORKERS)
    sims = simulated(preset, workers, args.fraction)
    print(markdown_table(
        ["family", "P", "nodes", "makespan (s)", "with tail (s)", "tail / without", "raised",
         "moldable bound (s)"],
        [[r["family"], r["P"], r["nodes"], rnd(r["makespan_s"], 3), rnd(r["tail_makespan_s"], 3),
          rnd(r["ratio"], 3), r["raised"], rnd(r["bound_s"], 3)] for r in sims]))  # fmt: skip
    out = {"environment": environment(), "fraction": args.fraction, "simulated": sims}
    if not args.no_real:
        out["real"] = runs = real(1 if args.quick else args.repeat, args.quick)
        print()
        print(markdown_table(
            ["refit", "with tail (s)", "without (s)", "ratio", "raised", "identical", "load"],
            [[r["refit"], rnd(r["with_tail_s"], 3), rnd(r["without_s"], 3), rnd(r["ratio"], 3),
              ", ".join(f"{k}: {v}" for k, v in r["raised"].items()) or "none",
              r["identical"], rnd(r["foreign_load_cpus"], 2)] for r in runs]))  # fmt: skip
    path = RESULTS / ("tail_quick.json" if args.quick else "tail.json")
    write_json(path, out)
    print(f"\nwritten to {display(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
