"""A memory budget held: first fit against AutoGluon's all-or-sequential rule (issue 19).

Workload: 12 independent nodes (``Learner(Alloc(), FullIndex())`` on X of
2,000 x 5), each of which allocates and touches ``--mb`` MiB (default 150)
in ``fit``, holds it ``--seconds`` (default 0.4, asleep: the makespan
measures the schedule, not a CPU shared with other users) and frees it. Each
node's ``memory`` attribute (its estimate) is set by hand to the allocation
plus 10 MiB.

Runs: ``run_graph`` on a multiprocessing backend of 2 workers (started by a
warm-up run, reused), strategy ``fifo``, for limits from the smallest
feasible (idle processes + the job's buffers + one node) up to unlimited:
1, 2, 3, 6 and 12 nodes' worth above the idle memory and the buffers (each
with a quarter node of slack: the idle memory moves by a few MiB between
runs), and None; each with our first fit and with the all-or-sequential
policy (everything ready at once if it fits, else one node at a time), and
once on the sequential backend. The idle memory is measured (PSS minus
shared-memory pages of this process and its descendants) after the warm-up.

Measured: makespan; the peak of the sampled PSS of this process and every
descendant (every 20 ms, ``_memory_sampling.Sampler``), checked against the
limit in every repetition; and the simulator's makespan and peak memory for
the same limit and policy (node durations from the unlimited run's trace).

Usage::

    .venv/bin/python benchmarks/budget.py            # 150 MiB x 12 nodes, 2 repetitions
    .venv/bin/python benchmarks/budget.py --quick    # 60 MiB, 1 repetition

Writes ``benchmarks/results/budget.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import _common  # noqa: F401  (first: it sets one BLAS thread per process before numpy loads)
from _common import (
    RESULTS,
    CpuMeter,
    display,
    environment,
    markdown_table,
    median,
    wait_for_quiet,
    write_json,
)
from _memory_sampling import Sampler
from sklearn.base import BaseEstimator, RegressorMixin

MiB = 2**20
N_NODES = 12


class Alloc(RegressorMixin, BaseEstimator):
    """Allocates and touches ``mb`` MiB in fit, holds it ``seconds``, frees it."""

    def __init__(self, mb=150, seconds=0.4):
        self.mb = mb
        self.seconds = seconds

    def fit(self, X, y):
        import numpy as np

        block = np.ones(int(self.mb * MiB) // 8)  # written: every page resident
        time.sleep(self.seconds)
        self.mean_ = float(np.mean(y)) + float(block[-1]) - 1.0
        del block
        return self

    def predict(self, X):
        import numpy as np

        return np.full(len(X), self.mean_)


def make_graph(mb: float, seconds: float):
    import numpy as np

    from foldgraph import FullIndex, Learner, map_graph

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((2000, 5)), rng.standard_normal(2000)
    tasks = [Learner(Alloc(mb, seconds), FullIndex(), name=f"alloc-{i}") for i in range(N_NODES)]
    g = map_graph(tasks, "fit", X=X, y=y)
    for key in g.nx:
        g.nx.nodes[key]["memory"] = int((mb + 10) * MiB)
    return g, X, y


def run_once(g, X, y, backend, limit, policy):
    """One run: (makespan s, sampled peak bytes, trace)."""
    from foldgraph.engine.job import Job
    from foldgraph.engine.scheduler import run_graph
    from foldgraph.engine.strategies import resolve
    from foldgraph.engine.trace import Trace

    job = Job("fit", X, y)
    job.allocate(g, shared=backend.n_workers > 1)
    trace = Trace(backend.n_workers, graph=g)
    sampler = Sampler(interval=0.02)
    sampler.start()
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a limit below one node warns, by design
            run_graph(g, job, backend, resolve("fifo"), trace, memory_limit=limit, keep=set(),
                      policy=policy)  # fmt: skip
        makespan = time.perf_counter() - t0
    finally:
        sampler.stop()
        backend.release()
        job.release()
    return makespan, max(s[1] for s in sampler.samples), trace


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 MiB per node, 1 repetition")
    parser.add_argument("--mb", type=float, default=None, help="MiB per node (default 150)")
    parser.add_argument("--seconds", type=float, default=0.4)
    parser.add_argument("--repeat", type=int, default=None, help="default 2 (1 with --quick)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    mb = args.mb or (60 if args.quick else 150)
    repeat = args.repeat or (1 if args.quick else 2)
    from foldgraph.engine.admission import all_or_sequential
    from foldgraph.engine.backends import make_backend
    from foldgraph.engine.liveness import idle_memory, nbytes, tree_pids
    from foldgraph.engine.simulate import simulate

    g, X, y = make_graph(mb, args.seconds)
    quiet = wait_for_quiet(timeout=30.0)
    backend = make_backend("multiprocessing", 2, threads_per_worker=1)
    warm, _, _ = make_graph(1, 0.0)
    run_once(warm, X, y, backend, None, None)  # starts the workers, imports the estimator
    idle = idle_memory(tree_pids())
    live = sum(nbytes(spec) for spec in g.buffers.values())
    node = int((mb + 10) * MiB)
    base = idle + live
    # k nodes' worth above idle + buffers, and a quarter node of slack: the idle memory of
    # the run (measured by the loop) differs from this probe's by a few MiB
    limits = [(f"{k} node{'s' * (k > 1)}", base + int((k + 0.25) * node)) for k in (1, 2, 3, 6)]
    limits += [(f"{N_NODES} nodes", base + int((N_NODES + 0.25) * node)), ("unlimited", None)]
    meter = CpuMeter()
    meter.start()
    sequential = make_backend("sequential", 1)
    seq = [run_once(g, X, y, sequential, None, None)[0] for _ in range(repeat)]
    rows, records, unlimited_trace = [], [], None
    for label, limit in reversed(limits):  # unlimited first: its trace gives the simulator's costs
        for name, policy in (("first fit", None), ("all-or-sequential", all_or_sequential)):
            runs = [run_once(g, X, y, backend, limit, policy) for _ in range(repeat)]
            if unlimited_trace is None:
                unlimited_trace = runs[0][2]
            sim = simulate(g, 2, "fifo", costs=unlimited_trace, memory_limit=limit,
                           idle_memory=idle, policy=policy)  # fmt: skip
            records.append({"limit": label, "limit_bytes": limit, "policy": name,
                            "makespans_s": [r[0] for r in runs],
                            "peaks_bytes": [r[1] for r in runs],
                            "held": all(limit is None or r[1] <= limit for r in runs),
                            "sim_makespan_s": sim.makespan, "sim_peak_bytes": sim.peak_memory})  # fmt: skip
    load = meter.stop()
    backend.shutdown()
    unlimited = median(records[0]["makespans_s"])
    for r in reversed(records):
        m = median(r["makespans_s"])
        rows.append([r["limit"], "-" if r["limit_bytes"] is None else f"{r['limit_bytes'] / MiB:,.0f}",
                     r["policy"], f"{m:.2f}", f"{m / unlimited:.2f}", f"{m / median(seq):.2f}",
                     f"{max(r['peaks_bytes']) / MiB:,.0f}", "yes" if r["held"] else "**no**",
                     f"{r['sim_makespan_s']:.2f}", f"{r['sim_peak_bytes'] / MiB:,.0f}"])  # fmt: skip
    header = ["limit", "MiB", "policy", "makespan s", "vs unlimited", "vs sequential",
              "sampled peak MiB", "peak <= limit", "simulated s", "simulated peak MiB"]
    table = markdown_table(header, rows, align="llrrrrrlrr")
    result = {"mb_per_node": mb, "seconds": args.seconds, "repeat": repeat, "idle_bytes": idle,
              "buffers_bytes": live, "node_estimate_bytes": node, "sequential_s": seq,
              "runs": records, "quiet": quiet, "load": load, "environment": environment()}  # fmt: skip
    out = Path(args.out) if args.out else RESULTS / ("budget_quick.json" if args.quick else "budget.json")
    write_json(out, result)
    print(table)
    print(f"\nidle {idle / MiB:,.0f} MiB, buffers {live / MiB:,.2f} MiB, node estimate "
          f"{node / MiB:,.0f} MiB; sequential {median(seq):.2f} s; foreign load "
          f"{load['foreign_load_cpus']:.2f} CPUs; wrote {display(out)}")  # fmt: skip
    return result


if __name__ == "__main__":
    main()
