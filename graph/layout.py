"""Layout and matplotlib drawing of a TaskGraph (see :mod:`foldgraph.graph.draw`).

Columns follow the topological generations of the task-level graph; clusters,
edges routed around them and buses for all-to-all edge groups; sizes in
inches, measured with matplotlib's text metrics.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import networkx as nx

from .draw import (  # noqa: F401 - the shared model and styles
    CHANNEL,
    COLUMN_GAP,
    DATA_EDGE,
    EDGE_FS,
    FONT,
    HEADER,
    KINDS,
    MAX_COLUMN_HEIGHT,
    NODE_FS,
    NODE_GAP,
    NODE_H,
    PAD,
    SUB_FS,
    SUB_GAP,
    TASK_H,
    TITLE_FS,
    _check_level,
    _dark,
    _light,
    _Model,
    format_seconds,
)

__all__ = ["draw", "text_width"]


# -- layout (inches; matplotlib measures the text) -------------------------------
@dataclass
class _Box:
    key: str
    x: float  # centre
    y: float
    w: float
    h: float

    @property
    def left(self) -> float:
        return self.x - self.w / 2

    @property
    def right(self) -> float:
        return self.x + self.w / 2

    @property
    def top(self) -> float:
        return self.y + self.h / 2

    @property
    def bottom(self) -> float:
        return self.y - self.h / 2


@dataclass
class _Stroke:
    """A polyline edge, with an arrowhead at its last point when ``head``."""

    points: list
    color: str
    lw: float
    dashed: bool = False
    head: bool = True


@dataclass
class _Layout:
    boxes: dict  # node key (or task name at task level) -> _Box
    clusters: dict  # task name -> _Box (node level only)
    width: float
    height: float
    strokes: list = field(default_factory=list)
    labels: list = field(default_factory=list)  # (text, x, y)

    def shift(self, dy: float) -> None:
        """Move everything up by ``dy`` (room for channels below the boxes)."""
        for box in list(self.boxes.values()) + list(self.clusters.values()):
            box.y += dy
        for stroke in self.strokes:
            stroke.points = [(x, y + dy) for x, y in stroke.points]
        self.labels = [(t, x, y + dy) for t, x, y in self.labels]
        self.height += dy


@functools.lru_cache(maxsize=4096)
def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width of ``text`` at ``size`` points, in inches, measured on the DejaVu Sans
    font that matplotlib bundles (needs matplotlib)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    if not text:
        return 0.0
    prop = FontProperties(family=FONT, weight="bold" if bold else "normal", size=size)
    return TextPath((0, 0), text, size=size, prop=prop).get_extents().width / 72.0


def _task_columns(model: _Model) -> dict[str, int]:
    """Column of each task: its topological generation in the task-level graph."""
    tg = nx.DiGraph()
    tg.add_nodes_from(model.tasks)
    tg.add_edges_from(model.task_edges())
    try:
        return {name: i for i, gen in enumerate(nx.topological_generations(tg)) for name in gen}
    except nx.NetworkXUnfeasible:  # tasks depend on each other both ways: use node depth
        depth = {k: i for i, gen in enumerate(nx.topological_generations(model.g)) for k in gen}
        return {name: min(depth[k] for k in t.nodes) for name, t in model.tasks.items()}


def _place_columns(model: _Model, sizes: dict[str, tuple[float, float]]):
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


def _node_text(model: _Model, key) -> str:
    label = model.label(key)
    if key in model.durations:
        label = f"{label} · {format_seconds(model.durations[key])}"
    return label


def _cluster_texts(model: _Model, name) -> tuple[str, str]:
    task = model.tasks[name]
    return name, task.estimator or task.kind


def task_texts(model: _Model, name) -> list[str]:
    title, sub = _cluster_texts(model, name)
    detail = model.task_detail(name)
    seconds = model.task_seconds(name)
    if seconds is not None:
        detail = f"{detail} · {format_seconds(seconds)}"
    return [title, sub, detail]


def _layout(model: _Model, level: str) -> _Layout:
    """Boxes, edges and edge labels of the drawing, in inches."""
    if level == "task":
        sizes = {}
        for name in model.tasks:
            title, sub, detail = task_texts(model, name)
            w = max(text_width(title, TITLE_FS, True), text_width(sub, SUB_FS),
                    text_width(detail, SUB_FS)) + 0.3  # fmt: skip
            if model.tasks[name].kind == "transformer":
                w += 0.2  # the hexagon's points
            sizes[name] = (w, TASK_H)
        centres, width, height = _place_columns(model, sizes)
        boxes = {n: _Box(n, *centres[n], *sizes[n]) for n in model.tasks}
        lay = _Layout(boxes, {}, width, height)
        _route(model, lay, level)
    else:
        node_w = max((text_width(_node_text(model, k), NODE_FS) for k in model.g),
                     default=0) + 0.24  # fmt: skip
        sizes = {}
        for name, task in model.tasks.items():
            title, sub = _cluster_texts(model, name)
            w = max(node_w, text_width(title, TITLE_FS, True), text_width(sub, SUB_FS)) + 0.28
            n = len(task.nodes)
            sizes[name] = (w, HEADER + n * NODE_H + (n - 1) * NODE_GAP + PAD)
        centres, width, height = _place_columns(model, sizes)
        clusters, boxes = {}, {}
        for name, task in model.tasks.items():
            cx, cy = centres[name]
            box = clusters[name] = _Box(name, cx, cy, *sizes[name])
            y = box.top - HEADER - NODE_H / 2
            for key in task.nodes:
                boxes[key] = _Box(key, cx, y, node_w, NODE_H)
                y -= NODE_H + NODE_GAP
        lay = _Layout(boxes, clusters, width, height)
        _route(model, lay, level)
    low = min((y for s in lay.strokes for _, y in s.points), default=0.0)
    low = min([low] + [y - EDGE_FS / 144 for _, _, y in lay.labels])
    if low < 0:
        lay.shift(-low)
    return lay


def _rect(box: _Box) -> tuple[float, float, float, float]:
    return box.left, box.bottom, box.right, box.top


def _crosses(p, q, rect, steps: int = 60) -> bool:
    """Whether segment ``p``-``q`` passes through ``rect`` (x0, y0, x1, y1)."""
    for i in range(1, steps):
        t = i / steps
        x, y = p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t
        if rect[0] < x < rect[2] and rect[1] < y < rect[3]:
            return True
    return False


class _Router:
    """Straight edges where the way is clear, else a channel under the boxes."""

    def __init__(self, obstacles: dict):
        self.obstacles = obstacles  # name -> rect
        self.channels: list[tuple[float, float, float]] = []  # (x0, x1, y)

    def blocked(self, p, q, ends) -> bool:
        return any(_crosses(p, q, r) for n, r in self.obstacles.items() if n not in ends)

    def channel(self, x0: float, x1: float) -> float:
        """The y of a new horizontal channel from ``x0`` to ``x1`` below every box there."""
        under = [r[1] for r in self.obstacles.values() if r[0] < x1 and x0 < r[2]]
        base = min(under, default=0.0)
        depth = 1 + sum(1 for a, b, _ in self.channels if a < x1 + 0.05 and x0 - 0.05 < b)
        y = base - CHANNEL * depth - 0.04
        self.channels.append((x0, x1, y))
        return y


class _Labels:
    """Edge labels placed where they overlap no box, no vertical line and no other label.

    Routing asks with :meth:`place`; :meth:`resolve` places every label once
    all edges exist, so that a label never sits on a bus drawn later.
    """

    def __init__(self, lay: _Layout, obstacles):
        self.lay = lay
        self.taken = list(obstacles)  # (x0, y0, x1, y1)
        self.requests: list[tuple[str, list]] = []

    @staticmethod
    def _hits(a, b) -> bool:
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    def place(self, text: str, segments) -> None:
        """Ask for ``text`` on a free point along ``segments`` [(p, q), ...]."""
        self.requests.append((text, segments))

    def resolve(self) -> None:
        for stroke in self.lay.strokes:  # vertical lines (buses, channel legs) are obstacles
            for (x0, y0), (x1, y1) in zip(stroke.points, stroke.points[1:]):
                if abs(x1 - x0) < 1e-9:
                    self.taken.append((x0 - 0.06, min(y0, y1), x0 + 0.06, max(y0, y1)))
        for text, segments in self.requests:
            self._put(text, segments)

    def _put(self, text: str, segments) -> None:
        w, h = text_width(text, EDGE_FS) + 0.1, EDGE_FS / 72 * 1.5
        candidates = [(p, q, t) for p, q in segments
                      for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8)]  # fmt: skip
        chosen = None
        for p, q, t in candidates:
            x, y = p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t
            rect = (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
            if not any(self._hits(rect, other) for other in self.taken):
                chosen = (x, y, rect)
                break
        if chosen is None:
            p, q, _ = candidates[0]
            x, y = (p[0] + q[0]) / 2, (p[1] + q[1]) / 2
            chosen = (x, y, (x - w / 2, y - h / 2, x + w / 2, y + h / 2))
        x, y, rect = chosen
        self.taken.append(rect)
        self.lay.labels.append((text, x, y))


def _is_matched(model: _Model, edges) -> bool:
    """Every edge joins nodes of the same fold and partition (fold k -> fold k)."""
    def same(u, v):
        a, b = model.g.nodes[u], model.g.nodes[v]
        return (a.get("fold"), a.get("partition")) == (b.get("fold"), b.get("partition"))

    return all(same(u, v) for u, v in edges)


def _edge_style(model: _Model, source_task: str, via: str) -> tuple[str, bool]:
    if via == "estimator":
        return _dark(model.colors[source_task], 0.2), True
    return DATA_EDGE, False


def _edge_groups(model: _Model, level: str):
    """Edges grouped by what flows: ``{(via, source task or None): [(u, v), ...]}``.

    A buffer is one group whoever writes it; fitted transformers group by
    transformer. At task level the items are task names.
    """
    groups: dict[tuple, list] = {}
    if level == "task":
        for (a, b), vias in model.task_edges().items():
            for via in vias:
                groups.setdefault((via, a if via == "estimator" else None), []).append((a, b))
        return groups
    for u, v in sorted(model.g.edges, key=lambda e: (model.order[e[0]], model.order[e[1]])):
        a, via, b = model.task_of(u), model.via(u, v), model.task_of(v)
        if a != b:
            # a transformer feeds each learner fold k -> fold k: one group per learner, drawn
            # edge by edge, never as a bus that would suggest every fold feeds every fold
            key = (via, a, b) if via == "estimator" else (via, None)
            groups.setdefault(key, []).append((u, v))
    return groups


def _columns(boxes) -> dict[float, tuple[float, float]]:
    """``{centre x: (left, right)}`` of the columns of ``boxes`` (clusters or task boxes)."""
    out: dict[float, tuple[float, float]] = {}
    for box in boxes:
        x = round(box.x, 6)
        left, right = out.get(x, (box.left, box.right))
        out[x] = (min(left, box.left), max(right, box.right))
    return out


def _route(model: _Model, lay: _Layout, level: str) -> None:
    """Edges and their labels, in inches.

    A group of edges (see :func:`_edge_groups`) that joins fold k to fold k
    of a single other task is drawn edge by edge. Any other group with more
    than one edge is a bus: each column of writers stubs into a collector
    bar on its right, one trunk per column of readers (under the boxes when
    a straight line would cross one) reaches a distributor bar on that
    column's left, which stubs into each reader. A trunk is labelled once.
    """
    items = lay.boxes
    owners = lay.clusters if level == "node" else lay.boxes
    task_of = model.task_of if level == "node" else (lambda name: name)
    router = _Router({n: _rect(b) for n, b in owners.items()})
    labels = _Labels(lay, router.obstacles.values())
    columns = _columns(owners.values())
    col_of = {n: round(b.x, 6) for n, b in owners.items()}
    out_bars: dict[float, int] = {}
    in_bars: dict[float, int] = {}
    groups = _edge_groups(model, level)
    ports: dict[tuple, list] = {}  # task level: each group leaves/enters a box at its own height
    if level == "task":
        for group, edges in groups.items():
            for u, v in edges:
                for slot in (ports.setdefault((u, "out"), []), ports.setdefault((v, "in"), [])):
                    if group not in slot:
                        slot.append(group)
        # from near boxes on top: the far ones come through the channels below
        for (item, side), slot in ports.items():
            if side == "in":
                slot.sort(key=lambda g: -max(items[u].x for u, v in groups[g] if v == item))
            else:
                slot.sort(key=lambda g: min(items[v].x for u, v in groups[g] if u == item))

    def y_of(item, side, group) -> float:
        slots = ports.get((item, side), [group])
        return items[item].y + ((len(slots) - 1) / 2 - slots.index(group)) * 0.16

    for group, edges in groups.items():
        via = group[0]
        color, dashed = _edge_style(model, task_of(edges[0][0]), via)
        targets_tasks = {task_of(v) for _, v in edges}
        single = len(edges) == 1 or (level == "node" and len(targets_tasks) == 1
                                     and _is_matched(model, edges))  # fmt: skip
        if single:
            segments = []
            for u, v in edges:
                p, q = (items[u].right, y_of(u, "out", group)), (items[v].left, y_of(v, "in", group))
                lay.strokes.append(_Stroke([p, q], color, 0.8 if level == "node" else 1.2, dashed))
                segments.append((p, q))
            labels.place(via, segments[:1] + segments[-1:])
            continue
        writers = list(dict.fromkeys(u for u, _ in edges))
        readers = list(dict.fromkeys(v for _, v in edges))
        collectors = {}
        for x in dict.fromkeys(col_of[task_of(u)] for u in writers):
            k = out_bars[x] = out_bars.get(x, -1) + 1
            ys = [y_of(u, "out", group) for u in writers if col_of[task_of(u)] == x]
            bar = columns[x][1] + 0.14 + 0.08 * k
            for u in writers:
                if col_of[task_of(u)] == x:
                    y = y_of(u, "out", group)
                    lay.strokes.append(_Stroke([(items[u].right, y), (bar, y)], color, 0.8, dashed,
                                               head=False))
            if max(ys) > min(ys):
                lay.strokes.append(_Stroke([(bar, min(ys)), (bar, max(ys))], color, 1.1, dashed,
                                           head=False))
            collectors[x] = (bar, ys)
        for x in dict.fromkeys(col_of[task_of(v)] for v in readers):
            k = in_bars[x] = in_bars.get(x, -1) + 1
            yt = [y_of(v, "in", group) for v in readers if col_of[task_of(v)] == x]
            bar = columns[x][0] - 0.14 - 0.08 * k
            for v in readers:
                if col_of[task_of(v)] == x:
                    y = y_of(v, "in", group)
                    lay.strokes.append(_Stroke([(bar, y), (items[v].left, y)], color, 0.8, dashed))
            if max(yt) > min(yt):
                lay.strokes.append(_Stroke([(bar, min(yt)), (bar, max(yt))], color, 1.1, dashed,
                                           head=False))
            for sx, ys in collectors.values():
                if sx >= bar:  # readers in the writers' own column: not from a builder
                    continue
                p, q = (sx, sum(ys) / len(ys)), (bar, sum(yt) / len(yt))
                head = len(yt) > 1  # a single reader's stub carries the arrowhead
                if router.blocked(p, q, ()):
                    cy = router.channel(sx, bar)
                    points = [(sx, min(ys)), (sx, cy), (bar, cy), (bar, min(yt))]
                    lay.strokes.append(_Stroke(points, color, 1.4, dashed, head))
                    labels.place(via, [(points[1], points[2])])
                else:
                    lay.strokes.append(_Stroke([p, q], color, 1.4, dashed, head))
                    labels.place(via, [(p, q)])
    labels.resolve()


def _shape(kind: str, box: _Box, face: str, edge: str, gid: str | None, unit: float = 1.0):
    """The patches of one node shape (several for a double border).

    ``unit`` is the length of an inch in the box's coordinates (72 in a legend).
    """
    from matplotlib.patches import FancyBboxPatch, Polygon, Rectangle

    x0, y0, w, h = box.left, box.bottom, box.w, box.h
    common = dict(facecolor=face, edgecolor=edge, linewidth=0.9, zorder=3)
    if kind == "transformer":
        d = min(h * 0.4, w / 4)
        pts = [(x0, box.y), (x0 + d, box.top), (box.right - d, box.top), (box.right, box.y),
               (box.right - d, y0), (x0 + d, y0)]  # fmt: skip
        patches = [Polygon(pts, closed=True, **common)]
    elif kind == "transform":
        d = h * 0.35
        pts = [(x0 + d, box.top), (box.right, box.top), (box.right - d, y0), (x0, y0)]
        patches = [Polygon(pts, closed=True, **common)]
    elif kind == "full fit":
        inset = 0.028 * unit
        patches = [Rectangle((x0, y0), w, h, **common),
                   Rectangle((x0 + inset, y0 + inset), w - 2 * inset, h - 2 * inset,
                             facecolor="none", edgecolor=edge, linewidth=0.7, zorder=3.1)]
    elif kind == "predict":
        patches = [FancyBboxPatch((x0, y0), w, h, boxstyle=f"round,pad=0,rounding_size={h / 2}",
                                  **common)]
    else:  # fold fit
        patches = [FancyBboxPatch((x0, y0), w, h, boxstyle=f"round,pad=0,rounding_size={0.06 * unit}",
                                  **common)]
    patches[0].set_gid(gid)  # one element per node carries its id (and its hover text)
    return patches


class _ShapeHandler:
    """Legend handler drawing a node kind's shape."""

    def __init__(self, kind: str):
        self.kind = kind

    def legend_artist(self, legend, orig_handle, fontsize, handlebox):
        w, h = handlebox.width, handlebox.height
        box = _Box("", handlebox.xdescent + w / 2, handlebox.ydescent + h / 2, w, h)
        patches = _shape(self.kind, box, "#eeeeee", "#444444", None, unit=72.0)
        for p in patches:
            p.set_transform(handlebox.get_transform())
            handlebox.add_artist(p)
        return patches[0]


