"""Running one node: the payload a worker receives and what it returns.

A :class:`Payload` carries handles, never arrays: buffer names, rows,
columns, the estimator to fit (a fresh clone) or use, and the fitted
transformer a ``preprocess=`` link supplies. :func:`run_node` looks the
buffers up, calls the matching :mod:`foldgraph.tasks.ops` function and
returns its :class:`~foldgraph.tasks.ops.NodeResult`; :func:`execute`
wraps it with timing and error capture into a :class:`Done`.
The process workers' main loop, :func:`worker_main`, lives here too. This
module imports only ``tasks.ops``, ``engine.buffers`` and the standard
library (cloudpickle lazily), so spawned workers start fast.
"""

from __future__ import annotations

import os
import time
import traceback
from typing import NamedTuple

from foldgraph.tasks.ops import NodeResult, fit_fold, fit_transformer, predict_fold

from .buffers import attach, close_segment

__all__ = ["Payload", "Done", "run_node", "execute", "worker_main", "limit_threads"]


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


# -- the worker process --------------------------------------------------------
# Messages from the parent, on the worker's own pipe:
#   ("attach", {buffer: handle})  open the run's buffers (closing the previous ones)
#   ("run", payload bytes)        run one node, answer with packed Done bytes
#   ("release",)                  close the run's buffers
#   ("stop",)                     close everything and exit
# The parent's death closes the pipe: recv() raises EOFError and the worker exits.


def limit_threads(n_threads: int | None) -> None:
    """Cap BLAS/OpenMP threads of this process (env for later loads, threadpoolctl now)."""
    if n_threads is None:
        return
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(n_threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with scikit-learn
        return
    threadpool_limits(limits=n_threads)


def pack_done(done: Done) -> bytes:
    """Serialize a Done; an unpicklable error or result becomes a RuntimeError."""
    import cloudpickle

    try:
        return cloudpickle.dumps(done)
    except Exception as exc:  # noqa: BLE001 - anything may fail to pickle
        what = done.error if done.error is not None else exc
        error = RuntimeError(f"{type(what).__name__}: {what} (could not be pickled: {exc})")
        return cloudpickle.dumps(done._replace(result=None, error=error))


def _close_all(attached: dict) -> None:
    segments = [shm for _, shm in attached.values() if shm is not None]
    attached.clear()
    for shm in segments:
        close_segment(shm)


def worker_main(worker_id: int, conn, n_threads: int | None = None) -> None:
    """Main loop of a worker process (module level, so spawn can import it)."""
    import cloudpickle

    limit_threads(n_threads)
    attached: dict = {}
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            break
        if msg[0] == "run":
            try:
                payload = cloudpickle.loads(msg[1])
            except Exception as exc:  # noqa: BLE001
                conn.send_bytes(pack_done(Done("?", None, exc, traceback.format_exc(),
                                               worker_id, os.getpid(), 0.0, 0.0)))  # fmt: skip
                continue
            buffers = {name: array for name, (array, _) in attached.items()}
            done = execute(payload, buffers, worker_id)
            del buffers, payload
            conn.send_bytes(pack_done(done))
            del done
        elif msg[0] == "attach":
            _close_all(attached)
            attached.update({name: attach(h) for name, h in msg[1].items()})
        elif msg[0] == "release":
            _close_all(attached)
        elif msg[0] == "stop":
            break
    _close_all(attached)
