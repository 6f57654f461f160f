"""Running one node, and the loop of a worker process.

A :class:`Payload` carries handles, never arrays: buffer names, rows,
columns, the estimator to fit (a fresh clone) or use, and the fitted
transformer a ``preprocess=`` link supplies. :func:`run_node` looks the
buffers up, calls the matching :mod:`foldgraph.tasks.ops` function and
returns its :class:`~foldgraph.tasks.ops.NodeResult`; :func:`execute`
wraps it with timing and error capture into a :class:`Done`. The process
workers' main loop, :func:`worker_main`, reads the messages of
:mod:`foldgraph.engine._protocol` (which defines Payload and Done; they are
re-exported here); each Done carries the peak memory its node added (see
:mod:`foldgraph.engine._peak`). This module imports only ``tasks.ops``,
``engine.buffers``, ``engine._trim``, ``engine._peak``, ``engine._protocol`` and the standard
library (cloudpickle and scikit-learn's ``clone`` lazily), so spawned
workers start fast.
"""

from __future__ import annotations

import os
import time
import traceback
import warnings
from contextlib import ExitStack, nullcontext

from foldgraph.tasks.ops import (
    NodeResult,
    copy_columns,
    fit_fold,
    fit_transformer,
    predict_fold,
)

from ._peak import meter
from ._protocol import (
    Done,
    Kind,
    Payload,
    answer_message,
    defer,
    dumps,
    pack_done,
    pack_payload,
    read_body,
    read_run,
    unpack_answers,
    unpack_done,
)
from ._trim import TRIM_ABOVE, input_bytes, load_trim
from .buffers import attach, close_segment

__all__ = ["Payload", "Done", "run_node", "execute", "worker_main", "limit_threads",
           "pack_done", "unpack_done", "pack_payload", "unpack_answers", "CHEAP", "dumps",
           "TRIM_ABOVE"]  # fmt: skip


#: this process's id (os.getpid() is a system call; a forked child updates it)
_PID = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _PID.__setitem__(0, os.getpid()))


def _clone(estimator):
    from sklearn.base import clone  # imported on first use: this module stays light

    global _clone
    _clone = clone
    return clone(estimator)


def _set_threads(estimator, p: Payload) -> dict | None:
    """The node's granted threads as ``n_jobs`` of the clone (never of the user's object).

    Returns the values they replace (None: nothing set), which the fitted
    estimator gets back: it reports the ``n_jobs`` its user gave.
    """
    if p.threads is None or not p.thread_params:
        return None
    params = estimator.get_params(deep=True)
    original = {name: params[name] for name in p.thread_params}
    estimator.set_params(**dict.fromkeys(p.thread_params, p.threads))
    return original


#: per process id: its ThreadpoolController, or None outside a worker process's main thread
_POOLS: dict = {}


def _controller():
    """This process's ThreadpoolController if it is a worker process's main thread, else None."""
    pid = _PID[0]  # by pid: a forked worker must not inherit its parent's answer
    if pid not in _POOLS:
        import multiprocessing
        import threading

        child = multiprocessing.parent_process() is not None
        main = threading.current_thread() is threading.main_thread()
        if child and main:  # the controller scans the loaded libraries once per process
            from threadpoolctl import ThreadpoolController

            _POOLS[pid] = ThreadpoolController()
        else:
            _POOLS[pid] = None
    return _POOLS[pid]


def _pools(threads: int | None):
    """BLAS/OpenMP limited to ``threads`` for one node, in a worker process only.

    A limit is process-wide: in the parent (sequential, threading) or a dask
    worker's thread it would reach other threads' nodes, so there it is not set.
    """
    controller = None if threads is None else _controller()
    if controller is None:
        return nullcontext()
    stack = ExitStack()
    if threads > 1:  # joblib's loky keeps one job in a (daemonic) worker: a warning per node
        stack.enter_context(warnings.catch_warnings())
        warnings.filterwarnings("ignore", "Loky-backed parallel loops cannot be called")
    if any(lib.num_threads != threads for lib in controller.lib_controllers):
        stack.enter_context(controller.limit(limits=threads))
    return stack


def run_node(p: Payload, buffers: dict) -> NodeResult:
    """Run payload ``p`` against ``buffers`` (name -> array); returns a NodeResult.

    Predictions are written into ``buffers[p.out]``, at ``p.out_rows`` and
    ``p.cols``; only the fitted estimator and timings are returned.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph.testing import OLS
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> buffers = {"X": X, "y": X @ [1.0, 2.0], "P:ols": np.zeros((4, 1))}
    >>> p = Payload(key="ols/fit/fold-0", kind="learner", op="fit", estimator=OLS(), x="X",
    ...             y="y", y_offset=0, train=((2, 4),), test=((0, 2),), out="P:ols",
    ...             out_rows=((0, 2),), cols=(0, 1), clone=True)
    >>> result = run_node(p, buffers)
    >>> result.estimator.coef_.round(6), buffers["P:ols"].ravel().round(6)
    (array([1., 2.]), array([2., 8., 0., 0.]))
    >>> p.estimator is result.estimator  # p.clone: a clone was fitted, not the template
    False
    """
    X = buffers[p.x]
    y = None if p.y is None else buffers[p.y][p.y_offset :]
    P = None if p.out is None else buffers[p.out]
    w = None if p.w is None else buffers[p.w][p.y_offset :]
    estimator, original = p.estimator, None
    if p.clone:  # cloned here, not in the parent: the work is spread over the workers
        estimator = _clone(estimator)
        original = _set_threads(estimator, p)
    if p.kind == "propagate":
        return copy_columns(X, p.test, p.columns, P, p.out_rows, p.cols)
    with _pools(p.threads):
        result = _run_op(p, estimator, X, y, P, w, _predict_threads(p) if original else None)
    if original:
        estimator.set_params(**original)
    return result


