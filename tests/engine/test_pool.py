"""The reusable worker pool: workers outlive a manager, and nothing outlives the pool.

Each test checks the processes themselves (psutil), not the pool's word.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import psutil
import pytest
from conftest import wait_until
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, cross_val_predict

from foldgraph import FoldIndex, Learner, ParallelProcessing
from foldgraph.engine.buffers import segment_names
from foldgraph.engine.pool import WorkerPool, worker_pool

rng = np.random.default_rng(0)
X = rng.normal(size=(60, 4))
y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(scale=0.1, size=60)


def fit_once(n_jobs=2, **kw):
    """One manager, one run; its out-of-fold predictions and worker pids."""
    with ParallelProcessing("multiprocessing", n_jobs=n_jobs, **kw) as pp:
        P = pp.map(Learner(Ridge(), FoldIndex(3), name="r"), "fit", X, y, return_preds=True)
        return P, pp.worker_pids


def expected():
    return cross_val_predict(Ridge(), X, y, cv=KFold(3))


def gone(pids) -> bool:
    return not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
                   for p in pids)  # fmt: skip


@pytest.fixture
def pool():
    """The process's pool, empty, with its timeout restored and its workers stopped after
    the test."""
    pool = worker_pool()
    pool.shutdown()  # idle workers of earlier tests (other slots and thread limits)
    timeout = pool.idle_timeout
    yield pool
    pool.idle_timeout = timeout
    pool.shutdown()


def test_a_second_manager_reuses_the_first_ones_workers(pool, no_leaks):
    P1, pids1 = fit_once()
    assert sorted(pids1) == pool.pids  # idle in the pool after clear(), not stopped
    started, reused = pool.started, pool.reused
    P2, pids2 = fit_once()
    assert pids2 == pids1
    assert pool.started == started and pool.reused == reused + 2
    np.testing.assert_allclose(P1.ravel(), expected(), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(P1, P2)
    assert not segment_names(os.getpid())  # clear() freed the buffers at once


def test_the_pool_grows_to_the_largest_run_and_lends_slots_in_order(pool, no_leaks):
    _, two = fit_once(n_jobs=2)
    _, one = fit_once(n_jobs=1, threads_per_worker=1)  # same threads as the 2-worker run
    assert one == two[:1]
    assert pool.pids == sorted(two)


def test_workers_stop_after_the_idle_timeout(pool, no_leaks):
    pool.idle_timeout = 0.5
    _, pids = fit_once()
    assert sorted(pids) == pool.pids
    assert wait_until(lambda: gone(pids), timeout=10)
    assert pool.pids == []


def test_a_run_within_the_timeout_keeps_the_workers(pool, no_leaks):
    pool.idle_timeout = 5.0  # beyond a loaded machine's time between two managers
    _, pids = fit_once()
    _, again = fit_once()  # re-arms the timer
    assert again == pids and not gone(pids)
    assert wait_until(lambda: gone(pids), timeout=30)


def test_idle_timeout_zero_means_no_reuse(pool, no_leaks):
    pool.idle_timeout = 0
    _, pids = fit_once()
    assert pool.pids == [] and wait_until(lambda: gone(pids), timeout=5)


def test_a_worker_killed_while_idle_is_replaced(pool, no_leaks):
    _, pids = fit_once()
    os.kill(pids[0], signal.SIGKILL)
    assert wait_until(lambda: gone(pids[:1]))
    P, fresh = fit_once()
    assert fresh[0] != pids[0] and fresh[1] == pids[1]
    np.testing.assert_allclose(P.ravel(), expected(), rtol=1e-10, atol=1e-12)


def test_managers_in_two_threads_get_their_own_workers(pool, no_leaks):
    results, errors = {}, []

    def run(i):
        try:
            results[i] = fit_once()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for P, _ in results.values():
        np.testing.assert_allclose(P.ravel(), expected(), rtol=1e-10, atol=1e-12)
    assert len(pool.pids) <= 2  # one per slot kept, the surplus stopped
    everyone = [p for _, pids in results.values() for p in pids]
    surplus = set(everyone) - set(pool.pids)
    assert wait_until(lambda: gone(surplus))


def test_a_failed_run_stops_its_workers_instead_of_pooling_them(pool, no_leaks):
    class Broken(Ridge):
        def fit(self, X, y):
            raise ValueError("broken on purpose")

    with ParallelProcessing("multiprocessing", n_jobs=2) as pp:
        with pytest.raises(ValueError, match="broken on purpose"):
            pp.map(Learner(Broken(), FoldIndex(3), name="b"), "fit", X, y)
    assert pool.pids == []


def test_a_forked_child_starts_with_an_empty_pool(pool):
    fit_once()
    assert pool.pids
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it sees, never run pytest's exit
        os.write(write, str(len(worker_pool().pids)).encode())
        os._exit(0)
    os.close(write)
    seen = os.read(read, 16).decode()
    os.waitpid(pid, 0)
    os.close(read)
    assert seen == "0" and pool.pids  # the parent's workers were not touched


def test_bad_timeouts_are_refused():
    with pytest.raises(ValueError, match=r"idle_timeout=-1: pass a number of seconds >= 0"):
        WorkerPool(idle_timeout=-1)
    with pytest.raises(ValueError, match="idle_timeout='5'"):
        worker_pool().idle_timeout = "5"
    env = dict(os.environ, FOLDGRAPH_IDLE_TIMEOUT="soon")
    out = subprocess.run([sys.executable, "-c", "import foldgraph.engine.pool"], env=env,
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode != 0
    assert "FOLDGRAPH_IDLE_TIMEOUT='soon': set it to a number of seconds >= 0" in out.stderr


SCRIPT = textwrap.dedent("""
    import sys, time
    import numpy as np
    from foldgraph import FoldIndex, Learner, ParallelProcessing
    from foldgraph.engine.pool import worker_pool

    class Slow:
        def __init__(self, seconds=0.0): self.seconds = seconds
        def get_params(self, deep=True): return {"seconds": self.seconds}
        def set_params(self, **p): self.__dict__.update(p); return self
        def fit(self, X, y): time.sleep(self.seconds); return self
        def predict(self, X): return np.zeros(len(X))

    X, y = np.ones((20, 2)), np.ones(20)
    with ParallelProcessing("multiprocessing", n_jobs=2) as pp:
        pp.map(Learner(Slow(), FoldIndex(2)), "fit", X, y)
        print(*pp.worker_pids, flush=True)
    if sys.argv[1] == "interrupt":
        pp = ParallelProcessing("multiprocessing", n_jobs=2)
        pp.map(Learner(Slow(30.0), FoldIndex(2)), "fit", X, y)  # interrupted
    print(*worker_pool().pids, flush=True)
