"""The Gantt chart of a run: one row per worker, one bar per node coloured by task.

It takes plain data, the records of a run (``Trace.records``: dicts with
``key``, ``task``, ``worker``, ``start`` and ``end`` in seconds), so the
engine hands its trace over without drawing anything itself;
:meth:`foldgraph.engine.trace.Trace.gantt` calls :func:`gantt`. When the
records carry peaks (``peak_bytes``), a panel under the bars shows the memory
over time: the sum of the peaks of the nodes running at each moment
(:func:`memory_steps`, drawn by :func:`memory_panel`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .export import save_figure
from .geometry import text_width
from .styles import FONT, format_seconds, task_colors

__all__ = ["gantt", "legend_columns", "memory_steps", "memory_panel"]

MEMORY_HEIGHT = 1.25  # inches of the memory panel under the bars


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


def _new_axes(n_rows: int, legend_rows: int, pyplot: bool, memory: bool = False):
    """Axes on a new 9-inch-wide figure, with room for the title and the legend, and
    the memory panel's axes under them (or None)."""
    width, left, right, top, bottom = 9.0, 0.85, 0.25, 0.45, 0.55 + 0.19 * legend_rows
    panel = MEMORY_HEIGHT + 0.2 if memory else 0.0  # the panel and the gap above it
    height = top + bottom + panel + 0.38 * n_rows
    if pyplot:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(width, height))
    else:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(width, height))
    x, w = left / width, 1 - (left + right) / width
    ax = fig.add_axes([x, (bottom + panel) / height, w, 1 - (top + bottom + panel) / height])
    if not memory:
        return ax, None
    return ax, fig.add_axes([x, bottom / height, w, MEMORY_HEIGHT / height], sharex=ax)


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


def _legend(ax, handles, ncol: int, below: float = 0.0) -> None:
    """The legend under the axes (and ``below`` inches more: the memory panel), centred on
    the figure (it may be wider than the axes)."""
    fig = ax.figure
    ax_h = fig.get_figheight() * ax.get_position().height  # inches
    pos = ax.get_position()
    centre = (0.5 - pos.x0) / pos.width
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(centre, -(0.5 + below) / ax_h),
              ncol=ncol, frameon=False, fontsize=8, handlelength=1.8, columnspacing=1.4,
              borderaxespad=0.0)  # fmt: skip


def memory_steps(records) -> tuple[list[float], list[int]]:
    """Memory over time: ``(times, bytes)``, the sum of ``peak_bytes`` over the nodes
    running from each time on (a step function; records without a peak count 0).

    Each node counts at its peak for its whole run: an upper bound of what
    the running nodes held at each moment, as a memory budget must assume.

    Examples
    --------
    >>> records = [dict(start=0.0, end=2.0, peak_bytes=10), dict(start=1.0, end=3.0,
    ...            peak_bytes=5), dict(start=1.0, end=1.5, peak_bytes=None)]
    >>> memory_steps(records)
    ([0.0, 1.0, 2.0, 3.0], [10, 15, 5, 0])
    """
    changes: dict[float, int] = {}
    for r in records:
        peak = r.get("peak_bytes")
        if peak:
            changes[r["start"]] = changes.get(r["start"], 0) + peak
            changes[r["end"]] = changes.get(r["end"], 0) - peak
    times, values, level = [], [], 0
    for t in sorted(changes):
        level += changes[t]
        times.append(t)
        values.append(level)
    return times, values


def _without_dips(times: list, values: list, share: float = 5e-3) -> tuple[list, list]:
    """Drop the drops shorter than ``share`` of the time axis (a worker between two nodes):
    a line per gap would hide the shape; short rises stay (peaks matter)."""
    eps = share * max(times, default=0.0)
    keep = [i for i in range(len(times)) if not (
        0 < i < len(times) - 1 and times[i + 1] - times[i] < eps and values[i] < values[i - 1])]
    return [times[i] for i in keep], [values[i] for i in keep]


