"""What strategies.py runs: the simulations, the real runs and the scale check.

Not a script: ``strategies.py`` runs the benchmark (see its docstring).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import time
from pathlib import Path

import families as F
from _common import CpuMeter, median

from foldgraph.engine import simulate

STRATEGIES = ("fifo", "lpt", "critical_path", "memory")
WORKERS = (2, 4, 16, 64, 256)
QUICK_WORKERS = (2, 16)
#: issue 7: the best strategy's makespan / lower bound at these P
TARGETS = {2: 1.05, 64: 1.25}
#: issue 7: |simulated - measured| / measured, median over families
SIM_ERROR_TARGET = 0.15
SCALE_TARGET_S = 10.0


# -- simulation --------------------------------------------------------------------
def graph_info(graph) -> dict:
    costs = [d["cost"] for _, d in graph.nx.nodes(data=True)]
    level = graph.bottom_level()
    work, cp = float(sum(costs)), max(level.values())
    return {"family": graph.family["name"], "params": graph.family,
            "nodes": len(graph), "edges": graph.nx.number_of_edges(),
            "work_s": work, "critical_path_s": cp, "parallelism": work / cp,
            "min_cost_s": min(costs), "max_cost_s": max(costs)}  # fmt: skip


def simulate_families(preset: str, workers, strategies=STRATEGIES):
    """Simulate every family x strategy x P; returns (graph infos, rows, results)."""
    infos, rows, results = {}, [], {}
    for family in F.FAMILIES:
        t0 = time.perf_counter()
        graph = F.make(family, preset)
        build_s = time.perf_counter() - t0
        infos[family] = graph_info(graph) | {"build_s": build_s}
        for strategy in strategies:
            for P in workers:
                t0 = time.perf_counter()
                r = simulate(graph, P, strategy)
                rows.append({
                    "family": family, "strategy": strategy, "P": P,
                    "makespan_s": r.makespan, "lower_bound_s": r.lower_bound,
                    "ratio": r.makespan / r.lower_bound, "utilization": r.utilization,
                    "peak_live_bytes": r.peak_live_bytes,
                    "simulate_s": time.perf_counter() - t0,
                })  # fmt: skip
                results[family, strategy, P] = (graph, r)
    return infos, rows, results


def row_for(rows, family, strategy, P):
    return next(r for r in rows if (r["family"], r["strategy"], r["P"]) == (family, strategy, P))


def check_targets(rows, workers) -> list[dict]:
    """Per family and target P: the best strategy's ratio against the issue's bound."""
    out = []
    for family in dict.fromkeys(r["family"] for r in rows):
        for P, bound in TARGETS.items():
            if P not in workers:
                continue
            cands = [row_for(rows, family, s, P) for s in STRATEGIES]
            best = min(cands, key=lambda r: r["ratio"])
            worst = max(cands, key=lambda r: r["ratio"])
            out.append({"family": family, "P": P, "bound": bound,
                        "best_strategy": best["strategy"], "best_ratio": best["ratio"],
                        "worst_strategy": worst["strategy"], "worst_ratio": worst["ratio"],
                        "met": best["ratio"] <= bound})  # fmt: skip
    return out


def packing_bound(costs, P: int) -> float:
    """A lower bound ignoring edges: of the ``kP + 1`` longest nodes, some worker runs ``k + 1``.

    Its load is at least the sum of the ``k + 1`` shortest of them; the bound is the
    largest such sum over ``k`` (``k = 0``: the longest node). Tighter than
    ``work / P`` when the work is in a few long nodes (bin packing).

    Examples
    --------
    >>> packing_bound([2.0, 2.0, 2.0, 0.1], 2)  # three 2 s nodes on 2 workers: 4 s
    4.0
    """
    c = sorted(costs, reverse=True)
    best, k = (c[0] if c else 0.0), 1
    while k * P < len(c):
        best = max(best, sum(c[k * P - k : k * P + 1]))
        k += 1
    return best


def diagnose(graph, result) -> dict:
    """Why a schedule is longer than the bound: its idle tail and its delayed chain.

    In a greedy list schedule, walking back from the last node to the
    predecessor that finished last (its "ready" time) gives a chain; every
    second the chain waited between ready and start, all workers were busy
    with other nodes (the strategy preferred them). ``tail_s`` is the time
    from the last moment all P workers were busy to the end.
    """
    slots = {s.node: s for s in result.schedule}
    P = result.n_workers
    # last moment all workers were busy: sweep the start/end events
    events = sorted([(s.start, 1) for s in result.schedule] + [(s.end, -1) for s in result.schedule],
                    key=lambda e: (e[0], e[1]))  # fmt: skip
    busy, last_full = 0, 0.0
    for t, d in events:
        busy += d
        if busy >= P:
            last_full = t
        elif d == -1 and busy == P - 1:
            last_full = max(last_full, t)
    tail = result.makespan - last_full
    in_tail = sorted((s for s in result.schedule if s.end > last_full + 1e-12),
                     key=lambda s: -(min(s.end, result.makespan) - max(s.start, last_full)))  # fmt: skip
    node = max(result.schedule, key=lambda s: s.end).node
    chain, wait, cost = [], 0.0, 0.0
    while node is not None:
        s = slots[node]
        preds = list(graph.nx.predecessors(node))
        ready = max((slots[p].end for p in preds), default=0.0)
        chain.append(node)
        wait += s.start - ready
        cost += s.end - s.start
        node = max(preds, key=lambda p: slots[p].end) if preds else None
    last = slots[chain[0]]
    costs = [s.end - s.start for s in result.schedule]
    tight = max(result.lower_bound, packing_bound(costs, P))
    return {
        "packing_bound_s": packing_bound(costs, P), "ratio_to_tighter_bound": result.makespan / tight,
        "tail_s": tail, "tail_share": tail / result.makespan if result.makespan else 0.0,
        "tail_nodes": [s.node for s in in_tail[:5]], "n_tail_nodes": len(in_tail),
        "last_node": last.node, "last_task": graph.attrs(last.node).get("task"),
        "last_start_s": last.start, "last_cost_s": last.end - last.start,
        "chain_nodes": len(chain), "chain_cost_s": cost, "chain_wait_s": wait,
    }  # fmt: skip


def flag_worse(rows, results, threshold_default: float = 1.10) -> list[dict]:
    """Strategies worse than the target at P=2 / P=64, or than ``threshold_default`` elsewhere."""
    flagged = []
    for row in rows:
        bound = TARGETS.get(row["P"], threshold_default)
        if row["ratio"] > bound:
            graph, r = results[row["family"], row["strategy"], row["P"]]
            flagged.append({**{k: row[k] for k in ("family", "strategy", "P", "ratio")},
                            "bound": bound, **diagnose(graph, r)})  # fmt: skip
    return flagged


# -- real runs ---------------------------------------------------------------------
def _own_tree() -> set:
    import psutil

    me = psutil.Process()
    pids = {me.pid} | {p.pid for p in me.children(recursive=True)}
    with contextlib.suppress(psutil.Error):
        pids |= {p.pid for p in me.parents()}
    return pids


def other_benchmarks() -> list[str]:
    """Command lines of running processes (not ours) that mention ``benchmarks/``."""
    import psutil

    mine, out = _own_tree(), []
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or ())
        if "benchmarks/" in cmd and p.info["pid"] not in mine:
            words = [Path(w).name if w.startswith("/") else w for w in cmd.split()[:4]]
            out.append(f"{p.info['pid']} {' '.join(words)}")  # no absolute paths in reports
    return out


def wait_for_other_benchmarks(timeout: float, poll: float = 10.0) -> dict:
    """Poll until no other benchmark script runs (or ``timeout`` seconds pass)."""
    t0 = time.perf_counter()
    seen = []
    while True:
        others = other_benchmarks()
        if others:
            seen = others
        waited = time.perf_counter() - t0
        if not others or waited >= timeout:
            return {"waited_s": round(waited, 1), "quiet": not others,
                    "still_running": others, "seen": seen}  # fmt: skip
        print(f"waiting for other benchmarks ({len(others)} running, {waited:.0f}s)...",
              file=sys.stderr, flush=True)  # fmt: skip
        time.sleep(poll)


def real_runs(families, strategies, preset: str = "real", repeat: int = 1) -> list[dict]:
    """Each family x strategy on the multiprocessing backend with 2 workers, with its simulation."""
    import numpy as np

    from foldgraph import ParallelProcessing

    runs = []
    with contextlib.ExitStack() as stack:
        managers = {}
        for strategy in strategies:  # start every pool first (one warm-up run each)
            pp = stack.enter_context(ParallelProcessing("multiprocessing", n_jobs=2,
                                                        strategy=strategy))  # fmt: skip
            warm = F.make("wide", "quick", work=0.05)
            pp.run(warm, warm.X, warm.y)
            managers[strategy] = pp
        for rep in range(repeat):
            for family in families:
                for strategy in strategies:  # interleaved: load drift hits every strategy
                    pp = managers[strategy]
                    graph = F.make(family, preset)
                    pp.costs.durations.clear()  # intended costs, not an earlier run's
                    meter = CpuMeter()
                    meter.start()
                    t0 = time.perf_counter()
                    pp.run(graph, graph.X, graph.y)
                    wall = time.perf_counter() - t0
                    cpu = meter.stop()
                    trace = pp.trace
                    sim = simulate(graph, 2, strategy)
                    replay = simulate(graph, 2, strategy, costs=trace)
                    measured = trace.makespan
                    dur = trace.durations()
                    extra = [dur[k] - graph.attrs(k)["cost"] for k in dur]
                    runs.append({
                        "family": family, "strategy": strategy, "repeat": rep,
                        "nodes": len(graph), "work_s": graph.total_cost(),
                        "measured_s": measured, "wall_s": wall,
                        "simulated_s": sim.makespan, "lower_bound_s": sim.lower_bound,
                        "error": (sim.makespan - measured) / measured,
                        "replay_s": replay.makespan,
                        "replay_error": (replay.makespan - measured) / measured,
                        "node_overhead_ms_median": 1000 * float(np.median(extra)),
                        "measured_work_s": trace.work,
                        "foreign_load_cpus": cpu["foreign_load_cpus"],
                        "loadavg_1m": os.getloadavg()[0],
                    })  # fmt: skip
                    print(f"  real {family:<10} {strategy:<14} measured {measured:6.2f}s  "
                          f"simulated {sim.makespan:6.2f}s  error {runs[-1]['error']:+.1%}",
                          file=sys.stderr, flush=True)  # fmt: skip
    return runs


def summarize_real(runs) -> dict:
    by_family = {}
    for r in runs:
        by_family.setdefault(r["family"], []).append(abs(r["error"]))
    per_family = {f: median(v) for f, v in by_family.items()}
    med = median(list(per_family.values()))
    return {"abs_error_median_per_family": per_family, "abs_error_median": med,
            "abs_error_max": max(abs(r["error"]) for r in runs),
            "replay_abs_error_median": median([abs(r["replay_error"]) for r in runs]),
            "target": SIM_ERROR_TARGET, "met": med is not None and med <= SIM_ERROR_TARGET}  # fmt: skip


# -- scale ---------------------------------------------------------------------------
def scale_check(sizes=(1_000, 10_000, 100_000), strategies=STRATEGIES) -> dict:
    """Build + simulate a 100,000-node graph; the scheduler's per-node time on no-op nodes."""
    return {"simulate": scale_simulate(strategies), "overhead": scale_overhead(sizes)}


