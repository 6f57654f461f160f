"""The drawable model of a TaskGraph, shared by every picture format.

- **clusters**: one per task, in build order; a task's colour comes from
  :func:`~foldgraph.viz.styles.task_colors` (the Gantt chart of a run uses
  the same colours).
- **node kinds** (:data:`~foldgraph.viz.styles.KINDS`), told apart by shape:
  ``"fold fit"``, ``"full fit"``, ``"transformer"``, ``"predict"`` and
  ``"transform"``.
- **edges** are labelled with what flows: the buffer ``"P:<task>"`` or
  ``"estimator"`` (a fitted transformer).

The model reads a TaskGraph (or a plain networkx DiGraph) through its
``nx``, ``job`` and ``tasks`` attributes only: it imports nothing of the
graph layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from .styles import format_seconds, task_colors

__all__ = ["node_kind", "describe_node", "Model"]


def node_kind(attrs: dict) -> str:
    """The kind of a node (one of :data:`~foldgraph.viz.styles.KINDS`), from its attributes.

    Examples
    --------
    >>> node_kind({"kind": "learner", "op": "fit", "fold": 2})
    'fold fit'
    >>> node_kind({"kind": "learner", "op": "fit", "fold": "full"})
    'full fit'
    >>> node_kind({"kind": "transformer", "op": "fit", "fold": 0})
    'transformer'
    """
    if attrs.get("kind") == "transformer":
        return "transformer"
    op = attrs.get("op", "fit")
    if op in ("predict", "transform"):
        return op
    return "full fit" if attrs.get("fold") == "full" else "fold fit"


def format_rows(rows) -> str:
    """Row spans ``((0, 5), (10, 12))`` as ``"0:5, 10:12 (7 rows)"``."""
    if not rows:
        return "none"
    n = sum(stop - start for start, stop in rows)
    spans = ", ".join(f"{start}:{stop}" for start, stop in rows)
    return f"{spans} ({n} rows)"


def durations_of(durations) -> dict[str, float]:
    """Accept a Trace (anything with ``durations()``), a dict, or None."""
    if durations is None:
        return {}
    if hasattr(durations, "durations"):
        return dict(durations.durations())
    return {str(k): float(v) for k, v in dict(durations).items()}


@dataclass
class TaskInfo:
    """One task of a picture: its nodes in build order."""

    name: str
    kind: str  # "learner" or "transformer"
    estimator: str
    nodes: list = field(default_factory=list)


class Model:
    """What every format needs from a TaskGraph (or a plain networkx DiGraph).

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.DiGraph()
    >>> g.add_node("a/fit/fold-0", task="a", op="fit", fold=0)
    >>> g.add_node("b/fit/full", task="b", op="fit", fold="full")
    >>> g.add_edge("a/fit/fold-0", "b/fit/full", via="P:a")
    >>> model = Model(g, {"a/fit/fold-0": 0.5})
    >>> list(model.tasks), model.kind("b/fit/full"), model.label("a/fit/fold-0")
    (['a', 'b'], 'full fit', 'fold-0')
    >>> model.task_edges(), model.title("node")
    ({('a', 'b'): {'P:a': 1}}, 'graph: 2 tasks, 2 nodes, 1 edge')
    """

    def __init__(self, graph, durations=None):
        self.graph = graph
        self.g: nx.DiGraph = getattr(graph, "nx", graph)
        self.job = getattr(graph, "job", None)
        self.durations = durations_of(durations)
        objects = getattr(graph, "tasks", {}) or {}
        order = sorted(self.g, key=lambda k: (self.g.nodes[k].get("order", 0), str(k)))
        self.order = {key: i for i, key in enumerate(order)}
        self.tasks: dict[str, TaskInfo] = {}
        for name in objects:  # build order of the tasks, even those without nodes
            self.tasks[name] = self._new_task(name, objects[name])
        for key in order:
            name = self.task_of(key)
            if name not in self.tasks:
                self.tasks[name] = self._new_task(name, objects.get(name), self.g.nodes[key])
            self.tasks[name].nodes.append(key)
        self.tasks = {n: t for n, t in self.tasks.items() if t.nodes}
        self.colors = task_colors(self.tasks)

    @staticmethod
    def _new_task(name, obj, attrs=None) -> TaskInfo:
        kind = getattr(obj, "kind", None) or (attrs or {}).get("kind") or "learner"
        est = getattr(obj, "estimator", None)
        return TaskInfo(name, kind, type(est).__name__ if est is not None else "")

    def task_of(self, key) -> str:
        return str(self.g.nodes[key].get("task") or key)

    def kind(self, key) -> str:
        return node_kind(self.g.nodes[key])

    def label(self, key) -> str:
        """Short node label: the part of the key after ``<task>/<op>/``."""
        text = str(key)
        task = self.g.nodes[key].get("task")
        if task and text.startswith(f"{task}/") and text.count("/") >= 2:
            return text.rsplit("/", 1)[1]
        return text

    def via(self, u, v) -> str:
        return str(self.g.edges[u, v].get("via") or "")

    def sorted_edges(self) -> list:
        """The node edges in build order of their ends."""
        return sorted(self.g.edges, key=lambda e: (self.order[e[0]], self.order[e[1]]))

    def task_edges(self) -> dict[tuple[str, str], dict[str, int]]:
        """``{(task, task): {via: number of node edges}}`` between distinct tasks."""
        out: dict[tuple[str, str], dict[str, int]] = {}
        for u, v in self.g.edges:
            a, b = self.task_of(u), self.task_of(v)
            if a != b:
                vias = out.setdefault((a, b), {})
                vias[self.via(u, v)] = vias.get(self.via(u, v), 0) + 1
        return out

    def task_detail(self, name) -> str:
        """What a task's nodes do, counted: ``"5 folds + 1 full fit"``, ``"1 predict"``."""
        counts: dict[str, int] = {}
        for key in self.tasks[name].nodes:
            a = self.g.nodes[key]
            op = a.get("op", "fit")
            what = ("full fit" if a.get("fold") == "full" else "fold") if op == "fit" else op
            counts[what] = counts.get(what, 0) + 1
        return " + ".join(f"{n} {what}{'s' * (n != 1)}" for what, n in counts.items())

    def task_seconds(self, name) -> float | None:
        known = [self.durations[k] for k in self.tasks[name].nodes if k in self.durations]
        return sum(known) if known else None

    def title(self, level) -> str:
        job = f"{self.job} graph" if self.job else "graph"
        counts = [(len(self.tasks), "task"), (self.g.number_of_nodes(), "node"),
                  (self.g.number_of_edges(), "edge")]  # fmt: skip
        return f"{job}: " + ", ".join(f"{n} {word}{'s' * (n != 1)}" for n, word in counts)


