"""Ensemble specs: a JSON object that describes tasks, compiled into a TaskGraph.

A spec names each task's estimator by import path, so a graph can be drawn
from a file without writing Python (``foldgraph show SPEC`` does this)::

    {"graph": "stack",                        # "map" (default) or "stack"
     "split": false,                          # stack only; default true
     "data": {"rows": 200, "features": 8},    # synthetic data the folds are cut for
     "title": "my ensemble",                  # optional
     "tasks": [
       {"transformer": "sklearn.preprocessing.StandardScaler", "name": "scale",
        "indexer": {"FoldIndex": {"folds": 5}}},
       {"learner": "sklearn.linear_model.Ridge", "params": {"alpha": 1.0},
        "name": "ridge", "indexer": {"FoldIndex": {"folds": 5}}, "preprocess": "scale"}]}

Each task gives its estimator class under ``"learner"`` or
``"transformer"``, with constructor ``"params"``. ``"indexer"`` is one of
:data:`INDEXERS`, as a name or ``{name: {params}}``; ``"name"``,
``"preprocess"`` and ``"proba"`` are the Learner arguments of the same
names. ``"data"`` may also give ``"classes": k`` for integer targets (needed
by ``"proba": true``). The compiled graph is the one :func:`map_graph` or
:func:`stack_graph` builds from the same tasks called by hand.

Every mistake raises :class:`~foldgraph.errors.GraphError` (a ``ValueError``)
whose message names where it is (``spec: tasks[1]: params: ...``) and what
to write instead. This module builds graphs only: it imports the graph and
tasks layers, never the engine.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np

from foldgraph.errors import GraphError
from foldgraph.tasks import indexers
from foldgraph.tasks.learner import Learner, Transformer

from .builders import map_graph, stack_graph
from .taskgraph import TaskGraph

__all__ = [
    "graph_from_spec",
    "task_from_spec",
    "load_spec",
    "SPEC_KEYS",
    "TASK_KEYS",
    "DATA_KEYS",
    "INDEXERS",
]

#: the keys a spec may have
SPEC_KEYS = ("graph", "split", "data", "tasks", "title")
#: the keys a task entry may have
TASK_KEYS = ("learner", "transformer", "params", "name", "indexer", "preprocess", "proba")
#: the keys of ``"data"``: the shape of the synthetic data the folds are cut for
DATA_KEYS = ("rows", "features", "classes")
#: the indexers a task may name (classes of :mod:`foldgraph.tasks.indexers`)
INDEXERS = ("FoldIndex", "BlendIndex", "FullIndex", "SubsetIndex", "TemporalIndex")

_GRAPHS = ("map", "stack")
_DATA_DEFAULTS = {"rows": 100, "features": 4, "classes": 0}


def _check_keys(where: str, given, allowed) -> None:
    if not isinstance(given, dict):
        raise GraphError(f"{where}: expected a JSON object ({{...}}), got {type(given).__name__}")
    unknown = [k for k in given if k not in allowed]
    if unknown:
        raise GraphError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(allowed)})")


def _import(where: str, path):
    if not isinstance(path, str) or "." not in path:
        raise GraphError(
            f"{where}: give the estimator as 'module.Class', e.g. "
            f"'sklearn.linear_model.Ridge', not {path!r}"
        )
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise GraphError(
            f"{where}: cannot import {path!r} ({exc}): check the spelling "
            f"and that the package is installed"
        ) from None


def _indexer(where: str, spec):
    if spec is None:
        return None
    if isinstance(spec, str):
        spec = {spec: {}}
    if not isinstance(spec, dict) or len(spec) != 1:
        raise GraphError(
            f'{where}: give the indexer as "FoldIndex" or {{"FoldIndex": '
            f'{{"folds": 5}}}}, not {spec!r}'
        )
    ((name, params),) = spec.items()
    if name not in INDEXERS:
        raise GraphError(f"{where}: unknown indexer {name!r} (choose one of {', '.join(INDEXERS)})")
    if params is not None and not isinstance(params, dict):
        raise GraphError(
            f"{where}: the parameters of {name} must be a JSON object, "
            f"e.g. {{{name!r}: {{...}}}}, not {params!r}"
        )
    try:
        return getattr(indexers, name)(**(params or {}))
    except TypeError as exc:
        raise GraphError(f"{where}: {exc}") from None


def task_from_spec(entry: dict, where: str = "task") -> Learner | Transformer:
    """Build the Learner or Transformer one task entry of a spec describes.

    Parameters
    ----------
    entry : dict
        One element of a spec's ``"tasks"`` list (keys: :data:`TASK_KEYS`).
    where : str, default="task"
        How error messages name the entry, e.g. ``"spec: tasks[0]"``.

    Returns
    -------
    Learner or Transformer

    Raises
    ------
    GraphError
        An unknown key, class, parameter or indexer, naming it.

    Examples
    --------
    >>> task_from_spec({"learner": "sklearn.linear_model.Ridge", "params": {"alpha": 2.0},
    ...                 "name": "ridge", "indexer": {"FoldIndex": {"folds": 3}}})
    Learner(estimator=Ridge(alpha=2.0), indexer=FoldIndex(folds=3), name='ridge')
    >>> task_from_spec({"transformer": "sklearn.preprocessing.StandardScaler", "proba": True})
    Traceback (most recent call last):
      ...
    foldgraph.errors.GraphError: task: 'proba' is for learners only: drop it or use "learner"
    """
    _check_keys(where, entry, TASK_KEYS)
    roles = [r for r in ("learner", "transformer") if r in entry]
    if len(roles) != 1:
        raise GraphError(
            f"{where}: give exactly one of 'learner' or 'transformer' (the estimator's import path)"
        )
    role = roles[0]
    cls = _import(f"{where}: {role}", entry[role])
    params = entry.get("params", {})
    if not isinstance(params, dict):
        raise GraphError(
            f"{where}: params: give the constructor arguments as a JSON object, "
            f'e.g. {{"alpha": 1.0}}, not {params!r}'
        )
    try:
        estimator = cls(**params)
    except TypeError as exc:
        raise GraphError(f"{where}: params: {exc}") from None
    indexer = _indexer(f"{where}: indexer", entry.get("indexer"))
    if role == "transformer":
        extra = [k for k in ("preprocess", "proba") if k in entry]
        if extra:
            raise GraphError(
                f'{where}: {extra[0]!r} is for learners only: drop it or use "learner"'
            )
        return Transformer(estimator, indexer, name=entry.get("name"))
    return Learner(
        estimator,
        indexer,
        name=entry.get("name"),
        preprocess=entry.get("preprocess"),
        proba=bool(entry.get("proba", False)),
    )


def _data(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """The synthetic ``X`` and ``y`` of the spec's ``"data"`` (seeded: same spec, same data)."""
    data = spec.get("data", {})
    _check_keys("spec: data", data, DATA_KEYS)
    sizes = {}
    for key, default in _DATA_DEFAULTS.items():
        value, low = data.get(key, default), 0 if key == "classes" else 1
        try:
            sizes[key] = int(value)
        except (TypeError, ValueError):
            sizes[key] = low - 1  # reported below
        if sizes[key] < low:
            raise GraphError(f"spec: data: {key} must be a whole number >= {low}, not {value!r}")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(sizes["rows"], sizes["features"]))
    classes = sizes["classes"]
    y = rng.integers(0, classes, size=sizes["rows"]) if classes else rng.normal(size=sizes["rows"])
    return X, y


