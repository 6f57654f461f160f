"""Which node killed a dask worker (private to :mod:`foldgraph.engine.dask_backend`).

dask's scheduler logs a ``remove-worker`` event for every worker it loses,
with the keys that were *processing* on it: the one running and the ones
queued behind it. A node that kills its worker (a segfault, ``os._exit``,
memory) is on the list of every death it causes; a node queued behind it,
or whose input was lost with the worker, is on some of them. So, counted
over every attempt of a run (:class:`Deaths`), the node on the most lists
is the culprit, once it leads alone (:func:`culprit`). Nodes tied for the
lead are *suspects*: the next attempt runs them one after the other, so
that the next death tells them apart.
"""

from __future__ import annotations

from collections import Counter

from foldgraph.errors import WorkerDied

from .worker import Done

__all__ = ["Deaths", "culprit", "worker_died"]


def _reader():
    """A function for ``client.run_on_scheduler``, made here so that cloudpickle ships
    it by value: the scheduler need not import foldgraph."""

    def processing_at_deaths(dask_scheduler=None, tokens=()):
        # only plain strings leave the scheduler: some events of the "all" topic hold
        # WorkerState objects, which cannot be sent to a client
        out = []
        for _, msg in dask_scheduler.get_events("all"):
            if isinstance(msg, dict) and msg.get("action") == "remove-worker" \
                    and not msg.get("expected"):  # fmt: skip
                keys = [str(k) for k in msg.get("processing-tasks", ())]
                out.append([k for k in keys if k.rpartition("@")[2] in tokens])
        return out

    return processing_at_deaths


def culprit(counts: Counter, limit: int = 1, prefer: str | None = None) -> str | None:
    """The node on its worker at the most deaths, at least ``limit``; ``prefer`` breaks a
    tie, otherwise a tie names nobody (not enough evidence yet).

    Examples
    --------
    >>> culprit(Counter({"bad/fit/full": 2, "good/fit/fold-0": 1}), limit=2)
    'bad/fit/full'
    >>> culprit(Counter({"bad/fit/full": 1, "good/fit/fold-0": 1})) is None
    True
    >>> culprit(Counter({"bad/fit/full": 1, "good/fit/fold-0": 1}), prefer="bad/fit/full")
    'bad/fit/full'
    >>> culprit(Counter({"bad/fit/full": 1}), limit=2) is None
    True
    """
    top = max(counts.values(), default=0)
    best = [key for key, n in counts.items() if n == top]
    if top < max(limit, 1):
        return None
    if len(best) == 1:
        return best[0]
    return prefer if prefer in best else None


def worker_died(key: str, n: int) -> WorkerDied:
    """The error of node ``key``, on its worker at ``n`` worker deaths."""
    return WorkerDied(
        f"{n} dask worker(s) died while running node '{key}' (out of memory or segfault?)",
        node=key,
    )


class Deaths:
    """The worker deaths of one run of a graph, over its attempts (one token each).

    Examples
    --------
    Two deaths, with ``a`` on the worker at both and ``b`` at one:

    >>> d = Deaths(client=None)
    >>> d.counts = lambda: Counter({"a/fit/full": 2, "b/fit/fold-0": 1})
    >>> d.killed("b/fit/fold-0")  # dask named b (KilledWorker): a was there more often
    ('a/fit/full', WorkerDied("2 dask worker(s) died while running node 'a/fit/full' (out of memory or segfault?)"))
    """

    def __init__(self, client):
        self.client = client
        self.tokens: set[str] = set()
        self.suspects: set[str] = set()
        self._last: str | None = None

    def attempt(self, token: str) -> None:
        """A new attempt, whose dask keys are ``<node key>@<token>``."""
        self.tokens.add(token)
        self._last = None

    def after(self, key: str, futures: dict) -> list:
        """What node ``key`` waits for besides its inputs: the suspect submitted before it."""
        if key not in self.suspects:
            return []
        last, self._last = self._last, key
        return [] if last is None else [futures[last]]

    def counts(self) -> Counter:
        """``{node key: deaths of workers it was processing on}``; empty if the scheduler
        cannot say. Block extractions (``<node>#block``) only copy rows: left out."""
        try:
            lists = self.client.run_on_scheduler(_reader(), tokens=tuple(self.tokens))
        except Exception:  # noqa: BLE001 - a scheduler that refuses to run functions
            return Counter()
        counts: Counter = Counter()
        for keys in lists:
            counts.update(node for node in {k.rpartition("@")[0] for k in keys} if "#" not in node)
        return counts

    def killed(self, named: str) -> tuple[str, WorkerDied]:
        """The node to blame, and its error, when dask gave up on node ``named``
        (``KilledWorker``): the node on the most dead workers, ``named`` in a tie."""
        counts = self.counts()
        key = culprit(counts, prefer=named) or named
        return key, worker_died(key, max(counts[key], 1))

    def blame(self, limit: int, last: bool = False) -> Done | None:
        """After an attempt lost its inputs with a worker: the failed :class:`Done` (a
        :class:`WorkerDied`, which the scheduler loop turns into the TaskError naming task
        and node) of the node that was on its worker at the most deaths, at least
        ``limit`` (1 when ``last``: a suspect beats a node whose input was lost); None if
        none leads, the nodes tied for the lead becoming suspects."""
        counts = self.counts()
        key = culprit(counts, 1 if last else limit)
        if key is None:
            top = max(counts.values(), default=0)
            self.suspects = {k for k, n in counts.items() if n == top > 0}
            return None
        return Done(key, None, worker_died(key, counts[key]), "", 0, 0, 0.0, 0.0)
