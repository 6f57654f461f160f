"""memory.py's budget runs (issue 19): the stacking fit under ``memory_limit``.

Not a script: ``memory.py --limits`` runs them (see its docstring). A
configuration ``foldgraph-multiprocessing-limit-<k>`` fits as
``foldgraph-multiprocessing`` does, on a ``ParallelProcessing`` of 2 worker
processes given ``memory_limit = idle + buffers + k x largest + SLACK``,
each term computed in that interpreter, just before the measured fit, from
the quantities the admission itself uses
(:mod:`foldgraph.engine.admission`):

- ``idle``: :func:`~foldgraph.engine.liveness.idle_memory` of this process
  and its descendants (PSS minus shared-memory pages), the workers started
  and idle after the warm-up fit;
- ``buffers``: the bytes of the base learners' graph's buffers (X, y and
  the two prediction columns), as ``make_budget`` counts them at the start;
- ``largest``: the largest ``memory`` estimate of that graph's nodes, as
  the limited manager's :class:`~foldgraph.engine.memmodel.MemoryModel`
  sets them before its run.

``k = 1`` is the smallest feasible limit (the largest node fits, alone);
``none`` runs the same way with no limit. The warm-up runs on a manager
without a limit; the limited manager takes the same idle workers from the
pool (:mod:`foldgraph.engine.pool`), so both share the workers measured.
"""

from __future__ import annotations

from _common import markdown_table, median, rnd

#: k of each budget configuration: the limit is idle + buffers + k x the largest node
LIMIT_STEPS = ("1", "1.5", "1.75", "2", "none")
LIMIT_CONFIGS = tuple(f"foldgraph-multiprocessing-limit-{k}" for k in LIMIT_STEPS)
#: what the idle memory may grow between this probe and the run's own measurement
#: (the loop measures it again when the run starts)
SLACK = 8 * 2**20
MB = 1e6


def estimators():
    """The base learners' estimators of memory.py's workload."""
    from sklearn.linear_model import Ridge
    from sklearn.tree import DecisionTreeRegressor

    return [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=6))]


def stack_fit(manager, X, y, runs: list | None = None):
    """The measured fit: base learners' out-of-fold predictions, then a meta learner.

    With ``runs``, each map's ``(graph, trace, time it ended)`` is appended to it.
    """
    import time

    import numpy as np
    from sklearn.linear_model import LinearRegression

    from foldgraph import FoldIndex, FullIndex, Learner

    base = [Learner(est, FoldIndex(5), name=name) for name, est in estimators()]
    P = manager.map(base, "fit", X, y, return_preds=[n for n, _ in estimators()])
    if runs is not None:
        runs.append((manager.graph, manager.trace, time.perf_counter()))
    Z = np.hstack(P)
    del P
    meta = Learner(LinearRegression(), FullIndex(), name="meta")
    manager.map(meta, "fit", Z, y)
    if runs is not None:
        runs.append((manager.graph, manager.trace, time.perf_counter()))
    return meta


