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
    return [Path(path) for path in written]


if __name__ == "__main__":
    for path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else IMAGES):
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
