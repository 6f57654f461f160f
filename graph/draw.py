"""Pictures of a TaskGraph: Graphviz DOT, Mermaid, matplotlib, and files by suffix.

The model of a picture, shared by every format:

- **clusters**: one per task, in build order; a task's colour comes from
  :func:`task_colors` (the Gantt chart of a run uses the same colours).
- **node kinds** (:data:`KINDS`), told apart by shape: ``"fold fit"`` (a
  rounded box), ``"full fit"`` (a box with a double border), ``"transformer"``
  (a hexagon), ``"predict"`` (a stadium) and ``"transform"`` (a
  parallelogram).
- **edges** are labelled with what flows: the buffer ``"P:<task>"`` or
  ``"estimator"`` (a fitted transformer, drawn dashed).
- **layout** (matplotlib): left to right by the topological generations of
  the task-level graph; in each column, transformer clusters sit above a
  middle line and learner clusters below it, so a learner's input coming
  from two columns back passes under the transformer in between. A column
  taller than ``MAX_COLUMN_HEIGHT`` wraps into sub-columns. In ``"node"``
  level drawings, a group of edges that joins every node of one set to every
  node of another (a learner reading all folds of the previous learner) is
  drawn as a bus: short stubs, one arrow, one label.

``to_dot`` and ``to_mermaid`` return plain text and need nothing beyond
networkx. ``draw`` and the ``.svg``, ``.png``, ``.pdf`` and ``.html``
formats of ``save`` need matplotlib (``pip install 'foldgraph[viz]'``),
imported only when called, and never through pyplot unless a drawing is made
for display (``draw()`` with no ``ax``).
"""

from __future__ import annotations

import functools
import html
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

__all__ = [
    "KINDS",
    "LEVELS",
    "FORMATS",
    "node_kind",
    "task_colors",
    "describe_node",
    "format_seconds",
    "text_width",
    "save_figure",
    "to_dot",
    "to_mermaid",
    "to_html",
    "draw",
    "save",
]

#: node kinds, in legend order
KINDS = ("transformer", "fold fit", "full fit", "predict", "transform")
#: what a picture shows: one shape per node, or one box per task
LEVELS = ("node", "task")
#: file suffixes :func:`save` writes
FORMATS = (".svg", ".png", ".pdf", ".dot", ".mmd", ".html")

#: Okabe-Ito colours (distinguishable with colour-blindness), then tab10's
PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442",
    "#999999", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
)  # fmt: skip

DOT_SHAPES = {
    "fold fit": 'shape=box, style="rounded,filled"',
    "full fit": "shape=box, style=filled, peripheries=2",
    "transformer": "shape=hexagon, style=filled",
    "predict": 'shape=box, style="rounded,filled", penwidth=1.5',
    "transform": "shape=parallelogram, style=filled",
}
MERMAID_SHAPES = {
    "fold fit": ('["', '"]'),
    "full fit": ('[["', '"]]'),
    "transformer": ('{{"', '"}}'),
    "predict": ('(["', '"])'),
    "transform": ('[/"', '"/]'),
}

# sizes of the matplotlib layout, in inches (1 data unit = 1 inch) and points
FONT = "DejaVu Sans"
NODE_FS, TITLE_FS, SUB_FS, EDGE_FS = 8.0, 9.0, 7.5, 7.0
NODE_H, NODE_GAP, PAD, HEADER = 0.26, 0.08, 0.10, 0.42
COLUMN_GAP, SUB_GAP, CHANNEL = 0.95, 0.30, 0.16
TASK_H = 0.66
#: a column of clusters taller than this wraps into sub-columns
MAX_COLUMN_HEIGHT = 6.0
DATA_EDGE = "#4d4d4d"


def _check_level(level: str) -> str:
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}: choose one of {', '.join(map(repr, LEVELS))}")
    return level


# -- the model shared by every format ------------------------------------------
def node_kind(attrs: dict) -> str:
    """The kind of a node (one of :data:`KINDS`), from its attributes.

    Examples
    --------
    >>> node_kind({"kind": "learner", "op": "fit", "fold": 2})
    'fold fit'
    >>> node_kind({"kind": "learner", "op": "fit", "fold": "full"})
    'full fit'
    >>> node_kind({"kind": "transformer", "op": "fit", "fold": 0})
    'transformer'
    """
    if attrs.get("kind") == "transformer":
        return "transformer"
    op = attrs.get("op", "fit")
    if op in ("predict", "transform"):
        return op
    return "full fit" if attrs.get("fold") == "full" else "fold fit"


