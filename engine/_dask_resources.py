"""The memory budget per dask worker: node estimates asked for as dask worker resources.

A worker started with ``resources={"MEMORY": bytes}`` (``dask worker
--resources MEMORY=4e9``, or ``LocalCluster(resources=...)``) starts a task
only when the ``MEMORY`` the task asks for fits in what the tasks it runs
leave of that figure. :class:`MemoryRequests` turns each node's ``memory``
estimate (set by the :class:`~foldgraph.engine.memmodel.MemoryModel`, or by
hand) into that request, so no worker runs more nodes at once than its
budget holds. dask's scheduler places a task only on a worker whose
*declared* total covers it; a request larger than every worker's total would
wait forever in the ``no-worker`` state, so it is cut to the largest total
(the node then runs alone on such a worker) with a
:class:`~foldgraph.engine.admission.MemoryBudgetWarning` naming it, as the
loop's own admission warns of a node over ``memory_limit``.

A cluster whose workers declare no ``MEMORY`` gets no requests: the run is
gated by the loop's run-wide admission alone (``memory_limit``, see
:mod:`~foldgraph.engine.admission`), as on every backend.
"""

from __future__ import annotations

from foldgraph.errors import warn_at_caller

from .admission import MemoryBudgetWarning

__all__ = ["RESOURCE", "worker_memory", "MemoryRequests"]

#: the name of the worker resource node estimates are asked for as (bytes)
RESOURCE = "MEMORY"


def worker_memory(client) -> dict[str, float]:
    """``{worker address: its MEMORY}`` over the workers of ``client`` that declare it.

    Examples
    --------
    >>> import logging, distributed
    >>> cluster = distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=":0",
    ...                                    resources={"MEMORY": 4e9}, silence_logs=logging.ERROR)
    >>> client = distributed.Client(cluster, set_as_default=False)
    >>> list(worker_memory(client).values())
    [4000000000.0]
    >>> client.close(); cluster.close()
    """
    workers = client.scheduler_info()["workers"]
    if len(workers) < len(client.nthreads()):  # versions that list 5 workers by default
        workers = client.scheduler_info(n_workers=-1)["workers"]
    return {address: info["resources"][RESOURCE] for address, info in workers.items()
            if RESOURCE in (info.get("resources") or {})}  # fmt: skip


class MemoryRequests:
    """The ``resources=`` of each node's ``client.submit``, from the workers' ``MEMORY``.

    Parameters
    ----------
    totals : dict of str to float
        ``MEMORY`` of each worker that declares it (:func:`worker_memory`);
        empty: no request is made.

    Examples
    --------
    >>> requests = MemoryRequests({"tcp://a": 100, "tcp://b": 60})
    >>> requests("n1", 40)
    {'MEMORY': 40}
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     requests("big", 150), requests("big", 150)  # warned once per node
    ({'MEMORY': 100}, {'MEMORY': 100})
    >>> len(caught), str(caught[0].message)  # doctest: +NORMALIZE_WHITESPACE
    (1, "node 'big' needs an estimated 150 bytes, over the MEMORY resource of every
    dask worker (at most 100): it asks for 100 and runs alone on its worker")
    >>> MemoryRequests({})("n1", 40) is None
    True
    """

    def __init__(self, totals: dict):
        self.cap = max(totals.values()) if totals else None
        self.warned: set = set()  # nodes warned of (a resubmission does not warn again)

    def __call__(self, key: str, need: int) -> dict | None:
        """The request of node ``key`` estimated at ``need`` bytes (None: no request)."""
        if self.cap is None:
            return None
        need = max(int(need or 0), 0)
        if need > self.cap:
            if key not in self.warned:
                self.warned.add(key)
                warn_at_caller(
                    f"node {key!r} needs an estimated {need:,} bytes, over the {RESOURCE} "
                    f"resource of every dask worker (at most {self.cap:,.0f}): it asks for "
                    f"{self.cap:,.0f} and runs alone on its worker", MemoryBudgetWarning)  # fmt: skip
            need = self.cap
        return {RESOURCE: need}
