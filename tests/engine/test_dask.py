"""The dask.distributed backend: same numbers as sequential, faults, cleanup.

One LocalCluster (2 worker processes, 1 thread each) is shared by the
module; one test starts its own to check that ``clear()`` closes it, and one
(slow) deploys a scheduler and two workers with dask's command-line tools.
"""

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import wait_until
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.tree import DecisionTreeRegressor

from foldgraph import (
    BlendEnsemble,
    FoldIndex,
    FullIndex,
    Learner,
    ParallelProcessing,
    SequentialEnsemble,
    Subsemble,
    SuperLearner,
    TaskError,
    TemporalEnsemble,
    Transformer,
    WorkerDied,
)
from foldgraph.engine.backends import Sequential
from foldgraph.engine.dask_backend import Dask, dask_priorities
from foldgraph.engine.job import Job
from foldgraph.engine.scheduler import run_graph
from foldgraph.engine.strategies import resolve
from foldgraph.engine.trace import Trace
from foldgraph.graph import map_graph, stack_graph
from foldgraph.testing import OLS, Scale

distributed = pytest.importorskip("distributed")

rng = np.random.RandomState(0)
X = rng.normal(size=(60, 4))
Y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.normal(size=60)


class Flaky(RegressorMixin, BaseEstimator):
    """OLS that raises (``mode="raise"``), kills its worker once (``"kill-once"``,
    remembered in the file ``marker``) or every time (``"exit"``: ``os._exit(1)``) when
    fitted on ``bad_rows`` rows; sleeps ``delay``."""

    def __init__(self, mode="raise", bad_rows=-1, marker=None, delay=0.0):
        self.mode = mode
        self.bad_rows = bad_rows
        self.marker = marker
        self.delay = delay

    def fit(self, X, y):
        time.sleep(self.delay)
        if len(X) == self.bad_rows:
            if self.mode == "raise":
                raise ValueError("bad fold")
            if self.mode == "kill-once" and not os.path.exists(self.marker):
                Path(self.marker).touch()
                os.kill(os.getpid(), signal.SIGKILL)
            if self.mode == "exit":
                os._exit(1)
        self.coef_ = np.linalg.lstsq(X, y, rcond=None)[0]
        return self

    def predict(self, X):
        return X @ self.coef_


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.ERROR)
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


def base_tasks():
    return [
        Transformer(Scale(), FoldIndex(3), name="sc"),
        Learner(OLS(), FoldIndex(3), name="ols", preprocess="sc"),
        Learner(DecisionTreeRegressor(max_depth=3, random_state=0), FoldIndex(3), name="tree"),
    ]


def stack_tasks():
    return [
        Learner(Ridge(alpha=0.5), FoldIndex(3), name="l1"),
        Learner(DecisionTreeRegressor(max_depth=2, random_state=0), FoldIndex(4), name="l2"),
        Learner(LinearRegression(), FullIndex(), name="meta"),
    ]


def fitted_predictions(tasks):
    """Every fitted estimator's predictions on the same rows (compares estimators)."""
    out = []
    for task in tasks:
        if task.kind == "learner":
            Z = np.linspace(-1.0, 1.0, 5 * task.n_features_in_).reshape(5, -1)
            out += [e.predict(Z) for e in task.fold_estimators_ + task.partition_estimators_]
    return out


def run_both(method, make_tasks, client, **kw):
    """Run ``method`` with the sequential and the dask backend; return both results and tasks."""
    results = []
    for pp in (ParallelProcessing("sequential"), ParallelProcessing("dask", client=client)):
        tasks = make_tasks()
        with pp:
            out = getattr(pp, method)(tasks, "fit", X, Y, **kw)
            results.append((out, tasks, pp.trace))
    return results


def assert_same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert u.dtype == v.dtype and np.array_equal(u, v)


@pytest.mark.parametrize("strategy", ["fifo", "critical_path", "lpt"])
def test_map_equals_sequential(client, strategy):
    (seq, seq_tasks, _), (got, tasks, trace) = run_both(
        "map", base_tasks, client, return_preds=["ols", "tree"])
    assert_same(seq, got)
    assert_same(fitted_predictions(seq_tasks), fitted_predictions(tasks))
    assert len(trace) == 12  # 3 tasks x (3 folds + full)


