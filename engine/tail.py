"""The tail of a run: idle cores go to the node on the critical path.

At the end of a run (or of a narrow stretch of the graph) fewer nodes are
ready than cores are free. When, in addition, no other node can become
ready before the longest running node ends, the free cores would stay idle
until then: :func:`tail_threads` gives them to the ready node with the
largest bottom level (the head of the longest remaining chain), raising its
threads. Only a node whose threads foldgraph may set is raised (its
``threads`` attribute is not None, see
:func:`~foldgraph.graph.resources.set_cores`: with ``threads="safe"``
forests and k-NN, whose results do not depend on their thread count).

Plain data in, plain data out, so the scheduler loop and the simulator call
the same function:

- ``ready``  :: {key: cores} the ready nodes about to start, with the cores
  each takes as granted;
- ``ends``   :: {key: float} expected end (start + cost) of each running node;
- ``free``   :: int          free cores now;
- ``levels`` :: {key: float} bottom levels (``TaskGraph.bottom_level()``);
- ``next_ready`` :: float    earliest time another node can become ready
  (:func:`earliest_ready`; ``math.inf`` when none can).

How much faster a node runs with more threads is :func:`speedup`, from the
figures of :data:`SPEEDUPS` measured on the reference machine.
"""

from __future__ import annotations

import heapq
import math

from .speedups import SPEEDUPS, family_of, scaled_cost, speedup

__all__ = ["SPEEDUPS", "family_of", "speedup", "earliest_ready", "waiting_frontier",
           "tail_threads", "grant_tail", "scaled_cost", "loop_grants", "Tail"]  # fmt: skip

def earliest_ready(waiting: dict, ends: dict, costs: dict, now: float) -> float:
    """Earliest time one of the ``waiting`` nodes can become ready.

    ``waiting`` maps a node to its unfinished predecessors; a running one
    ends at ``ends[p]``, a ready one (about to start) at ``now + costs[p]``
    at the earliest; a node with any other unfinished predecessor waits for
    a chain longer than that, and is not counted (``math.inf``).

    Examples
    --------
    >>> earliest_ready({"c": ["a"], "d": ["a", "b"]}, {"a": 5.0}, {"b": 1.0}, now=2.0)
    5.0
    >>> earliest_ready({"d": ["x"]}, {"a": 5.0}, {}, now=2.0)
    inf
    """
    best = math.inf
    for preds in waiting.values():
        at = now
        for p in preds:
            if p in ends:
                at = max(at, ends[p])
            elif p in costs:
                at = max(at, now + costs[p])
            else:
                at = math.inf
                break
        best = min(best, at)
    return best


def waiting_frontier(state, parents: dict, starting=()) -> dict:
    """``{node: its unfinished predecessors}`` for the waiting children of the
    running nodes of a :class:`~foldgraph.engine.scheduler.RunState` and of
    ``starting`` (the ready nodes about to start): the input of :func:`earliest_ready`.

    ``parents`` is the graph's predecessor adjacency (``TaskGraph.parents``).

    Examples
    --------
    >>> import networkx as nx
    >>> from foldgraph.engine.scheduler import admit, start_state
    >>> g = nx.DiGraph([("a", "c"), ("b", "c"), ("c", "d")])
    >>> state = start_state(g, dict.fromkeys(g, 0))
    >>> admit(state, 1)
    ['a']
    >>> waiting_frontier(state, g.pred, starting=["b"])
    {'c': ['a', 'b']}
    """
    found: dict = {}
    for key in (*state.running, *starting):
        for child in state.dependents[key]:
            if child in state.remaining and child not in found:
                found[child] = [p for p in parents[child] if p not in state.done]
    return found