def scale_simulate(strategies) -> list[dict]:
    """A random layered DAG of 100 layers x 1,000 nodes, built node by node, then simulated."""
    out = []
    gc.collect()
    t0 = time.perf_counter()
    graph = F.random_layered(n_layers=100, width=1000, p_edge=0.001, runnable=False)
    build = time.perf_counter() - t0
    for strategy in strategies:
        gc.collect()
        t0 = time.perf_counter()
        r = simulate(graph, 64, strategy)
        sim = time.perf_counter() - t0
        gc.collect()
        t0 = time.perf_counter()
        simulate(graph, 64, strategy, memory=False)
        no_mem = time.perf_counter() - t0
        gc.collect()
        gc.disable()  # diagnostic: what the cyclic GC costs (the builders pause it, simulate does not)
        try:
            t0 = time.perf_counter()
            simulate(graph, 64, strategy)
            no_gc = time.perf_counter() - t0
        finally:
            gc.enable()
        out.append({"graph": "random layered 100 x 1,000 (add_node)",
                                "nodes": len(graph), "edges": graph.nx.number_of_edges(),
                                "strategy": strategy, "P": 64, "build_s": build,
                                "simulate_s": sim, "total_s": build + sim,
                                "simulate_no_memory_s": no_mem, "simulate_gc_paused_s": no_gc,
                                "ratio": r.makespan / r.lower_bound,
                                "met": build + sim < SCALE_TARGET_S,
                                "loadavg_1m": os.getloadavg()[0]})  # fmt: skip
        print(f"  scale: {len(graph):,} nodes build {build:.2f}s simulate[{strategy}] {sim:.2f}s",
              file=sys.stderr, flush=True)  # fmt: skip
    return out


