"""The random families of families.py: random layered DAGs, and independent stacks.

Not a script: ``families.py`` registers them (see its docstring).
"""

from __future__ import annotations

import numpy as np
from _families_base import Sleep, SleepTransformer, finish, make_data
from _families_costs import load_costs

from foldgraph.graph.builders import gc_paused

RANDOM_KINDS = ("ridge", "lasso", "knn", "tree", "svr", "mlp", "hgb", "forest", "gbm")


def random_structure(n_layers, width, p_edge, skew, seed, costs):
    """Layers of task names, each task's parents and its kind-and-skew seconds."""
    rng = np.random.default_rng(seed)
    table = np.array([costs[k] for k in RANDOM_KINDS])
    layers, parents, seconds = [], {}, {}
    for i in range(n_layers):
        names = [f"r{i:02d}-{j:03d}" for j in range(width)]
        secs = table[rng.integers(len(RANDOM_KINDS), size=width)]
        if skew > 0:
            secs = secs * np.exp(rng.normal(0.0, skew, size=width))
        seconds.update(zip(names, secs.tolist()))
        if i == 0:
            parents.update((name, []) for name in names)
            layers.append(names)
            continue
        prev = layers[-1]
        perm = rng.permutation(width)  # every buffer of layer i - 1 is read once
        n_extra = rng.binomial(width - 1, p_edge, size=width) if p_edge > 0 else [0] * width
        for j, name in enumerate(names):
            extra = []
            if n_extra[j]:  # each other task of layer i - 1 with probability p_edge
                others = rng.choice(width - 1, size=n_extra[j], replace=False)
                extra = [prev[k if k < perm[j] else k + 1] for k in sorted(others.tolist())]
            parents[name] = [prev[perm[j]]] + extra
        layers.append(names)
    return layers, parents, seconds


def random_layered(n_layers: int = 10, width: int = 48, p_edge: float = 0.02, rows: int = 400,
                   skew: float = 1.0, work: float | None = 100.0, seed: int = 0,
                   costs: dict | None = None, runnable: bool = True,
                   name: str = "random"):  # fmt: skip
    """A random layered DAG of one-node tasks (``Learner(Sleep, FullIndex())``).

    Layer 0 reads X; the tasks of layer ``i`` read the output buffers of
    layer ``i - 1`` in a random permutation (an edge each; a buffer is live
    from its writer's start to its reader's end, the last layer's until the
    end) and also wait for each other task of layer ``i - 1`` with
    probability ``p_edge`` (an ordering edge, no data). The last layer's
    tasks are sinks that write nothing (Transformers: like the full fits of
    an ensemble), so the live bytes are those of intermediate buffers.
    Costs: a random estimator kind per task times a lognormal factor.
    Nodes: ``n_layers x width``.

    ``runnable=False`` adds the same nodes with ``TaskGraph.add_node`` (reads,
    writes and buffers included, so memory is tracked): about 20x faster to
    build, for simulation only (the scale check).
    """
    costs = costs or load_costs()
    layers, parents, seconds = random_structure(n_layers, width, p_edge, skew, seed, costs)
    X, y = make_data(rows, seed=seed)
    params = dict(n_layers=n_layers, width=width, p_edge=p_edge, rows=rows, skew=skew,
                  seed=seed)  # fmt: skip
    factor = 1.0 if work is None else work / sum(seconds.values())
    full = ((0, rows),)
    sinks = set(layers[-1]) if n_layers > 1 else set()
    with gc_paused():  # as the builders do: no cycles, and full collections cost
        return build_random(layers, parents, seconds, sinks, factor, full, X, y, rows, work,
                             name, params, runnable)  # fmt: skip


def build_random(layers, parents, seconds, sinks, factor, full, X, y, rows, work, name,
                  params, runnable):  # fmt: skip
    from foldgraph import FullIndex, Learner, Transformer
    from foldgraph.graph import TaskGraph
    from foldgraph.graph.nodes import BufferSpec

    if not runnable:
        graph = TaskGraph("fit")
        for layer in layers:
            for task in layer:
                out, src = f"P:{task}", parents[task][:1]
                writes = ()
                if task not in sinks:
                    graph.buffers[out] = BufferSpec(out, (rows, 1), "float64")
                    writes = ((out, full, (0, 1)),)
                reads = ((f"P:{src[0]}" if src else "X", full, None),)
                graph.add_node(f"{task}/fit/full", task=task,
                               kind="transformer" if task in sinks else "learner", op="fit",
                               fold="full", train=full, test=full, reads=reads, writes=writes,
                               cost=seconds[task] * factor, cost_source="family")  # fmt: skip
                for p in parents[task]:
                    graph.add_edge(f"{p}/fit/full", f"{task}/fit/full")
        graph.family = {"name": name, **params}
        return graph
    graph = TaskGraph("fit", X=X, y=y)
    for layer in layers:
        for task in layer:
            src = parents[task][:1]
            if task in sinks:
                node = Transformer(SleepTransformer(seconds[task], rows), FullIndex(), name=task)
            else:
                node = Learner(Sleep(seconds[task], rows), FullIndex(), name=task)
            graph.add_task(node, input=f"P:{src[0]}" if src else "X")
            for p in parents[task][1:]:
                graph.add_edge(f"{p}/fit/full", f"{task}/fit/full", via="order")
    graph.validate()
    return finish(graph, work, name, params)


def independent_stacks(n_stacks: int = 48, depth: int = 10, rows: int = 400, skew: float = 1.0,
                       work: float | None = 100.0, seed: int = 0, costs: dict | None = None,
                       runnable: bool = True):  # fmt: skip
    """``n_stacks`` independent chains of ``depth`` one-node tasks (a random layered DAG
    with no cross edges): many small stacks in one graph, where the order of the
    ready nodes decides how many intermediate buffers are live at once.
    """
    return random_layered(n_layers=depth, width=n_stacks, p_edge=0.0, rows=rows, skew=skew,
                          work=work, seed=seed, costs=costs, runnable=runnable,
                          name="stacks")  # fmt: skip
