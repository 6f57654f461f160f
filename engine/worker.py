"""Running one node: the payload a worker receives and what it returns.

A :class:`Payload` carries handles, never arrays: buffer names, rows,
columns, the estimator to fit (a fresh clone) or use, and the fitted
transformer a ``preprocess=`` link supplies. :func:`run_node` looks the
buffers up, calls the matching :mod:`foldgraph.tasks.ops` function and
returns its :class:`~foldgraph.tasks.ops.NodeResult`; :func:`execute`
wraps it with timing and error capture into a :class:`Done`.
This module imports only ``tasks.ops`` and the standard library.
"""

from __future__ import annotations

import os
import time
import traceback
from typing import NamedTuple

from foldgraph.tasks.ops import NodeResult, fit_fold, fit_transformer, predict_fold

__all__ = ["Payload", "Done", "run_node", "execute"]


class Payload(NamedTuple):
    """Everything a worker needs to run one node, except the buffers."""

    key: str
    kind: str
    op: str
    estimator: object
    x: str
    y: str | None
    y_offset: int
    train: tuple
    test: tuple
    out: str | None
    out_rows: tuple
    cols: tuple
    preprocess: object = None
    proba: bool = False
    classes: object = None
    scorer: object = None


class Done(NamedTuple):
    """A finished node: its result or its error, and when and where it ran."""

    key: str
    result: NodeResult | None
    error: BaseException | None
    tb: str
    worker: int
    pid: int
    start: float
    end: float


def run_node(p: Payload, buffers: dict) -> NodeResult:
    """Run payload ``p`` against ``buffers`` (name -> array); returns a NodeResult."""
    X = buffers[p.x]
    y = None if p.y is None else buffers[p.y][p.y_offset :]
    P = None if p.out is None else buffers[p.out]
    if p.kind == "transformer":
        return fit_transformer(p.estimator, X, y, p.train)
    if p.op == "fit":
        return fit_fold(
            p.estimator, X, y, p.train, p.test, P=P, out_rows=p.out_rows, cols=p.cols,
            preprocess=p.preprocess, proba=p.proba, classes=p.classes, scorer=p.scorer,
        )  # fmt: skip
    return predict_fold(
        p.estimator, X, p.test, y=y, P=P, out_rows=p.out_rows, cols=p.cols,
        preprocess=p.preprocess, proba=p.proba, classes=p.classes,
    )  # fmt: skip


def execute(p: Payload, buffers: dict, worker: int = 0) -> Done:
    """Run ``p`` and capture its result or exception (never raises ``Exception``)."""
    start = time.perf_counter()
    try:
        result = run_node(p, buffers)
    except Exception as exc:  # shipped to the scheduler, which re-raises it
        end = time.perf_counter()
        return Done(p.key, None, exc, traceback.format_exc(), worker, os.getpid(), start, end)
    return Done(p.key, result, None, "", worker, os.getpid(), start, time.perf_counter())