def task_subtitle(task: TaskInfo) -> str:
    """``"learner · OLS"``: the kind of a task and its estimator's class."""
    return f"{task.kind} · {task.estimator}" if task.estimator else task.kind


def node_text(model: Model, key) -> str:
    """A node's label in a drawing, with its duration when known."""
    label = model.label(key)
    if key in model.durations:
        label = f"{label} · {format_seconds(model.durations[key])}"
    return label


def cluster_texts(model: Model, name) -> tuple[str, str]:
    """Title and subtitle of a task's cluster: its name and estimator class."""
    task = model.tasks[name]
    return name, task.estimator or task.kind


def task_texts(model: Model, name) -> list[str]:
    """The three lines of a task's box: name, estimator, what its nodes do (and took)."""
    title, sub = cluster_texts(model, name)
    detail = model.task_detail(name)
    seconds = model.task_seconds(name)
    if seconds is not None:
        detail = f"{detail} · {format_seconds(seconds)}"
    return [title, sub, detail]


def describe_node(graph, key: str, durations=None) -> list[str]:
    """Hover text of one node, as lines: op, fold, rows, buffers, cost and duration.

    ``durations`` is a Trace or a ``{key: seconds}`` dict of a finished run.

    Examples
    --------
    >>> from foldgraph.graph import TaskGraph
    >>> g = TaskGraph()
    >>> g.add_node("ols/fit/fold-0", task="ols", kind="learner", op="fit", fold=0,
    ...            train=((5, 10),), test=((0, 5),), cost=0.002)
    >>> describe_node(g, "ols/fit/fold-0", {"ols/fit/fold-0": 0.004})[:3]
    ['ols/fit/fold-0', 'op: fit (fold fit) of learner ols', 'fold: 0, partition: 0']
    """
    return describe(Model(graph, durations), key)


def describe(model: Model, key) -> list[str]:
    """:func:`describe_node` on a model already built."""
    a = model.g.nodes[key]
    lines = [str(key), f"op: {a.get('op', '?')} ({model.kind(key)}) of {a.get('kind', 'task')} "
             f"{model.task_of(key)}"]  # fmt: skip
    lines.append(f"fold: {a.get('fold', '?')}, partition: {a.get('partition', 0)}")
    if "train" in a or "test" in a:
        lines.append(f"train rows of {a.get('x', 'X')}: {format_rows(a.get('train'))}")
        lines.append(f"test rows: {format_rows(a.get('test'))}")
    writes = [f"{buf} rows {format_rows(rows)}" for buf, rows, _ in a.get("writes", ())]
    lines.append("writes: " + (", ".join(writes) if writes else "nothing"))
    preds = sorted(model.g.predecessors(key), key=model.order.get)
    if preds:
        shown = ", ".join(map(str, preds[:3])) + (f" (+{len(preds) - 3} more)" if len(preds) > 3 else "")
        lines.append(f"waits for: {shown}")
    if "cost" in a:
        source = a.get("cost_source", "model")
        lines.append(f"cost estimate: {format_seconds(a['cost'])} ({source})")
    if key in model.durations:
        lines.append(f"duration: {format_seconds(model.durations[key])}")
    return lines