def _predict_threads(p: Payload):
    """What sets a raised fit's threads back to its grant before it predicts (or None)."""
    if p.predict_threads is None or p.predict_threads == p.threads:
        return None
    grant = dict.fromkeys(p.thread_params, p.predict_threads)
    return lambda estimator: estimator.set_params(**grant)


def _run_op(p: Payload, estimator, X, y, P, w, fitted=None) -> NodeResult:
    """The ops function of a learner or transformer node."""
    if p.kind == "transformer":
        return fit_transformer(estimator, X, y, p.train)
    if p.op == "fit":
        return fit_fold(
            estimator, X, y, p.train, p.test, P=P, out_rows=p.out_rows, cols=p.cols,
            preprocess=p.preprocess, proba=p.proba, classes=p.classes, scorer=p.scorer,
            sample_weight=w, repeat=p.repeat, drop_binary=p.drop_binary, fitted=fitted,
        )  # fmt: skip
    return predict_fold(
        estimator, X, p.test, y=y, P=P, out_rows=p.out_rows, cols=p.cols,
        preprocess=p.preprocess, proba=p.proba, classes=p.classes, repeat=p.repeat,
        drop_binary=p.drop_binary,
    )  # fmt: skip


def execute(p: Payload, buffers: dict, worker: int = 0, catch=Exception) -> Done:
    """Run ``p`` and capture its result or exception (never raises ``catch``).

    The Done also carries the node's peak memory (``peak_bytes``, ``peak_rss``),
    measured in this process by :func:`foldgraph.engine._peak.meter`.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph.testing import OLS
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> buffers = {"X": X, "y": X @ [1.0, 2.0], "P:ols": np.zeros((4, 1))}
    >>> p = Payload(key="ols/fit/fold-0", kind="learner", op="fit", estimator=OLS(), x="X",
    ...             y="y", y_offset=0, train=((2, 4),), test=((0, 2),), out="P:ols",
    ...             out_rows=((0, 2),), cols=(0, 1), clone=True)
    >>> done = execute(p, buffers)
    >>> done.result.estimator.coef_.round(6), done.peak_bytes >= 0
    (array([1., 2.]), True)
    >>> done = execute(p, {"X": X}, worker=1)  # no y buffer
    >>> done.result, repr(done.error), done.tb.splitlines()[0]
    (None, "KeyError('y')", 'Traceback (most recent call last):')
    """
    peaks = meter()
    token = peaks.begin(trim=input_bytes(buffers.get(p.x), (*p.train, *p.test)) >= TRIM_ABOVE)
    start = time.perf_counter()
    try:
        result, error, tb = run_node(p, buffers), None, ""
    except catch as exc:  # shipped to the scheduler, which re-raises it
        result, error, tb = None, exc, traceback.format_exc()
    finally:  # whatever escapes, the meter learns the node ended (see _peak)
        end = time.perf_counter()
        peak = peaks.end(token)
    return Done(p.key, result, error, tb, worker, _PID[0], start, end, *peak)


# -- the worker process --------------------------------------------------------
#: nodes estimated under this (seconds) are cheap: the parent may queue the next
#: node behind one on its worker (see engine/processes.py)
CHEAP = 0.005
#: what a worker reports as its node's error: an estimator's KeyboardInterrupt or
#: SystemExit too, which would otherwise end the worker (and pass for its death)
CAUGHT = (Exception, KeyboardInterrupt, SystemExit)


def limit_threads(n_threads: int | None) -> None:
    """Cap BLAS/OpenMP threads of this process (env for later loads, threadpoolctl now).

    Worker processes call it first; ``None`` leaves everything alone.

    Examples
    --------
    Here in the calling process, its environment and thread limits restored after:

    >>> import os
    >>> from unittest import mock
    >>> from threadpoolctl import threadpool_info, threadpool_limits
    >>> with mock.patch.dict(os.environ), threadpool_limits(limits=None):
    ...     limit_threads(1)
    ...     os.environ["OMP_NUM_THREADS"], {pool["num_threads"] for pool in threadpool_info()}
    ('1', {1})
    """
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


class _Buffers:
    """The run's buffers as this worker sees them: arrays on attached segments."""

    def __init__(self):
        self.arrays: dict = {}  # buffer name -> view of an attached segment
        self.segments: dict = {}  # segment name -> SharedMemory

    def attach(self, handles: dict) -> None:
        self.close()
        self.arrays.update({name: attach(h, self.segments) for name, h in handles.items()})

    def close(self) -> None:
        self.arrays.clear()
        for shm in self.segments.values():
            close_segment(shm)
        self.segments.clear()


