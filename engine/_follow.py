"""Followers: cheap nodes queued on a worker behind their predecessors.

Used by the scheduler loop on a backend that declares the capability
(``Backend.follow_below`` not None, :mod:`foldgraph.engine.backends`).
"""

from __future__ import annotations

from .payload import make_payload

__all__ = ["follow", "FOLLOW_FANOUT"]

#: a node with more dependents than this is not scanned for followers (a wide fan-out
#: would make every scan long; its dependents become ready together anyway)
FOLLOW_FANOUT = 8


def _slot_of(child, parents, done, placed):
    """The one worker running every unfinished predecessor of ``child``, else None."""
    slot = None
    for p in parents[child]:
        if p not in done:
            where = placed.get(p)
            if where is None or (slot is not None and where != slot):
                return None
            slot = where
    return slot


def follow(graph, state, backend, keys: list) -> list:
    """Queue cheap waiting dependents of ``keys`` behind their unfinished predecessors.

    A waiting node whose every unfinished predecessor is in flight on one
    worker can be sent to that worker now: a worker runs its nodes in the
    order received, so the predecessors are done when it starts, and the
    parent-worker round trip between the two disappears (a chain of cheap
    nodes runs back to back in one worker). Only nodes the backend calls
    cheap (cost under ``backend.follow_below`` seconds) follow, so the
    strategy still orders everything that matters; a node whose payload
    needs a predecessor's result (a ``preprocess=`` link in a fit job) does
    not. Such a node is marked running; :func:`~foldgraph.engine.scheduler.finish`
    does not make it ready again when its predecessors finish.

    ``keys`` are the nodes submitted or finished since the last call: only
    their dependents can have become followers. Returns the keys to look
    from again next time (a dependent that could follow, but its worker
    had no room).

    Examples
    --------
    A dependent costlier than ``follow_below`` waits for the loop, as usual:

    >>> import networkx as nx
    >>> from types import SimpleNamespace
    >>> from foldgraph.engine.scheduler import start_state
    >>> g = nx.DiGraph([("a", "b")])
    >>> state = start_state(g, {"a": 0, "b": 1})
    >>> state.running["a"] = None  # a was submitted to worker 0
    >>> graph = SimpleNamespace(parents=g.pred, job="fit", attrs=lambda key: {"cost": 5.0})
    >>> backend = SimpleNamespace(placed=lambda: {"a": 0}, follow_below=1.0,
    ...                           has_room=lambda slot: True)
    >>> follow(graph, state, backend, ["a"]), list(state.running)
    ([], ['a'])
    """
    placed = backend.placed()  # {in-flight key: worker slot}, kept by the backend
    below, parents, done = backend.follow_below, graph.parents, state.done
    remaining, running, attrs = state.remaining, state.running, graph.attrs
    fit, later, todo = graph.job == "fit", [], list(keys)
    while todo:  # a follower may be followed in turn: a chain fills the worker's queue
        key = todo.pop()
        children = state.dependents[key]
        if len(children) > FOLLOW_FANOUT:
            continue
        for child in children:
            if child not in remaining or child in running:
                continue
            a = attrs(child)
            if a.get("cost", below) >= below or (fit and a.get("preprocess") is not None):
                continue
            slot = _slot_of(child, parents, done, placed)
            if slot is None:
                continue
            if not backend.has_room(slot):
                later.append(key)
                break
            running[child] = None
            backend.submit(make_payload(graph, child, state), slot)
            todo.append(child)
    return later