def tail_threads(ready: dict, ends: dict, free: int, levels: dict, next_ready: float,
                 now: float = 0.0, raisable=None, costs=None, speed=None) -> dict:  # fmt: skip
    """Give the free cores to the critical ready node, at the tail; returns ``{key: threads}``.

    When the ``ready`` nodes take fewer cores than are ``free`` and no other
    node becomes ready (``next_ready``) before the longest running node
    ends (``max(ends)``, or ``now`` when none runs), the ready node with the
    largest bottom level in ``levels`` among ``raisable`` (default: all) is
    given its cores plus the spare ones. Otherwise ``{}``: nothing changes.

    Given ``costs`` (``{key: seconds}`` on their cores) and ``speed``
    (``speed(key, threads)``), the spare cores are shared out instead, one
    at a time, to the candidate whose chain (its duration on its threads
    plus the rest of its bottom level) ends last, as long as one more core
    makes it faster: on many cores every ready chain shortens, not one.

    Examples
    --------
    One forest fold left while a ridge ends at t=3, two cores free, nothing
    else to come: the forest takes both.

    >>> tail_threads({"rf/fit/full": 1}, {"ridge/fit/full": 3.0}, free=2,
    ...              levels={"rf/fit/full": 9.0}, next_ready=math.inf)
    {'rf/fit/full': 2}

    A node becomes ready at t=1, before the running one ends at t=3: the
    spare core waits for it.

    >>> tail_threads({"rf/fit/full": 1}, {"ridge/fit/full": 3.0}, free=2,
    ...              levels={"rf/fit/full": 9.0}, next_ready=1.0)
    {}

    Eight free cores, two ready chains of 8 and 4 seconds, linear speed-ups:
    the longer chain gets the larger share (both end near 8 / 5.3).

    >>> tail_threads({"a": 1, "b": 1}, {}, free=8, levels={"a": 8.0, "b": 4.0},
    ...              next_ready=math.inf, costs={"a": 8.0, "b": 4.0}, speed=lambda k, t: t)
    {'a': 5, 'b': 3}
    """
    taken = sum(ready.values())
    if not ready or free <= taken:
        return {}
    if next_ready < max(ends.values(), default=now):
        return {}
    candidates = [k for k in ready if raisable is None or k in raisable]
    if not candidates:
        return {}
    if costs is not None and speed is not None:
        return _fill(ready, free - taken, candidates, levels, costs, speed)
    best = max(candidates, key=lambda k: levels.get(k, 0.0))  # first of equals: ready order
    return {best: ready[best] + free - taken}


def _fill(ready: dict, spare: int, candidates: list, levels: dict, costs: dict, speed) -> dict:
    """Spare cores one at a time to the candidate whose chain ends last (its duration on
    its threads plus the rest of its bottom level), while one more core speeds it up."""
    threads = dict(ready)

    def chain(key):  # relative to now: its own duration on its threads + what follows it
        own = costs[key] * speed(key, ready[key]) / speed(key, threads[key])
        return own + levels.get(key, costs[key]) - costs[key]

    heap = [(-chain(k), i, k) for i, k in enumerate(candidates)]  # ties: ready order
    heapq.heapify(heap)
    while spare > 0 and heap:
        _, i, key = heapq.heappop(heap)
        if speed(key, threads[key] + 1) <= speed(key, threads[key]):
            continue  # no gain: the core goes to the next chain
        threads[key] += 1
        spare -= 1
        heapq.heappush(heap, (-chain(key), i, key))
    return {k: t for k, t in threads.items() if t != ready[k]}