def _run_one(conn, body: bytes, buffers: _Buffers, worker_id: int, trim) -> None:
    """Run the node of one RUN message and answer it."""
    key, payload, error = read_run(body)
    del body
    if payload is None:  # the parent names the node; its error says why
        now = time.perf_counter()
        tb = "".join(traceback.format_exception(error))
        done = Done(key, None, error, tb, worker_id, _PID[0], now, now)
        conn.send_bytes(answer_message(done, unreadable=True))
        return
    done = execute(payload, buffers.arrays, worker_id, CAUGHT)
    if payload.defer and done.result is not None:  # loaded in the parent only if read
        done = done._replace(result=done.result._replace(estimator=defer(done.result.estimator)))
    x, rows = payload.x, (*payload.train, *payload.test)
    del payload
    conn.send_bytes(answer_message(done))
    del done
    # after answering (the parent schedules meanwhile): about 1 us per node, the
    # trim itself only after large ones
    if trim is not None and input_bytes(buffers.arrays.get(x), rows) >= TRIM_ABOVE:
        trim(0)


def _apply_config(config: dict) -> None:
    """The calling thread's scikit-learn config, sent by the parent (engine/_skconfig.py)."""
    from sklearn import set_config  # sent only by a parent that has scikit-learn

    set_config(**config)


def worker_main(worker_id: int, conn, n_threads: int | None = None, started=None) -> None:
    """Main loop of a worker process (module level, so spawn can import it).

    Reads messages (see :mod:`foldgraph.engine._protocol`) from ``conn``
    until ``STOP`` or the pipe closes, and runs the node of each ``RUN``
    message in the order received, answering each with its packed
    :class:`Done`. After a node that read at least TRIM_ABOVE bytes of input
    it gives the heap's free pages back to the system (glibc).

    Parameters
    ----------
    worker_id : int
        Reported in each Done.
    conn : multiprocessing.connection.Connection
        The worker's end of its duplex pipe.
    n_threads : int or None
        BLAS/OpenMP threads (see :func:`limit_threads`).
    started : multiprocessing.sharedctypes value, optional
        Counts the nodes this worker has started (the parent reads it when the
        worker dies, to tell the node it was running from those queued behind).

    Examples
    --------
    The loop run in this process, with the messages queued on the pipe first:

    >>> from multiprocessing import Pipe
    >>> import numpy as np
    >>> from foldgraph.engine._protocol import Kind, message, read_answer, run_message
    >>> from foldgraph.engine.buffers import SharedBuffer
    >>> from foldgraph.testing import OLS
    >>> buf = SharedBuffer({"X": ((4, 2), "float64"), "y": ((4,), "float64"),
    ...                     "P:ols": ((4, 1), "float64")})
    >>> buf.arrays["X"][:] = np.arange(8.0).reshape(4, 2)
    >>> buf.arrays["y"][:] = buf.arrays["X"] @ [1.0, 2.0]
    >>> p = Payload(key="ols/fit/fold-0", kind="learner", op="fit", estimator=OLS(), x="X",
    ...             y="y", y_offset=0, train=((2, 4),), test=((0, 2),), out="P:ols",
    ...             out_rows=((0, 2),), cols=(0, 1), clone=True)
    >>> q = p._replace(key="ols/fit/fold-1", train=((0, 2),), test=((2, 4),), out_rows=((2, 4),))
    >>> parent, child = Pipe()
    >>> parent.send_bytes(message(Kind.ATTACH, buf.handles))  # attach the run's buffers
    >>> parent.send_bytes(run_message(p)); parent.send_bytes(run_message(q))
    >>> parent.send_bytes(message(Kind.STOP))
    >>> worker_main(7, child)
    >>> [(kind.name, d.key, d.worker) for kind, d in (read_answer(parent.recv_bytes()),
    ...                                               read_answer(parent.recv_bytes()))]
    [('DONE', 'ols/fit/fold-0', 7), ('DONE', 'ols/fit/fold-1', 7)]
    >>> buf.arrays["P:ols"].ravel().round(6)
    array([ 2.,  8., 14., 20.])
    >>> parent.close(); child.close(); buf.release()
    """
    limit_threads(n_threads)
    trim = load_trim()
    buffers = _Buffers()
    while True:
        try:
            msg = conn.recv_bytes()
        except (EOFError, OSError, KeyboardInterrupt):
            break
        kind = msg[0]
        if kind == Kind.RUN:
            if started is not None:
                started.value += 1
            _run_one(conn, memoryview(msg)[1:], buffers, worker_id, trim)
        elif kind == Kind.ATTACH:
            buffers.attach(read_body(msg))
        elif kind == Kind.CONFIG:  # the parent's scikit-learn config, for the next nodes
            _apply_config(read_body(msg))
        elif kind == Kind.RELEASE:
            buffers.close()
        elif kind == Kind.STOP:
            break
        del msg
    buffers.close()
