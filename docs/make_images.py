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
``benchmarks/results/strategies.json`` (no benchmark runs here).

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
    return [Path(path) for path in written]


if __name__ == "__main__":
    for path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else IMAGES):
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
