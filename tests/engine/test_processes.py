"""The multiprocessing backend: faults survived, nothing leaked (each a test)."""

import ctypes
import os
import signal
import time

import numpy as np
import pytest
from conftest import wait_until
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge

from foldgraph import FoldIndex, Learner, ParallelProcessing, TaskError, WorkerDied
from foldgraph.engine.buffers import segment_names
from foldgraph.engine.payload import make_payload
from foldgraph.engine.scheduler import start_state
from foldgraph.graph import map_graph
from foldgraph.testing import OLS

pytestmark = pytest.mark.usefixtures("no_leaks")

X = np.arange(60.0).reshape(30, 2) + np.sin(np.arange(60.0)).reshape(30, 2)
Y = X @ np.array([1.0, -1.0]) + np.cos(np.arange(30.0))


class Faulty(RegressorMixin, BaseEstimator):
    """OLS that misbehaves on the fold whose training set starts at row ``bad_start``.

    mode: "raise", "kill" (SIGKILL itself), "segfault", "kill-once" (kill on the
    first attempt only, remembered in ``marker``), "sleep" (``seconds``).
    """

    def __init__(self, mode="raise", bad_start=0, marker=None, seconds=0.0):
        self.mode = mode
        self.bad_start = bad_start
        self.marker = marker
        self.seconds = seconds

    def fit(self, X, y):
        if len(X) != len(Y) and np.array_equal(X[0], globals()["X"][self.bad_start]):
            self._misbehave()
        self.coef_ = np.linalg.lstsq(X, y, rcond=None)[0]
        return self

    def _misbehave(self):
        if self.mode == "raise":
            raise ValueError("bad fold")
        if self.mode == "sleep":
            time.sleep(self.seconds)
        elif self.mode == "kill" or (self.mode == "kill-once" and not os.path.exists(self.marker)):
            if self.marker:
                open(self.marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        elif self.mode == "segfault":
            ctypes.string_at(0)

    def predict(self, X):
        return X @ self.coef_


def reference(n_folds=3):
    with ParallelProcessing("sequential") as pp:
        return pp.map(Learner(OLS(), FoldIndex(n_folds), name="f"), "fit", X, Y, return_preds=True)


def test_workers_are_reused_until_clear():
    pp = ParallelProcessing("multiprocessing", n_jobs=2)
    pp.map(Learner(OLS(), name="a"), "fit", X, Y)
    pids = pp.worker_pids
    assert len(pids) == 2 and os.getpid() not in pids
    pp.stack([Learner(OLS(), name="a"), Learner(Ridge(), name="b")], "fit", X, Y)
    assert pp.worker_pids == pids
    assert {r["pid"] for r in pp.trace.records} <= set(pids)
    pp.clear()
    assert pp.worker_pids == []
    pp.clear()  # idempotent


def test_exception_names_task_and_node_and_keeps_workers_healthy():
    with ParallelProcessing("multiprocessing", n_jobs=2) as pp:
        learner = Learner(Faulty("raise", bad_start=10), FoldIndex(3), name="faulty")
        with pytest.raises(TaskError, match=r"task 'faulty' failed at node 'faulty/fit/fold-0': "
                                            r"ValueError: bad fold") as info:  # fmt: skip
            pp.map(learner, "fit", X, Y)
        cause = info.value.__cause__
        assert type(cause) is ValueError
        assert "raise ValueError" in str(cause.__cause__)  # the worker's traceback
        assert "raise ValueError" in info.value.worker_traceback
        assert not hasattr(learner, "estimator_")
        assert not segment_names(os.getpid())
        # the manager still works
        out = pp.map(Learner(OLS(), FoldIndex(3), name="f"), "fit", X, Y, return_preds=True)
    np.testing.assert_array_equal(out, reference())


def test_killed_worker_is_replaced_and_node_retried(tmp_path):
    est = Faulty("kill-once", bad_start=10, marker=str(tmp_path / "killed"))
    with ParallelProcessing("multiprocessing", n_jobs=2, retries=1) as pp:
        pids = pp.worker_pids
        t0 = time.perf_counter()
        out = pp.map(Learner(est, FoldIndex(3), name="f"), "fit", X, Y, return_preds=True)
        elapsed = time.perf_counter() - t0
        deaths = pp._backend.deaths
    assert (tmp_path / "killed").exists()
    assert len(deaths) == 1 and deaths[0][2] == -signal.SIGKILL and deaths[0][3] == "f/fit/fold-0"
    assert deaths[0][1] not in pids
    np.testing.assert_array_equal(out, reference())
    assert elapsed < 30  # generous: a respawn, not a timeout


@pytest.mark.parametrize("mode, code", [("kill", -signal.SIGKILL), ("segfault", -signal.SIGSEGV)])
def test_worker_that_keeps_dying_fails_the_run(mode, code):
    with ParallelProcessing("multiprocessing", n_jobs=2, retries=1) as pp:
        learner = Learner(Faulty(mode, bad_start=10), FoldIndex(3), name="f")
        with pytest.raises(WorkerDied, match=rf"task 'f' failed at node 'f/fit/fold-0'.*died "
                                             rf"with exit code {code}.*2 attempt"):  # fmt: skip
            pp.map(learner, "fit", X, Y)
        assert not hasattr(learner, "estimator_")
        out = pp.map(Learner(OLS(), FoldIndex(3), name="f"), "fit", X, Y, return_preds=True)
    np.testing.assert_array_equal(out, reference())


def test_no_retry_when_retries_is_zero(tmp_path):
    est = Faulty("kill-once", bad_start=10, marker=str(tmp_path / "killed"))
    with ParallelProcessing("multiprocessing", n_jobs=2, retries=0) as pp:
        with pytest.raises(WorkerDied, match="1 attempt"):
            pp.map(Learner(est, FoldIndex(3), name="f"), "fit", X, Y)


def test_keyboard_interrupt_stops_workers_and_releases_buffers():
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    pp = ParallelProcessing("multiprocessing", n_jobs=2)
    pp.map(Learner(OLS(), name="warm"), "fit", X, Y)  # start the workers
    pids = pp.worker_pids
    learner = Learner(Faulty("sleep", bad_start=10, seconds=30), FoldIndex(3), name="slow")
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(KeyboardInterrupt):
            pp.map(learner, "fit", X, Y)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert pp.job is None and pp.worker_pids == []
    assert not any(psutil_alive(pid) for pid in pids)


def psutil_alive(pid):
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_payload_carries_handles_not_arrays():
    sizes = []
    for n in (100, 100_000):
        Xn = np.ones((n, 8))
        graph = map_graph(Learner(Ridge(), FoldIndex(2), name="r"), "fit", X=Xn, y=np.ones(n))
        state = start_state(graph.nx, {k: 0 for k in graph.nx})
        import cloudpickle

        sizes.append(len(cloudpickle.dumps(make_payload(graph, "r/fit/fold-0", state))))
    assert sizes[1] - sizes[0] < 64, sizes  # only the digits of the row numbers grow


def test_lambdas_and_closures_travel():
    from sklearn.preprocessing import FunctionTransformer

    from foldgraph import Pipeline, Transformer

    scale = 3.0
    tasks = [
        Transformer(Pipeline([("f", FunctionTransformer(lambda a: a * scale))]), name="t"),
        Learner(OLS(), preprocess="t", name="o"),
    ]
    with ParallelProcessing("multiprocessing", n_jobs=2) as pp:
        got = pp.map(tasks, "fit", X, Y, return_preds=True)
    with ParallelProcessing("sequential") as pp:
        want = pp.map(tasks, "fit", X, Y, return_preds=True)
    np.testing.assert_array_equal(got, want)


class ThreadProbe(OLS):
    def fit(self, X, y):
        from threadpoolctl import threadpool_info

        self.threads_ = max((i["num_threads"] for i in threadpool_info()), default=1)
        self.pid_ = os.getpid()
        return super().fit(X, y)


@pytest.mark.parametrize("threads, expected", [("auto", 1), (2, 2)])
def test_blas_threads_are_capped_in_workers(threads, expected):
    learner = Learner(ThreadProbe(), FoldIndex(2), name="p")
    with ParallelProcessing("multiprocessing", n_jobs=2, threads_per_worker=threads) as pp:
        pp.map(learner, "fit", X, Y)
    assert {e.threads_ for e in learner.fold_estimators_} == {expected}
    assert learner.estimator_.pid_ != os.getpid()


def test_worker_killed_between_runs_is_replaced():
    with ParallelProcessing("multiprocessing", n_jobs=2) as pp:
        pp.map(Learner(OLS(), FoldIndex(3), name="f"), "fit", X, Y)
        victim = pp.worker_pids[0]
        os.kill(victim, signal.SIGKILL)
        assert wait_until(lambda: not psutil_alive(victim))
        out = pp.map(Learner(OLS(), FoldIndex(3), name="f"), "fit", X, Y, return_preds=True)
        assert victim not in pp.worker_pids and len(pp.worker_pids) == 2
    np.testing.assert_array_equal(out, reference())


def test_cheap_nodes_are_queued_behind_each_other_and_stay_identical(monkeypatch):
    """Prefetching queues a cheap node behind another; results do not change."""
    from foldgraph.engine.processes import PREFETCH_DEPTH, Processes

    depths = []
    send = Processes._send

    def spy(self, worker, payload):
        send(self, worker, payload)
        depths.append(len(worker.inflight))

    monkeypatch.setattr(Processes, "_send", spy)
    learners = [Learner(OLS(), FoldIndex(3), name=f"o{i}") for i in range(6)]
    with ParallelProcessing("multiprocessing", n_jobs=2) as pp:
        got = pp.map(learners, "fit", X, Y, return_preds=[f"o{i}" for i in range(6)])
        assert pp._backend.free_slots() == 2  # at rest: two idle workers
    assert 2 <= max(depths) <= PREFETCH_DEPTH
    for out in got:
        np.testing.assert_array_equal(out, reference())


PROBE = '''
import sys
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.neighbors import KNeighborsRegressor
from foldgraph import FullIndex, Learner, ParallelProcessing

class Probe(BaseEstimator, RegressorMixin):
    def fit(self, X, y):
        self.loaded_ = "sklearn.neighbors._regression" in sys.modules
        return self

    def predict(self, X):
        return np.zeros(len(X))

X = np.arange(60.0).reshape(20, 3)
probe = Learner(Probe(), FullIndex(), name="probe")
with ParallelProcessing("multiprocessing", n_jobs=1, start_method=sys.argv[1]) as pp:
    pp.map([probe, Learner(KNeighborsRegressor(2), FullIndex(), name="knn")], "fit", X, X.sum(1))
print(probe.partition_estimators_[0].loaded_)
'''


@pytest.mark.parametrize("method, preloaded", [("forkserver", "True"), ("spawn", "False")])
def test_forkserver_preloads_the_estimators_modules(tmp_path, method, preloaded):
    """The probe runs first on the only worker: it sees the k-NN module already
    imported only when the forkserver preloaded it (a fresh interpreter, so that
    no forkserver of this test session is reused)."""
    import subprocess
    import sys

    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    out = subprocess.run([sys.executable, str(script), method], capture_output=True,
                         text=True, timeout=120, check=True)  # fmt: skip
    assert out.stdout.strip() == preloaded, out.stderr


class Ballast(OLS):
    """OLS whose fitted state is 1 MB: predict payloads and answers overflow a pipe."""

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y)
        self.ballast_ = np.ones(131072)
        return self


