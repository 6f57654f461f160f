"""Pictures of a TaskGraph, now in :mod:`foldgraph.viz`: this module re-exports its names.

``from foldgraph.graph.draw import to_dot, save, FONT`` keeps working; new
code imports from :mod:`foldgraph.viz`. The names are looked up on first
use (PEP 562), so importing the graph layer never imports the pictures.
"""

from __future__ import annotations

#: the public names, as before the move (defined on first use: ruff cannot see them)
PUBLIC = (
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
)
__all__ = list(PUBLIC)

#: where each name lives now: the module of foldgraph.viz
HOMES = dict.fromkeys(
    ["KINDS", "LEVELS", "PALETTE", "DOT_SHAPES", "MERMAID_SHAPES", "FONT", "NODE_FS",
     "TITLE_FS", "SUB_FS", "EDGE_FS", "NODE_H", "NODE_GAP", "PAD", "HEADER", "COLUMN_GAP",
     "SUB_GAP", "CHANNEL", "TASK_H", "MAX_COLUMN_HEIGHT", "DATA_EDGE", "CACHED_FILL",
     "CACHED_LINE", "task_colors", "format_seconds"], "styles",
) | {
    "node_kind": "model", "describe_node": "model", "text_width": "geometry",
    "to_dot": "text", "to_mermaid": "text", "draw": "render", "FORMATS": "export",
    "save_figure": "export", "to_html": "export", "to_svg": "export", "save": "export",
}  # fmt: skip


def moved(name: str, home: str, namespace: dict):
    """The object ``name`` of ``foldgraph.viz.<home>``, kept in ``namespace`` (a module's
    globals) so that it is looked up once."""
    import foldgraph.viz

    namespace[name] = value = getattr(getattr(foldgraph.viz, home), name)
    return value


def __getattr__(name: str):
    if name not in HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return moved(name, HOMES[name], globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(HOMES))