class LimitedFit:
    """``fit(X, y)`` of a budget configuration; :meth:`arm` sets its limit after the warm-up."""

    def __init__(self, config: str):
        from foldgraph import ParallelProcessing

        self.k = config.rsplit("-", 1)[1]
        self.manager = ParallelProcessing("multiprocessing", n_jobs=2)  # the warm-up's
        self.runs: list = []
        self.limit = None
        self.terms: dict = {}

    def __call__(self, X, y):
        return stack_fit(self.manager, X, y, self.runs if self.terms else None)

    def arm(self, X, y) -> None:
        """Measure idle + buffers + the largest estimate; make the manager of the measured fit."""
        from foldgraph import FoldIndex, Learner, ParallelProcessing, map_graph
        from foldgraph.engine.liveness import idle_memory, nbytes, tree_pids

        self.manager.clear()  # its idle workers go back to the pool, for the next manager
        probe = map_graph([Learner(e, FoldIndex(5), name=n) for n, e in estimators()], "fit", X, y)
        limited = ParallelProcessing("multiprocessing", n_jobs=2)
        limited.memory.apply(probe)  # the estimates its run will use
        largest = max(probe.nx.nodes(data="memory"), key=lambda kv: kv[1])
        buffers = sum(nbytes(spec) for spec in probe.buffers.values())
        idle = idle_memory(tree_pids())
        if self.k != "none":
            self.limit = int(idle + buffers + float(self.k) * largest[1] + SLACK)
        self.manager = ParallelProcessing("multiprocessing", n_jobs=2, memory_limit=self.limit)
        self.terms = {"idle_mb": idle / MB, "buffers_mb": buffers / MB,
                      "largest_node": largest[0], "largest_mb": largest[1] / MB,
                      "slack_mb": SLACK / MB}  # fmt: skip

    def clear(self) -> None:
        self.manager.clear()

    def report(self, samples: list, t0: float) -> dict:
        """The limit, its terms, what ran at once and each node's estimate against its peak."""
        nodes, at_once, estimated = [], 0, 0
        peak_at = max(samples, key=lambda s: s[1])[0]
        for graph, trace, ended in self.runs:  # each map's times count from its own start
            spans = []
            # the map started about when its last node ended, before it returned
            began = ended - max((e.end for e in trace.events), default=0.0) - t0
            for e in trace.events:
                estimate = graph.nx.nodes[e.key].get("memory", 0)
                spans.append((e.start, e.end, estimate))
                measured = None if e.peak_bytes is None else rnd(e.peak_bytes / MB, 1)
                nodes.append({"key": e.key, "worker": e.worker, "estimate_mb": rnd(estimate / MB, 1),
                              "measured_mb": measured, "start_s": rnd(began + e.start, 2),
                              "end_s": rnd(began + e.end, 2),
                              "running_at_peak": began + e.start <= peak_at - t0 <= began + e.end})  # fmt: skip
            at_once = max(at_once, max_overlap([(a, b) for a, b, _ in spans]))
            estimated = max(estimated, max_overlap_sum(spans))
        over = [s for s in samples if self.limit is not None and s[1] > self.limit]
        return {
            "limit_k": self.k,
            "limit_mb": None if self.limit is None else self.limit / MB,
            **self.terms,
            "max_at_once": at_once,
            "estimated_peak_mb": self.terms["idle_mb"] + self.terms["buffers_mb"] + estimated / MB,
            # the base learners' map, then the meta learner's (and what happens between)
            "peak_base_map_mb": max(s[1] for s in samples if s[0] <= self.runs[0][2]) / MB,
            "peak_after_base_map_mb": max((s[1] for s in samples if s[0] > self.runs[0][2]),
                                          default=0) / MB,
            "samples_over_limit": len(over),
            "first_over_at_s": over[0][0] - t0 if over else None,
            "nodes": nodes,
        }


def max_overlap(spans) -> int:
    """Most intervals ``(start, end)`` open at one time (one ending as another starts: not both).

    >>> max_overlap([(0, 2), (1, 3), (2, 4)]), max_overlap([])
    (2, 0)
    """
    return int(max_overlap_sum([(a, b, 1) for a, b in spans]))


def max_overlap_sum(spans) -> float:
    """Largest sum of weights of intervals ``(start, end, weight)`` open at one time.

    >>> max_overlap_sum([(0, 2, 5), (1, 3, 7), (2, 4, 1)])
    12
    """
    points = sorted([(b, 0, -w) for a, b, w in spans] + [(a, 1, w) for a, b, w in spans])
    best = now = 0
    for _, _, w in points:  # ends sort before starts at the same time
        now += w
        best = max(best, now)
    return best


def limits_table(runs: dict) -> str:
    """One row per configuration of ``memory.py --limits``: every repetition's peak against
    its own limit; makespans (medians) against the unlimited and the sequential runs."""
    unlimited = median([r["fit_s"] for r in runs[LIMIT_CONFIGS[-1]]])
    sequential = median([r["fit_s"] for r in runs["foldgraph-sequential"]])
    rows = []
    for config, reps in runs.items():
        limited = [r for r in reps if r.get("limit_mb") is not None]
        fit = median([r["fit_s"] for r in reps])
        held = all(r["peak_mb"] <= r["limit_mb"] for r in limited)
        rows.append([
            "sequential backend" if config == "foldgraph-sequential"
            else f"k = {reps[0]['limit_k']}" if limited else "unlimited (2 workers)",
            " / ".join(f"{r['limit_mb']:.0f}" for r in limited) or "-",
            " / ".join(f"{r['peak_mb']:.0f}" for r in reps),
            " / ".join(f"{r['peak_anon_shmem_mb']:.0f}" for r in reps
                       if r.get("peak_anon_shmem_mb") is not None) or "-",
            ("yes" if held else "**no**") if limited else "-",
            f"{min(r['limit_mb'] - r['peak_mb'] for r in limited):.0f}" if limited else "-",
            " / ".join(str(r["max_at_once"]) for r in reps if "max_at_once" in r) or "1",
            f"{fit:.1f}", f"{fit / unlimited:.2f}", f"{fit / sequential:.2f}",
        ])  # fmt: skip
    header = ["run", "limit MB (each rep)", "peak PSS MB (each rep)",
              "peak anon+shmem MB", "peak <= limit", "least headroom MB",
              "nodes at once", "fit s (median)", "vs unlimited", "vs sequential"]  # fmt: skip
    return markdown_table(header, rows, align="lrrrlrrrrr")
