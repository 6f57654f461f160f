"""Buffers released: live buffer bytes over time on a 3-layer ensemble (issue 19).

Workload: ``SuperLearner(folds=5, strategy="memory", backend="multiprocessing",
n_jobs=2)`` with its default node cache (in memory), three layers of four
learners (Ridge(1), Ridge(10), LinearRegression, DecisionTreeRegressor(max_depth=3))
and a LinearRegression meta learner, on X of ``--rows`` x 20 float64.

Runs: the fit as shipped (a buffer is released after its last reader, its
cache entries and, for a returned layer, a copy saved first), and the same
fit with release switched off (``Job.free`` made a no-op in this process).

Measured, per run:

- **sum of buffers**: bytes of every computed buffer (``P:layer-k``, ``P:meta``;
  X and y are live throughout and left out);
- **peak live (events)**: a computed buffer is live from the start of its
  first writer until the end of its last reader if the run released it (the
  loop releases it there), else until the end; the peak over the run's
  trace. It depends on the order of the events, not on their durations;
- **peak live (simulator)**: ``simulate(graph, 2, "memory", costs=trace).peak_live_bytes``,
  the same model on the recorded durations;
- **/dev/shm peak**: the largest sampled size (st_blocks, every 5 ms) of
  this process's shared segments, X and y included: pages actually held;
- **tree PSS peak**: the largest sampled PSS of this process and its
  workers (interpreters, estimators, the node cache's copies included);
- **cache holds**: bytes of the prediction blocks in the ensemble's node
  cache after the fit (copies it keeps either way).

Usage::

    .venv/bin/python benchmarks/liveness.py           # 200,000 rows
    .venv/bin/python benchmarks/liveness.py --quick   # 50,000 rows

Writes ``benchmarks/results/liveness.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse

import _common  # noqa: F401  (first: it sets one BLAS thread per process before numpy loads)
from _common import RESULTS, display, environment, markdown_table, write_json
from _memory_sampling import Sampler

MB = 10**6
INPUTS = ("X", "y", "w")


def make_ensemble():
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.tree import DecisionTreeRegressor

    from foldgraph import SuperLearner

    ens = SuperLearner(folds=5, strategy="memory", backend="multiprocessing", n_jobs=2)
    for _ in range(3):
        ens.add([Ridge(alpha=1.0), Ridge(alpha=10.0), LinearRegression(),
                 DecisionTreeRegressor(max_depth=3, random_state=0)])  # fmt: skip
    return ens.add_meta(LinearRegression())


def live_curve(graph, events, released) -> list[tuple[float, int]]:
    """``[(time, live bytes)]`` of the computed buffers over a run (see the module doc)."""
    from foldgraph.engine.liveness import nbytes

    size = {n: nbytes(s) for n, s in graph.buffers.items() if n not in INPUTS}
    first, last = {}, {}
    for e in events:
        a = graph.attrs(e.key)
        for name in {b for b, *_ in a.get("writes", ())} & size.keys():
            first[name] = min(first.get(name, e.start), e.start)
        touched = {b for b, *_ in a.get("reads", ())} | {b for b, *_ in a.get("writes", ())}
        for name in touched & size.keys():
            last[name] = max(last.get(name, e.end), e.end)
    end = max(e.end for e in events)
    steps = [(first[n], 1, size[n]) for n in first]
    steps += [(last[n] if n in released else end, 0, -size[n]) for n in first]
    live, curve = 0, []
    for t, _, delta in sorted(steps):  # at one instant the loop releases before it starts
        live += delta
        curve.append((t, live))
    return curve


def run(X, y, release: bool) -> dict:
    from foldgraph.engine import job as job_module
    from foldgraph.engine.liveness import nbytes
    from foldgraph.engine.simulate import simulate

    released: list = []
    free = job_module.Job.free

    def recording(job, name):  # the loop's own release, noted
        released.append(name)
        return free(job, name)

    job_module.Job.free = recording if release else (lambda job, name: False)
    sampler = Sampler(interval=0.005)
    try:
        ens = make_ensemble()
        sampler.start()
        ens.fit(X, y)
        sampler.stop()
    finally:
        job_module.Job.free = free
    graph, trace = ens.graph_, ens.trace_
    curve = live_curve(graph, trace.events, set(released))
    buffers = sum(nbytes(s) for n, s in graph.buffers.items() if n not in INPUTS)
    blocks = sum(e.block.nbytes for e in ens.node_memory_.values() if e.block is not None)
    return {
        "release": release, "rows": len(X), "nodes": len(graph.nx),
        "sum_buffers": buffers, "peak_live": max(live for _, live in curve),
        "peak_live_simulated": simulate(graph, 2, "memory", costs=trace).peak_live_bytes,
        "shm_peak": max(s[4] for s in sampler.samples), "inputs": len(X) * 21 * 8,
        "pss_peak": max(s[1] for s in sampler.samples),
        "released": sorted(set(released)), "cache_blocks": blocks,
        "curve": [(round(t, 4), live) for t, live in curve],
        "makespan": max(e.end for e in trace.events),
    }  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="50,000 rows")
    args = parser.parse_args()
    import numpy as np

    n = 50_000 if args.quick else args.rows
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, 20))
    y = X[:, :5] @ [1.0, -2.0, 0.5, 3.0, 1.5] + np.sin(X[:, 5]) + 0.1 * rng.normal(size=n)
    runs = [run(X, y, release) for release in (True, False)]
    rows = [[
        "early release" if r["release"] else "release off", f"{r['sum_buffers'] / MB:.1f}",
        f"{r['peak_live'] / MB:.1f}",
        f"{r['peak_live_simulated'] / MB:.1f}" if r["release"] else "n/a (models release)",
        f"{r['shm_peak'] / MB:.1f} (X, y {r['inputs'] / MB:.1f})",
        f"{r['pss_peak'] / MB:.0f}", ", ".join(r["released"]) or "none",
        f"{r['cache_blocks'] / MB:.1f}",
    ] for r in runs]  # fmt: skip
    table = markdown_table(
        ["run", "sum of buffers MB", "peak live MB (events)", "peak live MB (simulator)",
         "/dev/shm peak MB", "tree PSS peak MB", "released", "cache holds MB"],
        rows)  # fmt: skip
    print(f"3-layer SuperLearner, {n:,} x 20, 5 folds, 'memory', multiprocessing n_jobs=2, "
          f"{runs[0]['nodes']} nodes\n")  # fmt: skip
    print(table)
    path = RESULTS / "liveness.json"  # foldgraph bench points RESULTS elsewhere
    write_json(path, {"environment": environment(), "runs": runs, "table": table})
    print(f"\nwrote {display(path)}")


if __name__ == "__main__":
    main()