def task_colors(tasks) -> dict[str, str]:
    """One colour per task name, in the order given (cycles after 14).

    Examples
    --------
    >>> task_colors(["ridge", "knn"])
    {'ridge': '#0072B2', 'knn': '#E69F00'}
    """
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(dict.fromkeys(tasks))}


def format_seconds(seconds: float) -> str:
    """A duration for people: seconds, milliseconds or microseconds.

    Examples
    --------
    >>> format_seconds(2.345), format_seconds(0.0123), format_seconds(4.2e-5)
    ('2.35 s', '12.3 ms', '42 µs')
    """
    seconds = float(seconds)
    if abs(seconds) >= 1.0:
        return f"{seconds:.2f} s"
    if abs(seconds) >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def _format_rows(rows) -> str:
    if not rows:
        return "none"
    n = sum(stop - start for start, stop in rows)
    spans = ", ".join(f"{start}:{stop}" for start, stop in rows)
    return f"{spans} ({n} rows)"


def _durations(durations) -> dict[str, float]:
    """Accept a Trace (anything with ``durations()``), a dict, or None."""
    if durations is None:
        return {}
    if hasattr(durations, "durations"):
        return dict(durations.durations())
    return {str(k): float(v) for k, v in dict(durations).items()}


@dataclass
class _Task:
    name: str
    kind: str  # "learner" or "transformer"
    estimator: str
    nodes: list = field(default_factory=list)


class _Model:
    """What every format needs from a TaskGraph (or a plain networkx DiGraph)."""

    def __init__(self, graph, durations=None):
        self.graph = graph
        self.g: nx.DiGraph = getattr(graph, "nx", graph)
        self.job = getattr(graph, "job", None)
        self.durations = _durations(durations)
        objects = getattr(graph, "tasks", {}) or {}
        order = sorted(self.g, key=lambda k: (self.g.nodes[k].get("order", 0), str(k)))
        self.order = {key: i for i, key in enumerate(order)}
        self.tasks: dict[str, _Task] = {}
        for name in objects:  # build order of the tasks, even those without nodes
            self.tasks[name] = self._new_task(name, objects[name])
        for key in order:
            name = self.task_of(key)
            if name not in self.tasks:
                self.tasks[name] = self._new_task(name, objects.get(name), self.g.nodes[key])
            self.tasks[name].nodes.append(key)
        self.tasks = {n: t for n, t in self.tasks.items() if t.nodes}
        self.colors = task_colors(self.tasks)

    @staticmethod
    def _new_task(name, obj, attrs=None) -> _Task:
        kind = getattr(obj, "kind", None) or (attrs or {}).get("kind") or "learner"
        est = getattr(obj, "estimator", None)
        return _Task(name, kind, type(est).__name__ if est is not None else "")

    def task_of(self, key) -> str:
        return str(self.g.nodes[key].get("task") or key)

    def kind(self, key) -> str:
        return node_kind(self.g.nodes[key])

    def label(self, key) -> str:
        """Short node label: the part of the key after ``<task>/<op>/``."""
        text = str(key)
        task = self.g.nodes[key].get("task")
        if task and text.startswith(f"{task}/") and text.count("/") >= 2:
            return text.rsplit("/", 1)[1]
        return text

    def via(self, u, v) -> str:
        return str(self.g.edges[u, v].get("via") or "")

    def task_edges(self) -> dict[tuple[str, str], dict[str, int]]:
        """``{(task, task): {via: number of node edges}}`` between distinct tasks."""
        out: dict[tuple[str, str], dict[str, int]] = {}
        for u, v in self.g.edges:
            a, b = self.task_of(u), self.task_of(v)
            if a != b:
                vias = out.setdefault((a, b), {})
                vias[self.via(u, v)] = vias.get(self.via(u, v), 0) + 1
        return out

    def task_detail(self, name) -> str:
        """What a task's nodes do, counted: ``"5 folds + 1 full fit"``, ``"1 predict"``."""
        counts: dict[str, int] = {}
        for key in self.tasks[name].nodes:
            a = self.g.nodes[key]
            op = a.get("op", "fit")
            what = ("full fit" if a.get("fold") == "full" else "fold") if op == "fit" else op
            counts[what] = counts.get(what, 0) + 1
        return " + ".join(f"{n} {what}{'s' * (n != 1)}" for what, n in counts.items())

    def task_seconds(self, name) -> float | None:
        known = [self.durations[k] for k in self.tasks[name].nodes if k in self.durations]
        return sum(known) if known else None

    def title(self, level) -> str:
        job = f"{self.job} graph" if self.job else "graph"
        counts = [(len(self.tasks), "task"), (self.g.number_of_nodes(), "node"),
                  (self.g.number_of_edges(), "edge")]  # fmt: skip
        return f"{job}: " + ", ".join(f"{n} {word}{'s' * (n != 1)}" for n, word in counts)