def test_stack_equals_sequential(client):
    (seq, seq_tasks, _), (got, tasks, trace) = run_both(
        "stack", stack_tasks, client, return_preds=["l1", "l2", "meta"])
    assert_same(seq, got)
    assert_same(fitted_predictions(seq_tasks), fitted_predictions(tasks))
    # the trace follows the dependencies: l2 starts after every l1 fold fit ended
    events = {e.key: e for e in trace.events}
    l1_end = max(events[f"l1/fit/fold-{k}"].end for k in range(3))
    assert min(events[f"l2/fit/fold-{k}"].start for k in range(4)) >= l1_end


def test_initialize_process_and_predict_job(client):
    outputs = []
    for backend in ("sequential", "dask"):
        pp = ParallelProcessing(backend, client=client if backend == "dask" else None)
        tasks = stack_tasks()
        with pp:
            out = pp.initialize("fit", X, Y, return_preds=True, stack=True)
            fit = pp.process(tasks, out)
            pred = pp.stack(tasks, "predict", X[:17], return_preds=True)
        outputs.append([fit, pred])
    assert_same(*outputs)


def test_superlearner_with_a_manager_instance(client):
    def make(backend):
        ens = SuperLearner(folds=3, backend=backend)
        ens.add([Ridge(), DecisionTreeRegressor(max_depth=3, random_state=0)], propagate_features=[0])
        return ens.add_meta(LinearRegression())

    ref = make("sequential").fit(X, Y)
    pp = ParallelProcessing("dask", client=client)
    ens = make(pp).fit(X, Y)
    assert pp.trace is ens.trace_ and len(ens.trace_) == len(ens.graph_)
    assert np.array_equal(ref.fit_transform_, ens.fit_transform_)
    assert np.array_equal(ref.predict(X), ens.predict(X))
    from sklearn.base import clone

    assert clone(ens).backend is pp  # the user's manager is shared, not copied
    pp.clear()
    assert client.status == "running"  # a client given by the user is never closed


def _sequential_ensemble():
    ens = SequentialEnsemble()
    ens.add("stack", [Ridge(), OLS()], folds=3, propagate_features=[0, 1])
    ens.add("blend", [Ridge()], test_size=0.5)
    return ens.add("subsemble", [Ridge()], partitions=2, folds=2)


@pytest.mark.parametrize("make, data", [
    (lambda: BlendEnsemble(test_size=0.4).add([Ridge()]), "dense"),
    (lambda: Subsemble(partitions=2, folds=3).add([Ridge(), OLS()]), "dense"),
    (lambda: TemporalEnsemble(step_size=10, burn_in=20).add([Ridge()]), "dense"),
    (_sequential_ensemble, "dense"),
    (lambda: SuperLearner(folds=3).add([Ridge()], propagate_features=[0]), "sparse"),
    (lambda: SuperLearner(folds=3).add([LogisticRegression()], proba=True), "classes"),
], ids=["blend", "subsemble", "temporal", "sequential", "sparse", "proba"])  # fmt: skip
def test_every_ensemble_kind_equals_sequential(client, make, data):
    from scipy import sparse

    Xd, y = (X, Y) if data != "classes" else (X, (Y > 0).astype(int) + (Y > 2))
    if data == "sparse":
        Xd = sparse.csr_matrix(np.where(np.abs(X) < 0.8, 0.0, X))
    meta = LogisticRegression() if data == "classes" else LinearRegression()
    with ParallelProcessing("dask", client=client) as pp:
        got = make().set_params(backend=pp).add_meta(meta).fit(Xd, y)
        ref = make().set_params(backend="sequential").add_meta(meta).fit(Xd, y)
        assert np.array_equal(got.fit_transform_, ref.fit_transform_)
        assert np.array_equal(got.predict(Xd), ref.predict(Xd))


