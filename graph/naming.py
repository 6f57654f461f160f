"""Task names in a graph: explicit ones kept, automatic ones made unique.

An automatic name is the estimator's class name in lower case
(:func:`~foldgraph.tasks.learner.default_name`). Names are counted per list
of tasks (:func:`assign_names`) or per graph
(:meth:`~foldgraph.graph.TaskGraph.unique_name`), never globally.
"""

from __future__ import annotations

from collections import Counter

from foldgraph.errors import GraphError
from foldgraph.tasks.learner import default_name

from .checks import check_task

__all__ = ["assign_names", "checked_names", "free_name"]


def assign_names(tasks) -> list[str]:
    """Resolve task names: explicit ones kept, automatic ones made unique.

    Automatic names are the estimator's class name in lower case; when two
    tasks share one, they become ``name-1``, ``name-2``... in list order,
    skipping names already taken. Nothing global is counted.

    Examples
    --------
    >>> from foldgraph import Learner
    >>> from foldgraph.testing import OLS, Scale
    >>> assign_names([Learner(OLS()), Learner(OLS()), Learner(Scale(), name="x")])
    ['ols-1', 'ols-2', 'x']
    """
    explicit = {t.name for t in tasks if getattr(t, "name", None) is not None}
    auto = Counter(default_name(t) for t in tasks if getattr(t, "name", None) is None)
    names, taken, counters = [], set(explicit), Counter()
    for task in tasks:
        if getattr(task, "name", None) is not None:
            names.append(task.name)
            continue
        base = default_name(task)
        if auto[base] == 1 and base not in taken:
            name = base
        else:
            counters[base] += 1
            while f"{base}-{counters[base]}" in taken:
                counters[base] += 1
            name = f"{base}-{counters[base]}"
        taken.add(name)
        names.append(name)
    return names


def checked_names(tasks) -> list[str]:
    """Check every task, then :func:`assign_names`; a GraphError on a name given twice.

    Examples
    --------
    >>> from foldgraph import Learner
    >>> from foldgraph.testing import OLS
    >>> checked_names([Learner(OLS()), Learner(OLS(), name="b")])
    ['ols', 'b']
    >>> checked_names([Learner(OLS(), name="b"), Learner(OLS(), name="b")])
    Traceback (most recent call last):
      ...
    foldgraph.errors.GraphError: duplicate task name 'b': every task of a graph needs a unique name; rename one (e.g. name='b-b') or leave name=None
    """
    for i, task in enumerate(tasks):
        check_task(task, f"task #{i}" if getattr(task, "estimator", None) is None
                   else task.name or default_name(task))
    names = assign_names(tasks)
    seen = Counter(names)
    dups = sorted(n for n, c in seen.items() if c > 1)
    if dups:
        raise GraphError(
            f"duplicate task name {dups[0]!r}: every task of a graph needs a unique "
            f"name; rename one (e.g. name='{dups[0]}-b') or leave name=None"
        )
    return names


def free_name(graph, task) -> str:
    """The task's default name if ``graph`` has no task of that name, else the next free
    ``<name>-<i>`` (counted per graph: :meth:`~foldgraph.graph.TaskGraph.unique_name`).

    Examples
    --------
    >>> from foldgraph import Learner, TaskGraph
    >>> from foldgraph.testing import OLS
    >>> g = TaskGraph()
    >>> free_name(g, Learner(OLS()))
    'ols'
    """
    return graph.unique_name(default_name(task))
