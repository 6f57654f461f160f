"""The package's shape: no import cycle, no private name across modules, layers in order.

The modules are read as source (``ast``), not imported, so a cycle is found
even where Python would tolerate it at run time. Folders map to import names
as pyproject's ``package-dir`` says (``graph/`` is ``foldgraph.graph``).

What counts as an import of module A by module B:

- an ``import``/``from ... import`` statement of B run when B is imported: at
  module level, also inside a module-level ``if``, ``try`` or ``with``, and in
  class bodies;
- not one inside a function (a lazy import runs after every module is loaded,
  so it cannot take part in a cycle of partially initialised modules; they
  are how heavy or optional parts, matplotlib for one, stay out of an import);
- not one under ``if TYPE_CHECKING:`` (never run: type annotations only).

``from pkg import name`` imports the module ``pkg.name`` when there is one,
else the module ``pkg`` (its ``__init__``). The parent packages a module
implies (``foldgraph`` for ``foldgraph.errors``) are not edges: Python finds
them in ``sys.modules`` already, whatever state they are in.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: cycles known today and who removes them; each entry is a set of module names.
#: Empty: graph.builders <-> graph.taskgraph was split (graph.fold_nodes), and
#: graph.draw <-> graph.layout went with the drawing refactor (foldgraph.viz).
KNOWN_CYCLES: list[frozenset[str]] = []


def package_dirs() -> dict[str, Path]:
    """Import name of each package folder, from pyproject's ``package-dir``."""
    text = (ROOT / "pyproject.toml").read_text()  # no tomllib before Python 3.11
    section = text.split("[tool.setuptools.package-dir]", 1)[1].split("\n[", 1)[0]
    dirs = {name: ROOT / folder for name, folder in re.findall(r'"([\w.]+)"\s*=\s*"([^"]+)"',
                                                               section)}
    if (ROOT / "viz").is_dir():  # the pictures' package, mapped like graph/ once it is listed
        dirs.setdefault("foldgraph.viz", ROOT / "viz")
    return dirs


def modules() -> dict[str, Path]:
    """Every module of the package: import name -> file."""
    found: dict[str, Path] = {}
    dirs = package_dirs()
    for package, folder in dirs.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([package, *parts])
            if any(d != folder and d.is_relative_to(folder) and path.is_relative_to(d)
                   for d in dirs.values()):
                continue  # a sub-folder mapped as a package of its own
            found[name] = path
    return found


MODULES = modules()


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_statements(tree: ast.Module, lazy: bool):
    """Yield ``(statement, is_lazy)``; lazy ones (in functions) only if ``lazy``."""

    def walk(nodes, in_function):
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield node, in_function
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from walk(node.orelse, in_function)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                if lazy:
                    yield from walk(ast.iter_child_nodes(node), True)
            else:
                yield from walk(ast.iter_child_nodes(node), in_function)

    yield from walk(tree.body, False)


def resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute name of the module a ``from`` statement imports from."""
    if not node.level:
        return node.module or ""
    package = module if is_package(module) else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imports_of(module: str, lazy: bool = False) -> list[tuple[str, str, int]]:
    """``(imported module, imported name or "", line)`` for each package import of ``module``.

    ``name`` is the name a ``from`` statement takes from a module (not a submodule).
    """
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    found = []
    for node, _ in import_statements(tree, lazy):
        if isinstance(node, ast.Import):
            found += [(a.name, "", node.lineno) for a in node.names if a.name in MODULES]
            continue
        source = resolve(module, node)
        for alias in node.names:
            if f"{source}.{alias.name}" in MODULES:
                found.append((f"{source}.{alias.name}", "", node.lineno))
            elif source in MODULES:
                found.append((source, alias.name, node.lineno))
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports when imported."""
    return {m: {target for target, _, _ in imports_of(m)} - {m} for m in MODULES}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_cycle_in(graph, group) for group in groups]


