"""The pictures sit in foldgraph.viz, above the graph layer and the engine.

- importing the graph layer (every module of foldgraph.graph) does not import
  foldgraph.viz: TaskGraph.draw and the re-exporting modules
  foldgraph.graph.draw and foldgraph.graph.layout import it on first use;
- foldgraph.viz imports nothing of the package but itself, not the graph
  layer nor the engine (it reads a TaskGraph by its attributes and a run by
  its records): a leaf that graph and engine call inside their drawing methods;
- the engine holds no drawing code: engine/trace.py imports no matplotlib;
- every name foldgraph.graph.draw and foldgraph.graph.layout had is still
  importable from there, and is the object foldgraph.viz defines.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: the public names of graph/draw.py and graph/layout.py before the move (issue 17)
DRAW_NAMES = """CACHED_FILL CACHED_LINE CHANNEL COLUMN_GAP DATA_EDGE DOT_SHAPES EDGE_FS FONT FORMATS
HEADER KINDS LEVELS MAX_COLUMN_HEIGHT MERMAID_SHAPES NODE_FS NODE_GAP NODE_H PAD PALETTE SUB_FS
SUB_GAP TASK_H TITLE_FS describe_node draw format_seconds node_kind save save_figure task_colors
text_width to_dot to_html to_mermaid to_svg""".split()
LAYOUT_NAMES = """CHANNEL COLUMN_GAP DATA_EDGE EDGE_FS FONT HEADER KINDS LEGEND_H MARGIN
MAX_COLUMN_HEIGHT NODE_FS NODE_GAP NODE_H PAD SUB_FS SUB_GAP TASK_H TITLE_FS TITLE_H draw
format_seconds task_texts text_width""".split()


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the modules ``path`` imports, at any depth of its code."""
    package = "foldgraph." + path.parent.name if path.parent.name != "foldgraph" else "foldgraph"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))  # fmt: skip
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def test_graph_layer_does_not_import_viz():
    """A fresh interpreter imports every module of foldgraph.graph without foldgraph.viz."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import foldgraph.graph as g\n"
        "for m in pkgutil.iter_modules(g.__path__):\n"
        "    importlib.import_module('foldgraph.graph.' + m.name)\n"
        "print(sorted(n for n in sys.modules if n.startswith('foldgraph.viz')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("path", sorted((ROOT / "viz").glob("*.py")), ids=lambda p: p.name)
def test_viz_imports_nothing_of_ours_but_viz(path):
    """A leaf: no graph, engine, tasks or ensembles (tests/test_layers.py counts on it)."""
    ours = {m for m in imported_modules(path)
            if m.split(".")[0] == "foldgraph" and m.split(".")[:2] != ["foldgraph", "viz"]}
    assert not ours, f"viz/{path.name} imports {sorted(ours)}"


def test_engine_trace_has_no_drawing_code():
    imports = imported_modules(ROOT / "engine" / "trace.py")
    assert not {m for m in imports if m.split(".")[0] == "matplotlib"}
    assert "foldgraph.viz.gantt.gantt" in imports  # Trace.gantt hands its records over


@pytest.mark.parametrize("module, names", [("foldgraph.graph.draw", DRAW_NAMES),
                                           ("foldgraph.graph.layout", LAYOUT_NAMES)])  # fmt: skip
def test_old_modules_still_export_every_name(module, names):
    import importlib

    import foldgraph.viz as viz

    old = importlib.import_module(module)
    for name in names:
        assert hasattr(old, name), f"{module}.{name} is gone"
        if name in viz.__all__:
            assert getattr(old, name) is getattr(viz, name)
    assert set(old.__all__) <= set(dir(old))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        old.nothing  # noqa: B018


def test_star_import_of_the_old_module():
    namespace: dict = {}
    exec("from foldgraph.graph.draw import *", namespace)
    assert {"to_dot", "draw", "save", "FORMATS"} <= set(namespace)
