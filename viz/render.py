"""The matplotlib drawing of a TaskGraph: shapes, clusters, edges and legend.

matplotlib is imported inside the functions only, and never through pyplot
unless a drawing is made for display (:func:`draw` with no ``ax``).
"""

from __future__ import annotations

from .geometry import Box, Layout
from .layout import layout
from .model import Model, cluster_texts, node_text, task_texts
from .styles import (
    DATA_EDGE,
    EDGE_FS,
    FONT,
    KINDS,
    NODE_FS,
    SUB_FS,
    TITLE_FS,
    check_level,
    dark,
    light,
)

__all__ = ["draw", "figure"]

MARGIN, TITLE_H, LEGEND_H = 0.25, 0.4, 0.42


def _shape(kind: str, box: Box, face: str, edge: str, gid: str | None, unit: float = 1.0):
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
        box = Box("", handlebox.xdescent + w / 2, handlebox.ydescent + h / 2, w, h)
        patches = _shape(self.kind, box, "#eeeeee", "#444444", None, unit=72.0)
        for p in patches:
            p.set_transform(handlebox.get_transform())
            handlebox.add_artist(p)
        return patches[0]


def _legend(ax, model: Model, level: str, below: float) -> None:
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


def _draw_strokes(ax, lay: Layout) -> None:
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


def _draw_node_level(ax, model: Model, lay: Layout) -> None:
    from matplotlib.patches import FancyBboxPatch

    for name, box in lay.clusters.items():
        color = model.colors[name]
        ax.add_patch(FancyBboxPatch((box.left, box.bottom), box.w, box.h,
                                    boxstyle="round,pad=0,rounding_size=0.08",
                                    facecolor=light(color, 0.92), edgecolor=color,
                                    linewidth=1.0, zorder=1, gid=f"fg-task-{name}"))  # fmt: skip
        title, sub = cluster_texts(model, name)
        ax.text(box.x, box.top - 0.14, title, ha="center", va="center", fontsize=TITLE_FS,
                fontweight="bold", family=FONT, color=dark(color, 0.45), zorder=4)
        ax.text(box.x, box.top - 0.31, sub, ha="center", va="center", fontsize=SUB_FS,
                family=FONT, color="#555555", zorder=4)
        for key in model.tasks[name].nodes:
            nb = lay.boxes[key]
            gid = f"fg-node-{model.order[key]}"
            for patch in _shape(model.kind(key), nb, light(color), dark(color), gid):
                ax.add_patch(patch)
            ax.text(nb.x, nb.y, node_text(model, key), ha="center", va="center",
                    fontsize=NODE_FS, family=FONT, color="#222222", zorder=5,
                    gid=f"{gid}-label")  # fmt: skip
    _draw_strokes(ax, lay)


def _draw_task_level(ax, model: Model, lay: Layout) -> None:
    from matplotlib.patches import FancyBboxPatch, Polygon

    for name, box in lay.boxes.items():
        color = model.colors[name]
        common = dict(facecolor=light(color), edgecolor=dark(color), linewidth=1.0, zorder=3,
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
                fontweight="bold", family=FONT, color=dark(color, 0.45), zorder=4)
        ax.text(box.x, box.y, sub, ha="center", va="center", fontsize=SUB_FS, family=FONT,
                color="#444444", zorder=4)
        ax.text(box.x, box.y - 0.17, detail, ha="center", va="center", fontsize=SUB_FS,
                family=FONT, color="#444444", zorder=4)
    _draw_strokes(ax, lay)


def _figure(lay: Layout, pyplot: bool, title: bool, legend: bool):
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


def _title(ax, title: str, own: bool) -> None:
    if own:
        fig = ax.figure
        h = fig.get_figheight()
        fig.text(MARGIN / fig.get_figwidth(), 1 - (MARGIN + 0.12) / h, title,
                 ha="left", va="center", fontsize=TITLE_FS + 1.5, family=FONT,
                 color="#222222")  # fmt: skip
    else:
        ax.set_title(title, fontsize=TITLE_FS + 1.5, family=FONT, loc="left")


def _render(graph, ax, level, durations, title, legend: bool, pyplot: bool):
    """:func:`draw`, with or without pyplot for a new figure."""
    require_matplotlib()
    check_level(level)
    model = Model(graph, durations)
    lay = layout(model, level)
    title = model.title(level) if title is None else title
    own = ax is None
    if own:
        fig, ax = _figure(lay, pyplot=pyplot, title=bool(title), legend=legend)
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
        _title(ax, title, own)
    if legend:
        below = -(0.12 / max(lay.height, 0.01)) if own else 0.0
        _legend(ax, model, level, below)
    return ax


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
    return _render(graph, ax, level, durations, title, legend, pyplot=_pyplot)


def figure(graph, level: str = "node", durations=None, title: str | None = None):
    """The drawing on a new matplotlib Figure made without pyplot (for files).

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, map_graph
    >>> from foldgraph.testing import OLS
    >>> g = map_graph(Learner(OLS(), FoldIndex(2)), "fit", X=np.ones((4, 1)), y=np.ones(4))
    >>> type(figure(g, level="task")).__name__
    'Figure'
    """
    return _render(graph, None, level, durations, title, True, pyplot=False).figure


def require_matplotlib() -> None:
    """Raise an ImportError that says how to install matplotlib, if it is missing.

    Examples
    --------
    >>> require_matplotlib()  # installed here: nothing happens
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(
            "drawing needs matplotlib: pip install 'foldgraph[viz]' "
            "(to_dot() and to_mermaid() need nothing more)"
        ) from None