@pytest.mark.timeout(60)
def test_large_payloads_and_answers_do_not_deadlock():
    """Cheap nodes are queued behind each other, but a payload too large for the
    pipe is written only when its worker is idle: otherwise the parent blocks
    writing it while the worker blocks writing its (large) answer."""
    from foldgraph.engine.processes import PIPE_SAFE

    assert Ballast().fit(X, Y).ballast_.nbytes > 16 * PIPE_SAFE
    tasks = [Learner(Ballast(), FoldIndex(3), name=f"b{i}") for i in range(6)]
    with ParallelProcessing("multiprocessing", n_jobs=2) as pp:
        pp.map(tasks, "fit", X, Y)
        got = pp.map(tasks, "predict", X, return_preds=[t.name for t in tasks])
    with ParallelProcessing("sequential") as pp:
        want = pp.map(tasks, "predict", X, return_preds=[t.name for t in tasks])
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_estimator_modules_walks_pipelines_with_bare_or_named_steps():
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.preprocessing import StandardScaler

    from foldgraph import Transformer
    from foldgraph.engine.processes import estimator_modules
    from foldgraph.tasks.pipeline import Pipeline

    tasks = [Transformer(Pipeline([StandardScaler()]), name="bare"),
             Transformer(Pipeline([("s", StandardScaler())]), name="named"),
             Learner(KNeighborsRegressor(2), FoldIndex(2))]  # fmt: skip
    assert estimator_modules(tasks) == ["foldgraph.tasks.pipeline",
                                        "sklearn.neighbors._regression",
                                        "sklearn.preprocessing._data"]  # fmt: skip


