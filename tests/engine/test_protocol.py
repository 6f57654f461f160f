"""The parent-worker protocol (engine/_protocol.py) over a standard Connection."""

import ast
import threading
from multiprocessing import Pipe
from pathlib import Path

from foldgraph.engine._protocol import (
    Done,
    Kind,
    Payload,
    answer_message,
    message,
    read_answer,
    read_body,
    run_message,
)
from foldgraph.engine.worker import worker_main
from foldgraph.testing import OLS

ENGINE = Path(__file__).resolve().parents[2] / "engine"


def payload(key="a/fit/full"):
    return Payload(key, "learner", "fit", OLS(), "X", "y", 0, ((0, 4),), ((0, 4),), None, (), (),
                   clone=True)  # fmt: skip


def test_message_kinds_are_one_enum_with_distinct_bytes():
    assert len({int(k) for k in Kind}) == len(Kind) and all(0 < k < 256 for k in Kind)
    assert {Kind(message(k)[0]) for k in Kind} == set(Kind)


def test_messages_larger_than_a_pipe_travel_both_ways():
    parent, child = Pipe()
    big = {"X": bytes(range(256)) * 4096}  # 1 MiB
    sender = threading.Thread(target=parent.send_bytes, args=(message(Kind.ATTACH, big),))
    sender.start()
    assert read_body(child.recv_bytes()) == big
    sender.join()
    done = Done("a/fit/full", None, None, "", 0, 1, 0.0, 1.0)
    child.send_bytes(answer_message(done))
    assert read_answer(parent.recv_bytes()) == (Kind.DONE, done)
    parent.close()
    child.close()


def test_worker_answers_unreadable_naming_the_node_and_goes_on():
    """A RUN message whose payload cannot be unpickled is answered UNREADABLE with its
    key (sent in clear) and the error; the next node runs as usual."""
    parent, child = Pipe()
    garbled = run_message(payload("bad/fit/full"))[:-5]
    for msg in (garbled, run_message(payload()), message(Kind.STOP)):
        parent.send_bytes(msg)
    worker_main(3, child, started=None)  # in this process: no buffers attached
    kind, done = read_answer(parent.recv_bytes())
    assert (kind, done.key, done.worker) == (Kind.UNREADABLE, "bad/fit/full", 3)
    assert "UnpicklingError" in done.tb and done.error is not None
    kind, done = read_answer(parent.recv_bytes())
    assert (kind, done.key) == (Kind.DONE, "a/fit/full") and isinstance(done.error, KeyError)
    parent.close()
    child.close()


def test_worker_side_modules_import_only_what_nodes_need():
    """worker.py and _protocol.py import tasks.ops, buffers, _trim, _peak, _protocol and the
    standard library only: never the graph layer, networkx or the parent's modules."""
    allowed = {"foldgraph.tasks.ops", "foldgraph.tasks.deferred", "buffers", "_trim", "_peak",
               "_protocol", "foldgraph.errors"}  # fmt: skip
    for name in ("worker.py", "_protocol.py", "_parent.py", "_peak.py"):
        tree = ast.parse((ENGINE / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or "foldgraph" in node.module):
                assert node.module in allowed | {"worker"}, f"{name} imports {node.module}"
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] in ("networkx", "foldgraph")
                               for a in node.names), name  # fmt: skip