def memory_panel(records, ax, scale: float = 1.0) -> None:
    """Draw :func:`memory_steps` of ``records`` on ``ax`` (times x ``scale``), in MiB.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().add_subplot()
    >>> memory_panel([dict(start=0.0, end=1.0, peak_bytes=2**21)], ax)
    >>> ax.get_ylabel(), float(max(ax.lines[0].get_ydata()))
    ("running nodes' peaks (MiB)", 2.0)
    """
    times, values = _without_dips(*memory_steps(records))
    x = [t * scale for t in times]
    y = [v / 2**20 for v in values]
    ax.step(x, y, where="post", color="#3b6ea5", lw=1.2, zorder=3)
    ax.fill_between(x, y, step="post", color="#3b6ea5", alpha=0.18, lw=0, zorder=2)
    ax.set_ylim(0, max(y, default=0.0) * 1.15 or 1.0)
    ax.set_ylabel("running nodes' peaks (MiB)", fontsize=8, family=FONT)
    ax.tick_params(labelsize=8)
    ax.grid(color="#dddddd", lw=0.6, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def gantt(records, n_workers: int = 1, tasks=None, ideal: float | None = None, path=None,
          ax=None, title: str | None = None, dpi: float = 150, memory: bool | None = None):
    """Draw a run's schedule: one row per worker, one bar per node coloured by task.

    A dashed line marks the ideal makespan, a solid one the makespan. Bars
    wide enough carry their node's fold label (the part of the key after the
    last ``/``). Under the bars, a panel shows the memory over time when the
    records carry peaks (:func:`memory_panel`).

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
    memory : bool, optional
        Draw the memory panel under the bars (in a new figure: never with
        ``ax``; call :func:`memory_panel` on axes of yours). Default: when a
        record has a ``peak_bytes``.

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
    ...     records[0]["peak_bytes"] = 2**24  # peaks recorded: a memory panel under the bars
    ...     with_memory = gantt(records, n_workers=2, path=Path(folder) / "memory.png")
    >>> ax.get_title(loc="left"), len(ax.figure.axes), len(with_memory.figure.axes)
    ('2 nodes on 2 workers: makespan 2.00 s, ideal 2.00 s, utilization 75%', 1, 2)
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(
            "the Gantt chart needs matplotlib: pip install 'foldgraph[viz]'"
        ) from None
    records = list(records)  # read more than once
    run = _Run.of(records, n_workers, tasks, ideal)
    colors = task_colors(run.tasks)
    scale, unit = (1.0, "s") if run.end >= 0.1 else (1e3, "ms")  # as in Trace.summary()
    handles, ncol = _handles(run, colors, 9.0 if ax is None else ax.figure.get_figwidth())
    mem_ax = None
    if memory is None:
        memory = ax is None and any(r.get("peak_bytes") is not None for r in records)
    if ax is None:
        ax, mem_ax = _new_axes(len(run.workers), -(-len(handles) // ncol), pyplot=path is None,
                               memory=memory)  # fmt: skip
    xmax = max(run.end * 1.02, 1e-9) * scale
    ax.set_xlim(0, xmax)
    ax.set_ylim(len(run.workers) - 0.5, -0.5)  # worker 0 on top
    _bars(ax, run, colors, scale, xmax)
    _axes_style(ax, run, scale, unit)
    if run.start > 0.05 * run.end:  # a cold start: say what the empty stretch is
        ax.axvspan(0, run.start * scale, color="#eeeeee", zorder=1)
        ax.text(run.start * scale / 2, (len(run.workers) - 1) / 2, "before the first node:\n"
                "workers starting", ha="center", va="center", fontsize=7, family=FONT,
                color="#666666", zorder=3)  # fmt: skip
    if mem_ax is not None:  # the time axis moves under the panel
        memory_panel(records, mem_ax, scale)
        mem_ax.set_xlabel(ax.get_xlabel(), fontsize=8, family=FONT)
        ax.xaxis.label.set_visible(False)  # kept (get_xlabel), shown once under the panel
        ax.tick_params(axis="x", labelbottom=False)
    title = run.title() if title is None else title
    if title:
        ax.set_title(title, loc="left", fontsize=10, family=FONT, pad=8)
    below = 0.0 if mem_ax is None else (ax.get_position().y0 - mem_ax.get_position().y0) * \
        ax.figure.get_figheight()
    _legend(ax, handles, ncol, below)  # on the bars' axes (returned), under the panel
    if path is not None:
        save_figure(ax.figure, path, dpi=dpi)
    return ax