def test_trace_from_the_workers(client):
    with ParallelProcessing("dask", client=client) as pp:
        pp.map(base_tasks(), "fit", X, Y)
        trace, pids = pp.trace, set(pp.worker_pids)
    assert trace.n_workers == 2
    assert {e.worker for e in trace.events} <= {0, 1}
    assert {e.pid for e in trace.events} <= pids and len(pids) == 2
    assert all(0 <= e.start <= e.end for e in trace.events)
    assert "12 nodes on 2 workers" in trace.summary()


def test_cached_nodes_are_not_submitted(client):
    """A cache hit's rows are restored into the buffer; its consumers read them from there."""
    graph = stack_graph(stack_tasks(), "fit", X=X, y=Y)
    ref_job = Job("fit", X, Y)
    ref_job.allocate(graph)
    ref = run_graph(graph, ref_job, Sequential(),
                    resolve("fifo"), Trace())
    hits = {k: ref[k] for k in graph.nodes_of("l1")}
    job = Job("fit", X, Y)
    job.allocate(graph)
    job.buffers["P:l1"][...] = ref_job.buffers["P:l1"]
    trace = Trace()
    results = Dask(client=client).run_graph(graph, job, resolve("fifo"), trace, cached=hits)
    assert {e.key for e in trace.events} == set(graph.nx) - set(hits)
    assert all(results[k] is hits[k] for k in hits)
    for name in ("P:l2", "P:meta"):
        assert np.array_equal(job.buffers[name], ref_job.buffers[name])


def test_strategies_become_dask_priorities():
    """critical_path: the head of the longest chain first; lpt: the costliest first.

    a(1) -> b(5)      c(3)
    """
    graph = map_graph([], "fit", X=X, y=Y)
    for key, cost in (("a", 1.0), ("b", 5.0), ("c", 3.0)):
        graph.add_node(key, cost=cost)
    graph.add_edge("a", "b")
    cp = dask_priorities(graph, resolve("critical_path"))
    assert cp["a"] > cp["c"] and cp["b"] > cp["c"]
    lpt = dask_priorities(graph, resolve("lpt"))
    assert lpt["b"] > lpt["c"] > lpt["a"]
    fifo = dask_priorities(graph, resolve("fifo"))
    assert fifo["a"] > fifo["b"] > fifo["c"]


def test_estimator_error_names_the_task(client):
    tasks = [Learner(OLS(), FoldIndex(3), name="good"),
             Learner(Flaky("raise", bad_rows=40), FoldIndex(3), name="bad")]
    with ParallelProcessing("dask", client=client, retries=0) as pp:
        with pytest.raises(TaskError, match=r"task 'bad' failed at node 'bad/fit/fold-\d'") as info:
            pp.map(tasks, "fit", X, Y)
        assert isinstance(info.value.__cause__, ValueError)
        assert "bad fold" in str(info.value) and "raise ValueError" in info.value.worker_traceback
        assert not hasattr(tasks[0], "fold_estimators_")  # nothing half-fitted
        pp.map(Learner(OLS(), FoldIndex(3)), "fit", X, Y)  # the client still works


def test_worker_killed_mid_node_is_survived(client, tmp_path):
    """A worker SIGKILLed by its node: dask reruns the node elsewhere (the nanny restarts it)."""
    def tasks():
        return [Learner(Flaky("kill-once", bad_rows=40, marker=str(tmp_path / "m")),
                        FoldIndex(3), name="f")]

    (tmp_path / "m").touch()  # the reference run must not kill this process
    with ParallelProcessing("sequential") as pp:
        ref = pp.map(tasks(), "fit", X, Y, return_preds=True)
    (tmp_path / "m").unlink()
    with ParallelProcessing("dask", client=client) as pp:
        got = pp.map(tasks(), "fit", X, Y, return_preds=True)
    assert (tmp_path / "m").exists() and np.array_equal(ref, got)
    assert wait_until(lambda: len(client.nthreads()) == 2, timeout=30)