def describe_node(graph, key: str, durations=None) -> list[str]:
    """Hover text of one node, as lines: op, fold, rows, buffers, cost and duration.

    ``durations`` is a Trace or a ``{key: seconds}`` dict of a finished run.

    Examples
    --------
    >>> from foldgraph.graph import TaskGraph
    >>> g = TaskGraph()
    >>> g.add_node("ols/fit/fold-0", task="ols", kind="learner", op="fit", fold=0,
    ...            train=((5, 10),), test=((0, 5),), cost=0.002)
    >>> describe_node(g, "ols/fit/fold-0", {"ols/fit/fold-0": 0.004})[:3]
    ['ols/fit/fold-0', 'op: fit (fold fit) of learner ols', 'fold: 0, partition: 0']
    """
    model = _Model(graph, durations)
    return _describe(model, key)


def _describe(model: _Model, key) -> list[str]:
    a = model.g.nodes[key]
    lines = [str(key), f"op: {a.get('op', '?')} ({model.kind(key)}) of {a.get('kind', 'task')} "
             f"{model.task_of(key)}"]  # fmt: skip
    lines.append(f"fold: {a.get('fold', '?')}, partition: {a.get('partition', 0)}")
    if "train" in a or "test" in a:
        lines.append(f"train rows of {a.get('x', 'X')}: {_format_rows(a.get('train'))}")
        lines.append(f"test rows: {_format_rows(a.get('test'))}")
    writes = [f"{buf} rows {_format_rows(rows)}" for buf, rows, _ in a.get("writes", ())]
    lines.append("writes: " + (", ".join(writes) if writes else "nothing"))
    preds = sorted(model.g.predecessors(key), key=model.order.get)
    if preds:
        shown = ", ".join(map(str, preds[:3])) + (f" (+{len(preds) - 3} more)" if len(preds) > 3 else "")
        lines.append(f"waits for: {shown}")
    if "cost" in a:
        source = a.get("cost_source", "model")
        lines.append(f"cost estimate: {format_seconds(a['cost'])} ({source})")
    if key in model.durations:
        lines.append(f"duration: {format_seconds(model.durations[key])}")
    return lines


