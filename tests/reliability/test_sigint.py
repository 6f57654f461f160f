"""Ctrl-C (SIGINT to the whole process group) during a SuperLearner fit, on every backend.

A script fits a SuperLearner whose base learners sleep 20 s in ``fit``, in its
own session, and prints (once nodes are running) its child processes, the
worker pids and its shared-memory segments. The test sends SIGINT to the
process group, as a terminal's Ctrl-C does (workers included), and checks
that the script raises KeyboardInterrupt within 2 s, exits within 3 s, and
leaves no worker process and no segment behind. Three tries per backend;
``pytest -s`` prints the times.
"""

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
from conftest import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="segments are listed in /dev/shm"),
]

SCRIPT = textwrap.dedent("""
    import json, os, sys, threading, time
    import numpy as np, psutil
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.linear_model import LinearRegression
    from foldgraph import SuperLearner
    from foldgraph.engine.buffers import segment_names

    backend, started = sys.argv[1], sys.argv[2]

    class Sleepy(RegressorMixin, BaseEstimator):
        def __init__(self, seconds=20.0):
            self.seconds = seconds

        def fit(self, X, y):
            open(os.path.join(started, f"{os.getpid()}-{threading.get_ident()}"), "w").close()
            time.sleep(self.seconds)
            self.mean_ = float(np.mean(y))
            return self

        def predict(self, X):
            return np.full(len(X), self.mean_)

    def report():
        busy = 1 if backend == "sequential" else 2
        while len(os.listdir(started)) < busy:
            time.sleep(0.02)
        time.sleep(0.2)  # the nodes are asleep in fit
        children = psutil.Process().children(recursive=True)
        workers = sorted({int(name.split("-")[0]) for name in os.listdir(started)} - {os.getpid()})
        print(json.dumps({"pid": os.getpid(), "children": [p.pid for p in children],
                          "workers": workers, "segments": segment_names(os.getpid())}),
              flush=True)

    if __name__ == "__main__":
        X = np.random.RandomState(0).rand(40, 3)
        ens = SuperLearner(folds=2, backend=backend, n_jobs=2)
        ens.add([("s1", Sleepy()), ("s2", Sleepy())]).add_meta(LinearRegression())
        threading.Thread(target=report, daemon=True).start()
        try:
            ens.fit(X, X.sum(1))
        except KeyboardInterrupt:
            print(f"KeyboardInterrupt at {time.time():.6f}", file=sys.stderr, flush=True)
            raise
        print("fit returned", flush=True)
""")

BACKENDS = ["sequential", "threading", "multiprocessing"]
TRIES = 3


def gone(pid: int) -> bool:
    """Not running (a zombie waiting for its reaper counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("try_", range(TRIES), ids=lambda i: f"try-{i}")
@pytest.mark.parametrize("backend", BACKENDS)
def test_sigint_to_the_group_interrupts_a_fit(tmp_path, backend, try_):
    script, started = tmp_path / "fit.py", tmp_path / "started"
    script.write_text(SCRIPT)
    started.mkdir()
    proc = subprocess.Popen([sys.executable, str(script), backend, str(started)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    info = {"children": [], "segments": []}
    try:
        assert select.select([proc.stdout], [], [], 60)[0], "the script printed nothing"
        info = json.loads(proc.stdout.readline())
        if backend == "multiprocessing":
            assert len(info["workers"]) == 2 and set(info["workers"]) <= set(info["children"])
            assert info["segments"], "the run's segment should exist while it runs"
        else:
            assert info["workers"] == [] and info["segments"] == []
        sent = time.time()
        os.killpg(proc.pid, signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{backend}: still running 10 s after SIGINT")
        exited = time.time() - sent
        assert "KeyboardInterrupt" in err, err
        stamp = [line for line in err.splitlines() if line.startswith("KeyboardInterrupt at ")]
        assert stamp, err
        raised = float(stamp[0].split()[-1]) - sent
        left = {
            "workers": lambda: [p for p in info["workers"] if not gone(p)],
            "children": lambda: [p for p in info["children"] if not gone(p)],
            "segments": lambda: [n for n in info["segments"] if os.path.exists(f"/dev/shm/{n}")],
        }
        for what, still in left.items():
            assert wait_until(lambda still=still: not still(), timeout=3.0), (
                f"{backend}: {what} left after the interrupted fit: {still()}"
            )
        print(f"\n{backend} try {try_}: KeyboardInterrupt {raised:.2f} s after SIGINT, "
              f"exit {exited:.2f} s")  # fmt: skip
        assert proc.returncode != 0
        assert raised < 2.0, (raised, err)
        assert exited < 3.0, (exited, err)
    finally:  # after a failure: leave nothing behind
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in info["children"]:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
        for name in info["segments"]:
            if os.path.exists(f"/dev/shm/{name}"):
                os.unlink(f"/dev/shm/{name}")