def test_a_node_that_keeps_killing_workers_is_worker_died(client, tmp_path):
    """Past the scheduler's allowed-failures (0 here), dask gives up: WorkerDied names the
    task and a node. dask blames every task the dead worker was processing (it may hold
    the full fit queued behind the fold that killed it), so the node is one of f's."""
    scheduler = client.cluster.scheduler
    before, scheduler.allowed_failures = scheduler.allowed_failures, 0
    marker = str(tmp_path / "m")
    try:
        with ParallelProcessing("dask", client=client) as pp:
            with pytest.raises(WorkerDied, match=r"task 'f' failed at node 'f/fit/(fold-\d|full)'") as info:
                pp.map(Learner(Flaky("kill-once", bad_rows=40, marker=marker), FoldIndex(3),
                               name="f"), "fit", X, Y)  # fmt: skip
        assert "died" in str(info.value) and info.value.node.startswith("f/fit/")
    finally:
        scheduler.allowed_failures = before
        assert wait_until(lambda: len(client.nthreads()) == 2, timeout=30)


@pytest.mark.slow
def test_the_node_that_kills_its_worker_is_named(client):
    """A node calling ``os._exit`` at every attempt is WorkerDied naming it, not a node
    queued on the same worker nor one whose input was lost with it (issue 16)."""
    tasks = [Learner(OLS(), FoldIndex(3), name="good"),
             Learner(Flaky("exit", bad_rows=len(X)), FullIndex(), name="bad"),
             Learner(OLS(), FoldIndex(4), name="good2")]
    try:
        with ParallelProcessing("dask", client=client) as pp:
            with pytest.raises(WorkerDied, match=r"task 'bad' failed at node 'bad/fit/full'"
                                                 r".* died while running node 'bad/fit/full'") as info:
                pp.map(tasks, "fit", X, Y)
        assert (info.value.task, info.value.node) == ("bad", "bad/fit/full")
    finally:
        assert wait_until(lambda: len(client.nthreads()) == 2, timeout=60)


def test_lost_input_resubmits_the_rest(client):
    """Scattered X and y gone mid-run (as when the last worker holding them dies): the
    nodes not finished are resubmitted with fresh copies; finished ones are kept."""
    def tasks(delay):
        return [Learner(Flaky("none", delay=delay), FoldIndex(4), name="slow"),
                Learner(OLS(), FoldIndex(3), name="next")]

    with ParallelProcessing("sequential") as pp:
        ref = pp.stack(tasks(0.0), "fit", X, Y, return_preds=True)
    before = {k for k in client.who_has() if str(k).startswith("ndarray-")}
    pp, errors, out = ParallelProcessing("dask", client=client), [], []
    run = threading.Thread(target=lambda: _run(
        lambda: out.append(pp.stack(tasks(0.4), "fit", X, Y, return_preds=True)), errors))
    run.start()
    inputs = wait_until(lambda: [k for k in client.who_has()
                                 if str(k).startswith("ndarray-") and k not in before])
    assert wait_until(lambda: any(str(k).startswith("slow/") and where  # a node finished
                                  for k, where in client.who_has().items()))  # fmt: skip
    client.cancel([distributed.Future(k, client) for k in inputs], force=True)
    run.join(timeout=60)
    assert not errors, errors
    assert np.array_equal(out[0], ref)
    keys = [e.key for e in pp.trace.events]
    assert sorted(keys) == sorted(set(keys)) and len(keys) == len(pp.graph)
    pp.clear()


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(backend="threading", address="tcp://127.0.0.1:1"), ValueError,
     r"address= is for backend='dask', not 'threading'"),
    (dict(backend="dask", client=object()), ValueError, r"client= must be a distributed.Client"),
    (dict(backend="dask", address=8786), ValueError, r"address= must be a scheduler address"),
])  # a strategy asked at run time works on dask too: test_one_loop.py
def test_bad_options(kwargs, exc, match, client):
    with pytest.raises(exc, match=match):
        with ParallelProcessing(**kwargs) as pp:
            pp.map(Learner(OLS()), "fit", X, Y)


def test_client_and_address_together(client):
    with pytest.raises(ValueError, match="client= or address=, not both"):
        ParallelProcessing("dask", client=client, address=client.scheduler.address)


def test_missing_distributed_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ImportError, match=r"pip install 'foldgraph\[dask\]'"):
        ParallelProcessing("dask")