def grant_tail(state, parents: dict, starting: dict, ends: dict, free: int, levels: dict,
               costs: dict, now: float, raisable=None, speed=None) -> dict:  # fmt: skip
    """The tail rule in one call for a loop: ``{key: threads}`` for the nodes ``starting``.

    ``starting`` maps the ready nodes admitted now to the cores each takes;
    ``free`` is the free cores before them; ``costs`` holds (at least) their
    expected durations. Builds the frontier (:func:`waiting_frontier`), its
    earliest ready time (:func:`earliest_ready`) and applies
    :func:`tail_threads`.

    Examples
    --------
    ``a`` runs until t=5; ``e`` (critical) and ``b`` start now on 4 free cores;
    ``b``'s child ``d`` would be ready at t=1, before ``a`` ends: no tail.

    >>> import networkx as nx
    >>> from foldgraph.engine.scheduler import admit, start_state
    >>> g = nx.DiGraph([("a", "c"), ("b", "d")]); g.add_node("e")
    >>> state = start_state(g, {"a": 0, "b": 1, "e": 2, "c": 3, "d": 4})
    >>> admit(state, 3)
    ['a', 'b', 'e']
    >>> levels = {"a": 6.0, "b": 2.0, "e": 9.0}
    >>> grant_tail(state, g.pred, {"b": 1, "e": 1}, {"a": 5.0}, 4, levels,
    ...            {"b": 1.0, "e": 9.0}, now=0.0)
    {}

    Had ``b`` started earlier, ending with ``a`` at t=5, ``e`` alone would start
    on 2 free cores, and nothing could be ready before t=5: ``e`` takes both.

    >>> grant_tail(state, g.pred, {"e": 1}, {"a": 5.0, "b": 5.0}, 2, levels, {"e": 9.0},
    ...            now=0.0)
    {'e': 2}
    """
    if not starting or sum(starting.values()) >= free:  # the common case: no frontier walk
        return {}
    waiting = waiting_frontier(state, parents, starting)
    running = {k: t for k, t in ends.items() if k not in starting}
    soon = earliest_ready(waiting, running, {k: costs[k] for k in starting}, now)
    return tail_threads(starting, running, free, levels, soon, now, raisable,
                        costs if speed is not None else None, speed)  # fmt: skip


def loop_grants(graph, state, keys, ends: dict, free: int, levels: dict, now: float,
                raisable=None, speed=None) -> dict:  # fmt: skip
    """:func:`grant_tail` for the nodes ``keys`` a loop just admitted, read off ``graph``.

    Their cores, costs and whether they may be raised come from the node
    attributes (``cores``, ``cost``, ``threads``: see
    :func:`~foldgraph.graph.resources.set_cores`); ``free`` is the free cores
    before the admission; ``raisable`` (default: the nodes whose ``threads``
    is not None) the nodes that may be raised. A raised node holds its extra cores in
    ``state.budget`` (:class:`~foldgraph.engine.admission.Budget`), if any,
    until it finishes.

    Examples
    --------
    >>> import networkx as nx
    >>> from types import SimpleNamespace
    >>> from foldgraph.engine.scheduler import admit, start_state
    >>> g = nx.DiGraph(); g.add_node("rf", cores=1, cost=9.0, threads=1)
    >>> graph = SimpleNamespace(attrs=g.nodes.__getitem__, parents=g.pred)
    >>> state = start_state(g, {"rf": 0})
    >>> loop_grants(graph, state, admit(state, 2), {}, 2, {"rf": 9.0}, now=0.0)
    {'rf': 2}
    """
    attrs = {k: graph.attrs(k) for k in keys}
    starting = {k: attrs[k].get("cores", 1) for k in keys}
    costs = {k: attrs[k].get("cost", 0.0) for k in keys}
    if raisable is None:
        raisable = {k for k in keys if attrs[k].get("threads") is not None}
    grants = grant_tail(state, graph.parents, starting, ends, free, levels, costs, now, raisable,
                        speed)  # fmt: skip
    budget = getattr(state, "budget", None)
    for key, threads in grants.items():
        if budget is not None and key in budget.running:
            mem, cores = budget.running[key]
            budget.running[key] = (mem, threads)
            budget.busy += threads - cores
    return grants