def sequential_preds(tasks, how="map"):
    with ParallelProcessing("sequential") as pp:
        return getattr(pp, how)(tasks, "fit", X, Y, return_preds=True if how == "stack" else
                                [t.name for t in tasks])  # fmt: skip


def test_cheap_nodes_queued_on_one_worker_are_answered_in_order(monkeypatch):
    """Cheap nodes queued on the only worker are answered one message each, in the
    order sent; the numbers do not change."""
    from foldgraph import FullIndex
    from foldgraph.engine import processes

    keys = []
    read = processes.read_answer

    def spy(msg):
        kind, done = read(msg)
        keys.append(done.key)
        return kind, done

    monkeypatch.setattr(processes, "read_answer", spy)
    depths = []
    send = processes.Processes._send

    def count(self, worker, payload):
        send(self, worker, payload)
        depths.append(len(worker.inflight))

    monkeypatch.setattr(processes.Processes, "_send", count)
    tasks = [Learner(OLS(offset=i), FullIndex(), name=f"o{i}") for i in range(9)]
    with ParallelProcessing("multiprocessing", n_jobs=1, start_method="fork") as pp:
        got = pp.map(tasks, "fit", X, Y, return_preds=[t.name for t in tasks])
    assert sorted(keys) == sorted(f"o{i}/fit/full" for i in range(9)) and max(depths) >= 2
    for a, b in zip(got, sequential_preds(tasks)):
        np.testing.assert_array_equal(a, b)