def test_address_connects_and_clear_closes_only_our_client(client):
    pp = ParallelProcessing("dask", address=client.scheduler.address)
    P = pp.map(Learner(OLS(), FoldIndex(3)), "fit", X, Y, return_preds=True)
    with ParallelProcessing("sequential") as ref:
        assert np.array_equal(P, ref.map(Learner(OLS(), FoldIndex(3)), "fit", X, Y,
                                         return_preds=True))
    ours = pp._backend.client
    pp.clear()
    assert ours.status == "closed" and client.status == "running"
    assert len(client.nthreads()) == 2  # the cluster is not ours to close


def test_unreachable_address_is_a_clear_error():
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), \
            ParallelProcessing("dask", address="tcp://127.0.0.1:9") as pp:
        with pytest.raises(ConnectionError, match=r"no dask scheduler answered at address="):
            pp.map(Learner(OLS()), "fit", X, Y)


def test_own_local_cluster_is_closed_by_clear(no_leaks):
    with ParallelProcessing("dask", n_jobs=1) as pp:  # one worker process: quicker to start
        P = pp.map(Learner(OLS(), FoldIndex(3)), "fit", X, Y, return_preds=True)
        assert len(pp.worker_pids) == 1 and pp.trace.n_workers == 1
    assert pp.worker_pids == [] and P.shape == (60, 1)


def _cli(*args, env=None, log=None):
    """Start dask's command-line tool from this interpreter's environment."""
    dask = Path(sys.executable).parent / "dask"
    return subprocess.Popen([str(dask), *args], env=env, stdout=log, stderr=subprocess.STDOUT)


def _stop(procs) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_command_line_cluster_survives_a_killed_worker(tmp_path):
    """`dask scheduler` + two `dask worker` processes on 127.0.0.1, as a user deploys them;
    one worker is SIGKILLed while the SuperLearner's slow fold fits run."""
    def make(backend, delay):
        ens = SuperLearner(folds=4, backend=backend)
        ens.add([Flaky("none", delay=delay), Ridge()]).add([Flaky("none", delay=delay)])
        return ens.add_meta(LinearRegression())

    ref = make("sequential", 0.0).fit(X, Y)
    here = Path(__file__).resolve().parent  # the workers import this module's Flaky
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(here), str(here.parent)]))
    file = tmp_path / "scheduler.json"
    log = open(tmp_path / "cluster.log", "w")
    procs = [_cli("scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address",
                  "127.0.0.1:0", "--scheduler-file", str(file), "--idle-timeout", "120",
                  env=env, log=log)]
    try:
        assert wait_until(file.exists, timeout=60), "the scheduler did not start"
        address = json.loads(file.read_text())["address"]
        workers = [_cli("worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                        "--no-nanny", "--no-dashboard", "--death-timeout", "60",
                        env=env, log=log) for _ in range(2)]  # fmt: skip
        procs += workers
        monitor = distributed.Client(address, set_as_default=False)
        monitor.wait_for_workers(2, timeout=60)
        pp = ParallelProcessing("dask", address=address)
        ens, errors = make(pp, 0.3), []
        fit = threading.Thread(target=lambda: _run(ens.fit, errors, X, Y))
        fit.start()
        victim = workers[1]
        where = {pid: addr for addr, pid in monitor.run(os.getpid).items()}[victim.pid]
        busy = wait_until(lambda: errors or monitor.processing(workers=[where])[where],
                          timeout=60)  # fmt: skip
        assert busy and not errors, f"the second worker never got a node: {errors}"
        victim.send_signal(signal.SIGKILL)
        fit.join(timeout=120)
        assert not fit.is_alive() and not errors, errors
        assert victim.wait(timeout=10) == -signal.SIGKILL
        assert len(monitor.nthreads()) == 1  # the other worker finished the run
        assert np.array_equal(ref.fit_transform_, ens.fit_transform_)
        assert np.array_equal(ref.predict(X), ens.predict(X))
        pp.clear()
        monitor.close()
    finally:
        _stop(procs)
        log.close()
    assert all(proc.poll() is not None for proc in procs)


def _run(fn, errors, *args):
    try:
        fn(*args)
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)
