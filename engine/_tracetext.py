"""The text of :meth:`foldgraph.engine.trace.Trace.summary` (private to the trace).

Kept apart from :mod:`foldgraph.engine.trace` so each module stays short;
works on any object with the Trace's attributes (events, hits, n_workers,
makespan, ...), so it imports nothing of the trace.
"""

from __future__ import annotations

__all__ = ["summary_text", "mib"]


def summary_text(trace, slowest: int = 5) -> str:
    """The summary of ``trace`` (see :meth:`~foldgraph.engine.trace.Trace.summary`)."""
    n = len(trace.events)
    hits = f"{len(trace.hits)} node{'s' * (len(trace.hits) != 1)} restored from the cache"
    if not n:
        return f"0 nodes on {trace.n_workers} workers: nothing ran" + (
            f" ({hits})" if trace.hits else "")
    span = trace.makespan
    scale, unit = (1.0, "s") if span >= 0.1 else (1e3, "ms")

    def t(seconds: float) -> str:
        return f"{seconds * scale:.3f} {unit}"

    chain, path = trace.critical_path()
    if trace.predecessors is None:
        path_text = f"longest node {t(path)} (graph unknown)"
    else:
        path_text = f"critical path {t(path)} ({len(chain)} node{'s' * (len(chain) != 1)})"
    bound = trace.work / max(trace.n_workers, 1)
    lines = [
        f"{n} nodes on {trace.n_workers} worker{'s' * (trace.n_workers != 1)}"
        + (f", {hits} (not run)" if trace.hits else ""),
        f"makespan    {t(span)}",
        f"ideal       {t(trace.ideal)}   {path_text}, work / workers {t(bound)}",
        f"work        {t(trace.work)}   utilization {trace.utilization:.0%}",
        f"worker  nodes {'busy ' + unit:>10} {'idle ' + unit:>10}  utilization",
    ]
    counts: dict[int, int] = {}
    for e in trace.events:
        counts[e.worker] = counts.get(e.worker, 0) + 1
    for worker, busy in trace.busy().items():
        util = busy / span if span > 0 else 0.0
        lines.append(f"{worker:>6} {counts.get(worker, 0):>6} {busy * scale:>10.3f} "
                     f"{max(span - busy, 0.0) * scale:>10.3f} {util:>12.0%}")  # fmt: skip
    lines += _memory_lines(trace.events)
    top = sorted(trace.events, key=lambda e: (-e.duration, e.key))[:slowest]
    if top:
        width = max(len(e.key) for e in top)
        lines.append("slowest nodes")
        lines += [f"  {e.key:<{width}}  {t(e.duration)}  worker {e.worker}{_peak_of(e)}"
                  for e in top]  # fmt: skip
    return "\n".join(lines)


def mib(nbytes: int) -> str:
    """Bytes as MiB with one decimal.

    >>> mib(3 * 2**20 + 2**19)
    '3.5 MiB'
    """
    return f"{nbytes / 2**20:.1f} MiB"


def _peak_of(event) -> str:
    """A slowest node's peak memory, as the summary shows it ("" if not measured)."""
    return "" if event.peak_bytes is None else f"  peak {mib(event.peak_bytes)}"


def _memory_lines(events: list) -> list[str]:
    """The summary's memory line: the run's largest node (none if no peak was measured)."""
    measured = [e for e in events if e.peak_bytes is not None]
    if not measured:
        return []
    top = max(measured, key=lambda e: (e.peak_bytes, e.key))
    return [f"memory      largest node {top.key}, peak {mib(top.peak_bytes)} "
            f"({len(measured)} of {len(events)} nodes measured)"]  # fmt: skip
