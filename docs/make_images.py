"""Make the pictures of docs/visualizing.md, in docs/images/.

Two graphs at the demo's size, on scikit-learn's diabetes data (no
download), each run once on two threads so that the pictures carry real
durations:

- a stack of three learners, each behind its own preprocessing transformer
  (6 tasks x 5 folds + full fits): ``stack-graph.png``/``.svg`` (node
  level) and ``stack-tasks.png`` (task level);
- a map of six learners x 5 folds: ``map-graph.png`` (node level, with each
  node's duration) and ``gantt.png`` (the schedule of its run).

It also redraws the strategy benchmark's figure
``strategies-ratio-by-family.png`` from the measured results stored in
``benchmarks/results/strategies.json`` (no benchmark runs here), and draws
simulated schedules (costs and memory estimates set by hand, so these
pictures are the same on every build): ``budget.png`` (docs/memory.md:
unlimited against a memory limit), ``cores.png`` (docs/strategies.md:
forests' threads counted as cores or not) and ``tail.png``
(docs/strategies.md: benchmarks/families.py's deep ensemble on 16 workers
without and with the tail policy).

Usage::

    .venv/bin/python docs/make_images.py [OUTPUT_DIR]   # default: docs/images

The docs build (``docs/hooks.py``) runs ``main`` into a temporary directory
and publishes those pictures in place of the committed ones, so the site's
pictures always come from the current code. The SVG is byte-for-byte
reproducible; the durations in the PNGs change from run to run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor  # noqa: E402
from sklearn.linear_model import Lasso, LinearRegression, Ridge  # noqa: E402
from sklearn.neighbors import KNeighborsRegressor  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402
from sklearn.svm import SVR  # noqa: E402

from foldgraph import FoldIndex, Learner, ParallelProcessing, Transformer  # noqa: E402

IMAGES = Path(__file__).resolve().parent / "images"
BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
DPI = 110


def stack_tasks():
    """scale-1 -> ridge -> scale-2 -> knn -> scale-3 -> meta, 5 folds each."""
    return [
        Transformer(StandardScaler(), FoldIndex(5), name="scale-1"),
        Learner(Ridge(alpha=0.1), FoldIndex(5), name="ridge", preprocess="scale-1"),
        Transformer(MinMaxScaler(), FoldIndex(5), name="scale-2"),
        Learner(KNeighborsRegressor(15), FoldIndex(5), name="knn", preprocess="scale-2"),
        Transformer(StandardScaler(), FoldIndex(5), name="scale-3"),
        Learner(LinearRegression(), FoldIndex(5), name="meta", preprocess="scale-3"),
    ]


def map_tasks():
    """The demo's six base learners."""
    estimators = {
        "ridge": Ridge(alpha=0.1),
        "lasso": Lasso(alpha=0.05),
        "knn": KNeighborsRegressor(15),
        "forest": RandomForestRegressor(100, max_depth=5, random_state=0),
        "boosting": GradientBoostingRegressor(n_estimators=100, max_depth=2, random_state=0),
        "svr": SVR(C=100.0),
    }
    return [Learner(est, FoldIndex(5), name=name) for name, est in estimators.items()]


