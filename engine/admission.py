"""Admission: which ready nodes start now, under a memory budget and the machine's cores.

One decision shared by the scheduler loop
(:func:`~foldgraph.engine.scheduler.run_graph`) and the simulator
(:func:`~foldgraph.engine.simulate.simulate`), as a pure function of plain
state (no worker): :func:`first_fit` reads a :class:`Budget` and returns the
keys to start; the caller then calls :meth:`Budget.start` and
:meth:`Budget.finish`.

State of a budget (bytes are estimates; a node's come from its ``memory``
attribute, 0 if absent: the bytes its process holds at its peak above that
process's idle memory, the job's shared buffers excluded; and its ``cores``
attribute, 1 if absent):

- ``limit``   :: int or None   bytes the run may hold (None: no limit)
- ``cores``   :: int           cores the machine gives the run
- ``idle``    :: int           the processes' own memory before any node runs
- ``live``    :: int           bytes of the job's buffers not yet released
- ``used``    :: int           sum of the running nodes' ``memory``
- ``busy``    :: int           sum of the running nodes' ``cores``
- ``running`` :: {key: (bytes, cores)}
- ``peak``    :: int           largest ``idle + live + used`` seen so far

A node fits when ``idle + live + used + its memory <= limit`` and
``busy + its cores <= cores``. :func:`first_fit` walks the ready nodes in the
strategy's order and starts every node that fits (a node that does not fit
is skipped, the next one tried). When nothing runs, the first ready node
always starts, alone if it does not fit even alone (with a
:class:`MemoryBudgetWarning` naming it), so every node eventually runs.
"""

from __future__ import annotations

import heapq
import numbers
import re
from dataclasses import dataclass, field

from foldgraph.errors import warn_at_caller

from .liveness import Liveness, nbytes

__all__ = ["MemoryBudgetWarning", "parse_memory_limit", "Budget", "first_fit",
           "all_or_sequential", "node_needs", "make_budget", "pick", "admit"]

#: buffers smaller than this are never released early: not worth a system call
MIN_RELEASE = 1 << 20
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}  # fmt: skip
_FORMS = "None, a number of bytes (int), a string like '6GB', '512MiB' or '75%' (of the machine's memory)"


class MemoryBudgetWarning(RuntimeWarning):
    """A node's memory estimate is over the budget even alone: it runs alone.

    A RuntimeWarning (shown by default, unlike ResourceWarning): filter it
    with ``warnings.filterwarnings("ignore", category=MemoryBudgetWarning)``.

    Examples
    --------
    >>> issubclass(MemoryBudgetWarning, RuntimeWarning)
    True
    """


def parse_memory_limit(value, total: int | None = None) -> int | None:
    """``memory_limit`` in bytes: None, an int, ``"6GB"``, ``"512MiB"`` or ``"75%"``.

    A percentage is of ``total`` (default: the machine's memory, psutil).

    Raises
    ------
    ValueError
        Any other value; the message names it and the accepted forms.

    Examples
    --------
    >>> parse_memory_limit("6GB"), parse_memory_limit("1.5 KiB"), parse_memory_limit(None)
    (6000000000, 1536, None)
    >>> parse_memory_limit("50%", total=8000)
    4000
    >>> parse_memory_limit("lots")
    Traceback (most recent call last):
      ...
    ValueError: memory_limit='lots' is not understood: pass None, a number of bytes (int), a string like '6GB', '512MiB' or '75%' (of the machine's memory)
    """
    if value is None:
        return None
    number = None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):  # numpy's too
        number = float(value)
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*(%|[KMGT]?I?B?)\s*", value.upper())
        if match and match.group(2) == "%":
            if 0 < float(match.group(1)) <= 100:
                if total is None:
                    import psutil

                    total = psutil.virtual_memory().total
                return int(total * float(match.group(1)) / 100)
        elif match and match.group(2) in _UNITS:
            number = float(match.group(1)) * _UNITS[match.group(2)]
    if number is None or not 0 < number < float("inf"):  # NaN fails both
        raise ValueError(f"memory_limit={value!r} is not understood: pass {_FORMS}")
    return int(number)