def scale_overhead(sizes) -> list[dict]:
    """The real scheduler on no-op nodes (sequential backend), and simulate on the same graph."""
    import numpy as np

    from foldgraph import FullIndex, Learner, ParallelProcessing
    from foldgraph.graph import map_graph
    from foldgraph.testing import Noop

    out = []
    X, y = np.ones((4, 1)), np.zeros(4)
    for n in sizes:
        tasks = [Learner(Noop(), FullIndex(), name=f"n{i}") for i in range(n)]
        gc.collect()
        t0 = time.perf_counter()
        graph = map_graph(tasks, "fit", X=X, y=y)
        build = time.perf_counter() - t0
        gc.collect()
        t0 = time.perf_counter()
        simulate(graph, 64, "fifo")
        sim = time.perf_counter() - t0
        gc.collect()
        with ParallelProcessing("sequential") as pp:
            t0 = time.perf_counter()
            pp.run(graph, X, y)
            run = time.perf_counter() - t0
            loop = pp.trace.makespan
        out.append({"nodes": n, "build_s": build, "simulate_s": sim, "run_s": run,
                                "build_us_per_node": 1e6 * build / n,
                                "simulate_us_per_node": 1e6 * sim / n,
                                "run_us_per_node": 1e6 * run / n,
                                "loop_us_per_node": 1e6 * loop / n})  # fmt: skip
        print(f"  overhead: {n:,} no-op nodes build {build:.2f}s simulate {sim:.2f}s "
              f"run {run:.2f}s", file=sys.stderr, flush=True)  # fmt: skip
        del graph, tasks
    return out
