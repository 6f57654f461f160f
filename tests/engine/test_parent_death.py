"""Workers of the multiprocessing backend die with their parent (issue 16).

A script runs nodes that sleep 15 s on two workers and prints its child
processes (workers, fork server, resource tracker) and its shared-memory
segments; the test kills the script and checks that, 2 s later, none of
them is left: the workers end at once (engine/_parent.py), then the fork
server, then the resource tracker, which unlinks the segment the killed
parent could not.
"""

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from multiprocessing import shared_memory

import psutil
import pytest
from conftest import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="segments are listed in /dev/shm"),
]

SCRIPT = textwrap.dedent("""
    import json, os, sys, threading, time
    import numpy as np, psutil
    from sklearn.base import BaseEstimator
    from foldgraph import FoldIndex, Learner, ParallelProcessing
    from foldgraph.engine.buffers import segment_names

    class Sleep(BaseEstimator):
        def fit(self, X, y):
            open(os.path.join(sys.argv[2], str(os.getpid())), "w").close()  # started
            time.sleep(15)
            return self

        def predict(self, X):
            return X[:, 0]

    def report():
        while len(os.listdir(sys.argv[2])) < 2:  # both workers busy
            time.sleep(0.05)
        children = psutil.Process().children(recursive=True)
        print(json.dumps({"workers": sorted(int(p) for p in os.listdir(sys.argv[2])),
                          "children": [p.pid for p in children],
                          "segments": segment_names(os.getpid())}), flush=True)

    if __name__ == "__main__":
        threading.Thread(target=report, daemon=True).start()
        with ParallelProcessing("multiprocessing", n_jobs=2, start_method=sys.argv[1]) as pp:
            pp.map(Learner(Sleep(), FoldIndex(2)), "fit", np.ones((40, 3)), np.ones(40))
""")


def unlink(name: str) -> None:
    shm = shared_memory.SharedMemory(name)
    shm.close()
    shm.unlink()


def gone(pid: int) -> bool:
    """Not running (a zombie waiting for a reaper counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


CASES = [("forkserver", signal.SIGKILL)] * 3 + [("forkserver", signal.SIGTERM),
                                              ("spawn", signal.SIGKILL), ("fork", signal.SIGKILL)]


@pytest.mark.parametrize("method, sig", CASES, ids=[f"{m}-{s.name}-{i}" for i, (m, s) in enumerate(CASES)])
def test_workers_and_segments_die_with_the_parent(tmp_path, method, sig):
    script, started = tmp_path / "run.py", tmp_path / "started"
    script.write_text(SCRIPT)
    started.mkdir()
    proc = subprocess.Popen([sys.executable, str(script), method, str(started)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    children, segments = [], []
    try:
        assert select.select([proc.stdout], [], [], 60)[0], "the script printed nothing"
        info = json.loads(proc.stdout.readline())
        children, segments = info["children"], info["segments"]
        assert len(info["workers"]) == 2 and set(info["workers"]) <= set(children)
        assert info["segments"], "the run's segment should exist while it runs"
        os.kill(proc.pid, sig)
        proc.wait(5)
        killed, took = time.monotonic(), {}
        for what, left in [
            ("workers", lambda: [p for p in info["workers"] if not gone(p)]),
            ("children", lambda: [p for p in children if not gone(p)]),
            ("segments", lambda: [n for n in info["segments"] if os.path.exists(f"/dev/shm/{n}")]),
        ]:  # fmt: skip
            assert wait_until(lambda left=left: not left(), timeout=killed + 2.0 - time.monotonic()), (
                f"{what} left 2 s after the parent's death: {left()}")
            took[what] = round(time.monotonic() - killed, 2)
        assert took["workers"] < 1.0, took
        print(f"{method} {sig.name}: gone after {took} s")
    finally:  # after a failure: leave nothing behind
        proc.kill()
        proc.wait()
        for pid in children:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
        for name in segments:
            if os.path.exists(f"/dev/shm/{name}"):
                unlink(name)