@dataclass(slots=True)
class Budget:
    """The admission state of one run (see the module docstring).

    ``need`` maps each node to its ``(bytes, cores)``; ``release`` is what
    the loop calls when a buffer's last reader finished (None: nothing is
    released); ``policy`` is the admission rule, :func:`first_fit` by default.
    ``gates`` is False when the budget only counts (no limit, one core per
    node, the default policy): then every free worker takes the best ready
    node, as without a budget.

    Examples
    --------
    >>> b = Budget(limit=100, cores=2, need={"a": (60, 1), "b": (50, 1), "c": (30, 1)})
    >>> first_fit(["a", "b", "c"], 2, b)  # b does not fit beside a: c does
    ['a', 'c']
    >>> b.start("a"); b.start("c"); b.used, b.busy, b.peak
    (90, 2, 90)
    >>> b.finish("a"); first_fit(["b"], 1, b)
    ['b']
    """

    limit: int | None
    cores: int
    need: dict
    idle: int = 0
    live: int = 0
    used: int = 0
    busy: int = 0
    peak: int = 0
    running: dict = field(default_factory=dict)
    liveness: object = None
    release: object = None
    policy: object = None
    gates: bool = True

    def start(self, key) -> None:
        """``key`` starts: its estimates count until it finishes."""
        mem, cores = self.need.get(key, (0, 1))
        cores = min(cores, self.cores)
        self.running[key] = (mem, cores)
        self.used += mem
        self.busy += cores
        self.peak = max(self.peak, self.idle + self.live + self.used)

    def finish(self, key) -> None:
        """``key`` finished: drop its estimates; release buffers it was the last to touch."""
        mem, cores = self.running.pop(key, (0, 0))
        self.used -= mem
        self.busy -= cores
        if self.liveness is not None:
            for name, nbytes in self.liveness.finish(key):
                if self.release is None or self.release(name):
                    self.live -= nbytes

    def admit(self, ready: list, slots: int) -> list:
        """The keys of ``ready`` (best first) to start on ``slots`` free workers."""
        return (self.policy or first_fit)(ready, slots, self)


def _fits(mem: int, cores: int, room, free_cores: int) -> bool:
    return (room is None or mem <= room) and cores <= free_cores


def first_fit(ready: list, slots: int, budget: Budget) -> list:
    """The nodes of ``ready`` (in the strategy's order) that start now: every one that fits.

    Pure: reads ``budget``, changes nothing. A node that does not fit is
    skipped and the next tried; when nothing runs, the first node starts
    even if it does not fit (alone, with a :class:`MemoryBudgetWarning`).

    Examples
    --------
    >>> b = Budget(limit=100, cores=4, need={"big": (150, 1), "a": (40, 1), "b": (40, 1)})
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     first_fit(["big", "a", "b"], 4, b)
    ['big']
    >>> str(caught[0].message)
    "node 'big' needs an estimated 150 bytes, over memory_limit=100 even alone (the job's buffers and idle processes hold 0): it runs alone"
    >>> first_fit(["a", "b"], 1, b)  # one free worker
    ['a']
    """
    chosen: list = []
    if slots <= 0:
        return chosen
    room = None if budget.limit is None else budget.limit - budget.idle - budget.live - budget.used
    free_cores, need, most = budget.cores - budget.busy, budget.need, budget.cores
    for key in ready:
        mem, cores = need.get(key, (0, 1))
        cores = min(cores, most)  # more threads than cores: it takes them all
        if _fits(mem, cores, room, free_cores):
            chosen.append(key)
            if room is not None:
                room -= mem
            free_cores -= cores
            if len(chosen) == slots:
                break
        elif not chosen and not budget.running:
            _warn_alone(key, mem, budget)  # not even alone: never starve it
            return [key]
    return chosen


