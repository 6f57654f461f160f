"""Make the pictures of docs/visualizing.md, in docs/images/.

Two graphs at the demo's size, on scikit-learn's diabetes data (no
download), each run once on two threads so that the pictures carry real
durations:

- a stack of three learners, each behind its own preprocessing transformer
  (6 tasks x 5 folds + full fits): ``stack-graph.png``/``.svg`` (node
  level) and ``stack-tasks.png`` (task level);
- a map of six learners x 5 folds: ``map-graph.png`` (node level, with each
  node's duration) and ``gantt.png`` (the schedule of its run).

Usage::

    .venv/bin/python docs/make_images.py

The SVG is byte-for-byte reproducible; the durations in the PNGs change
from run to run.
"""

from __future__ import annotations

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


def main() -> None:
    IMAGES.mkdir(exist_ok=True)
    X, y = load_diabetes(return_X_y=True)
    with ParallelProcessing("threading", n_jobs=2, strategy="critical_path") as manager:
        manager.stack(stack_tasks(), "fit", X, y, split=False)
        stack = manager.graph
        title = "a stack of three learners, each behind its own scaler (fit, 5 folds)"
        written = [stack.save(IMAGES / "stack-graph.png", title=title, dpi=DPI),
                   stack.save(IMAGES / "stack-graph.svg", title=title),
                   stack.save(IMAGES / "stack-tasks.png", level="task", title=title, dpi=DPI)]

        manager.map(map_tasks(), "fit", X, y)
        trace = manager.trace.set_graph(manager.graph)
        title = "a map of six learners x 5 folds (fit), with each node's duration"
        written.append(manager.graph.save(IMAGES / "map-graph.png", durations=trace,
                                          title=title, dpi=DPI))
        trace.gantt(IMAGES / "gantt.png", dpi=DPI)
        written.append(IMAGES / "gantt.png")
    for path in written:
        print(f"wrote {path.relative_to(IMAGES.parent.parent)} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
