"""Coordinates of a drawing, in inches: columns of task boxes or clusters, then edges.

Columns follow the topological generations of the task-level graph; in each
column the clusters stack top down in build order. A column of tasks
without edges to other tasks (a map) taller than
:data:`~foldgraph.viz.styles.MAX_COLUMN_HEIGHT` wraps into sub-columns.
Edges are routed by :mod:`foldgraph.viz.routing`; text is measured with
matplotlib's font metrics (:func:`~foldgraph.viz.geometry.text_width`).
"""

from __future__ import annotations

import networkx as nx

from .geometry import Box, Layout, text_width
from .model import Model, cluster_texts, node_text, task_texts
from .routing import route
from .styles import (
    COLUMN_GAP,
    EDGE_FS,
    HEADER,
    MAX_COLUMN_HEIGHT,
    NODE_FS,
    NODE_GAP,
    NODE_H,
    PAD,
    SUB_FS,
    SUB_GAP,
    TASK_H,
    TITLE_FS,
)

__all__ = ["layout"]


def _task_columns(model: Model) -> dict[str, int]:
    """Column of each task: its topological generation in the task-level graph."""
    tg = nx.DiGraph()
    tg.add_nodes_from(model.tasks)
    tg.add_edges_from(model.task_edges())
    try:
        return {name: i for i, gen in enumerate(nx.topological_generations(tg)) for name in gen}
    except nx.NetworkXUnfeasible:  # tasks depend on each other both ways: use node depth
        depth = {k: i for i, gen in enumerate(nx.topological_generations(model.g)) for k in gen}
        return {name: min(depth[k] for k in t.nodes) for name, t in model.tasks.items()}


def _sub_columns(names, sizes, wrap: bool) -> list[list[str]]:
    """The tasks of one column, cut into sub-columns past MAX_COLUMN_HEIGHT when ``wrap``."""
    subs, current, height = [], [], 0.0
    for name in names:
        h = sizes[name][1]
        if wrap and current and height + SUB_GAP + h > MAX_COLUMN_HEIGHT:
            subs.append(current)
            current, height = [], 0.0
        height += h + (SUB_GAP if current else 0.0)
        current.append(name)
    if current:
        subs.append(current)
    return subs


def _place_columns(model: Model, sizes: dict[str, tuple[float, float]]):
    """Centres of the task boxes/clusters, given their ``(width, height)``.

    Columns go left to right by task generation, their clusters stacked top
    down in build order from a common top line; a column of tasks without
    edges to other tasks (a map) wraps into sub-columns past
    ``MAX_COLUMN_HEIGHT``. Returns ``({task: (x, y)},
    width, height)`` with the origin at the bottom left of the drawing.
    """
    columns = _task_columns(model)
    linked = {name for pair in model.task_edges() for name in pair}
    centres: dict[str, tuple[float, float]] = {}
    x = 0.0
    for col in range(max(columns.values(), default=-1) + 1):
        names = [n for n in model.tasks if columns[n] == col]
        wrap = not linked.intersection(names)  # edges need one column per generation
        subs = _sub_columns(names, sizes, wrap)
        for s, sub in enumerate(subs):
            sub_w = max(sizes[n][0] for n in sub)
            y = 0.0
            for name in sub:
                w, h = sizes[name]
                centres[name] = (x + sub_w / 2, y - h / 2)
                y -= h + SUB_GAP
            x += sub_w + (SUB_GAP if s < len(subs) - 1 else COLUMN_GAP)
    width = x - COLUMN_GAP if centres else 0.0
    low = min((cy - sizes[n][1] / 2 for n, (_, cy) in centres.items()), default=0.0)
    centres = {n: (cx, cy - low) for n, (cx, cy) in centres.items()}
    return centres, width, -low


def _task_layout(model: Model) -> Layout:
    """One box per task."""
    sizes = {}
    for name in model.tasks:
        title, sub, detail = task_texts(model, name)
        w = max(text_width(title, TITLE_FS, True), text_width(sub, SUB_FS),
                text_width(detail, SUB_FS)) + 0.3  # fmt: skip
        if model.tasks[name].kind == "transformer":
            w += 0.2  # the hexagon's points
        sizes[name] = (w, TASK_H)
    centres, width, height = _place_columns(model, sizes)
    boxes = {n: Box(n, *centres[n], *sizes[n]) for n in model.tasks}
    return Layout(boxes, {}, width, height)


def _node_layout(model: Model) -> Layout:
    """A cluster per task, its nodes stacked under the cluster's header."""
    node_w = max((text_width(node_text(model, k), NODE_FS) for k in model.g),
                 default=0) + 0.24  # fmt: skip
    sizes = {}
    for name, task in model.tasks.items():
        title, sub = cluster_texts(model, name)
        w = max(node_w, text_width(title, TITLE_FS, True), text_width(sub, SUB_FS)) + 0.28
        n = len(task.nodes)
        sizes[name] = (w, HEADER + n * NODE_H + (n - 1) * NODE_GAP + PAD)
    centres, width, height = _place_columns(model, sizes)
    clusters, boxes = {}, {}
    for name, task in model.tasks.items():
        cx, cy = centres[name]
        box = clusters[name] = Box(name, cx, cy, *sizes[name])
        y = box.top - HEADER - NODE_H / 2
        for key in task.nodes:
            boxes[key] = Box(key, cx, y, node_w, NODE_H)
            y -= NODE_H + NODE_GAP
    return Layout(boxes, clusters, width, height)


def layout(model: Model, level: str) -> Layout:
    """Boxes, edges and edge labels of the drawing, in inches.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.DiGraph()
    >>> g.add_edge("a", "b", via="P:a")
    >>> lay = layout(Model(g), "task")
    >>> bool(lay.boxes["a"].x < lay.boxes["b"].x), len(lay.strokes)
    (True, 1)
    """
    lay = _task_layout(model) if level == "task" else _node_layout(model)
    route(model, lay, level)
    low = min((y for s in lay.strokes for _, y in s.points), default=0.0)
    low = min([low] + [y - EDGE_FS / 144 for _, _, y in lay.labels])
    if low < 0:
        lay.shift(-low)
    return lay