def _cycle_in(graph, group) -> list[str]:
    """A shortest cycle through the first module of ``group`` (breadth first)."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & group):
                if w == start:
                    return paths[v] + [start]
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle in {group}")


# -- the tests -------------------------------------------------------------------


def test_modules_are_found():
    for name in ("foldgraph", "foldgraph.errors", "foldgraph.engine.scheduler",
                 "foldgraph.graph.taskgraph", "foldgraph.tasks.ops"):
        assert name in MODULES
    assert len(MODULES) > 40


def test_cycle_finder_names_the_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e2"}, "e2": {"e"}}
    assert sorted(find_cycles(graph)) == [["a", "b", "c", "a"], ["e", "e2", "e"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_lazy_and_type_checking_imports_are_not_edges(tmp_path):
    source = textwrap.dedent("""
        from typing import TYPE_CHECKING
        from foldgraph.errors import GraphError
        if TYPE_CHECKING:
            from foldgraph.graph import TaskGraph
        else:
            import foldgraph.tasks.ops
        try:
            import foldgraph.engine.buffers
        except ImportError:
            pass
        def f():
            from foldgraph.engine import scheduler
        class A:
            from foldgraph import testing
    """)
    tree = ast.parse(source)
    found = []
    for node, lazy in import_statements(tree, lazy=True):
        names = [a.name for a in node.names]
        found.append((getattr(node, "module", None) or names[0], lazy))
    assert found == [("typing", False), ("foldgraph.errors", False),
                     ("foldgraph.tasks.ops", False), ("foldgraph.engine.buffers", False),
                     ("foldgraph.engine", True), ("foldgraph", False)]


def test_no_import_cycle():
    """No two modules import each other, directly or through others, when imported."""
    cycles = [c for c in find_cycles(import_graph()) if frozenset(c) not in KNOWN_CYCLES]
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_known_cycles_are_still_there():
    """An entry of KNOWN_CYCLES goes once its cycle is gone (the list only shrinks)."""
    groups = [frozenset(c) for c in find_cycles(import_graph())]
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in groups]
    assert not gone, f"remove from KNOWN_CYCLES: {gone}"


def test_no_private_name_crosses_a_module_boundary():
    """``from other import _name``: a helper two modules share is a public name of a
    private module (``engine/_util.py: def gc_paused``), not a private one.

    Imports inside functions count too. Private modules (``from . import _channel``)
    are fine: that is how a package keeps a helper to itself.
    """
    crossing = [
        f"{MODULES[m].relative_to(ROOT)}:{line}: from {target} import {name}"
        for m in MODULES
        for target, name, line in imports_of(m, lazy=True)
        if name.startswith("_") and not name.startswith("__") and target != m
    ]
    assert not crossing, "private names imported across modules:\n" + "\n".join(crossing)


def _imports_from(layer: str, lazy: bool) -> list[str]:
    return [
        f"{MODULES[m].relative_to(ROOT)}:{line}: {target}"
        for m in MODULES if m == layer or m.startswith(layer + ".")
        for target, _, line in imports_of(m, lazy=lazy)
    ]


def test_tasks_import_neither_graph_nor_engine():
    """Tasks are the bottom layer: not even a lazy import of the graph or the engine."""
    up = [i for i in _imports_from("foldgraph.tasks", lazy=True)
          if i.split(": ")[1].startswith(("foldgraph.graph", "foldgraph.engine"))]
    assert not up, "tasks import a higher layer:\n" + "\n".join(up)


def test_graph_does_not_import_the_engine():
    """The graph layer knows nothing of processes or memory (lazy imports aside)."""
    up = [i for i in _imports_from("foldgraph.graph", lazy=False)
          if i.split(": ")[1].startswith("foldgraph.engine")]
    assert not up, "graph imports the engine at module level:\n" + "\n".join(up)


def test_worker_imports_neither_networkx_nor_the_graph():
    """A worker process imports ops, buffers and errors, not the graph layer nor
    networkx (``foldgraph/__init__.py`` loads its heavy parts on first use)."""
    code = ("import sys, foldgraph.engine.worker; "
            "print(sorted(m for m in ('networkx', 'foldgraph.graph', 'foldgraph.ensembles') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, timeout=120).stdout
    assert out.strip() == "[]"


def test_package_names_load_on_first_use():
    """``import foldgraph`` is light; ``from foldgraph import X`` works for every name.

    Also in ``foldgraph.engine``, whose function ``simulate`` shares its name with a
    submodule: it stays the function even when the submodule is imported first.
    """
    code = textwrap.dedent("""
        import sys, foldgraph, foldgraph.engine
        light = not {"networkx", "foldgraph.graph", "foldgraph.ensembles"} & set(sys.modules)
        import foldgraph.engine.simulate
        from foldgraph import *  # noqa
        from foldgraph.engine import simulate
        print(light, all(n in dir(foldgraph) for n in foldgraph.__all__), callable(simulate),
              type(simulate).__name__, type(foldgraph.graph).__name__)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, timeout=120).stdout
    assert out.split() == ["True", "True", "True", "function", "module"]


def test_every_public_name_is_importable():
    import foldgraph

    for name in foldgraph.__all__:
        assert getattr(foldgraph, name) is not None
    assert set(foldgraph.__all__) <= set(dir(foldgraph))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        foldgraph.nope  # noqa: B018
