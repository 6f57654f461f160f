"""Strategies: which ready node runs first.

A strategy maps ``(graph, n_workers)`` to ``{key: priority}``, lower first
(dask's ``order`` contract); ties break by build order, so runs are
deterministic. Built-in: ``"fifo"`` (build order), ``"lpt"`` (longest
processing time first), ``"critical_path"`` (largest bottom level first),
``"memory"`` (depth-first, to keep few buffers live).
A plain callable ``fn(ready, graph, state) -> ordered keys`` is also
accepted: it is asked each time workers are free.

Strategies read a node's data through ``graph.attrs(key)`` (not
``graph.nx.nodes``): :func:`~foldgraph.engine.simulate` hands them a view
whose ``attrs`` carry the simulated costs without copying the graph.
"""

from __future__ import annotations

__all__ = ["Strategy", "FIFO", "LPT", "CriticalPath", "Memory", "STRATEGIES", "resolve",
           "selector"]


class Strategy:
    """Base of the built-in strategies: a name and static priorities.

    A subclass sets ``name`` and implements :meth:`priorities`; pass an
    instance as ``ParallelProcessing(strategy=...)``.

    Examples
    --------
    >>> from foldgraph.graph import TaskGraph
    >>> g = TaskGraph()  # a -> c, and b on its own
    >>> g.add_node("a", cost=1.0); g.add_node("b", cost=3.0); g.add_node("c", cost=2.5)
    >>> g.add_edge("a", "c")
    >>> class Alphabetical(Strategy):
    ...     name = "alphabetical"
    ...     def priorities(self, graph, n_workers=1):
    ...         return {key: i for i, key in enumerate(sorted(graph.nx))}
    >>> resolve(Alphabetical()).priorities(g)
    {'a': 0, 'b': 1, 'c': 2}
    """

    name = "strategy"

    def priorities(self, graph, n_workers: int = 1) -> dict[str, float]:
        """Return ``{key: priority}``; lower runs first."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class FIFO(Strategy):
    """Build order: the order map/stack added the nodes.

    Examples
    --------
    >>> from foldgraph.graph import TaskGraph
    >>> g = TaskGraph()  # a -> c, and b on its own
    >>> g.add_node("a", cost=1.0); g.add_node("b", cost=3.0); g.add_node("c", cost=2.5)
    >>> g.add_edge("a", "c")
    >>> priority = FIFO().priorities(g)
    >>> sorted(g.nx, key=priority.get)
    ['a', 'b', 'c']
    """

    name = "fifo"

    def priorities(self, graph, n_workers: int = 1) -> dict[str, float]:
        attrs = graph.attrs
        return {k: float(attrs(k)["order"]) for k in graph.nx}


class LPT(Strategy):
    """Longest processing time first, by the nodes' ``cost``.

    Examples
    --------
    >>> from foldgraph.graph import TaskGraph
    >>> g = TaskGraph()  # a -> c, and b on its own
    >>> g.add_node("a", cost=1.0); g.add_node("b", cost=3.0); g.add_node("c", cost=2.5)
    >>> g.add_edge("a", "c")
    >>> priority = LPT().priorities(g)
    >>> sorted(g.nx, key=priority.get)
    ['b', 'c', 'a']
    """

    name = "lpt"

    def priorities(self, graph, n_workers: int = 1) -> dict[str, float]:
        attrs = graph.attrs
        return {k: -float(attrs(k).get("cost", 1.0)) for k in graph.nx}


class CriticalPath(Strategy):
    """Largest bottom level first: the node heading the longest remaining chain.

    Examples
    --------
    >>> from foldgraph.graph import TaskGraph
    >>> g = TaskGraph()  # a -> c, and b on its own
    >>> g.add_node("a", cost=1.0); g.add_node("b", cost=3.0); g.add_node("c", cost=2.5)
    >>> g.add_edge("a", "c")
    >>> priority = CriticalPath().priorities(g)  # a heads a -> c: 1 + 2.5
    >>> sorted(g.nx, key=priority.get), priority["a"]
    (['a', 'b', 'c'], -3.5)
    """

    name = "critical_path"

    def priorities(self, graph, n_workers: int = 1) -> dict[str, float]:
        return {k: -level for k, level in graph.bottom_level().items()}


class Memory(Strategy):
    """Depth-first: finish the consumers of open buffers before opening new ones.

    Priorities follow a reverse post-order of a depth-first walk started
    from the roots in build order: once a chain of tasks has started, its
    ready nodes come before those of an unrelated chain, so an output buffer
    is consumed (and could be released) before the next one is opened. This
    keeps the peak of live buffer bytes low when there are independent
    branches (e.g. several stacks in one graph). A node that no node waits
    for (a full fit, often a buffer's last reader) comes right after the
    last node it waits for, so the buffers it reads can be released early.

    Examples
    --------
    >>> from foldgraph.graph import TaskGraph
    >>> g = TaskGraph()  # a -> c, and b on its own
    >>> g.add_node("a", cost=1.0); g.add_node("b", cost=3.0); g.add_node("c", cost=2.5)
    >>> g.add_edge("a", "c")
    >>> priority = Memory().priorities(g)  # c consumes a: it comes before b
    >>> sorted(g.nx, key=priority.get)
    ['a', 'c', 'b']
    """

    name = "memory"

    def priorities(self, graph, n_workers: int = 1) -> dict[str, float]:
        g = graph.nx
        seen: set = set()
        post: list = []
        rank = {k: (graph.attrs(k).get("order", 0), k) for k in g}

        def children(node):
            return iter(sorted(g.successors(node), key=rank.__getitem__, reverse=True))

        roots = sorted((k for k in g if g.in_degree(k) == 0), key=rank.__getitem__)
        for root in reversed(roots):
            stack = [(root, children(root))]
            seen.add(root)
            while stack:
                node, pending = stack[-1]
                child = next((c for c in pending if c not in seen), None)
                if child is None:
                    post.append(node)
                    stack.pop()
                    continue
                seen.add(child)
                stack.append((child, children(child)))
        prio = {key: float(i) for i, key in enumerate(reversed(post))}
        # a sink (a full fit) is a buffer's last reader: it runs right after its last
        # input, not at the end of the walk, so the buffer can be released early
        for key in post:
            if not g.succ[key] and g.pred[key]:
                prio[key] = max(prio[p] for p in g.pred[key]) + 0.5
        return prio


STRATEGIES = {cls.name: cls for cls in (FIFO, LPT, CriticalPath, Memory)}


class _Callable(Strategy):
    """Wraps a user function ``fn(ready, graph, state) -> ordered keys``."""

    name = "callable"

    def __init__(self, fn):
        self.select = fn

    def priorities(self, graph, n_workers: int = 1) -> dict[str, float]:
        return FIFO().priorities(graph, n_workers)

    def __repr__(self) -> str:
        return f"strategy {getattr(self.select, '__name__', self.select)!r}"


def resolve(strategy) -> Strategy:
    """Turn a name, a Strategy object or a callable into a Strategy.

    Raises
    ------
    ValueError
        An unknown name; the message lists the valid ones.

    Examples
    --------
    >>> resolve("lpt")
    LPT()
    """
    if isinstance(strategy, str):
        if strategy not in STRATEGIES:
            raise ValueError(
                f"unknown strategy {strategy!r}: choose one of "
                f"{', '.join(map(repr, STRATEGIES))}, or pass a callable "
                f"fn(ready, graph, state) -> ordered keys"
            )
        return STRATEGIES[strategy]()
    if hasattr(strategy, "priorities"):
        return strategy
    if callable(strategy):
        return _Callable(strategy)
    raise ValueError(
        f"strategy must be a name ({', '.join(map(repr, STRATEGIES))}), a Strategy "
        f"or a callable, got {type(strategy).__name__}"
    )


def selector(strategy):
    """The strategy's run-time ``select(ready, graph, state)``, or None for static priorities.

    A strategy asked at run time orders every ready node itself (the loop
    queues no follower behind its back).

    Examples
    --------
    >>> selector(resolve("lpt")) is None
    True
    >>> selector(resolve(lambda ready, graph, state: ready))(["a", "b"], None, None)
    ['a', 'b']
    """
    return getattr(strategy, "select", None)
