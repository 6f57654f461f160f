"""The Gantt chart of a run: one row per worker, one bar per node coloured by task.

It takes plain data, the records of a run (``Trace.records``: dicts with
``key``, ``task``, ``worker``, ``start`` and ``end`` in seconds), so the
engine hands its trace over without drawing anything itself;
:meth:`foldgraph.engine.trace.Trace.gantt` calls :func:`gantt`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .export import save_figure
from .geometry import text_width
from .styles import FONT, format_seconds, task_colors

__all__ = ["gantt", "legend_columns"]


@dataclass
class _Run:
    """The numbers of a run that the chart shows, from its records."""

    events: list  # (key, task, worker, start, end), in the records' order
    n_workers: int
    workers: list
    tasks: list
    start: float
    end: float
    makespan: float
    ideal: float
    utilization: float

    @classmethod
    def of(cls, records, n_workers: int, tasks, ideal) -> _Run:
        events = [(r["key"], r["task"], r["worker"], r["start"], r["end"]) for r in records]
        workers = sorted(set(range(n_workers)) | {e[2] for e in events})
        seen = [e[1] for e in sorted(events, key=lambda e: (e[3], e[0]))]
        order = list(dict.fromkeys(list(tasks or ()) + seen))
        start = min((e[3] for e in events), default=0.0)
        end = max((e[4] for e in events), default=0.0)
        makespan = end - start if events else 0.0
        work = sum(e[4] - e[3] for e in events)
        if ideal is None:  # the bound without the graph: the longest node
            ideal = max(max((e[4] - e[3] for e in events), default=0.0), work / max(n_workers, 1))
        utilization = work / (makespan * n_workers) if makespan > 0 else 0.0
        return cls(events, n_workers, workers, order, start, end, makespan, ideal, utilization)

    def title(self) -> str:
        return (f"{len(self.events)} nodes on {self.n_workers} "
                f"worker{'s' * (self.n_workers != 1)}: makespan "
                f"{format_seconds(self.makespan)}, ideal {format_seconds(self.ideal)}, "
                f"utilization {self.utilization:.0%}")  # fmt: skip


def legend_columns(labels: list[str], width: float, most: int = 6) -> int:
    """The most legend columns (<= ``most``) whose entries fit in ``width`` inches at 8 pt,
    filled row by row; long task names get fewer columns instead of being cut off.

    Examples
    --------
    >>> legend_columns(["ridge", "knn", "meta"], width=8.6)
    3
    >>> legend_columns(["a-very-long-task-name-indeed"] * 4, width=4.0)
    1
    """
    per_entry = (1.8 + 0.8 + 1.4) * 8 / 72  # handle, handle-text pad, column spacing (em)
    for ncol in range(min(len(labels), most), 1, -1):
        cols = [max(text_width(t, 8) for t in labels[j::ncol]) for j in range(ncol)]
        if sum(cols) + ncol * per_entry <= width:
            return ncol
    return 1


def _handles(run: _Run, colors: dict, fig_w: float):
    """Legend entries (tasks, then the two makespans) in reading order, and the columns."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=colors[t], edgecolor="none", label=t) for t in colors]
    handles += [
        Line2D([], [], color="#222222", lw=1.3, ls=(0, (4, 2)),
               label=f"ideal makespan {format_seconds(run.ideal)}"),
        Line2D([], [], color="#222222", lw=1.3, label=f"makespan {format_seconds(run.makespan)}"),
    ]  # fmt: skip
    ncol = legend_columns([h.get_label() for h in handles], fig_w - 0.4)
    # matplotlib fills legend columns first: order the handles to read row by row
    cells = [(i % ncol, i // ncol) for i in range(len(handles))]
    handles = [h for _, h in sorted(zip(cells, handles), key=lambda item: item[0])]
    return handles, ncol


def _new_axes(n_rows: int, legend_rows: int, pyplot: bool):
    """Axes on a new 9-inch-wide figure, with room for the title and the legend."""
    width, left, right, top, bottom = 9.0, 0.85, 0.25, 0.45, 0.55 + 0.19 * legend_rows
    height = top + bottom + 0.38 * n_rows
    if pyplot:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(width, height))
    else:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(width, height))
    return fig.add_axes([left / width, bottom / height, 1 - (left + right) / width,
                         1 - (top + bottom) / height])  # fmt: skip