""")


@pytest.mark.parametrize("how", ["exit", "interrupt"])
def test_nothing_outlives_the_interpreter(tmp_path, how):
    """Pooled workers stop at exit; after Ctrl-C the busy ones are killed at once."""
    script = tmp_path / "pool_exit.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), how], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(pids) == 2
    if how == "interrupt":
        wait_until(lambda: False, timeout=2.0)  # the pooled workers run the 30 s nodes
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    if how == "exit":
        assert proc.returncode == 0, err
        # idle in the pool until exit (reuse itself is tested in-process above)
        assert {int(p) for p in out.split()} <= set(pids), err
    else:
        assert "KeyboardInterrupt" in err and out == ""
    assert wait_until(lambda: gone(pids), timeout=10), [p for p in pids if psutil.pid_exists(p)]
    assert not segment_names(proc.pid)


def test_a_manager_pickled_by_an_older_version_runs():
    """A pickle lacking the settings this version added gets their defaults."""
    import pickle

    state = ParallelProcessing("sequential").__getstate__()
    for added in ("threads", "_thread_mode", "memory_limit", "_memory_limit", "memory",
                  "_backends"):  # fmt: skip
        state.pop(added, None)
    old = ParallelProcessing.__new__(ParallelProcessing)
    old.__setstate__(state)
    again = pickle.loads(pickle.dumps(old))
    for pp in (old, again):
        P = pp.map(Learner(Ridge(), FoldIndex(3), name="r"), "fit", X, y, return_preds=True)
        np.testing.assert_allclose(P.ravel(), expected(), rtol=1e-10, atol=1e-12)
        assert pp.trace.backend == "sequential"
        pp.clear()
