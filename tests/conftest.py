"""Shared fixtures: leak checks for processes and shared memory."""

import os
import tempfile
import time

import psutil
import pytest

from foldgraph.engine.buffers import segment_names
from foldgraph.engine.pool import worker_pool

# The node cache signs entries with a per-user key; the suite keeps its own key
# (and its workers inherit it) instead of writing one into the home directory.
os.environ.setdefault(
    "FOLDGRAPH_CACHE_KEY_FILE",
    os.path.join(tempfile.mkdtemp(prefix="foldgraph-test-key-"), "node-cache.key"),
)

#: multiprocessing's (and joblib's loky's) own helper processes, shared by every pool
INFRASTRUCTURE = ("multiprocessing.forkserver", "multiprocessing.resource_tracker",
                  "loky.backend.resource_tracker")


def _is_infrastructure(proc) -> bool:
    """The forkserver and the resource tracker: children of this process. The workers the
    forkserver forks share its command line but are its children, so they are counted."""
    try:
        cmdline = " ".join(proc.cmdline())
        parent = proc.ppid()
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return True  # already gone
    return parent == os.getpid() and any(name in cmdline for name in INFRASTRUCTURE)


def leftover_children(before=()):
    """Child processes of this test process, except multiprocessing's helpers and the idle
    workers of the pool (kept for the next manager on purpose: tests/engine/test_pool.py)."""
    known = {p.pid for p in before} | set(worker_pool().pids)
    return [p for p in psutil.Process().children(recursive=True)
            if p.pid not in known and not _is_infrastructure(p)]  # fmt: skip


def wait_until(predicate, timeout=10.0, interval=0.05):
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.fixture
def no_leaks():
    """Fail if the test leaves a shared-memory segment or a worker process behind."""
    before_children = psutil.Process().children(recursive=True)
    before_segments = set(segment_names(os.getpid()))
    yield
    assert wait_until(lambda: not (set(segment_names(os.getpid())) - before_segments)), (
        f"leaked segments: {set(segment_names(os.getpid())) - before_segments}"
    )
    assert wait_until(lambda: not leftover_children(before_children)), (
        f"leaked processes: {leftover_children(before_children)}"
    )
