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

import html
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import networkx as nx

if TYPE_CHECKING:  # at run time, imported on first use (see __getattr__ at the end)
    from .layout import draw, text_width

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
    "to_svg",
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
#: fill and border of a node restored from the cache (``cached=`` of to_dot, to_mermaid)
CACHED_FILL, CACHED_LINE = "#eeeeee", "#9a9a9a"


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


def to_dot(graph, level: str = "node", durations=None, title: str | None = None,
           cached=()) -> str:
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
    cached : collection of str, optional
        Nodes restored from a node cache (``manager.plan(...).cached``):
        drawn grey with a dashed border, "cached" in their label.

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
        _dot_nodes(model, out, set(cached))
    out.append("}")
    return "\n".join(out) + "\n"


def _dot_nodes(model: _Model, out: list, cached=frozenset()) -> None:
    for i, (name, task) in enumerate(model.tasks.items()):
        color = model.colors[name]
        sub = f"{task.kind} · {task.estimator}" if task.estimator else task.kind
        label = _q(f"{name}\n{sub}")
        out.append(f"  subgraph {_q(f'cluster_{i}')} {{")
        out.append(f'    label={label}; style="rounded,filled"; '
                   f'color="{color}"; fillcolor="{_light(color, 0.93)}"; fontsize=10;')
        for key in task.nodes:
            tip = "\n".join(_describe(model, key))
            label, fill, line = model.label(key), _light(color), _dark(color)
            if key in cached:
                label, fill, line = f"{label} (cached)", CACHED_FILL, CACHED_LINE
                tip += "\ncached: restored, not run"
            shape = DOT_SHAPES[model.kind(key)]
            if key in cached:
                shape = shape.replace('filled"', 'filled,dashed"').replace(
                    "style=filled", 'style="filled,dashed"')
            out.append(
                f"    {_q(key)} [label={_q(label)}, {shape}, "
                f'fillcolor="{fill}", color="{line}", tooltip={_q(tip)}];'
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


def to_mermaid(graph, level: str = "node", title: str | None = None, cached=()) -> str:
    """A Mermaid flowchart of ``graph`` (left to right; a subgraph per task at node level).

    Node ids are ``n0``, ``n1``... (task ids ``t0``...), each with its label;
    shapes follow the node kind, ``estimator`` edges are dotted and every edge
    is labelled with what flows. Nodes in ``cached`` (restored from a node
    cache) get the class ``cached``: grey, dashed border.

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
    hits = [ids[k] for k in model.g if k in set(cached)]
    if hits:
        out.append(f"  classDef cached fill:{CACHED_FILL},stroke:{CACHED_LINE},"
                   f"stroke-dasharray:4 2,color:#666")
        out.append(f"  class {','.join(hits)} cached")
    return "\n".join(out) + "\n"


# -- files ---------------------------------------------------------------------
#: rcParams for files: SVG text stays text (searchable, smaller), ids are reproducible
_RC = {"svg.fonttype": "none", "svg.hashsalt": "foldgraph", "pdf.fonttype": 42}
_SVG_META = {"Date": None, "Creator": None}


def save_figure(fig, path, dpi: float = 150) -> Path:
    """Save a matplotlib figure by suffix (.png, .svg, .pdf), reproducibly.

    SVG text stays text, and no date or creator is written, so the same
    picture gives the same bytes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or Path
    dpi : float, default=150
        Resolution of a ``.png``.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        Another suffix.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(2, 1))
    >>> _ = fig.text(0.1, 0.5, "fold-0")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     first = save_figure(fig, Path(folder) / "a.svg").read_bytes()
    ...     again = save_figure(fig, Path(folder) / "b.svg").read_bytes()
    >>> first == again, b"fold-0" in first
    (True, True)
    >>> save_figure(fig, "figure.gif")
    Traceback (most recent call last):
      ...
    ValueError: cannot save a figure as 'figure.gif': use .png, .svg or .pdf
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
    from .layout import draw

    ax = draw(graph, level=level, durations=durations, title=title, _pyplot=False)
    return ax.figure


def to_svg(graph, level: str = "node", durations=None, title: str | None = None) -> str:
    """The drawing as an ``<svg>`` element to inline in HTML (a notebook cell, a page).

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import Learner, FoldIndex, map_graph
    >>> from foldgraph.testing import OLS
    >>> g = map_graph(Learner(OLS(), FoldIndex(2)), "fit", X=np.ones((4, 1)), y=np.ones(4))
    >>> to_svg(g, level="task").startswith("<svg ")
    True
    """
    _check_level(level)
    return _inline_svg(_figure_of(graph, level, durations, title))


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
    Needs matplotlib.

    Parameters
    ----------
    graph : TaskGraph
    level : {"node", "task"}, default="node"
    durations : Trace or dict, optional
    title : str, optional
        The page's heading; default names the job and counts tasks, nodes and edges.

    Returns
    -------
    str

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import Learner, FoldIndex, map_graph
    >>> from foldgraph.testing import OLS
    >>> g = map_graph(Learner(OLS(), FoldIndex(2)), "fit", X=np.ones((4, 1)), y=np.ones(4))
    >>> page = to_html(g, durations={"ols/fit/fold-0": 0.004})
    >>> page.splitlines()[0], "<h1>fit graph: 1 task, 3 nodes, 0 edges</h1>" in page
    ('<!DOCTYPE html>', True)
    >>> "duration: 4.0 ms" in page, "<script" in page  # hover text, and no script
    (True, False)
    """
    from .layout import task_texts

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
            tip = "\n".join([name] + task_texts(model, name)[1:])
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

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from foldgraph import Learner, FoldIndex, map_graph
    >>> from foldgraph.testing import OLS
    >>> g = map_graph(Learner(OLS(), FoldIndex(2)), "fit", X=np.ones((4, 1)), y=np.ones(4))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     dot = save(g, Path(folder) / "graph.dot", level="task")
    ...     print(dot.name, dot.read_text().splitlines()[0])
    graph.dot digraph "foldgraph" {
    >>> save(g, "graph.gif")
    Traceback (most recent call last):
      ...
    ValueError: cannot save a graph as 'graph.gif': use one of the suffixes .svg, .png, .pdf, .dot, .mmd, .html
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


def __getattr__(name: str):
    """``draw`` and ``text_width`` live in :mod:`foldgraph.graph.layout`, which imports
    this module: they are imported on first use, so either module may be imported first."""
    if name in ("draw", "text_width"):
        from . import layout

        return getattr(layout, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
