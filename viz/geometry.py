"""The pieces of a laid-out picture, in inches: boxes, strokes, and text widths."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from .styles import FONT

__all__ = ["Box", "Stroke", "Layout", "text_width"]


@dataclass
class Box:
    """A rectangle by its centre and size.

    Examples
    --------
    >>> box = Box("a", x=1.0, y=2.0, w=0.5, h=0.25)
    >>> box.left, box.right, box.bottom, box.top
    (0.75, 1.25, 1.875, 2.125)
    """

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

    def rect(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)``."""
        return self.left, self.bottom, self.right, self.top


@dataclass
class Stroke:
    """A polyline edge, with an arrowhead at its last point when ``head``.

    Examples
    --------
    >>> Stroke([(0, 0), (1, 0)], "#4d4d4d", 0.8).head
    True
    """

    points: list
    color: str
    lw: float
    dashed: bool = False
    head: bool = True


@dataclass
class Layout:
    """Boxes, strokes and edge labels of a drawing, origin at its bottom left.

    Examples
    --------
    >>> lay = Layout({"a": Box("a", 1.0, 0.5, 1.0, 0.5)}, {}, 2.0, 1.0)
    >>> lay.shift(0.25)
    >>> lay.boxes["a"].y, lay.height
    (0.75, 1.25)
    """

    boxes: dict  # node key (or task name at task level) -> Box
    clusters: dict  # task name -> Box (node level only)
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
    font that matplotlib bundles (needs matplotlib).

    Examples
    --------
    >>> text_width("", 8), round(float(text_width("fold-0", 8)), 2)
    (0.0, 0.31)
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    if not text:
        return 0.0
    prop = FontProperties(family=FONT, weight="bold" if bold else "normal", size=size)
    return TextPath((0, 0), text, size=size, prop=prop).get_extents().width / 72.0
