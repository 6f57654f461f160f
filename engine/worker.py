"""Running one node: the payload a worker receives and what it returns.

A :class:`Payload` carries handles, never arrays: buffer names, rows,
columns, the estimator to fit (a fresh clone) or use, and the fitted
transformer a ``preprocess=`` link supplies. :func:`run_node` looks the
buffers up, calls the matching :mod:`foldgraph.tasks.ops` function and
returns its :class:`~foldgraph.tasks.ops.NodeResult`; :func:`execute`
wraps it with timing and error capture into a :class:`Done`.
The process workers' main loop, :func:`worker_main`, lives here too. This
module imports only ``tasks.ops``, ``engine.buffers``, ``engine._trim``
and the standard library (cloudpickle and scikit-learn's ``clone`` lazily),
so spawned workers start fast.
"""

from __future__ import annotations

import os
import pickle
import time
import traceback
from collections import deque
from typing import NamedTuple

from foldgraph.tasks.ops import (
    NodeResult,
    copy_columns,
    fit_fold,
    fit_transformer,
    predict_fold,
)

from ._trim import TRIM_ABOVE, input_bytes, load_trim
from .buffers import attach, close_segment

__all__ = ["Payload", "Done", "run_node", "execute", "worker_main", "limit_threads",
           "pack_done", "unpack_done", "pack_payload", "unpack_answers", "CHEAP"]


class Payload(NamedTuple):
    """Everything a worker needs to run one node, except the buffers.

    Buffers are named (``x``, ``y``, ``out``, ``w``) and rows are
    ``(start, stop)`` ranges, so a payload's size does not grow with the
    data. :func:`~foldgraph.engine.payload.make_payload` builds one from a
    graph node.

    Examples
    --------
    Fold 0 of a 2-fold fit: train on rows 2-3 of ``X``, predict rows 0-1
    into column 0 of ``P:ols``:

    >>> from foldgraph.testing import OLS
    >>> p = Payload(key="ols/fit/fold-0", kind="learner", op="fit", estimator=OLS(), x="X",
    ...             y="y", y_offset=0, train=((2, 4),), test=((0, 2),), out="P:ols",
    ...             out_rows=((0, 2),), cols=(0, 1), clone=True)
    >>> p.op, p.train, p.test, p.out
    ('fit', ((2, 4),), ((0, 2),), 'P:ols')
    """

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
    cost: float = 0.0
    columns: tuple = ()
    w: str | None = None
    clone: bool = False  # fit a clone of ``estimator`` (the task's template), made by the worker
    repeat: int = 0  # > 0: a later repeat's fold, which leaves the running mean (splitters)
    drop_binary: bool = False  # proba with two classes: the second class's column only


class Done(NamedTuple):
    """A finished node: its result or its error, and when and where it ran.

    ``error`` is None on success; otherwise ``result`` is None and ``tb`` is
    the worker's traceback text. ``start`` and ``end`` are
    ``time.perf_counter()`` readings of the process that ran the node.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph.testing import OLS
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> buffers = {"X": X, "y": X @ [1.0, 2.0], "P:ols": np.zeros((4, 1))}
    >>> p = Payload(key="ols/fit/fold-0", kind="learner", op="fit", estimator=OLS(), x="X",
    ...             y="y", y_offset=0, train=((2, 4),), test=((0, 2),), out="P:ols",
    ...             out_rows=((0, 2),), cols=(0, 1), clone=True)
    >>> done = execute(p, buffers, worker=3)
    >>> done.key, done.error, done.worker, done.end >= done.start
    ('ols/fit/fold-0', None, 3, True)
    """

    key: str
    result: NodeResult | None
    error: BaseException | None
    tb: str
    worker: int
    pid: int
    start: float
    end: float


#: this process's id (os.getpid() is a system call; a forked child updates it)
_PID = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _PID.__setitem__(0, os.getpid()))


