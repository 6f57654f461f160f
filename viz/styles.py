"""Styles shared by every picture: node kinds, levels, colours, fonts and sizes.

Colours are hex strings (``"#0072B2"``); sizes of the matplotlib layout are
in inches (1 data unit = 1 inch) and font sizes in points.
"""

from __future__ import annotations

__all__ = [
    "KINDS",
    "LEVELS",
    "PALETTE",
    "DOT_SHAPES",
    "MERMAID_SHAPES",
    "FONT",
    "DATA_EDGE",
    "CACHED_FILL",
    "CACHED_LINE",
    "MAX_COLUMN_HEIGHT",
    "check_level",
    "task_colors",
    "format_seconds",
    "light",
    "dark",
]

#: node kinds, in legend order
KINDS = ("transformer", "fold fit", "full fit", "predict", "transform")
#: what a picture shows: one shape per node, or one box per task
LEVELS = ("node", "task")

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


def check_level(level: str) -> str:
    """``level`` if it is one of :data:`LEVELS`.

    Examples
    --------
    >>> check_level("task")
    'task'
    >>> check_level("fold")
    Traceback (most recent call last):
      ...
    ValueError: unknown level 'fold': choose one of 'node', 'task'
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}: choose one of {', '.join(map(repr, LEVELS))}")
    return level


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


def _mix(color: str, other: str, t: float) -> str:
    """Blend ``color`` toward ``other`` by ``t`` (0: color, 1: other)."""
    a = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(other[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


def light(color: str, t: float = 0.78) -> str:
    """``color`` blended toward white by ``t``: the fill of a node.

    Examples
    --------
    >>> light("#0072B2"), light("#0072B2", 1.0)
    ('#c7e0ee', '#ffffff')
    """
    return _mix(color, "#ffffff", t)


def dark(color: str, t: float = 0.3) -> str:
    """``color`` blended toward black by ``t``: the border of a node.

    Examples
    --------
    >>> dark("#0072B2"), dark("#0072B2", 1.0)
    ('#00507d', '#000000')
    """
    return _mix(color, "#000000", t)