def _legend(ax, model: _Model, level: str, below: float) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles, labels, handler_map = [], [], {}
    if level == "node":
        present = {model.kind(k) for k in model.g}
        shapes = [(kind, kind) for kind in KINDS if kind in present]
    else:
        present = {t.kind for t in model.tasks.values()}
        shapes = [(kind, name) for kind, name in (("fold fit", "learner"),
                                                  ("transformer", "transformer"))
                  if name in present]  # fmt: skip
    for kind, label in shapes:
        handle = Patch(label=label)
        handler_map[handle] = _ShapeHandler(kind)
        handles.append(handle)
        labels.append(label)
    vias = {model.via(u, v) for u, v in model.g.edges}
    if any(v != "estimator" for v in vias):
        handles.append(Line2D([], [], color=DATA_EDGE, lw=1.2))
        labels.append("predictions (P:… buffer)")
    if "estimator" in vias:
        handles.append(Line2D([], [], color=DATA_EDGE, lw=1.2, ls=(0, (3, 2))))
        labels.append("fitted transformer (estimator)")
    if not handles:
        return
    ax.legend(handles, labels, handler_map=handler_map, loc="upper center",
              bbox_to_anchor=(0.5, below), ncol=len(handles), frameon=False,
              fontsize=SUB_FS + 0.5, handlelength=2.2, handleheight=1.1, columnspacing=1.2,
              borderaxespad=0.0)  # fmt: skip


