"""Trace: what ran where and when, recorded by every backend.

A :class:`TraceEvent` per node: key, task, worker, pid, start, end (seconds
on ``time.perf_counter``, relative to the run's start), and bytes moved:
``nbytes`` in all, ``bytes_read`` (input rows, targets) and
``bytes_written`` (prediction rows). The trace feeds Gantt charts, benchmarks and the cost model.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["TraceEvent", "Trace"]


class TraceEvent(NamedTuple):
    """One node's execution."""

    key: str
    task: str
    worker: int
    pid: int
    start: float
    end: float
    nbytes: int
    bytes_read: int = 0
    bytes_written: int = 0

    @property
    def duration(self) -> float:
        """Seconds the node ran."""
        return self.end - self.start


class Trace:
    """The events of one run.

    Parameters
    ----------
    n_workers : int
        Workers available to the run (for utilization).

    Examples
    --------
    >>> t = Trace(n_workers=2)
    >>> t.record(TraceEvent("a/fit/fold-0", "a", 0, 1, 0.0, 2.0, 0))
    >>> t.record(TraceEvent("a/fit/fold-1", "a", 1, 1, 0.0, 1.0, 0))
    >>> t.makespan, t.utilization
    (2.0, 0.75)
    """

    def __init__(self, n_workers: int = 1):
        self.n_workers = n_workers
        self.events: list[TraceEvent] = []

    def record(self, event: TraceEvent) -> None:
        """Append one event."""
        self.events.append(event)

    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        return f"Trace(nodes={len(self.events)}, makespan={self.makespan:.4f}s)"

    @property
    def records(self) -> list[dict]:
        """The events as a list of dicts (one per node, in completion order)."""
        return [e._asdict() | {"duration": e.duration} for e in self.events]

    @property
    def makespan(self) -> float:
        """Seconds from the first start to the last end."""
        if not self.events:
            return 0.0
        return max(e.end for e in self.events) - min(e.start for e in self.events)

    @property
    def work(self) -> float:
        """Total node seconds."""
        return sum(e.duration for e in self.events)

    @property
    def utilization(self) -> float:
        """Busy fraction of the workers over the makespan (0 to 1)."""
        span = self.makespan
        return self.work / (span * self.n_workers) if span > 0 else 0.0

    def durations(self) -> dict[str, float]:
        """Seconds per node key (a cost table for strategies)."""
        return {e.key: e.duration for e in self.events}