def _clone(estimator):
    from sklearn.base import clone  # imported on first use: this module stays light

    global _clone
    _clone = clone
    return clone(estimator)


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
    estimator = p.estimator
    if p.clone:  # cloned here, not in the parent: the work is spread over the workers
        estimator = _clone(estimator)
    if p.kind == "transformer":
        return fit_transformer(estimator, X, y, p.train)
    if p.kind == "propagate":
        return copy_columns(X, p.test, p.columns, P, p.out_rows, p.cols)
    if p.op == "fit":
        return fit_fold(
            estimator, X, y, p.train, p.test, P=P, out_rows=p.out_rows, cols=p.cols,
            preprocess=p.preprocess, proba=p.proba, classes=p.classes, scorer=p.scorer,
            sample_weight=w, repeat=p.repeat, drop_binary=p.drop_binary,
        )  # fmt: skip
    return predict_fold(
        estimator, X, p.test, y=y, P=P, out_rows=p.out_rows, cols=p.cols,
        preprocess=p.preprocess, proba=p.proba, classes=p.classes, repeat=p.repeat,
        drop_binary=p.drop_binary,
    )  # fmt: skip


def execute(p: Payload, buffers: dict, worker: int = 0, catch=Exception) -> Done:
    """Run ``p`` and capture its result or exception (never raises ``catch``).

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph.testing import OLS
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> buffers = {"X": X, "y": X @ [1.0, 2.0], "P:ols": np.zeros((4, 1))}
    >>> p = Payload(key="ols/fit/fold-0", kind="learner", op="fit", estimator=OLS(), x="X",
    ...             y="y", y_offset=0, train=((2, 4),), test=((0, 2),), out="P:ols",
    ...             out_rows=((0, 2),), cols=(0, 1), clone=True)
    >>> execute(p, buffers).result.estimator.coef_.round(6)
    array([1., 2.])
    >>> done = execute(p, {"X": X}, worker=1)  # no y buffer
    >>> done.result, repr(done.error), done.tb.splitlines()[0]
    (None, "KeyError('y')", 'Traceback (most recent call last):')
    """
    start = time.perf_counter()
    try:
        result = run_node(p, buffers)
    except catch as exc:  # shipped to the scheduler, which re-raises it
        end = time.perf_counter()
        return Done(p.key, None, exc, traceback.format_exc(), worker, _PID[0], start, end)
    return Done(p.key, result, None, "", worker, _PID[0], start, time.perf_counter())


# -- the worker process --------------------------------------------------------
# Messages from the parent, on the worker's own pipe, as bytes (first byte: kind):
#   b"A" + pickle({buffer: handle})  attach the run's buffers (closing the previous ones)
#   b"R" + payload pickle            run one node
#   b"M" + pickle([payload pickle])  run these nodes, in this order
#   b"L"                             release: close the run's buffers (sent when a
#                                    run ends, so that its segment is freed at once)
#   b"S"                             stop: close everything and exit
# Answers, one per node and in the order received:
#   b"D" + packed Done               one answer
#   b"N" + pickle([packed Done])     several answers
# A worker holds the answers of cheap nodes back while more nodes are queued in
# it (see worker_main), so that one message carries several. The parent's death
# closes the pipe: recv_bytes() raises EOFError and the worker exits.

#: nodes estimated under this (seconds) are cheap: their answers may wait for the
#: next ones' (and the parent queues several of them on one worker)
CHEAP = 0.005
#: the oldest held answer is sent before starting a node after this long (seconds)
HOLD = 0.001
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


def dumps(obj) -> bytes:
    """Pickle ``obj`` fast: plain pickle when every reference is importable, else cloudpickle.

    Plain pickle refers to classes and functions by module and name. That
    fails for lambdas and local objects (PicklingError) and would be wrong
    for anything defined in ``__main__``, which workers do not import: both
    go through cloudpickle, which ships them by value.
    """
    try:
        blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - lambdas, local classes, ...
        blob = None
    if blob is None or b"__main__" in blob:
        import cloudpickle

        blob = cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return blob


def _wire(done: Done) -> tuple:
    result = done.result
    return (done.key, None if result is None else tuple(result), *done[2:])