def _draw_strokes(ax, lay: _Layout) -> None:
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path as MplPath

    for stroke in lay.strokes:
        ax.add_patch(FancyArrowPatch(
            path=MplPath(stroke.points), arrowstyle="-|>" if stroke.head else "-",
            mutation_scale=7 if stroke.head else 1, color=stroke.color, linewidth=stroke.lw,
            shrinkA=0, shrinkB=0, zorder=2, joinstyle="miter", capstyle="butt",
            linestyle=(0, (3, 2)) if stroke.dashed else "-",
        ))  # fmt: skip
    for text, x, y in lay.labels:
        ax.text(x, y, text, ha="center", va="center", fontsize=EDGE_FS, family=FONT,
                color="#333333", zorder=6,
                bbox=dict(boxstyle="round,pad=0.12", facecolor="white", edgecolor="none"))


def _draw_node_level(ax, model: _Model, lay: _Layout) -> None:
    from matplotlib.patches import FancyBboxPatch

    for name, box in lay.clusters.items():
        color = model.colors[name]
        ax.add_patch(FancyBboxPatch((box.left, box.bottom), box.w, box.h,
                                    boxstyle="round,pad=0,rounding_size=0.08",
                                    facecolor=_light(color, 0.92), edgecolor=color,
                                    linewidth=1.0, zorder=1, gid=f"fg-task-{name}"))  # fmt: skip
        title, sub = _cluster_texts(model, name)
        ax.text(box.x, box.top - 0.14, title, ha="center", va="center", fontsize=TITLE_FS,
                fontweight="bold", family=FONT, color=_dark(color, 0.45), zorder=4)
        ax.text(box.x, box.top - 0.31, sub, ha="center", va="center", fontsize=SUB_FS,
                family=FONT, color="#555555", zorder=4)
        for key in model.tasks[name].nodes:
            nb = lay.boxes[key]
            gid = f"fg-node-{model.order[key]}"
            for patch in _shape(model.kind(key), nb, _light(color), _dark(color), gid):
                ax.add_patch(patch)
            ax.text(nb.x, nb.y, _node_text(model, key), ha="center", va="center",
                    fontsize=NODE_FS, family=FONT, color="#222222", zorder=5,
                    gid=f"{gid}-label")  # fmt: skip
    _draw_strokes(ax, lay)