def all_or_sequential(ready: list, slots: int, budget: Budget) -> list:
    """AutoGluon's rule, for benchmarks: every ready node at once if all fit, else one at a time.

    Examples
    --------
    >>> b = Budget(limit=100, cores=4, need={"a": (40, 1), "b": (40, 1), "c": (40, 1)})
    >>> all_or_sequential(["a", "b"], 4, b), all_or_sequential(["a", "b", "c"], 4, b)
    (['a', 'b'], ['a'])
    >>> all_or_sequential(["a", "b", "c"], 2, Budget(limit=None, cores=2, need=b.need))
    ['a', 'b']
    """
    if slots <= 0:
        return []
    if budget.limit is None or sum(budget.need.get(k, (0, 1))[0] for k in ready) <= (
            budget.limit - budget.idle - budget.live - budget.used):  # fmt: skip
        return first_fit(ready, slots, budget)  # everything fits at once: in parallel
    if budget.running:
        return []
    return first_fit(ready[:1], 1, budget)


def _warn_alone(key, mem: int, budget: Budget) -> None:
    floor = budget.idle + budget.live
    if budget.limit is None or mem <= budget.limit - floor or budget.limit <= floor:
        return  # only the cores were short, or make_budget warned once for the whole run
    warn_at_caller(
        f"node {key!r} needs an estimated {mem:,} bytes, over memory_limit={budget.limit:,} "
        f"even alone (the job's buffers and idle processes hold {budget.idle + budget.live:,})"
        f": it runs alone", MemoryBudgetWarning)  # fmt: skip


def node_needs(graph, memory=None) -> dict:
    """``{key: (bytes, cores)}`` of every node: ``memory`` overrides the nodes' ``memory``.

    Examples
    --------
    >>> from foldgraph.graph import TaskGraph
    >>> g = TaskGraph()
    >>> g.add_node("a", memory=100, cores=2); g.add_node("b")
    >>> node_needs(g), node_needs(g, {"b": 7})
    ({'a': (100, 2), 'b': (0, 1)}, {'a': (100, 2), 'b': (7, 1)})
    """
    attrs, need = graph.attrs, {}
    for key in graph.nx:
        a = attrs(key)
        mem = a.get("memory", 0) if memory is None else memory.get(key, a.get("memory", 0))
        need[key] = (int(mem or 0), max(int(a.get("cores", 1) or 1), 1))
    return need


def make_budget(graph, limit, cores: int, keep=None, release=None, idle=0, memory=None,
                policy=None, min_bytes: int = MIN_RELEASE, count: bool = False, done=()):  # fmt: skip
    """The :class:`Budget` of a run of ``graph``, or None when admission is the plain loop's.

    None when there is no limit, every node takes one core and no buffer
    is released early (``keep`` None: every buffer is kept): the loop then
    takes its fast path (unless ``count``: the simulator counts its peak).
    ``idle`` is bytes or a callable measuring them (called only when a
    budget is made); ``memory`` (``{key: bytes}``) overrides the nodes'
    ``memory`` attributes. ``done``: cache hits (a buffer only they touch goes at once).

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph import FoldIndex, Learner, map_graph
    >>> from foldgraph.testing import OLS
    >>> g = map_graph(Learner(OLS(), FoldIndex(2), name="ols"), "fit", X=np.ones((4, 2)), y=np.ones(4))
    >>> make_budget(g, None, 2) is None, make_budget(g, 10**6, 2).live
    (True, 128)
    """
    liveness = None if keep is None else Liveness(graph, keep, min_bytes, done)
    unread = [] if liveness is None else liveness.unread()
    releases = liveness is not None and bool(liveness.touches or unread)
    gates = (limit is not None or policy is not None
             or any(c != 1 for _, c in graph.nx.nodes(data="cores", default=1)))  # fmt: skip
    if not gates and not releases and not count:
        return None  # the fast path: nothing to count, one pass over the nodes spent
    need = node_needs(graph, memory)
    live = sum(nbytes(spec) for spec in graph.buffers.values())
    budget = Budget(limit, max(int(cores), 1), need, idle=idle() if callable(idle) else idle,
                    live=live, liveness=liveness if releases else None, release=release,
                    policy=policy, gates=gates)  # fmt: skip
    for name, size in unread:  # restored by cache hits, read by no node that runs
        if release is None or release(name):
            budget.live -= size
    budget.peak = budget.idle + budget.live
    if limit is not None and limit <= budget.peak:
        warn_at_caller(
            f"memory_limit={limit:,} bytes is below what the run holds before any node runs "
            f"(idle processes {budget.idle:,} + buffers {budget.live:,}): every node runs "
            f"alone; raise the limit", MemoryBudgetWarning)  # fmt: skip
    return budget