def pack_done(done: Done) -> bytes:
    """Serialize a Done; an unpicklable error or result becomes a RuntimeError.

    On the wire a Done (and its NodeResult) is a plain tuple: named tuples
    pickle by class reference and cost several microseconds more per node.
    :func:`unpack_done` rebuilds it.

    Examples
    --------
    >>> import threading
    >>> done = Done("a/fit/fold-0", None, ValueError("bad fold"), "Traceback ...", 0, 1, 0.0, 1.0)
    >>> unpack_done(pack_done(done)).error
    ValueError('bad fold')
    >>> odd = done._replace(error=ValueError(threading.Lock()))  # a lock cannot be pickled
    >>> unpack_done(pack_done(odd)).error
    RuntimeError("ValueError: <unlocked _thread.lock object at 0x...> (could not be pickled: cannot pickle '_thread.lock' object)")
    """
    try:
        return dumps(_wire(done))
    except Exception as exc:  # noqa: BLE001 - anything may fail to pickle
        what = done.error if done.error is not None else exc
        error = RuntimeError(f"{type(what).__name__}: {what} (could not be pickled: {exc})")
        return dumps(_wire(done._replace(result=None, error=error)))


def unpack_done(blob: bytes) -> Done:
    """The Done that :func:`pack_done` serialized.

    Examples
    --------
    >>> from foldgraph.tasks.ops import NodeResult
    >>> from foldgraph.testing import OLS
    >>> done = Done("a/fit/fold-0", NodeResult(OLS(), fit_time=0.5), None, "", 0, 1, 0.0, 1.0)
    >>> back = unpack_done(pack_done(done))
    >>> back.key, back.result
    ('a/fit/fold-0', NodeResult(estimator=OLS(), fit_time=0.5, predict_time=0.0, score=None))
    """
    key, result, *rest = pickle.loads(blob)
    return Done(key, None if result is None else NodeResult._make(result), *rest)


def pack_payload(payload: Payload) -> bytes:
    """Serialize a Payload as a plain tuple (see :func:`pack_done`).

    Examples
    --------
    A worker rebuilds it with ``Payload._make``:

    >>> import pickle
    >>> from foldgraph.testing import OLS
    >>> p = Payload(key="ols/fit/fold-0", kind="learner", op="fit", estimator=OLS(), x="X",
    ...             y="y", y_offset=0, train=((2, 4),), test=((0, 2),), out="P:ols",
    ...             out_rows=((0, 2),), cols=(0, 1), clone=True)
    >>> back = Payload._make(pickle.loads(pack_payload(p)))
    >>> back.key, back.train, back.estimator
    ('ols/fit/fold-0', ((2, 4),), OLS())
    """
    return dumps(tuple(payload))


def _close_all(arrays: dict, segments: dict) -> None:
    arrays.clear()
    for shm in segments.values():
        close_segment(shm)
    segments.clear()


def _send_answers(conn, answers: list) -> None:
    conn.send_bytes(b"D" + answers[0] if len(answers) == 1 else b"N" + pickle.dumps(answers))
    answers.clear()


def unpack_answers(msg: bytes) -> list[Done]:
    """The Dones of one answer message of a worker, in order (see the protocol above).

    Examples
    --------
    >>> a = Done("a/fit/full", None, None, "", 0, 1, 0.0, 1.0)
    >>> [d.key for d in unpack_answers(b"D" + pack_done(a))]
    ['a/fit/full']
    >>> import pickle
    >>> b = a._replace(key="b/fit/full")
    >>> [d.key for d in unpack_answers(b"N" + pickle.dumps([pack_done(a), pack_done(b)]))]
    ['a/fit/full', 'b/fit/full']
    """
    if msg[:1] == b"D":
        return [unpack_done(msg[1:])]
    return [unpack_done(blob) for blob in pickle.loads(msg[1:])]


