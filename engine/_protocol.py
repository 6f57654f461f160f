"""The messages between the parent and its worker processes, in one place.

Every message is one ``Connection.send_bytes`` of ``multiprocessing.connection``
over a worker's own duplex pipe: a first byte, its :class:`Kind`, then a body.
The records that travel, :class:`Payload` (a node to run) and :class:`Done`
(what became of it), travel as plain tuples, pickled (cloudpickle for
lambdas and anything defined in ``__main__``, see :func:`dumps`).

Parent to worker: ``ATTACH`` (the run's buffer handles), ``RUN`` (one node:
its key in clear, then its payload pickle), ``RELEASE`` (close the run's
buffers) and ``STOP``. Worker to parent, one answer per ``RUN``, in order:
``DONE`` (a packed Done) or ``UNREADABLE`` (the payload could not be
unpickled: a packed Done naming the node, whose error says why). The
parent's death closes the pipe: the worker's ``recv_bytes`` raises
``EOFError`` and it exits.

This module imports only :mod:`foldgraph.tasks.ops` and the standard
library (cloudpickle lazily): worker processes import it.
"""

from __future__ import annotations

import enum
import pickle
from typing import NamedTuple

from foldgraph.tasks.deferred import Pickled
from foldgraph.tasks.ops import NodeResult

__all__ = ["Kind", "Payload", "Done", "dumps", "defer", "pack_done", "unpack_done", "pack_payload",
           "message", "read_body", "run_message", "read_run", "answer_message", "read_answer",
           "unpack_answers"]  # fmt: skip

_KEY_BYTES = 4  # length prefix of a RUN message's key


class Kind(enum.IntEnum):
    """The first byte of a message: what its body is.

    Examples
    --------
    >>> Kind(message(Kind.STOP)[0]).name
    'STOP'
    """

    ATTACH = 1  # parent -> worker: pickle({buffer: handle}), replacing the previous run's
    RUN = 2  # parent -> worker: one node (see run_message)
    RELEASE = 3  # parent -> worker: close the run's buffers (so their segment is freed)
    STOP = 4  # parent -> worker: close everything and exit
    DONE = 5  # worker -> parent: a packed Done
    UNREADABLE = 6  # worker -> parent: a RUN's payload failed to unpickle (a packed Done)
    CONFIG = 7  # parent -> worker: the calling thread's scikit-learn config, for the next runs


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
    defer: bool = False  # a learner's fold fit: its estimator goes back pickled (tasks/deferred.py)
    #: threads granted to the node (graph/resources.py), None: leave them as they are; the
    #: worker sets them as ``thread_params`` (n_jobs) of the clone and as its BLAS/OpenMP limit
    threads: int | None = None
    thread_params: tuple = ()
    #: a fit raised above its grant (the tail, engine/tail.py) predicts its test rows on
    #: this many threads: the grant, so its predictions keep their last bits
    predict_threads: int | None = None


class Done(NamedTuple):
    """A finished node: its result or its error, and when and where it ran.

    ``error`` is None on success; otherwise ``result`` is None and ``tb`` is
    the worker's traceback text. ``start`` and ``end`` are
    ``time.perf_counter()`` readings of the process that ran the node.
    ``peak_bytes`` is what the node added to that process's resident memory
    at its peak and ``peak_rss`` the process's peak RSS during the node
    (bytes; None where not measured: see :mod:`foldgraph.engine._peak`).

    Examples
    --------
    A failed node, as a worker reports it (see
    :func:`~foldgraph.engine.worker.execute`, which makes them):

    >>> done = Done("ols/fit/fold-0", None, ValueError("bad fold"), "Traceback ...", 3, 4242,
    ...             10.0, 10.5)
    >>> done.error, done.worker, done.end - done.start
    (ValueError('bad fold'), 3, 0.5)
    """

    key: str
    result: NodeResult | None
    error: BaseException | None
    tb: str
    worker: int
    pid: int
    start: float
    end: float
    peak_bytes: int | None = None
    peak_rss: int | None = None


def dumps(obj) -> bytes:
    """Pickle ``obj`` fast: plain pickle when every reference is importable, else cloudpickle.

    Plain pickle refers to classes and functions by module and name. That
    fails for lambdas and local objects (PicklingError) and would be wrong
    for anything defined in ``__main__``, which workers do not import: both
    go through cloudpickle, which ships them by value.

    Examples
    --------
    >>> pickle.loads(dumps(lambda x: x + 1))(1)
    2
    """
    try:
        blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - lambdas, local classes, ...
        blob = None
    if blob is None or b"__main__" in blob:
        import cloudpickle

        blob = cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return blob