def _draw_task_level(ax, model: _Model, lay: _Layout) -> None:
    from matplotlib.patches import FancyBboxPatch, Polygon

    for name, box in lay.boxes.items():
        color = model.colors[name]
        common = dict(facecolor=_light(color), edgecolor=_dark(color), linewidth=1.0, zorder=3,
                      gid=f"fg-task-{name}")
        if model.tasks[name].kind == "transformer":
            d = 0.16
            pts = [(box.left, box.y), (box.left + d, box.top), (box.right - d, box.top),
                   (box.right, box.y), (box.right - d, box.bottom), (box.left + d, box.bottom)]
            ax.add_patch(Polygon(pts, closed=True, **common))
        else:
            ax.add_patch(FancyBboxPatch((box.left, box.bottom), box.w, box.h,
                                        boxstyle="round,pad=0,rounding_size=0.08", **common))
        title, sub, detail = task_texts(model, name)
        ax.text(box.x, box.y + 0.18, title, ha="center", va="center", fontsize=TITLE_FS,
                fontweight="bold", family=FONT, color=_dark(color, 0.45), zorder=4)
        ax.text(box.x, box.y, sub, ha="center", va="center", fontsize=SUB_FS, family=FONT,
                color="#444444", zorder=4)
        ax.text(box.x, box.y - 0.17, detail, ha="center", va="center", fontsize=SUB_FS,
                family=FONT, color="#444444", zorder=4)
    _draw_strokes(ax, lay)