def worker_main(worker_id: int, conn, n_threads: int | None = None, started=None) -> None:
    """Main loop of a worker process (module level, so spawn can import it).

    Reads messages from ``conn`` until it gets ``b"S"`` or the pipe closes
    (see the protocol above this function) and runs the nodes of ``b"R"`` /
    ``b"M"`` messages in the order received, answering each with a packed
    :class:`Done`. After a node that read at least TRIM_ABOVE bytes of input
    it gives the heap's free pages back to the system (glibc). Answers are
    sent together while cheap nodes (``cost``
    under ``CHEAP``) are queued here: a held answer leaves before the worker
    would wait for a message, before a node that is not cheap, when held
    for ``HOLD`` seconds, with a failed node's answer, and as soon as the
    held answers number a third of the queued nodes (so the parent prepares
    the next nodes while this worker runs the queued ones).

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
        worker dies, to tell the node it was running).

    Examples
    --------
    The loop run in this process, with the messages queued on the pipe first:

    >>> import pickle
    >>> from multiprocessing import Pipe
    >>> import numpy as np
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
    >>> parent.send_bytes(b"A" + pickle.dumps(buf.handles))  # attach the run's buffers
    >>> parent.send_bytes(b"R" + pack_payload(p))  # run one node
    >>> parent.send_bytes(b"M" + pickle.dumps([pack_payload(q)]))  # run a batch (of one)
    >>> parent.send_bytes(b"S")  # stop
    >>> worker_main(7, child)
    >>> [(d.key, d.worker) for d in unpack_answers(parent.recv_bytes())]
    [('ols/fit/fold-0', 7)]
    >>> [d.key for d in unpack_answers(parent.recv_bytes())], buf.arrays["P:ols"].ravel().round(6)
    (['ols/fit/fold-1'], array([ 2.,  8., 14., 20.]))
    >>> parent.close(); child.close(); buf.release()
    """
    limit_threads(n_threads)
    trim = load_trim()
    arrays: dict = {}  # buffer name -> view of an attached segment
    segments: dict = {}  # segment name -> SharedMemory
    queue: deque[bytes] = deque()  # payload pickles received, not run yet
    answers: list[bytes] = []  # packed Dones held back (see above)
    held = 0.0  # when the oldest held answer was made
    while True:
        if not queue:
            if answers:
                _send_answers(conn, answers)
            try:
                msg = conn.recv_bytes()
            except (EOFError, OSError, KeyboardInterrupt):
                break
            kind = msg[:1]
            if kind == b"R":
                queue.append(msg[1:])
            elif kind == b"M":
                queue.extend(pickle.loads(msg[1:]))
            elif kind == b"A":
                _close_all(arrays, segments)
                handles = pickle.loads(msg[1:])
                arrays.update({name: attach(h, segments) for name, h in handles.items()})
            elif kind == b"L":
                _close_all(arrays, segments)
            elif kind == b"S":
                break
            continue
        if started is not None:
            started.value += 1
        try:
            payload = Payload._make(pickle.loads(queue.popleft()))
        except Exception as exc:  # noqa: BLE001 - the parent names the node by its order
            held = held if answers else time.perf_counter()
            answers.append(pack_done(Done("?", None, exc, traceback.format_exc(),
                                          worker_id, os.getpid(), 0.0, 0.0)))  # fmt: skip
            continue
        if answers and (payload.cost >= CHEAP or time.perf_counter() - held > HOLD):
            _send_answers(conn, answers)
        done = execute(payload, arrays, worker_id, CAUGHT)
        x, rows = payload.x, (*payload.train, *payload.test)
        del payload
        if not answers:
            held = done.end
        failed = done.error is not None
        answers.append(pack_done(done))
        del done
        if failed or 3 * len(answers) >= len(queue):  # a failure stops the run: say it now
            _send_answers(conn, answers)
        # after answering (the parent schedules meanwhile): about 1 us per node, the
        # trim itself only after large ones
        if trim is not None and input_bytes(arrays.get(x), rows) >= TRIM_ABOVE:
            trim(0)
    _close_all(arrays, segments)