def pick(state, n: int, graph=None, select=None) -> list[str]:
    """Pop up to ``n`` ready nodes, best priority first (or as ``select`` orders them).

    Parameters
    ----------
    state : RunState
    n : int
        Free workers.
    graph : TaskGraph, optional
        Passed to ``select``.
    select : callable, optional
        A strategy's ``select(ready, graph, state)``: the ready keys (in
        priority order) to run now, best first.

    Raises
    ------
    ValueError
        ``select`` returned no key, or a key that is not ready.

    Examples
    --------
    >>> import networkx as nx
    >>> from foldgraph.engine.scheduler import start_state, finish
    >>> state = start_state(nx.DiGraph([("a", "c"), ("b", "c")]), {"a": 1, "b": 0, "c": 2})
    >>> pick(state, 1), [key for *_, key in state.ready]
    (['b'], ['a'])
    >>> state = start_state(nx.DiGraph([("a", "c"), ("b", "c")]), {"a": 1, "b": 0, "c": 2})
    >>> pick(state, 2, select=lambda ready, graph, state: sorted(ready, reverse=True))
    ['b', 'a']
    """
    n = min(n, len(state.ready))
    if n <= 0:
        return []
    if select is None:
        return [heapq.heappop(state.ready)[-1] for _ in range(n)]
    chosen = _ordered(state, graph, select)[:n]
    _take(state, chosen)
    return chosen


def _ordered(state, graph, select) -> list[str]:
    """Every ready key, best first: by priority, or as ``select`` orders them."""
    ready = [key for *_, key in sorted(state.ready)]
    if select is None:
        return ready
    chosen = list(select(list(ready), graph, state))
    unknown = [k for k in chosen if k not in ready]
    if unknown or not chosen:
        raise ValueError(
            f"strategy returned {unknown or chosen!r}, expected keys among the ready "
            f"nodes {ready!r}"
        )
    return chosen


def _take(state, chosen: list) -> None:
    """Remove ``chosen`` from the ready heap."""
    keep = set(chosen)
    state.ready = [item for item in state.ready if item[-1] not in keep]
    heapq.heapify(state.ready)


def admit(state, n: int, graph=None, select=None) -> list[str]:
    """Pick up to ``n`` ready nodes (see :func:`pick`) and mark them running.

    The loop's one admission decision, shared by :func:`run_graph` and the
    simulator (:func:`foldgraph.engine.simulate.simulate`). With a
    ``state.budget``, the nodes that fit (in the strategy's order, see
    :func:`~foldgraph.engine.admission.first_fit`) start, possibly none.

    Examples
    --------
    >>> import networkx as nx
    >>> from foldgraph.engine.scheduler import start_state, finish
    >>> state = start_state(nx.DiGraph([("a", "c"), ("b", "c")]), {"a": 1, "b": 0, "c": 2})
    >>> admit(state, 3), list(state.running)
    (['b', 'a'], ['b', 'a'])
    """
    budget = state.budget
    if budget is None:
        keys = pick(state, n, graph, select)
    elif not budget.gates:  # it only counts: the plain loop's choice
        keys = pick(state, n, graph, select)
        for key in keys:
            budget.start(key)
    else:
        keys = budget.admit(_ordered(state, graph, select), n) if state.ready else []
        _take(state, keys)
        for key in keys:
            budget.start(key)
    running = state.running
    for key in keys:
        running[key] = None
    return keys
