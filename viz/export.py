"""Files of a picture by suffix, reproducibly: SVG, PNG, PDF, DOT, Mermaid and HTML.

``.dot`` and ``.mmd`` are text (:mod:`foldgraph.viz.text`); the other
formats need matplotlib (``pip install 'foldgraph[viz]'``), imported only
when called. SVG text stays text and no date or creator is written, so the
same picture gives the same bytes.
"""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

from .model import Model, describe, format_rows, task_texts
from .render import figure
from .styles import check_level, format_seconds
from .text import to_dot, to_mermaid

__all__ = ["FORMATS", "save_figure", "to_svg", "to_html", "save"]

#: file suffixes :func:`save` writes
FORMATS = (".svg", ".png", ".pdf", ".dot", ".mmd", ".html")

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
    check_level(level)
    return _inline_svg(figure(graph, level, durations, title))


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


def _hover_titles(model: Model, svg: str) -> str:
    """Give each node's and task's SVG group a ``<title>``: the browser shows it on hover."""
    by_order = {i: key for key, i in model.order.items()}

    def add_title(match) -> str:
        gid = match.group(1)
        if gid.startswith("fg-node-"):
            tip = "\n".join(describe(model, by_order[int(gid.split("-")[2])]))
        else:
            name = gid[len("fg-task-") :]
            if name not in model.tasks:
                return match.group(0)
            tip = "\n".join([name] + task_texts(model, name)[1:])
        return f'{match.group(0)}<title>{html.escape(tip)}</title>'

    return re.sub(r'<g id="(fg-(?:node-\d+|task-[^"]+?))(?:-label)?">', add_title, svg)


def _table_rows(model: Model) -> str:
    rows = []
    for key in sorted(model.g, key=model.order.get):
        a = model.g.nodes[key]
        seconds = model.durations.get(key)
        cells = [key, model.task_of(key), f"{a.get('op', '')} ({model.kind(key)})",
                 a.get("fold", ""), format_rows(a.get("train")), format_rows(a.get("test"))]
        cost = format_seconds(a["cost"]) if "cost" in a else ""
        duration = format_seconds(seconds) if seconds is not None else ""
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
                    + f'<td class="num">{cost}</td><td class="num">{duration}</td></tr>')
    return "\n".join(rows)


def to_html(graph, level: str = "node", durations=None, title: str | None = None) -> str:
    """One self-contained HTML page: the drawing as inline SVG, hover text, a node table.

    Nothing is loaded from the network: no script, style sheet or font comes
    from a URL. Each node of the drawing carries an SVG ``<title>`` (the
    browser shows it on hover) with
    :func:`~foldgraph.viz.model.describe_node`'s lines; with ``durations``
    (a Trace or a dict) they include the node's duration. Needs matplotlib.

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
    model = Model(graph, durations)
    check_level(level)
    heading = model.title(level) if title is None else title
    fig = figure(graph, level, durations, "")  # the page's heading names it
    svg = _hover_titles(model, _inline_svg(fig))
    after = ", and its duration in the run" if model.durations else ""
    return _HTML.format(title=html.escape(heading), svg=svg, rows=_table_rows(model),
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
    check_level(level)
    if suffix == ".dot":
        path.write_text(to_dot(graph, level, durations, title), encoding="utf-8")
    elif suffix == ".mmd":
        path.write_text(to_mermaid(graph, level, title), encoding="utf-8")
    elif suffix == ".html":
        path.write_text(to_html(graph, level, durations, title), encoding="utf-8")
    else:
        _savefig(figure(graph, level, durations, title), path, suffix[1:], dpi)
    return path