def test_cheap_chain_follows_its_predecessor_on_the_same_worker(monkeypatch):
    """In a chain of cheap nodes, a node is queued on its predecessor's worker
    before the predecessor ends (a follower); not with a strategy of one's own."""
    from foldgraph import FullIndex
    from foldgraph.engine.processes import Processes

    slots = []
    submit = Processes.submit

    def spy(self, payload, slot=None):
        slots.append(slot)
        submit(self, payload, slot)

    monkeypatch.setattr(Processes, "submit", spy)
    chain = [Learner(OLS(offset=i), FullIndex(), name=f"c{i}") for i in range(8)]
    with ParallelProcessing("multiprocessing", n_jobs=2) as pp:
        got = pp.stack(chain, "fit", X, Y, return_preds=True)
    followers = [s for s in slots if s is not None]
    assert len(slots) == 8 and len(followers) >= 4
    np.testing.assert_array_equal(got, sequential_preds(chain, "stack"))

    slots.clear()
    own = lambda ready, graph, state: ready  # noqa: E731 - a user's strategy
    with ParallelProcessing("multiprocessing", n_jobs=2, strategy=own) as pp:
        got = pp.stack(chain, "fit", X, Y, return_preds=True)
    assert slots == [None] * 8
    np.testing.assert_array_equal(got, sequential_preds(chain, "stack"))


