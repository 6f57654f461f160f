"""Imports point one way: foldgraph -> engine -> graph -> tasks (leaves: errors, testing)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RANK = {"tasks": 0, "graph": 1, "engine": 2, "foldgraph": 3}
# foldgraph.viz imports none of the layers (a TaskGraph is read by its attributes, a run by
# its records: tests/viz/test_layering.py): graph and engine call it inside drawing methods
LEAVES = {"foldgraph.errors", "foldgraph.testing", "foldgraph.viz"}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "foldgraph":
        return None
    if module in LEAVES or any(module.startswith(leaf + ".") for leaf in LEAVES):
        return None
    return parts[1] if len(parts) > 1 and parts[1] in RANK else "foldgraph"


def imports(path: Path, package: str):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: stays inside its own package
                yield f"foldgraph.{package}" if package != "foldgraph" else "foldgraph"
            elif node.module:
                yield node.module


FILES = [(p, d) for d in RANK for p in sorted((ROOT / d).glob("*.py"))]


@pytest.mark.parametrize("path, package", FILES, ids=[f"{d}/{p.name}" for p, d in FILES])
def test_no_upward_import(path, package):
    own = RANK[package]
    for module in imports(path, package):
        layer = layer_of(module)
        if layer is None or path.name in ("__init__.py", "__main__.py") and package == "foldgraph":
            continue
        assert RANK[layer] <= own, f"{package}/{path.name} imports {module} (upward)"


def test_worker_imports_stay_small():
    """Spawned workers must start fast: engine/worker.py imports only tasks.ops, buffers,
    _protocol (which imports tasks.ops only), _trim, a leaf that imports nothing of ours (and ctypes only when called),
    and _peak (the peak-memory meter, which imports _trim only)."""
    def ours(path):
        tree = ast.parse((ROOT / "engine" / path).read_text())
        mods = {(n.level, n.module) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        return {m for m in mods if m[0] or (m[1] or "").startswith("foldgraph")}

    assert ours("worker.py") <= {(0, "foldgraph.tasks.ops"), (1, "buffers"), (1, "_trim"),
                                 (1, "_protocol"), (1, "_peak")}  # fmt: skip
    assert ours("_protocol.py") <= {(0, "foldgraph.tasks.ops"), (0, "foldgraph.tasks.deferred")}
    assert ours("_trim.py") == set()
    assert ours("_peak.py") <= {(1, "_trim")}
