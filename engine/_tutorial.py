"""The "Parallel Mechanics" tutorial's calls: ``map`` and ``stack`` are ``initialize``
followed by ``process`` (private to :mod:`foldgraph.engine.manager`).

A base class of :class:`~foldgraph.engine.manager.ParallelProcessing`, which
provides the job, the lock, the dtype and ``_execute``.
"""

from __future__ import annotations

from foldgraph.graph.builders import map_graph, stack_graph

from ._options import out_of, return_preds_of
from .job import Job

__all__ = ["TutorialAPI"]


class TutorialAPI:
    """``map``, ``stack``, ``initialize`` and ``process`` of a manager."""

    def map(self, caller, job: str, X, y=None, return_preds=False, **kw):
        """Run independent tasks (each reads ``X``); see :func:`~foldgraph.graph.map_graph`.

        Returns
        -------
        None, ndarray or list of ndarray
            Per ``return_preds``: nothing, the last task's predictions, or
            one array per named task, in the order given.
        """
        with self._lock:  # initialize + process: one run, never interleaved with another
            out = self.initialize(job, X, y, return_preds=return_preds, stack=False, **kw)
            return self.process(caller, out)

    def stack(self, caller, job: str, X, y=None, return_preds=False, split=True, **kw):
        """Run tasks in sequence, each learner reading the previous one's output."""
        with self._lock:
            out = self.initialize(
                job, X, y, return_preds=return_preds, stack=True, split=split, **kw
            )
            return self.process(caller, out)

    def initialize(
        self, job: str, X, y=None, path=None, return_preds=False, stack=False, split=True
    ) -> dict:
        """Set the job (data and options) and return the ``out`` mapping for :meth:`process`.

        Returns
        -------
        dict
            ``{}`` (no output), ``{"return_final": True}`` or
            ``{"return_final": False, "return_names": [...]}``.
        """
        new = Job(job, X, y, stack=stack, split=split, path=path,
                  return_preds=return_preds)  # fmt: skip
        with self._lock:
            self.job = new
        return out_of(return_preds)

    def process(self, caller, out: dict):
        """Build the graph of ``caller`` for the initialized job and run it."""
        with self._lock:
            if self.job is None:
                raise RuntimeError(
                    "the manager is not initialized: call initialize(job, X, y) before process"
                )
            job = self.job
            if job.stack:
                graph = stack_graph(caller, job, split=job.split, dtype=self._dtype)
            else:
                graph = map_graph(caller, job, dtype=self._dtype)
            return self._execute(graph, job, return_preds_of(out))