class Doomed(OLS):
    """Kills its worker in every fit."""

    def fit(self, X, y):
        os.kill(os.getpid(), signal.SIGKILL)


def test_worker_death_names_the_node_it_ran_not_one_queued_behind_it():
    """Cheap nodes go to the only worker, several in flight; it dies in the second:
    the second is retried and named, not a node queued behind it."""
    from foldgraph import FullIndex

    tasks = [Learner(OLS(), FullIndex(), name="a"), Learner(Doomed(), FullIndex(), name="k"),
             *[Learner(OLS(), FullIndex(), name=f"c{i}") for i in range(5)]]  # fmt: skip
    with ParallelProcessing("multiprocessing", n_jobs=1, retries=1, start_method="fork") as pp:
        with pytest.raises(WorkerDied, match=r"failed at node 'k/fit/full'.*2 attempt"):
            pp.map(tasks, "fit", X, Y)
        deaths = pp._backend.deaths
        assert [d[3] for d in deaths] == ["k/fit/full", "k/fit/full"]
        out = pp.map(tasks[0], "fit", X, Y, return_preds=True)  # the manager still works
    np.testing.assert_array_equal(out, sequential_preds([tasks[0]])[0])


def test_a_failed_node_stops_the_run_naming_it_with_nodes_queued_behind(monkeypatch):
    """Cheap nodes go to the only worker, several in flight; the second fails: its
    answer comes right after the first's, and the run stops naming it."""
    from foldgraph import FullIndex
    from foldgraph.engine import processes

    answers = []
    read = processes.read_answer

    def spy(msg):
        kind, done = read(msg)
        answers.append((done.key, done.error is not None))
        return kind, done

    monkeypatch.setattr(processes, "read_answer", spy)
    tasks = [Learner(OLS(), FullIndex(), name=f"t{i}") for i in range(13)]
    tasks[1] = Learner(Broken(), FullIndex(), name="bad")
    with ParallelProcessing("multiprocessing", n_jobs=1, start_method="fork",
                            strategy="fifo") as pp:  # submission order: t0, then bad
        with pytest.raises(TaskError, match="failed at node 'bad/fit/full'"):
            pp.map(tasks, "fit", X, Y)
    assert answers[:2] == [("t0/fit/full", False), ("bad/fit/full", True)]


class Unloadable(OLS):
    """Pickles in the parent; fails to unpickle in a worker."""

    def __reduce__(self):
        return (_refuse, ("no such module here",))


def _refuse(why):
    raise ModuleNotFoundError(why)


def test_a_payload_the_worker_cannot_unpickle_fails_its_node_by_name():
    """The worker answers UNREADABLE for that node (its key travels in clear): the
    run fails naming it, the error says why, and the workers stay healthy."""
    from foldgraph import FullIndex

    tasks = [Learner(OLS(), FullIndex(), name="ok"), Learner(Unloadable(), FullIndex(), name="u")]
    with ParallelProcessing("multiprocessing", n_jobs=1, start_method="fork") as pp:
        with pytest.raises(TaskError, match=r"failed at node 'u/fit/full'.*no such module") as info:
            pp.map(tasks, "fit", X, Y)
        cause = info.value.__cause__
        assert isinstance(cause, ModuleNotFoundError)
        if hasattr(cause, "add_note"):  # Python 3.11+: the error says what failed
            assert "could not unpickle the payload of node 'u/fit/full'" in cause.__notes__[0]
        out = pp.map(tasks[0], "fit", X, Y, return_preds=True)
    np.testing.assert_array_equal(out, sequential_preds([tasks[0]])[0])


class Broken(OLS):
    """Raises in every fit."""

    def fit(self, X, y):
        raise ValueError("broken")
