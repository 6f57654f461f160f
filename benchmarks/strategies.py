"""Scheduling strategies on graph families: simulated on 2 to 256 workers, checked by real runs.

For every graph family of ``benchmarks/families.py`` (wide super learner,
deep sequential ensemble, subsemble, heterogeneous costs, model-selection
grid, random layered DAG, independent stacks) x strategy (``fifo``, ``lpt``, ``critical_path``,
``memory``) x P workers in {2, 4, 16, 64, 256},
:func:`foldgraph.engine.simulate` gives the makespan, which is reported
over the lower bound ``max(critical path, work / P)``, the utilization and
the peak of live output-buffer bytes.

Real runs (P = 2, full mode only): the ``real`` preset of each family (about
60 nodes, 10 s of work, estimators that sleep for their node's cost) runs on
``ParallelProcessing("multiprocessing", n_jobs=2, strategy=...)``; the
simulation of the same graph with the intended costs is compared with the
measured makespan (the trace's first start to last end). The real runs
come last, after waiting (up to ``--wait`` seconds) until no other
benchmark script runs; the load average is recorded.

Targets (issue 7): on every family the best strategy is within 1.05 x the
lower bound at P = 2 and within 1.25 x at P = 64; the simulator is within
15 % of the measured makespan (median over families); building and
simulating 100,000 nodes takes under 10 s (``--scale``).

Usage::

    .venv/bin/python benchmarks/strategies.py            # simulations + real runs (~4 min)
    .venv/bin/python benchmarks/strategies.py --quick    # small graphs, P in {2, 16}, no real runs
    .venv/bin/python benchmarks/strategies.py --no-real  # simulations and plots only
    .venv/bin/python benchmarks/strategies.py --scale    # also: 100,000-node build + simulate,
                                                         # scheduler overhead per node
    .venv/bin/python benchmarks/strategies.py --scale-only   # just that (strategies_scale.json)

Writes ``benchmarks/results/strategies.json`` (``strategies_quick.json``
with ``--quick``) and, unless ``--quick``, the plots
``benchmarks/plots/strategies_*.png``; prints markdown tables.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import contextlib  # noqa: E402
import gc  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import families as F  # noqa: E402
from _common import (  # noqa: E402
    PLOTS,
    RESULTS,
    CpuMeter,
    display,
    environment,
    markdown_table,
    median,
    rnd,
    write_json,
)

from foldgraph.engine import simulate  # noqa: E402

HERE = Path(__file__).resolve().parent

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


def _get(rows, family, strategy, P):
    return next(r for r in rows if (r["family"], r["strategy"], r["P"]) == (family, strategy, P))


def check_targets(rows, workers) -> list[dict]:
    """Per family and target P: the best strategy's ratio against the issue's bound."""
    out = []
    for family in dict.fromkeys(r["family"] for r in rows):
        for P, bound in TARGETS.items():
            if P not in workers:
                continue
            cands = [_get(rows, family, s, P) for s in STRATEGIES]
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
    import numpy as np

    from foldgraph import FullIndex, Learner, ParallelProcessing
    from foldgraph.graph import map_graph
    from foldgraph.testing import Noop

    out = {"simulate": [], "overhead": []}
    # 1. a random layered DAG of 100 layers x 1,000 nodes, built node by node
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
        out["simulate"].append({"graph": "random layered 100 x 1,000 (add_node)",
                                "nodes": len(graph), "edges": graph.nx.number_of_edges(),
                                "strategy": strategy, "P": 64, "build_s": build,
                                "simulate_s": sim, "total_s": build + sim,
                                "simulate_no_memory_s": no_mem, "simulate_gc_paused_s": no_gc,
                                "ratio": r.makespan / r.lower_bound,
                                "met": build + sim < SCALE_TARGET_S,
                                "loadavg_1m": os.getloadavg()[0]})  # fmt: skip
        print(f"  scale: {len(graph):,} nodes build {build:.2f}s simulate[{strategy}] {sim:.2f}s",
              file=sys.stderr, flush=True)  # fmt: skip
    del graph
    # 2. the real scheduler on no-op nodes (sequential backend), and simulate on the same graph
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
        out["overhead"].append({"nodes": n, "build_s": build, "simulate_s": sim, "run_s": run,
                                "build_us_per_node": 1e6 * build / n,
                                "simulate_us_per_node": 1e6 * sim / n,
                                "run_us_per_node": 1e6 * run / n,
                                "loop_us_per_node": 1e6 * loop / n})  # fmt: skip
        print(f"  overhead: {n:,} no-op nodes build {build:.2f}s simulate {sim:.2f}s "
              f"run {run:.2f}s", file=sys.stderr, flush=True)  # fmt: skip
        del graph, tasks
    return out


# -- tables ------------------------------------------------------------------------
NAMES = {"wide": "wide super learner", "deep": "deep sequential", "subsemble": "subsemble",
         "hetero": "heterogeneous costs", "grid": "model-selection grid",
         "random": "random layered DAG", "stacks": "independent stacks"}  # fmt: skip


def table_graphs(infos) -> str:
    rows = [[f"{f} ({NAMES[f]})", f"{i['nodes']:,}", f"{i['edges']:,}", f"{i['work_s']:.1f}",
             f"{i['critical_path_s']:.2f}", f"{i['parallelism']:.0f}",
             f"{1000 * i['min_cost_s']:.2g} ms - {i['max_cost_s']:.2f} s"]
            for f, i in infos.items()]  # fmt: skip
    return markdown_table(["family", "nodes", "edges", "work s", "critical path s",
                           "work / CP", "node costs"], rows)  # fmt: skip


def table_metric(rows, workers, key, fmt, best=min) -> str:
    """Rows family x strategy, columns P; the best value per family and P in bold."""
    header = ["family", "strategy"] + [f"P={P}" for P in workers]
    out = []
    for family in dict.fromkeys(r["family"] for r in rows):
        for strategy in STRATEGIES:
            cells = []
            for P in workers:
                v = _get(rows, family, strategy, P)[key]
                top = best(_get(rows, family, s, P)[key] for s in STRATEGIES)
                cell = fmt(v)
                cells.append(f"**{cell}**" if fmt(top) == cell else cell)
            out.append([family if strategy == STRATEGIES[0] else "", strategy] + cells)
    return markdown_table(header, out, align="ll" + "r" * len(workers))


def table_targets(targets) -> str:
    rows = [[t["family"], t["P"], f"{t['best_ratio']:.3f} ({t['best_strategy']})",
             f"<= {t['bound']}", "yes" if t["met"] else "**no**",
             f"{t['worst_ratio']:.3f} ({t['worst_strategy']})"] for t in targets]  # fmt: skip
    return markdown_table(["family", "P", "best / LB", "target", "met", "worst / LB"], rows)


def table_flagged(flagged) -> str:
    rows = [[f["family"], f["strategy"], f["P"], f"{f['ratio']:.3f}",
             f"{f['ratio_to_tighter_bound']:.3f}", f"{f['tail_s']:.2f} ({f['tail_share']:.0%})",
             f"`{f['last_node']}` {f['last_start_s']:.2f}, {f['last_cost_s']:.2f}",
             f"{f['chain_nodes']}, {f['chain_cost_s']:.2f}, {f['chain_wait_s']:.2f}"]
            for f in flagged]  # fmt: skip
    return markdown_table(["family", "strategy", "P", "ratio", "ratio to packing bound",
                           "idle tail s (share)",
                           "last node, its start s, cost s",
                           "chain to it: nodes, work s, waited s"], rows,
                          align="lllrrrll")  # fmt: skip


def table_real(runs) -> str:
    rows = [[r["family"], r["strategy"], r["nodes"], f"{r['measured_s']:.2f}",
             f"{r['simulated_s']:.2f}", f"{r['error']:+.1%}", f"{r['replay_error']:+.1%}",
             f"{r['node_overhead_ms_median']:.2f}", f"{r['foreign_load_cpus']:.2f}"]
            for r in runs]  # fmt: skip
    return markdown_table(["family", "strategy", "nodes", "measured s", "simulated s",
                           "error", "replay error", "node overhead ms", "other load (CPUs)"],
                          rows, align="llrrrrrrr")  # fmt: skip


def table_scale(scale) -> str:
    a = markdown_table(
        ["graph", "nodes", "edges", "strategy", "build s", "simulate s", "total s", "< 10 s",
         "simulate s, memory=False", "simulate s, GC paused"],
        [[s["graph"], f"{s['nodes']:,}", f"{s['edges']:,}", s["strategy"], f"{s['build_s']:.2f}",
          f"{s['simulate_s']:.2f}", f"{s['total_s']:.2f}", "yes" if s["met"] else "**no**",
          f"{s['simulate_no_memory_s']:.2f}", f"{s['simulate_gc_paused_s']:.2f}"]
         for s in scale["simulate"]], align="lrrlrrrlrr")  # fmt: skip
    b = markdown_table(
        ["no-op nodes", "build µs/node", "simulate µs/node", "run µs/node", "scheduler loop µs/node"],
        [[f"{o['nodes']:,}", f"{o['build_us_per_node']:.0f}", f"{o['simulate_us_per_node']:.0f}",
          f"{o['run_us_per_node']:.0f}", f"{o['loop_us_per_node']:.0f}"]
         for o in scale["overhead"]])  # fmt: skip
    return a + "\n\n" + b


# -- plots -------------------------------------------------------------------------
COLORS = {"fifo": "#d62728", "lpt": "#1f77b4", "critical_path": "#2ca02c", "memory": "#9467bd"}
MARKERS = {"fifo": "o", "lpt": "s", "critical_path": "^", "memory": "D"}
#: identical schedules draw identical lines: shift each strategy a little along log2(P)
SHIFT = {"fifo": 2**-0.12, "lpt": 2**-0.04, "critical_path": 2**0.04, "memory": 2**0.12}
STYLE = {"fifo": "-", "lpt": "-", "critical_path": "--", "memory": "--"}


def _line(ax, workers, ys, s) -> None:
    ax.plot([P * SHIFT[s] for P in workers], ys, marker=MARKERS[s], color=COLORS[s], label=s,
            ls=STYLE[s], lw=1.8, ms=6, alpha=0.9,
            mfc="white" if STYLE[s] == "--" else COLORS[s])  # fmt: skip


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grid(plt, n: int, cols: int = 4):
    """A figure of ``n`` panels on rows of ``cols``; the first unused panel (or None) is returned
    for the legend, the others are hidden."""
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.1 * cols, 3.6 * rows + 0.6), sharex=True,
                             constrained_layout=True, squeeze=False)  # fmt: skip
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.axis("off")
    for ax in flat[:n]:
        ax.tick_params(labelbottom=True)
    return fig, flat[:n], (flat[n] if len(flat) > n else None)


def _labels(axes, ylabel: str, cols: int = 4) -> None:
    for i, ax in enumerate(axes):
        ax.set_xlabel("workers P")
        if i % cols == 0:
            ax.set_ylabel(ylabel)


def _legend(fig, spare, handles, labels) -> None:
    if spare is not None:
        spare.legend(handles, labels, loc="center", fontsize=11, frameon=False)
    else:
        fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=10)


def plot_ratio_by_family(rows, infos, workers, path) -> None:
    plt = _plt()
    families = list(infos)
    fig, axes, spare = _grid(plt, len(families))
    for ax, family in zip(axes, families):
        top = 1.0
        for s in STRATEGIES:
            ys = [_get(rows, family, s, P)["ratio"] for P in workers]
            top = max(top, *ys)
            _line(ax, workers, ys, s)
        for P, bound in TARGETS.items():
            if P in workers:
                ax.plot([P], [bound], marker="_", ms=22, mew=2.5, color="black")
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(workers), [str(P) for P in workers])
        ax.set_ylim(0.98, max(1.3, top * 1.04))
        i = infos[family]
        ax.set_title(f"{NAMES[family]}\n{i['nodes']} nodes, work/CP = {i['parallelism']:.0f}",
                     fontsize=11)  # fmt: skip
        ax.grid(alpha=0.3)
    _labels(axes, "makespan / lower bound")
    handles, labels = axes[0].get_legend_handles_labels()
    from matplotlib.lines import Line2D

    handles.append(Line2D([], [], marker="_", ms=14, mew=2.5, color="black", ls=""))
    labels.append("target (P=2: 1.05, P=64: 1.25)")
    _legend(fig, spare, handles, labels)
    fig.suptitle("Simulated makespan over the lower bound max(critical path, work / P) "
                 "(strategies shifted sideways: equal values overlap)", fontsize=13)  # fmt: skip
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_ratio_by_strategy(rows, infos, workers, path) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.8), sharey=True, constrained_layout=True)
    cmap = plt.get_cmap("tab10")
    top = max(r["ratio"] for r in rows)
    for ax, s in zip(axes, STRATEGIES):
        for k, family in enumerate(infos):
            ys = [_get(rows, family, s, P)["ratio"] for P in workers]
            ax.plot(workers, ys, marker="o", color=cmap(k), label=NAMES[family], lw=1.6, ms=5)
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(workers), [str(P) for P in workers])
        ax.set_ylim(0.98, max(1.3, top * 1.04))
        ax.set_title(s, fontsize=12)
        ax.set_xlabel("workers P")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("makespan / lower bound")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=7, fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_metric(rows, infos, workers, key, ylabel, title, path, scale=1.0) -> None:
    plt = _plt()
    fig, axes, spare = _grid(plt, len(infos))
    for ax, family in zip(axes, infos):
        for s in STRATEGIES:
            ys = [_get(rows, family, s, P)[key] / scale for P in workers]
            _line(ax, workers, ys, s)
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(workers), [str(P) for P in workers])
        ax.set_title(NAMES[family], fontsize=11)
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    _labels(axes, ylabel)
    _legend(fig, spare, *axes[0].get_legend_handles_labels())
    fig.suptitle(title, fontsize=13)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_real(runs, path) -> None:
    plt = _plt()
    import numpy as np

    families = list(dict.fromkeys(r["family"] for r in runs))
    fig, axes = plt.subplots(
        1, len(families), figsize=(2.3 * len(families) + 1, 4.2), sharey=True,
        constrained_layout=True, squeeze=False,
    )  # fmt: skip
    axes = axes[0]
    x = np.arange(len(STRATEGIES))
    first = [r for r in runs if r["repeat"] == 0]
    top = max(max(r["measured_s"], r["simulated_s"]) / r["lower_bound_s"] for r in first)
    for ax, family in zip(axes, families):
        rs = [next(r for r in first if r["family"] == family and r["strategy"] == s)
              for s in STRATEGIES]  # fmt: skip
        meas = [r["measured_s"] / r["lower_bound_s"] for r in rs]
        sim = [r["simulated_s"] / r["lower_bound_s"] for r in rs]
        ax.bar(x - 0.2, meas, 0.4, label="measured (2 worker processes)", color="#4c72b0")
        ax.bar(x + 0.2, sim, 0.4, label="simulated (intended costs)", color="#dd8452")
        for xi, r, a, b in zip(x, rs, meas, sim):
            ax.text(xi, max(a, b) + 0.003, f"{r['error']:+.1%}", ha="center", va="bottom",
                    fontsize=8)  # fmt: skip
        ax.axhline(1.0, color="black", lw=1, ls="--")
        ax.set_xticks(x, ["fifo", "lpt", "crit.\npath", "memory"], fontsize=9)
        ax.set_title(NAMES[family], fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.set_ylim(0.97, top + 0.03)
    axes[0].set_ylabel("makespan / lower bound (P = 2)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=10)
    fig.suptitle(
        "Real runs (multiprocessing backend, 2 workers, ~5 s each) beside the simulator; "
        "labels: simulated - measured, relative", fontsize=11,
    )  # fmt: skip
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_gantts(flagged, results, plots: Path, limit: int = 4) -> list[str]:
    """Gantt charts of the worst flagged schedule per family (and the best strategy's, beside it)."""
    plt = _plt()
    paths, done = [], set()
    for f in sorted(flagged, key=lambda f: -f["ratio"]):
        if f["family"] in done or len(paths) >= limit or f["P"] > 16:
            continue
        done.add(f["family"])
        P = f["P"]
        best = min(STRATEGIES, key=lambda s: results[f["family"], s, P][1].makespan)
        fig, axes = plt.subplots(2, 1, figsize=(12, 2.2 + 0.45 * P * 2), constrained_layout=True)
        for ax, s in zip(axes, (f["strategy"], best)):
            _, r = results[f["family"], s, P]
            r.gantt(ax=ax, title=f"{NAMES[f['family']]}, {s}, P={P}: makespan "
                                 f"{r.makespan:.2f} s = {r.makespan / r.lower_bound:.3f} x "
                                 f"lower bound, utilization {r.utilization:.0%}")  # fmt: skip
            legend = ax.get_legend()
            if legend is not None:
                legend.remove()
        path = plots / f"strategies_gantt_{f['family']}_{f['strategy']}_P{P}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(display(path))
    return paths


# -- main ----------------------------------------------------------------------------
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small graphs, P in {2, 16}, no real runs, no plots (seconds)",
    )
    parser.add_argument("--no-real", action="store_true", help="skip the real runs")
    parser.add_argument(
        "--scale",
        action="store_true",
        help="also build and simulate 100,000 nodes; scheduler overhead per node",
    )
    parser.add_argument(
        "--scale-only",
        action="store_true",
        help="only the scale check (after waiting for other benchmarks); "
        "writes results/strategies_scale.json",
    )
    parser.add_argument("--scale-sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=1, help="real runs per family x strategy")
    parser.add_argument(
        "--wait",
        type=float,
        default=900.0,
        help="seconds to wait for other benchmark scripts before the real runs",
    )
    parser.add_argument("--plots", action="store_true", help="write the plots even with --quick")
    parser.add_argument("--output", default=None, help="JSON file (default: results/...)")
    args = parser.parse_args(argv)
    t_start = time.perf_counter()
    if args.scale_only:
        return scale_only(args, t_start)
    preset = "quick" if args.quick else "full"
    workers = QUICK_WORKERS if args.quick else WORKERS
    output = Path(args.output or RESULTS / ("strategies_quick.json" if args.quick
                                            else "strategies.json"))  # fmt: skip
    costs = F.load_costs()
    infos, rows, results = simulate_families(preset, workers)
    targets = check_targets(rows, workers)
    flagged = flag_worse(rows, results)
    sim_s = time.perf_counter() - t_start
    report = {"environment": environment(), "args": vars(args), "preset": preset,
              "workers": list(workers), "strategies": list(STRATEGIES),
              "cost_table_s": costs, "cost_table_source": display(F.COSTS_PATH),
              "graphs": infos, "simulations": rows, "targets": targets,
              "all_targets_met": all(t["met"] for t in targets), "flagged": flagged,
              "simulation_seconds": sim_s}  # fmt: skip
    print(f"## Graph families ({preset} preset)\n\n{table_graphs(infos)}\n")
    print(f"## Makespan / lower bound (simulated)\n\n"
          f"{table_metric(rows, workers, 'ratio', lambda v: f'{v:.3f}')}\n")  # fmt: skip
    print(
        f"## Utilization (simulated)\n\n"
        f"{table_metric(rows, workers, 'utilization', lambda v: f'{v:.0%}', best=max)}\n"
    )
    print(
        f"## Peak live buffer KiB (simulated)\n\n"
        f"{table_metric(rows, workers, 'peak_live_bytes', lambda v: f'{v / 1024:.0f}')}\n"
    )
    print(f"## Targets: best strategy / lower bound\n\n{table_targets(targets)}\n")
    if flagged:
        print(f"## Strategies above the target (P=2: 1.05, P=64: 1.25, else 1.10)\n\n"
              f"{table_flagged(flagged)}\n")  # fmt: skip
    if not args.quick or args.plots:
        PLOTS.mkdir(parents=True, exist_ok=True)
        plots = {
            "ratio_by_family": PLOTS / "strategies_ratio_by_family.png",
            "ratio_by_strategy": PLOTS / "strategies_ratio_by_strategy.png",
            "utilization": PLOTS / "strategies_utilization.png",
            "peak_memory": PLOTS / "strategies_peak_memory.png",
        }
        plot_ratio_by_family(rows, infos, workers, plots["ratio_by_family"])
        plot_ratio_by_strategy(rows, infos, workers, plots["ratio_by_strategy"])
        plot_metric(rows, infos, workers, "utilization", "utilization (work / P x makespan)",
                    "Simulated utilization", plots["utilization"])  # fmt: skip
        plot_metric(rows, infos, workers, "peak_live_bytes", "peak live buffers KiB",
                    "Simulated peak of live output-buffer bytes", plots["peak_memory"],
                    scale=1024)  # fmt: skip
        report["plots"] = {k: display(v) for k, v in plots.items()}
        report["plots"]["gantt"] = plot_gantts(flagged, results, PLOTS)
    real = not args.quick and not args.no_real
    if real or (args.scale and not args.quick):  # timings: wait until no other benchmark runs
        quiet = report["quiet"] = wait_for_other_benchmarks(args.wait)
    if args.scale:
        report["loadavg_before_scale"] = [round(x, 2) for x in os.getloadavg()]
        report["scale"] = scale_check(tuple(args.scale_sizes))
        print(f"## Scale\n\n{table_scale(report['scale'])}\n")
        print(f"Load average before the scale check: {report['loadavg_before_scale']}\n")
    if real:
        report["loadavg_before"] = [round(x, 2) for x in os.getloadavg()]
        t0 = time.perf_counter()
        runs = real_runs(list(F.FAMILIES), STRATEGIES, repeat=args.repeat)
        report["real_seconds"] = time.perf_counter() - t0
        report["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        report["real_runs"] = runs
        report["real_summary"] = summarize_real(runs)
        if "plots" in report:
            path = PLOTS / "strategies_real.png"
            plot_real(runs, path)
            report["plots"]["real"] = display(path)
        s = report["real_summary"]
        print(f"## Real runs at P=2 against the simulator\n\n{table_real(runs)}\n")
        print(
            f"Simulator error |simulated - measured| / measured: median over families "
            f"{s['abs_error_median']:.1%} (target {SIM_ERROR_TARGET:.0%}: "
            f"{'met' if s['met'] else 'NOT met'}), max {s['abs_error_max']:.1%}; replaying the "
            f"measured durations: median {s['replay_abs_error_median']:.1%}. Load average "
            f"before {report['loadavg_before']}, after {report['loadavg_after']}; waited "
            f"{quiet['waited_s']:.0f} s for other benchmarks (quiet: {quiet['quiet']}).\n"
        )
    report["total_seconds"] = time.perf_counter() - t_start
    write_json(output, rnd_tree(report))
    met = "all met" if report["all_targets_met"] else "NOT all met"
    print(f"Strategy targets: {met}. Wrote {display(output)} in {report['total_seconds']:.1f} s.")
    return 0


def scale_only(args, t_start: float) -> int:
    """``--scale-only``: wait for other benchmarks, run the scale check, write its JSON."""
    output = Path(args.output or RESULTS / "strategies_scale.json")
    report = {"environment": environment(), "args": vars(args)}
    report["quiet"] = wait_for_other_benchmarks(args.wait)
    report["loadavg_before_scale"] = [round(x, 2) for x in os.getloadavg()]
    meter = CpuMeter()
    meter.start()
    report["scale"] = scale_check(tuple(args.scale_sizes))
    report["cpu"] = meter.stop()
    report["loadavg_after_scale"] = [round(x, 2) for x in os.getloadavg()]
    print(f"## Scale\n\n{table_scale(report['scale'])}\n")
    print(
        f"Load average before {report['loadavg_before_scale']}, after "
        f"{report['loadavg_after_scale']}; other processes used "
        f"{report['cpu']['foreign_load_cpus']:.2f} CPUs on average meanwhile; waited "
        f"{report['quiet']['waited_s']:.0f} s for other benchmarks (quiet: {report['quiet']['quiet']})."
    )
    report["total_seconds"] = time.perf_counter() - t_start
    write_json(output, rnd_tree(report))
    print(f"Wrote {display(output)} in {report['total_seconds']:.1f} s.")
    return 0


def rnd_tree(obj, digits: int = 6):
    """Round the floats of a JSON tree."""
    if isinstance(obj, float):
        return rnd(obj, digits)
    if isinstance(obj, dict):
        return {str(k): rnd_tree(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [rnd_tree(v, digits) for v in obj]
    return obj


if __name__ == "__main__":
    sys.exit(main())
