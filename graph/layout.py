"""Layout and matplotlib drawing of a TaskGraph, now in :mod:`foldgraph.viz`
(:mod:`~foldgraph.viz.layout`, :mod:`~foldgraph.viz.render`): this module
re-exports the names it had.

The names are looked up on first use (PEP 562), so importing the graph
layer never imports the pictures.
"""

from __future__ import annotations

from . import draw as moved_names

PUBLIC = ("draw", "text_width")
__all__ = list(PUBLIC)  # defined on first use: ruff cannot see them

#: where each name lives now: those of :mod:`foldgraph.graph.draw`, and these
HOMES = moved_names.HOMES | {
    "task_texts": "model", "MARGIN": "render", "TITLE_H": "render", "LEGEND_H": "render",
}  # fmt: skip


def __getattr__(name: str):
    if name not in HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return moved_names.moved(name, HOMES[name], globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(HOMES))
