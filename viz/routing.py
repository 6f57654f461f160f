"""Edges of a laid-out picture: straight lines, buses and channels, and their labels.

A group of edges (see :func:`edge_groups`) that joins fold k to fold k of a
single other task is drawn edge by edge. Any other group with more than one
edge is a bus: each column of writers stubs into a collector bar on its
right, one trunk per column of readers (under the boxes when a straight
line would cross one) reaches a distributor bar on that column's left,
which stubs into each reader. A trunk is labelled once.
"""

from __future__ import annotations

from .geometry import Layout, Stroke, text_width
from .model import Model
from .styles import CHANNEL, DATA_EDGE, EDGE_FS, dark

__all__ = ["route", "edge_groups"]


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

    def __init__(self, lay: Layout, obstacles):
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


def _is_matched(model: Model, edges) -> bool:
    """Every edge joins nodes of the same fold and partition (fold k -> fold k)."""
    def same(u, v):
        a, b = model.g.nodes[u], model.g.nodes[v]
        return (a.get("fold"), a.get("partition")) == (b.get("fold"), b.get("partition"))

    return all(same(u, v) for u, v in edges)


def _edge_style(model: Model, source_task: str, via: str) -> tuple[str, bool]:
    if via == "estimator":
        return dark(model.colors[source_task], 0.2), True
    return DATA_EDGE, False


def edge_groups(model: Model, level: str) -> dict[tuple, list]:
    """Edges grouped by what flows: ``{(via, source task or None): [(u, v), ...]}``.

    A buffer is one group whoever writes it; fitted transformers group by
    transformer. At task level the items are task names.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.DiGraph()
    >>> for fold in (0, 1):
    ...     g.add_node(f"a/fit/fold-{fold}", task="a", fold=fold)
    ...     g.add_node(f"m/fit/fold-{fold}", task="m", fold=fold)
    >>> g.add_edges_from([("a/fit/fold-0", "m/fit/fold-1"), ("a/fit/fold-1", "m/fit/fold-0")],
    ...                  via="P:a")
    >>> edge_groups(Model(g), "task")
    {('P:a', None): [('a', 'm')]}
    """
    groups: dict[tuple, list] = {}
    if level == "task":
        for (a, b), vias in model.task_edges().items():
            for via in vias:
                groups.setdefault((via, a if via == "estimator" else None), []).append((a, b))
        return groups
    for u, v in model.sorted_edges():
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


def _ports(items, groups) -> dict[tuple, list]:
    """Task level: each group leaves/enters a box at its own height, near boxes on top
    (the far ones come through the channels below)."""
    ports: dict[tuple, list] = {}
    for group, edges in groups.items():
        for u, v in edges:
            for slot in (ports.setdefault((u, "out"), []), ports.setdefault((v, "in"), [])):
                if group not in slot:
                    slot.append(group)
    for (item, side), slot in ports.items():
        if side == "in":
            slot.sort(key=lambda g: -max(items[u].x for u, v in groups[g] if v == item))
        else:
            slot.sort(key=lambda g: min(items[v].x for u, v in groups[g] if u == item))
    return ports