# -- DOT and Mermaid -------------------------------------------------------------
def _q(text) -> str:
    """A quoted DOT ID; newlines become DOT's ``\\n`` line breaks."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\n", "\\n") + '"'


def _mix(color: str, other: str, t: float) -> str:
    """Blend ``color`` toward ``other`` by ``t`` (0: color, 1: other)."""
    a = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(other[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


def _light(color: str, t: float = 0.78) -> str:
    return _mix(color, "#ffffff", t)


def _dark(color: str, t: float = 0.3) -> str:
    return _mix(color, "#000000", t)


def to_dot(graph, level: str = "node", durations=None, title: str | None = None) -> str:
    """Graphviz DOT text of ``graph``.

    Parameters
    ----------
    graph : TaskGraph
    level : {"node", "task"}, default="node"
        One shape per node, each task a cluster; or one box per task.
    durations : Trace or dict, optional
        Durations of a run, added to the tooltips (and task boxes).
    title : str, optional
        Graph label; default names the job and counts tasks, nodes and edges.

    Returns
    -------
    str
        A ``digraph``: ``rankdir=LR``; at node level one ``cluster_<i>``
        subgraph per task, node shapes by kind (:data:`DOT_SHAPES`), a
        ``tooltip`` per node (see :func:`describe_node`) and edge labels
        naming the buffer (or ``estimator``, dashed).

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import Learner, FoldIndex, map_graph
    >>> from foldgraph.testing import OLS
    >>> g = map_graph(Learner(OLS(), FoldIndex(2)), "fit", X=np.ones((4, 1)), y=np.ones(4))
    >>> print(to_dot(g).splitlines()[0])
    digraph "foldgraph" {
    """
    model = _Model(graph, durations)
    _check_level(level)
    title = model.title(level) if title is None else title
    out = [
        'digraph "foldgraph" {',
        f'  graph [rankdir=LR, newrank=true, fontname="Helvetica", fontsize=12, '
        f'labelloc=t, label={_q(title)}, nodesep=0.12, ranksep=0.6];',
        '  node [fontname="Helvetica", fontsize=10, height=0.3, margin="0.08,0.03"];',
        '  edge [fontname="Helvetica", fontsize=8, arrowsize=0.6, color="#4d4d4d"];',
    ]
    if level == "task":
        _dot_tasks(model, out)
    else:
        _dot_nodes(model, out)
    out.append("}")
    return "\n".join(out) + "\n"


def _dot_nodes(model: _Model, out: list) -> None:
    for i, (name, task) in enumerate(model.tasks.items()):
        color = model.colors[name]
        sub = f"{task.kind} · {task.estimator}" if task.estimator else task.kind
        label = _q(f"{name}\n{sub}")
        out.append(f"  subgraph {_q(f'cluster_{i}')} {{")
        out.append(f'    label={label}; style="rounded,filled"; '
                   f'color="{color}"; fillcolor="{_light(color, 0.93)}"; fontsize=10;')
        for key in task.nodes:
            tip = "\n".join(_describe(model, key))
            out.append(
                f"    {_q(key)} [label={_q(model.label(key))}, {DOT_SHAPES[model.kind(key)]}, "
                f'fillcolor="{_light(color)}", color="{_dark(color)}", tooltip={_q(tip)}];'
            )
        out.append("  }")
    for u, v in sorted(model.g.edges, key=lambda e: (model.order[e[0]], model.order[e[1]])):
        via = model.via(u, v)
        style = ", style=dashed" if via == "estimator" else ""
        out.append(f"  {_q(u)} -> {_q(v)} [label={_q(via)}{style}];")


def _dot_tasks(model: _Model, out: list) -> None:
    for name, task in model.tasks.items():
        color = model.colors[name]
        sub = f"{task.kind} · {task.estimator}" if task.estimator else task.kind
        lines = [name, sub, model.task_detail(name)]
        seconds = model.task_seconds(name)
        if seconds is not None:
            lines.append(f"{format_seconds(seconds)} of work")
        shape = "hexagon" if task.kind == "transformer" else 'box, style="rounded,filled"'
        style = "" if "style" in shape else ", style=filled"
        out.append(f'  {_q(name)} [label={_q(chr(10).join(lines))}, shape={shape}{style}, '
                   f'fillcolor="{_light(color)}", color="{_dark(color)}"];')
    for (a, b), vias in model.task_edges().items():
        label = ", ".join(vias)
        style = ", style=dashed" if set(vias) == {"estimator"} else ""
        n = sum(vias.values())
        out.append(f"  {_q(a)} -> {_q(b)} [label={_q(label)}{style}, "
                   f"tooltip={_q(f'{n} node edges')}];")


def to_mermaid(graph, level: str = "node", title: str | None = None) -> str:
    """A Mermaid flowchart of ``graph`` (left to right; a subgraph per task at node level).

    Node ids are ``n0``, ``n1``... (task ids ``t0``...), each with its label;
    shapes follow the node kind, ``estimator`` edges are dotted and every edge
    is labelled with what flows.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import Learner, FoldIndex, map_graph
    >>> from foldgraph.testing import OLS
    >>> g = map_graph(Learner(OLS(), FoldIndex(2)), "fit", X=np.ones((4, 1)), y=np.ones(4))
    >>> print(to_mermaid(g), end="")
    ---
    title: "fit graph: 1 task, 3 nodes, 0 edges"
    ---
    flowchart LR
      subgraph t0["ols (learner · OLS)"]
        n0["fold-0"]
        n1["fold-1"]
        n2[["full"]]
      end
      classDef c0 fill:#c7e0ee,stroke:#00507d,color:#222
      class n0,n1,n2 c0
    """
    model = _Model(graph)
    _check_level(level)
    title = model.title(level) if title is None else title

    def text(s) -> str:
        return str(s).replace('"', "#quot;")

    out = ["---", f'title: "{text(title)}"', "---", "flowchart LR"]
    task_ids = {name: f"t{i}" for i, name in enumerate(model.tasks)}
    if level == "task":
        for name, task in model.tasks.items():
            open_, close = MERMAID_SHAPES["transformer" if task.kind == "transformer" else
                                          "fold fit"]  # fmt: skip
            sub = f"{task.kind} · {task.estimator}" if task.estimator else task.kind
            label = f"{name}<br/>{sub}<br/>{model.task_detail(name)}"
            out.append(f"  {task_ids[name]}{open_}{text(label)}{close}")
        for (a, b), vias in model.task_edges().items():
            arrow = "-.->" if set(vias) == {"estimator"} else "-->"
            out.append(f'  {task_ids[a]} {arrow}|"{text(", ".join(vias))}"| {task_ids[b]}')
        for name in model.tasks:
            color = model.colors[name]
            out.append(f"  style {task_ids[name]} fill:{_light(color)},stroke:{_dark(color)},"
                       f"color:#222")
        return "\n".join(out) + "\n"
    ids = {key: f"n{model.order[key]}" for key in model.g}
    for name, task in model.tasks.items():
        sub = f"{task.kind} · {task.estimator}" if task.estimator else task.kind
        out.append(f'  subgraph {task_ids[name]}["{text(name)} ({text(sub)})"]')
        for key in task.nodes:
            open_, close = MERMAID_SHAPES[model.kind(key)]
            out.append(f"    {ids[key]}{open_}{text(model.label(key))}{close}")
        out.append("  end")
    for u, v in sorted(model.g.edges, key=lambda e: (model.order[e[0]], model.order[e[1]])):
        via = model.via(u, v)
        arrow = "-.->" if via == "estimator" else "-->"
        out.append(f'  {ids[u]} {arrow}|"{text(via)}"| {ids[v]}')
    for i, (name, task) in enumerate(model.tasks.items()):
        color = model.colors[name]
        out.append(f"  classDef c{i} fill:{_light(color)},stroke:{_dark(color)},color:#222")
        out.append(f"  class {','.join(ids[k] for k in task.nodes)} c{i}")
    return "\n".join(out) + "\n"


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


def _task_texts(model: _Model, name) -> list[str]:
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
            title, sub, detail = _task_texts(model, name)
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
        a, via = model.task_of(u), model.via(u, v)
        if a != model.task_of(v):
            groups.setdefault((via, a if via == "estimator" else None), []).append((u, v))
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
        title, sub, detail = _task_texts(model, name)
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


# -- files ---------------------------------------------------------------------
#: rcParams for files: SVG text stays text (searchable, smaller), ids are reproducible
_RC = {"svg.fonttype": "none", "svg.hashsalt": "foldgraph", "pdf.fonttype": 42}
_SVG_META = {"Date": None, "Creator": None}


def save_figure(fig, path, dpi: float = 150) -> Path:
    """Save a matplotlib figure by suffix (.png, .svg, .pdf), reproducibly.

    SVG text stays text, and no date or creator is written, so the same
    picture gives the same bytes.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg", "pdf"):
        raise ValueError(f"cannot save a figure as {path.name!r}: use .png, .svg or .pdf")
    _savefig(fig, path, fmt, dpi)
    return path


def _savefig(fig, target, fmt: str, dpi: float) -> None:
    import matplotlib

    meta = _SVG_META if fmt == "svg" else {"CreationDate": None} if fmt == "pdf" else {}
    with matplotlib.rc_context(_RC):
        fig.savefig(target, format=fmt, dpi=dpi, facecolor="white", metadata=meta)


def _figure_of(graph, level, durations, title):
    ax = draw(graph, level=level, durations=durations, title=title, _pyplot=False)
    return ax.figure


def _inline_svg(fig) -> str:
    """The figure as an SVG element to inline in HTML: no XML prolog, no metadata.

    It scales with the page, up to 1.25 times its size in print.
    """
    buf = io.StringIO()
    _savefig(fig, buf, "svg", 72)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)
    style = f'style="width: 100%; max-width: {fig.get_figwidth() * 120:.0f}px; height: auto"'
    return svg.replace("<svg ", f"<svg {style} ", 1)


