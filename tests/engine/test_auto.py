"""backend="auto": the choice per run, its reasons, and the same numbers as sequential."""

import os
import re
import threading

import numpy as np
import pytest
from joblib import Parallel, delayed
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.tree import DecisionTreeRegressor

from foldgraph import FoldIndex, Learner, ParallelProcessing, SuperLearner, map_graph
from foldgraph.engine import auto
from foldgraph.engine.pool import worker_pool
from foldgraph.graph import TaskGraph
from foldgraph.testing import Sleepy

rng = np.random.default_rng(1)
X = rng.normal(size=(80, 3))
y = X @ np.array([1.0, 2.0, -1.0]) + rng.normal(scale=0.1, size=80)


class Where(Sleepy):
    """Fits an ensemble with the defaults and logs where and on which backend it ran."""

    def __init__(self, seconds=0.0, log=None):
        super().__init__(seconds)
        self.log = log

    def fit(self, X, y):
        ens = SuperLearner(folds=2).add([Ridge(), Ridge(alpha=2.0)]).add_meta(LinearRegression())
        ens.fit(X, y)
        with open(self.log, "a") as f:
            f.write(f"{os.getpid()}|{ens.trace_.backend}|{ens.trace_.reason}\n")
        return super().fit(X, y)


def graph_of(cost, n=4):
    g = map_graph([Learner(Ridge(), FoldIndex(n - 1), name="r")], "fit", X, y)
    for attrs in g.node_attrs.values():
        attrs["cost"] = cost
    return g


def test_one_worker_or_one_node_runs_sequential():
    assert auto.choose(graph_of(10.0), 1) == auto.Choice("sequential", "one worker")
    g = TaskGraph()
    g.add_node("a/fit/full", task="a", op="fit", train=((0, 80),), cost=10.0)
    assert auto.choose(g, 2).reason == "a single node"


def test_little_work_runs_sequential_and_says_why():
    choice = auto.choose(graph_of(1e-4), 2, idle=2)
    assert choice.backend == "sequential"
    assert choice.reason.startswith("0.00 s of work: too little for 2 worker processes")


def test_enough_work_on_warm_workers_runs_in_processes():
    choice = auto.choose(graph_of(2.0), 2, idle=2)
    assert choice.backend == "multiprocessing"
    assert "on 2 worker processes" in choice.reason


def test_cold_workers_are_started_once_the_time_lost_adds_up():
    """Ski rental: runs that would win on warm workers pay for the start once together."""
    g = graph_of(0.25)  # 4 nodes: ~1.0 s sequential, ~0.5 s on 2 warm workers
    picks = [auto.choose(g, 2, idle=0, wake=1.2).backend for _ in range(4)]
    assert picks == ["sequential", "sequential", "multiprocessing", "sequential"]


def test_an_unpicklable_estimator_runs_sequential_naming_its_task():
    class Locked(Ridge):
        def __init__(self, alpha=1.0):
            super().__init__(alpha=alpha)
            self.lock = threading.Lock()

    g = map_graph([Learner(Locked(), FoldIndex(3), name="locked")], "fit", X, y)
    for attrs in g.node_attrs.values():
        attrs["cost"] = 2.0
    choice = auto.choose(g, 2, idle=2)
    assert choice == auto.Choice(
        "sequential", "the estimator of task 'locked' cannot be pickled (TypeError)")


@pytest.fixture
def loky():
    """joblib's reusable executor, stopped after the test (its workers are children too)."""
    yield
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def test_inside_a_joblib_worker_nested_ensembles_run_sequential(loky):
    found = Parallel(n_jobs=2)(delayed(auto.nested_in)() for _ in range(2))
    assert found == ["a joblib worker (ThreadingBackend)"] * 2
    assert auto.nested_in() is None


@pytest.mark.slow
def test_grid_search_over_an_ensemble_never_nests_processes(tmp_path, loky):
    log = tmp_path / "where.log"
    search = GridSearchCV(Where(log=str(log)), {"seconds": [0.0, 0.001]}, cv=KFold(2), n_jobs=2)
    search.fit(X, y)
    lines = [line.split("|") for line in log.read_text().splitlines()]
    in_workers = [(backend, reason) for pid, backend, reason in lines if int(pid) != os.getpid()]
    assert len(in_workers) == 4  # 2 candidates x 2 folds, in loky's worker processes
    assert set(in_workers) == {("sequential", "running inside a joblib worker (ThreadingBackend): "
                                              "no nested worker processes")}  # fmt: skip