class _Route:
    """The state of routing one layout: obstacles, bars per column, ports."""

    def __init__(self, model: Model, lay: Layout, level: str):
        self.lay, self.level = lay, level
        self.items = lay.boxes
        owners = lay.clusters if level == "node" else lay.boxes
        self.task_of = model.task_of if level == "node" else (lambda name: name)
        self.router = _Router({n: b.rect() for n, b in owners.items()})
        self.labels = _Labels(lay, self.router.obstacles.values())
        self.columns = _columns(owners.values())
        self.col_of = {n: round(b.x, 6) for n, b in owners.items()}
        self.out_bars: dict[float, int] = {}
        self.in_bars: dict[float, int] = {}
        self.groups = edge_groups(model, level)
        self.ports = _ports(self.items, self.groups) if level == "task" else {}

    def y_of(self, item, side, group) -> float:
        slots = self.ports.get((item, side), [group])
        return self.items[item].y + ((len(slots) - 1) / 2 - slots.index(group)) * 0.16

    def add(self, points, color, lw, dashed, head=True) -> None:
        self.lay.strokes.append(Stroke(points, color, lw, dashed, head))

    def single(self, group, edges, color, dashed) -> None:
        """One stroke per edge, the group's label on the first and last."""
        segments = []
        for u, v in edges:
            p = (self.items[u].right, self.y_of(u, "out", group))
            q = (self.items[v].left, self.y_of(v, "in", group))
            self.add([p, q], color, 0.8 if self.level == "node" else 1.2, dashed)
            segments.append((p, q))
        self.labels.place(group[0], segments[:1] + segments[-1:])

    def collectors(self, group, writers, color, dashed) -> dict:
        """A bar right of each column of writers: ``{column: (bar x, stub ys)}``."""
        collectors = {}
        for x in dict.fromkeys(self.col_of[self.task_of(u)] for u in writers):
            k = self.out_bars[x] = self.out_bars.get(x, -1) + 1
            mine = [u for u in writers if self.col_of[self.task_of(u)] == x]
            ys = [self.y_of(u, "out", group) for u in mine]
            bar = self.columns[x][1] + 0.14 + 0.08 * k
            for u, y in zip(mine, ys):
                self.add([(self.items[u].right, y), (bar, y)], color, 0.8, dashed, head=False)
            if max(ys) > min(ys):
                self.add([(bar, min(ys)), (bar, max(ys))], color, 1.1, dashed, head=False)
            collectors[x] = (bar, ys)
        return collectors

    def distributor(self, group, readers, x, color, dashed) -> tuple[float, list]:
        """The bar left of column ``x`` and its stubs into the readers there."""
        k = self.in_bars[x] = self.in_bars.get(x, -1) + 1
        mine = [v for v in readers if self.col_of[self.task_of(v)] == x]
        yt = [self.y_of(v, "in", group) for v in mine]
        bar = self.columns[x][0] - 0.14 - 0.08 * k
        for v, y in zip(mine, yt):
            self.add([(bar, y), (self.items[v].left, y)], color, 0.8, dashed)
        if max(yt) > min(yt):
            self.add([(bar, min(yt)), (bar, max(yt))], color, 1.1, dashed, head=False)
        return bar, yt

    def bus(self, group, edges, color, dashed) -> None:
        writers = list(dict.fromkeys(u for u, _ in edges))
        readers = list(dict.fromkeys(v for _, v in edges))
        collectors = self.collectors(group, writers, color, dashed)
        for x in dict.fromkeys(self.col_of[self.task_of(v)] for v in readers):
            bar, yt = self.distributor(group, readers, x, color, dashed)
            for sx, ys in collectors.values():
                if sx >= bar:  # readers in the writers' own column: not from a builder
                    continue
                self.trunk(group[0], (sx, ys), (bar, yt), color, dashed)

    def trunk(self, via, source, target, color, dashed) -> None:
        """From a collector bar to a distributor bar, through a channel if blocked."""
        (sx, ys), (bar, yt) = source, target
        p, q = (sx, sum(ys) / len(ys)), (bar, sum(yt) / len(yt))
        head = len(yt) > 1  # a single reader's stub carries the arrowhead
        if self.router.blocked(p, q, ()):
            cy = self.router.channel(sx, bar)
            points = [(sx, min(ys)), (sx, cy), (bar, cy), (bar, min(yt))]
            self.add(points, color, 1.4, dashed, head)
            self.labels.place(via, [(points[1], points[2])])
        else:
            self.add([p, q], color, 1.4, dashed, head)
            self.labels.place(via, [(p, q)])


def route(model: Model, lay: Layout, level: str) -> None:
    """Add the edges of ``model`` and their labels to ``lay`` (see the module's docstring).

    Examples
    --------
    >>> import networkx as nx
    >>> from foldgraph.viz.layout import layout
    >>> g = nx.DiGraph()
    >>> g.add_edge("a", "b", via="P:a")
    >>> lay = layout(Model(g), "task")  # calls route
    >>> len(lay.strokes), [text for text, _, _ in lay.labels]
    (1, ['P:a'])
    """
    state = _Route(model, lay, level)
    for group, edges in state.groups.items():
        color, dashed = _edge_style(model, state.task_of(edges[0][0]), group[0])
        targets_tasks = {state.task_of(v) for _, v in edges}
        single = len(edges) == 1 or (level == "node" and len(targets_tasks) == 1
                                     and _is_matched(model, edges))  # fmt: skip
        if single:
            state.single(group, edges, color, dashed)
        else:
            state.bus(group, edges, color, dashed)
    state.labels.resolve()