def defer(estimator):
    """A fold fit's estimator pickled on its own, for the parent to load only if read
    (:mod:`foldgraph.tasks.deferred`); as is if it cannot be pickled (then
    :func:`pack_done` reports that).

    Examples
    --------
    >>> from foldgraph.tasks.deferred import loaded
    >>> from foldgraph.testing import OLS
    >>> d = defer(OLS(offset=1.0))
    >>> type(d).__name__, loaded(unpack_done(pack_done(Done("k", NodeResult(d), None, "",
    ...                                                           0, 1, 0.0, 1.0))).result.estimator)
    ('Pickled', OLS(offset=1.0))
    """
    try:
        return Pickled(dumps(estimator))
    except Exception:  # noqa: BLE001 - pack_done says what failed
        return estimator


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
    >>> from foldgraph.testing import OLS
    >>> p = Payload(key="ols/fit/fold-0", kind="learner", op="fit", estimator=OLS(), x="X",
    ...             y="y", y_offset=0, train=((2, 4),), test=((0, 2),), out="P:ols",
    ...             out_rows=((0, 2),), cols=(0, 1), clone=True)
    >>> back = Payload._make(pickle.loads(pack_payload(p)))
    >>> back.key, back.train, back.estimator
    ('ols/fit/fold-0', ((2, 4),), OLS())
    """
    return dumps(tuple(payload))


def message(kind: Kind, obj=None) -> bytes:
    """A message of ``kind`` whose body is ``obj`` pickled (no body for None).

    Examples
    --------
    >>> msg = message(Kind.ATTACH, {"X": ("shm", "fg_1_ab_X", (2, 2), "<f8", 0)})
    >>> Kind(msg[0]).name, pickle.loads(msg[1:])["X"][0]
    ('ATTACH', 'shm')
    """
    head = bytes((kind,))
    return head if obj is None else head + pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def read_body(msg: bytes):
    """The body of a message made by :func:`message` (None if it has none).

    Examples
    --------
    >>> read_body(message(Kind.ATTACH, {"X": 1})), read_body(message(Kind.STOP))
    ({'X': 1}, None)
    """
    return pickle.loads(msg[1:]) if len(msg) > 1 else None


def run_message(payload: Payload) -> bytes:
    """The ``RUN`` message of ``payload``: its key in clear, so that a worker that
    cannot unpickle the rest can still name the node (see :func:`read_run`)."""
    key = payload.key.encode()
    return bytes((Kind.RUN,)) + len(key).to_bytes(_KEY_BYTES, "big") + key + pack_payload(payload)


def read_run(body: bytes) -> tuple[str, Payload | None, BaseException | None]:
    """``(key, payload, None)`` from the body of a ``RUN`` message, or
    ``(key, None, error)`` when the payload cannot be unpickled here.

    Examples
    --------
    >>> from foldgraph.testing import OLS
    >>> p = Payload("a/fit/full", "learner", "fit", OLS(), "X", "y", 0, (), (), None, (), ())
    >>> key, back, error = read_run(run_message(p)[1:])
    >>> key, back.estimator, error
    ('a/fit/full', OLS(), None)
    >>> read_run(run_message(p)[1:-3])[::2]  # truncated: the key survives
    ('a/fit/full', UnpicklingError('pickle data was truncated'))
    """
    n = int.from_bytes(body[:_KEY_BYTES], "big")
    key = bytes(body[_KEY_BYTES : _KEY_BYTES + n]).decode()
    try:
        return key, Payload._make(pickle.loads(body[_KEY_BYTES + n :])), None
    except Exception as exc:  # noqa: BLE001 - a class the worker cannot import, ...
        return key, None, exc


def answer_message(done: Done, unreadable: bool = False) -> bytes:
    """A worker's answer: ``DONE``, or ``UNREADABLE`` for a payload it could not read."""
    return bytes((Kind.UNREADABLE if unreadable else Kind.DONE,)) + pack_done(done)


def read_answer(msg: bytes) -> tuple[Kind, Done]:
    """The kind and Done of a worker's answer.

    Examples
    --------
    >>> done = Done("a/fit/full", None, None, "", 0, 1, 0.0, 1.0)
    >>> kind, back = read_answer(answer_message(done))
    >>> kind.name, back == done
    ('DONE', True)
    >>> failed = done._replace(error=ModuleNotFoundError("no module named 'mine'"))
    >>> kind, back = read_answer(answer_message(failed, unreadable=True))
    >>> kind.name, back.error
    ('UNREADABLE', ModuleNotFoundError("no module named 'mine'"))
    """
    kind = Kind(msg[0])
    if kind not in (Kind.DONE, Kind.UNREADABLE):
        raise ValueError(f"not an answer: {kind.name}")
    done = unpack_done(memoryview(msg)[1:])  # a view: a fitted forest's answer is tens of MB
    if kind is Kind.UNREADABLE and hasattr(done.error, "add_note"):  # Python 3.11+
        done.error.add_note(f"(the worker could not unpickle the payload of node '{done.key}')")
    return kind, done


def unpack_answers(msg: bytes) -> list[Done]:
    """The Dones of one answer message (one per message).

    Examples
    --------
    >>> a = Done("a/fit/full", None, None, "", 0, 1, 0.0, 1.0)
    >>> [d.key for d in unpack_answers(answer_message(a))]
    ['a/fit/full']
    """
    return [read_answer(msg)[1]]