class Tail:
    """The tail rule over one run: what :func:`loop_grants` needs between admissions.

    The scheduler loop and the simulator each keep one. It remembers the
    expected end of every running node (its start plus its ``cost``, scaled
    by :func:`speedup` when raised), the cores each holds, and ``borrowed``:
    the extra cores of the raised nodes, which the caller keeps idle (that
    many free workers take no node) until those nodes end.

    Parameters
    ----------
    graph : TaskGraph or a view with ``nx``, ``attrs``, ``parents`` and ``bottom_level()``
    cores : int
        Cores the run may use.
    moldable : bool, default=False
        Whether a node without a ``threads`` attribute may be raised (the
        simulator's synthetic graphs); a node whose ``threads`` is None never is.
    speed : callable, optional
        ``speed(key, threads)``: the node's speed-up on ``threads`` (default
        :func:`speedup` of its task's estimator).

    Examples
    --------
    Two forest folds, then the full fit alone on 2 cores: it takes both, and
    one worker stays idle until it ends.

    >>> import numpy as np
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> from foldgraph import FoldIndex, Learner, map_graph
    >>> from foldgraph.engine.scheduler import admit, finish, start_state
    >>> from foldgraph.graph.resources import set_cores
    >>> g = map_graph(Learner(RandomForestRegressor(5), FoldIndex(2), name="rf"), "fit",
    ...               np.ones((8, 2)), np.ones(8))
    >>> g.add_edge("rf/fit/fold-0", "rf/fit/full"); g.add_edge("rf/fit/fold-1", "rf/fit/full")
    >>> set_cores(g, n_cpus=2, n_workers=2)
    >>> state, tail = start_state(g.nx, dict.fromkeys(g.nx, 0)), Tail(g, cores=2)
    >>> tail.start(state, admit(state, 2), now=0.0)
    {}
    >>> [(finish(state, k, None), tail.finish(k)) for k in ("rf/fit/fold-0", "rf/fit/fold-1")][-1]
    (['rf/fit/full'], None)
    >>> tail.start(state, admit(state, 2), now=1.0), tail.borrowed
    ({'rf/fit/full': 2}, 1)
    >>> tail.finish("rf/fit/full"); tail.borrowed, tail.busy
    (0, 0)
    """

    def __init__(self, graph, cores: int, moldable: bool = False, speed=None):
        attrs = graph.attrs
        self.graph, self.cores, self.speed = graph, int(cores), speed or self._family_speed
        default = 1 if moldable else None
        self.raisable = {k for k in graph.nx if attrs(k).get("threads", default) is not None}
        self.levels = graph.bottom_level() if self.raisable else {}
        self.ends: dict = {}  # running node -> expected end
        self.held: dict = {}  # running node -> (cores held, cores of its own)
        self.busy = self.borrowed = 0

    def _family_speed(self, key, threads: int) -> float:
        task = self.graph.tasks.get(self.graph.attrs(key).get("task"))
        return speedup(getattr(task, "estimator", None), threads)

    def free(self, running) -> int:
        """Free cores: the run's, less those held by the ``running`` nodes (a node the
        tail did not start, a follower queued behind its predecessor, holds one)."""
        return self.cores - self.busy - max(0, len(running) - len(self.held))

    def slots(self, slots: int, running) -> int:
        """How many of the backend's free ``slots`` may take a node: all of them, except
        while a raised node holds borrowed cores (then only the free cores)."""
        return slots if not self.borrowed else min(slots, self.free(running))

    def start(self, state, keys, now: float) -> dict:
        """Record ``keys`` (just admitted) as started at ``now``; return their grants."""
        grants = {}
        free = self.free(state.running) + len(keys)  # admit() marked them running already
        if self.raisable and len(keys) < free and not self.raisable.isdisjoint(keys):
            grants = loop_grants(self.graph, state, keys, self.ends, free, self.levels, now,
                                 self.raisable, self.speed)  # fmt: skip
        for key in keys:
            attrs = self.graph.attrs(key)
            own = attrs.get("cores", 1)
            held = grants.get(key, own)
            self.held[key] = (held, own)
            self.busy += held
            self.borrowed += held - own
            self.ends[key] = now + self.duration(key, held, own)
        return grants

    def duration(self, key, threads: int, base: int = 1) -> float:
        """The node's ``cost`` (measured on ``base`` threads) on ``threads``."""
        cost = float(self.graph.attrs(key).get("cost", 0.0))
        if threads == base:
            return cost
        return cost * self.speed(key, base) / self.speed(key, threads)

    def finish(self, key) -> None:
        """``key`` ended: its cores come back."""
        held, own = self.held.pop(key, (0, 0))
        self.busy -= held
        self.borrowed -= held - own
        self.ends.pop(key, None)