def test_auto_learns_durations_and_records_its_choice(capsys):
    """The model sees no work in a sleeping estimator; the first run's trace corrects it."""
    with ParallelProcessing("multiprocessing", n_jobs=2) as warm:  # the pool's workers, warm
        warm.map(Learner(Ridge(), FoldIndex(2)), "fit", X, y)
    tasks = [Learner(Sleepy(0.2), FoldIndex(3), name=f"nap{i}") for i in range(2)]
    with ParallelProcessing(n_jobs=2, verbose=True) as pp:
        first = pp.map(tasks, "fit", X, y, return_preds=True)
        assert pp.trace.backend == "sequential"
        assert "too little for 2 worker processes" in pp.trace.reason
        second = pp.map(tasks, "fit", X, y, return_preds=True)
        assert pp.trace.backend == "multiprocessing", pp.trace.reason
        assert pp.trace.workers() == [0, 1]
    np.testing.assert_array_equal(first, second)
    err = capsys.readouterr().err
    assert "foldgraph: backend 'sequential' (" in err
    assert "foldgraph: backend 'multiprocessing' (" in err
    worker_pool().shutdown()


def test_explicit_backends_record_no_reason():
    with ParallelProcessing("sequential") as pp:
        pp.map(Learner(Ridge(), FoldIndex(2)), "fit", X, y)
        assert (pp.trace.backend, pp.trace.reason) == ("sequential", "")


@pytest.mark.parametrize("cost", [1e-4, 2.0])
def test_auto_gives_the_numbers_of_sequential(cost, monkeypatch):
    """Whatever auto picks (sequential for cheap nodes, processes for costly ones)."""
    ens = SuperLearner(folds=3).add([Ridge(), DecisionTreeRegressor(max_depth=3, random_state=0)])
    ens.add_meta(LinearRegression())
    ref = SuperLearner(folds=3, backend="sequential").add(
        [Ridge(), DecisionTreeRegressor(max_depth=3, random_state=0)]).add_meta(LinearRegression())
    auto.forget()  # no durations measured by earlier tests
    monkeypatch.setattr(auto, "NODE_FLOOR", cost)  # the nodes look cheap or costly
    got = ens.fit(X, y).predict(X)  # before the reference: nothing learned yet
    expected = ref.fit(X, y).predict(X)
    assert ens.trace_.backend == ("sequential" if cost < 1 else "multiprocessing")
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    worker_pool().shutdown()


WAIT_FOR_BACKGROUND = """
import numpy as np
from foldgraph import FoldIndex, Learner, ParallelProcessing
from foldgraph.engine.pool import worker_pool
from foldgraph.testing import Sleepy

X, y = np.ones((40, 2)), np.arange(40.0)
small, large = Learner(Sleepy(0.3), FoldIndex(3), name="s"), Learner(Sleepy(0.3), FoldIndex(7), name="l")
for learner in (small, large):  # durations learned (1.2 s and 2.4 s of work), no workers yet
    ParallelProcessing("sequential").map(learner, "fit", X, y)
for learner in (small, large):
    with ParallelProcessing() as pp:
        pp.map(learner, "fit", X, y)
        print(pp.trace.backend, "|", pp.trace.reason)
print("started", worker_pool().started)
"""


@pytest.mark.slow
def test_a_run_waits_for_workers_starting_in_the_background(no_leaks):
    """The first run goes sequential and starts the workers in the background; the next,
    larger one waits for them (not starting 2 more beside them), then runs on them."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", WAIT_FOR_BACKGROUND], capture_output=True,
                          text=True, timeout=120, check=True)  # fmt: skip
    out = done.stdout.splitlines()
    first, second, started = out
    assert re.match(r"sequential \| 1\.2\d s of work: starting worker processes \(1\.50 s\)", first)
    assert first.endswith("starting them in the background for the next runs")
    assert re.match(r"multiprocessing \| 2\.4\d s of work: about ", second)
    assert second.endswith("once those starting in the background are up")
    assert started == "started 2"  # one start, not two side by side


EXPLICIT_AFTER_BACKGROUND = """
import numpy as np
from foldgraph import FoldIndex, Learner, ParallelProcessing
from foldgraph.engine.pool import worker_pool
from foldgraph.testing import Sleepy

X, y = np.ones((40, 2)), np.arange(40.0)
small = Learner(Sleepy(0.3), FoldIndex(3), name="s")
ParallelProcessing("sequential").map(small, "fit", X, y)  # its durations learned
with ParallelProcessing() as pp:
    pp.map(small, "fit", X, y)
    print(pp.trace.reason.endswith("in the background for the next runs"))
with ParallelProcessing("multiprocessing", n_jobs=2) as pp:  # while they start
    pp.map(small, "fit", X, y)
    pids = set(pp.worker_pids)
print(pids <= set(worker_pool().pids), worker_pool().started)
"""


@pytest.mark.slow
def test_an_explicit_process_manager_takes_the_workers_starting_in_the_background():
    """Not two starts side by side, and its workers go back to the pool at clear()."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", EXPLICIT_AFTER_BACKGROUND],
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    assert done.stdout.splitlines() == ["True", "True 2"]
