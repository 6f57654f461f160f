"""Text formats of a TaskGraph: Graphviz DOT and Mermaid (they need nothing beyond networkx)."""

from __future__ import annotations

from .model import Model, describe, task_subtitle
from .styles import (
    CACHED_FILL,
    CACHED_LINE,
    DOT_SHAPES,
    MERMAID_SHAPES,
    check_level,
    dark,
    format_seconds,
    light,
)

__all__ = ["to_dot", "to_mermaid"]


def _q(text) -> str:
    """A quoted DOT ID; newlines become DOT's ``\\n`` line breaks."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\n", "\\n") + '"'


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
        subgraph per task, node shapes by kind
        (:data:`~foldgraph.viz.styles.DOT_SHAPES`), a ``tooltip`` per node
        (see :func:`~foldgraph.viz.model.describe_node`) and edge labels
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
    model = Model(graph, durations)
    check_level(level)
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


def _dot_node(model: Model, key, color: str, cached) -> str:
    tip = "\n".join(describe(model, key))
    label, fill, line = model.label(key), light(color), dark(color)
    if key in cached:
        label, fill, line = f"{label} (cached)", CACHED_FILL, CACHED_LINE
        tip += "\ncached: restored, not run"
    shape = DOT_SHAPES[model.kind(key)]
    if key in cached:
        shape = shape.replace('filled"', 'filled,dashed"').replace(
            "style=filled", 'style="filled,dashed"')
    return (f"    {_q(key)} [label={_q(label)}, {shape}, "
            f'fillcolor="{fill}", color="{line}", tooltip={_q(tip)}];')


def _dot_nodes(model: Model, out: list, cached=frozenset()) -> None:
    for i, (name, task) in enumerate(model.tasks.items()):
        color = model.colors[name]
        label = _q(f"{name}\n{task_subtitle(task)}")
        out.append(f"  subgraph {_q(f'cluster_{i}')} {{")
        out.append(f'    label={label}; style="rounded,filled"; '
                   f'color="{color}"; fillcolor="{light(color, 0.93)}"; fontsize=10;')
        out += [_dot_node(model, key, color, cached) for key in task.nodes]
        out.append("  }")
    for u, v in model.sorted_edges():
        via = model.via(u, v)
        style = ", style=dashed" if via == "estimator" else ""
        out.append(f"  {_q(u)} -> {_q(v)} [label={_q(via)}{style}];")


def _dot_tasks(model: Model, out: list) -> None:
    for name, task in model.tasks.items():
        color = model.colors[name]
        lines = [name, task_subtitle(task), model.task_detail(name)]
        seconds = model.task_seconds(name)
        if seconds is not None:
            lines.append(f"{format_seconds(seconds)} of work")
        shape = "hexagon" if task.kind == "transformer" else 'box, style="rounded,filled"'
        style = "" if "style" in shape else ", style=filled"
        out.append(f'  {_q(name)} [label={_q(chr(10).join(lines))}, shape={shape}{style}, '
                   f'fillcolor="{light(color)}", color="{dark(color)}"];')
    for (a, b), vias in model.task_edges().items():
        label = ", ".join(vias)
        style = ", style=dashed" if set(vias) == {"estimator"} else ""
        n = sum(vias.values())
        out.append(f"  {_q(a)} -> {_q(b)} [label={_q(label)}{style}, "
                   f"tooltip={_q(f'{n} node edges')}];")


def _m(s) -> str:
    """Text inside a Mermaid label (double quotes escaped)."""
    return str(s).replace('"', "#quot;")


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
    model = Model(graph)
    check_level(level)
    title = model.title(level) if title is None else title
    out = ["---", f'title: "{_m(title)}"', "---", "flowchart LR"]
    if level == "task":
        _mermaid_tasks(model, out)
    else:
        _mermaid_nodes(model, out, set(cached))
    return "\n".join(out) + "\n"


def _mermaid_tasks(model: Model, out: list) -> None:
    task_ids = {name: f"t{i}" for i, name in enumerate(model.tasks)}
    for name, task in model.tasks.items():
        open_, close = MERMAID_SHAPES["transformer" if task.kind == "transformer" else
                                      "fold fit"]  # fmt: skip
        label = f"{name}<br/>{task_subtitle(task)}<br/>{model.task_detail(name)}"
        out.append(f"  {task_ids[name]}{open_}{_m(label)}{close}")
    for (a, b), vias in model.task_edges().items():
        arrow = "-.->" if set(vias) == {"estimator"} else "-->"
        out.append(f'  {task_ids[a]} {arrow}|"{_m(", ".join(vias))}"| {task_ids[b]}')
    for name in model.tasks:
        color = model.colors[name]
        out.append(f"  style {task_ids[name]} fill:{light(color)},stroke:{dark(color)},"
                   f"color:#222")


def _mermaid_nodes(model: Model, out: list, cached) -> None:
    ids = {key: f"n{model.order[key]}" for key in model.g}
    for i, (name, task) in enumerate(model.tasks.items()):
        out.append(f'  subgraph t{i}["{_m(name)} ({_m(task_subtitle(task))})"]')
        for key in task.nodes:
            open_, close = MERMAID_SHAPES[model.kind(key)]
            out.append(f"    {ids[key]}{open_}{_m(model.label(key))}{close}")
        out.append("  end")
    for u, v in model.sorted_edges():
        via = model.via(u, v)
        arrow = "-.->" if via == "estimator" else "-->"
        out.append(f'  {ids[u]} {arrow}|"{_m(via)}"| {ids[v]}')
    for i, (name, task) in enumerate(model.tasks.items()):
        color = model.colors[name]
        out.append(f"  classDef c{i} fill:{light(color)},stroke:{dark(color)},color:#222")
        out.append(f"  class {','.join(ids[k] for k in task.nodes)} c{i}")
    hits = [ids[k] for k in model.g if k in cached]
    if hits:
        out.append(f"  classDef cached fill:{CACHED_FILL},stroke:{CACHED_LINE},"
                   f"stroke-dasharray:4 2,color:#666")
        out.append(f"  class {','.join(hits)} cached")
