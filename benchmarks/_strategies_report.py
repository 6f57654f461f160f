"""The tables and plots of strategies.py (matplotlib is imported only to draw)."""

from __future__ import annotations

from pathlib import Path

from _common import display, markdown_table
from _strategies_runs import STRATEGIES, TARGETS, row_for

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
                v = row_for(rows, family, strategy, P)[key]
                top = best(row_for(rows, family, s, P)[key] for s in STRATEGIES)
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
            ys = [row_for(rows, family, s, P)["ratio"] for P in workers]
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
            ys = [row_for(rows, family, s, P)["ratio"] for P in workers]
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
            ys = [row_for(rows, family, s, P)[key] / scale for P in workers]
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