_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 1.5em; color: #222; }}
h1 {{ font-size: 1.2em; font-weight: normal; }}
p.note {{ color: #555; font-size: 0.9em; }}
g[id^="fg-node-"]:hover path {{ stroke-width: 2.2; }}
g[id^="fg-node-"], g[id^="fg-task-"] {{ cursor: help; }}
table {{ border-collapse: collapse; font-size: 0.85em; margin-top: 1.5em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.25em 0.8em; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p class="note">Hover over a node for its op, fold, rows, cost estimate{after_run}.</p>
<div class="figure">
{svg}
</div>
<table>
<thead><tr><th>node</th><th>task</th><th>op</th><th>fold</th><th>train rows</th>
<th>test rows</th><th>cost estimate</th><th>duration</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</body>
</html>
"""


def to_html(graph, level: str = "node", durations=None, title: str | None = None) -> str:
    """One self-contained HTML page: the drawing as inline SVG, hover text, a node table.

    Nothing is loaded from the network: no script, style sheet or font comes
    from a URL. Each node of the drawing carries an SVG ``<title>`` (the
    browser shows it on hover) with :func:`describe_node`'s lines; with
    ``durations`` (a Trace or a dict) they include the node's duration.
    """
    model = _Model(graph, durations)
    _check_level(level)
    heading = model.title(level) if title is None else title
    fig = _figure_of(graph, level, durations, "")  # the page's heading names it
    svg = _inline_svg(fig)

    def add_title(match) -> str:
        gid = match.group(1)
        if gid.startswith("fg-node-"):
            order = int(gid.split("-")[2])
            key = next(k for k, i in model.order.items() if i == order)
            tip = "\n".join(_describe(model, key))
        else:
            name = gid[len("fg-task-") :]
            if name not in model.tasks:
                return match.group(0)
            tip = "\n".join([name] + _task_texts(model, name)[1:])
        return f'{match.group(0)}<title>{html.escape(tip)}</title>'

    svg = re.sub(r'<g id="(fg-(?:node-\d+|task-[^"]+?))(?:-label)?">', add_title, svg)
    rows = []
    for key in sorted(model.g, key=model.order.get):
        a = model.g.nodes[key]
        seconds = model.durations.get(key)
        cells = [key, model.task_of(key), f"{a.get('op', '')} ({model.kind(key)})",
                 a.get("fold", ""), _format_rows(a.get("train")), _format_rows(a.get("test"))]
        cost = format_seconds(a["cost"]) if "cost" in a else ""
        duration = format_seconds(seconds) if seconds is not None else ""
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
                    + f'<td class="num">{cost}</td><td class="num">{duration}</td></tr>')
    after = ", and its duration in the run" if model.durations else ""
    return _HTML.format(title=html.escape(heading), svg=svg, rows="\n".join(rows),
                        after_run=after)


def save(graph, path, level: str = "node", durations=None, title: str | None = None,
         dpi: float = 150) -> Path:
    """Write ``graph`` to ``path``, the format chosen by its suffix.

    Parameters
    ----------
    graph : TaskGraph
    path : str or Path
        ``.svg``, ``.png``, ``.pdf`` (matplotlib), ``.dot`` (Graphviz text),
        ``.mmd`` (Mermaid text) or ``.html`` (one self-contained page with
        hover text on the nodes).
    level : {"node", "task"}, default="node"
    durations : Trace or dict, optional
        Durations of a run, shown on the nodes and in the hover text.
    title : str, optional
    dpi : float, default=150
        Resolution of a ``.png``.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ValueError
        Unknown suffix or level.
    ImportError
        A matplotlib format without matplotlib installed.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"cannot save a graph as {path.name!r}: use one of the suffixes {', '.join(FORMATS)}"
        )
    _check_level(level)
    if suffix == ".dot":
        path.write_text(to_dot(graph, level, durations, title), encoding="utf-8")
    elif suffix == ".mmd":
        path.write_text(to_mermaid(graph, level, title), encoding="utf-8")
    elif suffix == ".html":
        path.write_text(to_html(graph, level, durations, title), encoding="utf-8")
    else:
        fig = _figure_of(graph, level, durations, title)
        _savefig(fig, path, suffix[1:], dpi)
    return path