def strategy_figure(images: Path) -> Path:
    """Redraw the strategy benchmark's ratio figure from its stored results."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import strategies as bench  # benchmarks/strategies.py
    finally:
        sys.path.remove(str(BENCHMARKS))
    report = json.loads((BENCHMARKS / "results" / "strategies.json").read_text())
    path = images / "strategies-ratio-by-family.png"
    bench.plot_ratio_by_family(report["simulations"], report["graphs"], report["workers"], path)
    return path


ROOT = Path(__file__).resolve().parent.parent
#: package, folder, where its box goes (x, y): the facade on top, the layers below
PACKAGES = {"foldgraph": ("foldgraph", 0.5, 0.92), "engine": ("engine", 0.22, 0.64),
            "viz": ("viz", 0.8, 0.64), "graph": ("graph", 0.5, 0.38),
            "tasks": ("tasks", 0.5, 0.12)}
#: how an arrow bends, so that it goes around the boxes between its ends
BENDS = {("foldgraph", "tasks"): -0.45, ("engine", "tasks"): 0.3}


def _package_imports() -> dict:
    """``{(importer, imported): n}``: module-level imports between the packages."""
    import ast

    edges: dict = {}
    for name, (folder, _, _) in PACKAGES.items():
        for path in sorted((ROOT / folder).glob("*.py")):
            for node in ast.parse(path.read_text()).body:  # module level only
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    parts = node.module.split(".")
                    target = parts[1] if parts[0] == "foldgraph" and len(parts) > 1 else None
                    if target in PACKAGES and target != name:
                        edges[name, target] = edges.get((name, target), 0) + 1
    return edges


def architecture_figure(images: Path) -> Path:
    """The packages, their modules and their module-level imports (docs/concepts.md)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 7.5))
    ax.set_axis_off()
    boxes, titles = {}, {}
    for name, (folder, x, y) in PACKAGES.items():
        modules = sorted(p.stem for p in (ROOT / folder).glob("*.py") if p.stem != "__init__")
        rows = [" ".join(modules[i:i + 4]) for i in range(0, len(modules), 4)]
        titles[name] = ax.text(x, y, f"foldgraph.{name}" if name != "foldgraph"
                               else "foldgraph (facade)", ha="center", va="bottom",
                               fontsize=11, weight="bold")
        boxes[name] = ax.text(x, y - 0.01, "\n".join(rows), ha="center", va="top", fontsize=7,
                              family="monospace",
                              bbox={"boxstyle": "round", "fc": "#eef4fb", "ec": "#5b7da8"})
    for (src, dst), n in _package_imports().items():  # n: import statements
        bend = BENDS.get((src, dst), 0.0)
        ax.annotate("", xy=(0.5, 1.0), xycoords=titles[dst], xytext=(0.5, 0.0),
                    textcoords=boxes[src],
                    arrowprops={"arrowstyle": "->", "color": "#555", "lw": 0.8 + 0.08 * n,
                                "shrinkA": 6, "shrinkB": 4,
                                "connectionstyle": f"arc3,rad={bend}"})  # width: import statements
    ax.set_title("packages and modules; an arrow: module-level imports (wider: more import "
                 "statements). viz is imported\nlazily, inside the drawing methods; nothing "
                 "imports upward", fontsize=9)
    path = images / "architecture.png"
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


MiB = 2**20
#: the simulated ensemble's nodes, by estimator: (seconds, memory estimate in MiB, threads)
SIM_NODES = {"ridge": (0.3, 150, 1), "kneighborsregressor": (0.6, 350, 1),
             "randomforestregressor": (2.0, 600, 4), "linearregression": (0.2, 50, 1)}


def ensemble_graph(X, y):
    """The graph of a SuperLearner of ridge, k-NN and a RandomForest(n_jobs=4), 3 folds."""
    from foldgraph import SuperLearner

    ens = SuperLearner(folds=3, backend="sequential", cache=False)
    ens.add([Ridge(alpha=0.1), KNeighborsRegressor(15),
             RandomForestRegressor(20, max_depth=4, n_jobs=4, random_state=0)])
    return ens.add_meta(LinearRegression()).fit(X, y).graph_


def _sim_nodes(graph, count_cores: bool = True) -> tuple[dict, dict]:
    """``({node: seconds}, {node: bytes})`` from SIM_NODES; sets each node's ``cores``."""
    costs, memory = {}, {}
    for key in graph.nx:
        seconds, mib, threads = SIM_NODES[graph.attrs(key)["task"].split(".", 1)[1]]
        full = key.endswith("/full")  # the full fit sees every row: a bit longer
        costs[key], memory[key] = seconds * (1.5 if full else 1.0), mib * MiB
        graph.nx.nodes[key]["cores"] = threads if count_cores else 1
    return costs, memory


