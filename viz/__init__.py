"""Pictures of foldgraph: task graphs (DOT, Mermaid, matplotlib, HTML) and Gantt charts.

The modules, each at one seam:

- :mod:`~foldgraph.viz.styles`: node kinds, levels, colours, fonts and sizes;
- :mod:`~foldgraph.viz.model`: the drawable model of a TaskGraph (tasks,
  node kinds, labels, hover text);
- :mod:`~foldgraph.viz.text`: Graphviz DOT and Mermaid text;
- :mod:`~foldgraph.viz.geometry`, :mod:`~foldgraph.viz.layout` and
  :mod:`~foldgraph.viz.routing`: coordinates in inches (columns by task
  generation, edges and buses routed around the boxes);
- :mod:`~foldgraph.viz.render`: the matplotlib drawing;
- :mod:`~foldgraph.viz.export`: files by suffix and inline SVG;
- :mod:`~foldgraph.viz.gantt`: the Gantt chart of a run, from plain records.

This package sits above the graph layer and the engine: it reads a
TaskGraph through its ``nx``, ``job`` and ``tasks`` attributes and a run
through its records, and imports neither. The text formats need nothing
beyond networkx; the rest needs matplotlib (``pip install
'foldgraph[viz]'``), imported only when a picture is made.
``foldgraph.graph.draw`` and ``foldgraph.graph.layout`` re-export these
names for existing code.
"""

from .export import FORMATS, save, save_figure, to_html, to_svg
from .geometry import text_width
from .model import describe_node, node_kind
from .render import draw
from .styles import KINDS, LEVELS, format_seconds, task_colors
from .text import to_dot, to_mermaid

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
