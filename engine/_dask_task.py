"""A node's task on a dask worker (the worker side of :mod:`foldgraph.engine.dask_backend`).

:func:`run_task` rebuilds on the worker what the node reads (a buffer
computed in the run, from its predecessors' blocks), runs the same
:func:`~foldgraph.engine.worker.execute` as every backend and returns a
:class:`NodeOutput`: the result and the block of the node's own rows, which
the client writes into the job's buffers, and the node's peak memory,
measured in the dask worker's process as on every backend
(:mod:`foldgraph.engine._peak`).
"""

from __future__ import annotations

import os
import pickle
import time
from typing import NamedTuple

import numpy as np

from foldgraph.tasks.ops import NodeResult, put

from .worker import execute

__all__ = ["NodeOutput", "NodeFailed", "run_task", "block_of"]


class NodeOutput(NamedTuple):
    """What a node's dask task returns to the client.

    Examples
    --------
    >>> NodeOutput(NodeResult(None), None, 0.0, 1.5, "tcp://127.0.0.1:40000", 1).end
    1.5
    """

    result: NodeResult
    block: np.ndarray | None
    start: float
    end: float
    address: str
    pid: int
    peak_bytes: int | None = None  # measured on the worker by execute (see engine/_peak.py)
    peak_rss: int | None = None


class NodeFailed(Exception):
    """A node's estimator raised on a dask worker: ``(key, error, traceback text)``."""

    def __init__(self, key: str, error: BaseException, tb: str):
        super().__init__(key, error, tb)
        self.key, self.error, self.tb = key, error, tb


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception as err:  # noqa: BLE001 - anything may fail to pickle
        return RuntimeError(f"{type(exc).__name__}: {exc} (could not be pickled: {err})")
    return exc


def run_task(payload, data: dict, parts: list, x_spec: tuple, out_dtype: str,
             preprocess: NodeOutput | None = None, init=None, *after) -> NodeOutput:  # fmt: skip
    """Run one node on a dask worker; return its :class:`NodeOutput`.

    ``data`` holds the scattered arrays the node reads; ``parts`` the
    ``(rows, cols, block)`` its predecessors wrote into its input buffer
    (shape and dtype ``x_spec``), which is rebuilt from them; ``preprocess``
    the output of the node that fitted its transformer; ``init`` the rows
    earlier repeats wrote where a repeated splitter's fold writes its running
    mean (None: zeros); ``after`` other nodes, only waited for. The
    predictions land in a block of the node's own rows (dtype ``out_dtype``),
    returned with the estimator.

    Raises
    ------
    NodeFailed
        The estimator raised; dask ships it to the client.

    Examples
    --------
    >>> from foldgraph.engine.worker import Payload
    >>> from foldgraph.testing import OLS
    >>> X = np.arange(8.0).reshape(4, 2); y = X.sum(axis=1)
    >>> p = Payload("ols/fit/fold-0", "learner", "fit", OLS(), "X", "y", 0, ((0, 2),),
    ...             ((2, 4),), "P:ols", ((2, 4),), (0, 1))
    >>> run_task(p, {"X": X, "y": y}, [], (), "float64").block.ravel().round(6).tolist()
    [9.0, 13.0]
    """
    buffers = dict(data)
    if payload.x not in buffers:  # a buffer computed in this run: rows from predecessors
        shape, dtype = x_spec
        buffers[payload.x] = x = np.zeros(shape, dtype=dtype)
        for rows, cols, block in parts:
            put(x, rows, cols, block)
    if preprocess is not None:
        payload = payload._replace(preprocess=preprocess.result.estimator)
    block = None
    if payload.out is not None:
        n, (c0, c1) = sum(b - a for a, b in payload.out_rows), payload.cols
        block = np.zeros((n, c1 - c0), dtype=out_dtype) if init is None else init.copy()
        buffers[payload.out] = block
        payload = payload._replace(out_rows=((0, n),), cols=(0, c1 - c0))
    start = time.time()
    done = execute(payload, buffers)
    end = time.time()
    if done.error is not None:
        raise NodeFailed(payload.key, _picklable(done.error), done.tb)
    try:
        from distributed import get_worker

        address = get_worker().address
    except (ImportError, ValueError):  # not on a dask worker (the example above)
        address = "local"
    return NodeOutput(done.result, block, start, end, address, os.getpid(), done.peak_bytes,
                      done.peak_rss)  # fmt: skip


def block_of(output: NodeOutput) -> np.ndarray:
    """The prediction block of a node's output (a task of its own: see the module doc)."""
    return output.block