def _schedule_panels(rows, path: Path, value_label: str, limit_label: str) -> Path:
    """One Gantt chart per row ``(title, sim, values, limit)`` and under each a step panel
    of ``values`` (per node) summed over the running nodes, with ``limit`` drawn."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from foldgraph.viz.gantt import gantt, memory_steps

    fig, axes = plt.subplots(2 * len(rows), 1, figsize=(9, 2.7 * len(rows) + 0.6),
                             gridspec_kw={"height_ratios": [1.3, 1] * len(rows)})
    xmax = max(sim.makespan for _, sim, _, _ in rows) * 1.03
    tasks = rows[0][1].trace.tasks  # the graph's build order: the same colours in every row
    for i, (title, sim, values, limit) in enumerate(rows):
        records = [{**r, "peak_bytes": values[r["key"]]} for r in sim.trace.records]
        bars, panel = axes[2 * i], axes[2 * i + 1]
        gantt(records, n_workers=sim.n_workers, tasks=tasks, ax=bars, title=title, memory=False)
        legend = bars.get_legend()
        handles = [h for h in legend.legend_handles if h.get_label() in tasks]  # not the lines
        legend.remove()
        bars.set_xlabel("")
        bars.tick_params(axis="x", labelbottom=False)
        times, levels = memory_steps(records)
        panel.step(times, levels, where="post", color="#3b6ea5", lw=1.2)
        panel.fill_between(times, levels, step="post", color="#3b6ea5", alpha=0.18, lw=0)
        if limit is not None:
            panel.axhline(limit, color="#c0392b", ls="--", lw=1.2)
            panel.text(xmax, limit, f" {limit_label}", color="#c0392b", va="center",
                       fontsize=8)
        top = max(max(levels), limit or 0)
        panel.set_ylim(0, top * 1.2)
        panel.set_ylabel(value_label, fontsize=8)
        panel.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        for ax in (bars, panel):
            ax.set_xlim(0, xmax)
        panel.tick_params(labelsize=8)
        panel.grid(color="#dddddd", lw=0.6)
    axes[-1].set_xlabel("time (s, simulated)", fontsize=8)
    fig.legend(handles=handles, labels=[h.get_label().split(".", 1)[-1] for h in handles],
               loc="lower center", ncol=len(handles), frameon=False, fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 0.93, 1))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def budget_figure(images: Path, graph) -> Path:
    """Simulated: the ensemble unlimited and under a 1 GiB memory limit (docs/memory.md)."""
    from foldgraph.engine import simulate

    costs, memory = _sim_nodes(graph, count_cores=False)
    rows = []
    for limit in (None, 2**30):
        sim = simulate(graph, 2, "critical_path", costs=costs, node_memory=memory,
                       memory_limit=limit)
        name = "no limit" if limit is None else "memory_limit=1 GiB"
        rows.append((f"{name}: makespan {sim.makespan:.1f} s, peak {sim.peak_memory / MiB:,.0f} "
                     f"MiB (buffers included)", sim,
                     {k: v / MiB for k, v in memory.items()}, None if limit is None else 1024))
    return _schedule_panels(rows, images / "budget.png", "running nodes'\nestimates (MiB)",
                            "limit\n(1 GiB)")


def cores_figure(images: Path, graph) -> Path:
    """Simulated on 4 workers and 4 cores: the forests' n_jobs=4 not counted, counted as
    4 cores, or set to 1 thread by foldgraph (threads="safe") (docs/strategies.md)."""
    from foldgraph.engine import simulate
    from foldgraph.engine.tail import scaled_cost

    cases = [("n_jobs=4 counted as 1 core (before issue 19)", False, 4),
             ("n_jobs=4 counted as 4 cores (threads=None)", True, 4),
             ('threads="safe": each forest set to 4 cores // 4 workers = 1 thread', True, 1)]
    rows = []
    for name, counted, forest_threads in cases:
        costs, _ = _sim_nodes(graph, count_cores=counted)
        threads = {k: min(SIM_NODES[graph.attrs(k)["task"].split(".", 1)[1]][2], forest_threads)
                   for k in graph.nx}  # fmt: skip
        for k in graph.nx:
            graph.nx.nodes[k]["cores"] = threads[k] if counted else 1
        if counted and forest_threads > 1:  # a forest alone on 4 cores: Amdahl from 1.8 on 2
            costs = {k: scaled_cost(c, "forest", 4, table={"forest": 1.8}) if threads[k] > 1
                     else c for k, c in costs.items()}  # fmt: skip
        # not counted, the four forests start together: 16 threads share 4 cores, so each
        # forest gets about one core and takes its one-thread time (a real run: worse)
        sim = simulate(graph, 4, "critical_path", costs=costs, cores=4)
        rows.append((f"{name}: makespan {sim.makespan:.1f} s, at most "
                     f"{_most_running(sim, threads)} threads", sim, threads, 4))
    return _schedule_panels(rows, images / "cores.png", "threads\nrunning", "4 cores")


def tail_figure(images: Path) -> Path:
    """Simulated: a deep ensemble on 16 workers, without and with the tail policy."""
    import matplotlib.pyplot as plt

    sys.path.insert(0, str(BENCHMARKS))
    try:
        import families  # benchmarks/families.py
    finally:
        sys.path.remove(str(BENCHMARKS))
    from foldgraph.engine.simulate import simulate

    graph = families.make("deep", "quick")
    amdahl = lambda key, threads: 1 / (0.1 + 0.9 / threads)  # noqa: E731
    runs = [simulate(graph, 16, "critical_path", tail=tail, speedup=amdahl)
            for tail in (False, True)]  # fmt: skip
    fig, axes = plt.subplots(2, 1, figsize=(9, 7))
    for ax, r, tail in zip(axes, runs, (False, True)):
        raised = f"; outlined: {len(r.raised)} nodes given idle cores (x threads)" if tail else ""
        r.gantt(ax=ax, title=f"tail={tail}: makespan {r.makespan:.2f} s{raised}")
        for slot in r.schedule:  # the raised nodes, with their threads
            if slot.node in r.raised:
                ax.barh(slot.worker, slot.end - slot.start, left=slot.start, height=0.72,
                        fill=False, edgecolor="black", linewidth=1.4, zorder=4)
                ax.text(slot.end, slot.worker, f" x{r.raised[slot.node]}", va="center",
                        fontsize=7)  # fmt: skip
        ax.set_xlim(0, max(run.makespan for run in runs) * 1.04)
    fig.tight_layout()
    path = images / "tail.png"
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _most_running(sim, values: dict) -> int:
    """The largest sum of ``values`` over the nodes running at once in ``sim``."""
    from foldgraph.viz.gantt import memory_steps

    records = [{**r, "peak_bytes": values[r["key"]]} for r in sim.trace.records]
    return max(memory_steps(records)[1])


def main(images: Path = IMAGES) -> list[Path]:
    """Write every picture into ``images`` and return their paths."""
    images = Path(images)
    images.mkdir(parents=True, exist_ok=True)
    X, y = load_diabetes(return_X_y=True)
    with ParallelProcessing("threading", n_jobs=2, strategy="critical_path") as manager:
        manager.stack(stack_tasks(), "fit", X, y, split=False)
        stack = manager.graph
        title = "a stack of three learners, each behind its own scaler (fit, 5 folds)"
        written = [stack.save(images / "stack-graph.png", title=title, dpi=DPI),
                   stack.save(images / "stack-graph.svg", title=title),
                   stack.save(images / "stack-tasks.png", level="task", title=title, dpi=DPI)]

        manager.map(map_tasks(), "fit", X, y)
        trace = manager.trace.set_graph(manager.graph)
        title = "a map of six learners x 5 folds (fit), with each node's duration"
        written.append(manager.graph.save(images / "map-graph.png", durations=trace,
                                          title=title, dpi=DPI))
        trace.gantt(images / "gantt.png", dpi=DPI)
        written.append(images / "gantt.png")
    written.append(strategy_figure(images))
    written.append(architecture_figure(images))
    graph = ensemble_graph(X, y)
    written += [budget_figure(images, graph), cores_figure(images, graph), tail_figure(images)]
    return [Path(path) for path in written]


if __name__ == "__main__":
    for path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else IMAGES):
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