def _bars(ax, run: _Run, colors: dict, scale: float, xmax: float) -> None:
    """One bar per node, labelled with its fold when wide enough."""
    row = {w: i for i, w in enumerate(run.workers)}
    ax_w = ax.figure.get_figwidth() * ax.get_position().width
    for key, task, worker, start, end in sorted(run.events, key=lambda e: (e[3], e[0])):
        y, x0, w = row[worker], start * scale, (end - start) * scale
        color = colors[task]
        ax.barh(y, w, left=x0, height=0.72, color=color, edgecolor="white", linewidth=0.6,
                zorder=2, label="_nolegend_")  # fmt: skip
        label = key.rsplit("/", 1)[-1]
        if text_width(label, 7) + 0.06 < w / xmax * ax_w:
            r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
            ink = "#222222" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "white"
            ax.text(x0 + w / 2, y, label, ha="center", va="center", fontsize=7, family=FONT,
                    color=ink, zorder=3, clip_on=True)  # fmt: skip


def _axes_style(ax, run: _Run, scale: float, unit: str) -> None:
    """The makespan lines, worker ticks, time axis and grid."""
    ax.axvline((run.start + run.ideal) * scale, color="#222222", lw=1.3, ls=(0, (4, 2)), zorder=4)
    ax.axvline((run.start + run.makespan) * scale, color="#222222", lw=1.3, zorder=4)
    ax.set_yticks(range(len(run.workers)), [f"worker {w}" for w in run.workers], fontsize=8,
                  family=FONT)  # fmt: skip
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel(f"time since the run started ({unit})", fontsize=8, family=FONT)
    ax.grid(axis="x", color="#dddddd", lw=0.6, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _legend(ax, handles, ncol: int) -> None:
    """The legend under the axes, centred on the figure (it may be wider than the axes)."""
    fig = ax.figure
    ax_h = fig.get_figheight() * ax.get_position().height  # inches
    pos = ax.get_position()
    centre = (0.5 - pos.x0) / pos.width
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(centre, -0.5 / ax_h),
              ncol=ncol, frameon=False, fontsize=8, handlelength=1.8, columnspacing=1.4,
              borderaxespad=0.0)  # fmt: skip


def gantt(records, n_workers: int = 1, tasks=None, ideal: float | None = None, path=None,
          ax=None, title: str | None = None, dpi: float = 150):
    """Draw a run's schedule: one row per worker, one bar per node coloured by task.

    A dashed line marks the ideal makespan, a solid one the makespan. Bars
    wide enough carry their node's fold label (the part of the key after the
    last ``/``).

    Parameters
    ----------
    records : iterable of dict
        One per node that ran, with ``key``, ``task``, ``worker``, ``start``
        and ``end`` (seconds since the run started), as ``Trace.records``.
    n_workers : int, default=1
        Workers of the run: each gets a row, idle or not.
    tasks : list of str, optional
        Task names in the order of their colours (the graph's build order);
        tasks not listed follow by first start.
    ideal : float, optional
        The ideal makespan (``Trace.ideal``); default: the longest node or
        the work per worker, whichever is longer.
    path : str or Path, optional
        Save the chart there (``.png``, ``.svg`` or ``.pdf``).
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure (made without pyplot when
        ``path`` is given).
    title : str, optional
        Default: nodes, workers, makespan, ideal and utilization.
    dpi : float, default=150
        Resolution of a ``.png``.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install 'foldgraph[viz]'``).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> records = [dict(key="a/fit/fold-0", task="a", worker=0, start=0.0, end=2.0),
    ...            dict(key="a/fit/fold-1", task="a", worker=1, start=0.0, end=1.0)]
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     ax = gantt(records, n_workers=2, path=Path(folder) / "gantt.png")
    >>> ax.get_title(loc="left")
    '2 nodes on 2 workers: makespan 2.00 s, ideal 2.00 s, utilization 75%'
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(
            "the Gantt chart needs matplotlib: pip install 'foldgraph[viz]'"
        ) from None
    run = _Run.of(records, n_workers, tasks, ideal)
    colors = task_colors(run.tasks)
    scale, unit = (1.0, "s") if run.end >= 0.1 else (1e3, "ms")  # as in Trace.summary()
    handles, ncol = _handles(run, colors, 9.0 if ax is None else ax.figure.get_figwidth())
    if ax is None:
        ax = _new_axes(len(run.workers), -(-len(handles) // ncol), pyplot=path is None)
    xmax = max(run.end * 1.02, 1e-9) * scale
    ax.set_xlim(0, xmax)
    ax.set_ylim(len(run.workers) - 0.5, -0.5)  # worker 0 on top
    _bars(ax, run, colors, scale, xmax)
    _axes_style(ax, run, scale, unit)
    title = run.title() if title is None else title
    if title:
        ax.set_title(title, loc="left", fontsize=10, family=FONT, pad=8)
    _legend(ax, handles, ncol)
    if path is not None:
        save_figure(ax.figure, path, dpi=dpi)
    return ax