def graph_from_spec(spec: dict) -> TaskGraph:
    """Build the ``"fit"`` TaskGraph an ensemble spec describes.

    The spec's format is in the module docstring. The graph is the one
    :func:`~foldgraph.graph.builders.map_graph` (``"graph": "map"``, the
    default) or :func:`~foldgraph.graph.builders.stack_graph` builds from
    the same tasks, on seeded synthetic data of the spec's ``"data"`` shape.

    Parameters
    ----------
    spec : dict
        A parsed spec (keys: :data:`SPEC_KEYS`).

    Returns
    -------
    TaskGraph

    Raises
    ------
    GraphError
        An unknown key, class or indexer, naming where it is and what to
        write instead.

    Examples
    --------
    >>> graph_from_spec({"graph": "stack", "data": {"rows": 20, "features": 2}, "tasks": [
    ...     {"learner": "sklearn.linear_model.Ridge", "name": "ridge", "indexer": "FoldIndex"},
    ...     {"learner": "foldgraph.testing.OLS", "name": "meta", "indexer": "FullIndex"}]})
    TaskGraph(job='fit', tasks=['ridge', 'meta'], nodes=4, edges=2)
    >>> graph_from_spec({"tasks": [{"learner": "sklearn.linear_model.Ridge", "folds": 3}]})
    Traceback (most recent call last):
      ...
    foldgraph.errors.GraphError: spec: tasks[0]: unknown key 'folds' (allowed: learner, transformer, params, name, indexer, preprocess, proba)
    """
    _check_keys("spec", spec, SPEC_KEYS)
    kind = spec.get("graph", "map")
    if kind not in _GRAPHS:
        raise GraphError(f"spec: graph must be 'map' or 'stack', not {kind!r}")
    X, y = _data(spec)
    entries = spec.get("tasks")
    if not isinstance(entries, list) or not entries:
        raise GraphError(
            "spec: 'tasks' must be a non-empty list of task objects, "
            'e.g. [{"learner": "sklearn.linear_model.Ridge"}]'
        )
    tasks = [task_from_spec(entry, f"spec: tasks[{i}]") for i, entry in enumerate(entries)]
    if kind == "stack":
        return stack_graph(tasks, "fit", split=bool(spec.get("split", True)), X=X, y=y)
    return map_graph(tasks, "fit", X=X, y=y)


def load_spec(path) -> tuple[TaskGraph, str | None]:
    """Read a JSON spec file; returns ``(TaskGraph, title or None)``.

    Parameters
    ----------
    path : str or Path

    Raises
    ------
    GraphError
        No such file, invalid JSON, or a spec :func:`graph_from_spec`
        refuses (the message starts with the file's name).

    Examples
    --------
    >>> import json, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> spec = Path(folder.name) / "spec.json"
    >>> _ = spec.write_text(json.dumps({"title": "one learner", "tasks": [
    ...     {"learner": "foldgraph.testing.OLS", "indexer": {"FoldIndex": {"folds": 2}}}]}))
    >>> load_spec(spec)
    (TaskGraph(job='fit', tasks=['ols'], nodes=3, edges=0), 'one learner')
    >>> folder.cleanup()
    """
    path = Path(path)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GraphError(f"no spec file {str(path)!r}") from None
    except json.JSONDecodeError as exc:
        raise GraphError(f"{path.name} is not valid JSON: {exc}") from None
    try:
        graph = graph_from_spec(spec)
    except ValueError as exc:
        raise GraphError(f"{path.name}: {exc}") from exc
    return graph, spec.get("title")