MARGIN, TITLE_H, LEGEND_H = 0.25, 0.4, 0.42


def _figure(lay: _Layout, pyplot: bool, title: bool, legend: bool):
    """A figure sized to the layout, and Axes where one data unit is one inch."""
    bottom = 0.1 + (LEGEND_H if legend else 0.0)
    width = max(lay.width + 2 * MARGIN, 4.0)
    height = lay.height + MARGIN + bottom + (TITLE_H if title else 0.0)
    if pyplot:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(width, height))
    else:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(width, height))
    left = (width - lay.width) / 2
    ax = fig.add_axes([left / width, bottom / height,
                       max(lay.width, 0.01) / width, max(lay.height, 0.01) / height])
    return fig, ax


def draw(graph, ax=None, level: str = "node", durations=None, title: str | None = None,
         legend: bool = True, _pyplot: bool = True):
    """Draw ``graph`` with matplotlib, left to right; returns the Axes.

    Parameters
    ----------
    graph : TaskGraph
    ax : matplotlib Axes, optional
        Where to draw. By default a new figure sized so that 1 unit is 1 inch
        and no label overlaps another.
    level : {"node", "task"}, default="node"
        A shape per node, each task a cluster (edges that join all nodes of
        two tasks drawn as one bus); or one box per task.
    durations : Trace or dict, optional
        Node durations of a run, written beside the node labels.
    title : str, optional
        Default: the job and the numbers of tasks, nodes and edges.
    legend : bool, default=True
        A legend of node kinds and edge types below the drawing.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install 'foldgraph[viz]'``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, stack_graph
    >>> from foldgraph.testing import OLS
    >>> g = stack_graph([Learner(OLS(), FoldIndex(2), name="a"),
    ...                  Learner(OLS(), FoldIndex(2), name="meta")], "fit",
    ...                 X=np.ones((6, 2)), y=np.ones(6))
    >>> ax = draw(g, level="task")
    >>> type(ax).__name__, [t.get_text() for t in ax.texts][:2]
    ('Axes', ['a', 'OLS'])
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    _require_matplotlib()
    _check_level(level)
    model = _Model(graph, durations)
    lay = _layout(model, level)
    title = model.title(level) if title is None else title
    own = ax is None
    if own:
        fig, ax = _figure(lay, pyplot=_pyplot, title=bool(title), legend=legend)
        ax.set_xlim(0, max(lay.width, 0.01))
        ax.set_ylim(0, max(lay.height, 0.01))
    else:
        ax.set_xlim(-MARGIN, lay.width + MARGIN)
        ax.set_ylim(-MARGIN, lay.height + MARGIN)
        ax.set_aspect("equal")
    ax.axis("off")
    if level == "node":
        _draw_node_level(ax, model, lay)
    else:
        _draw_task_level(ax, model, lay)
    if title:
        if own:
            fig = ax.figure
            h = fig.get_figheight()
            fig.text(MARGIN / fig.get_figwidth(), 1 - (MARGIN + 0.12) / h, title,
                     ha="left", va="center", fontsize=TITLE_FS + 1.5, family=FONT,
                     color="#222222")  # fmt: skip
        else:
            ax.set_title(title, fontsize=TITLE_FS + 1.5, family=FONT, loc="left")
    if legend:
        below = -(0.12 / max(lay.height, 0.01)) if own else 0.0
        _legend(ax, model, level, below)
    return ax


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(
            "drawing needs matplotlib: pip install 'foldgraph[viz]' "
            "(to_dot() and to_mermaid() need nothing more)"
        ) from None
