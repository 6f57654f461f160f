"""One loop, one contract (issue 17): every backend, dask's included, subclasses
Backend and is driven by the scheduler loop, which asks a backend nothing with
getattr/hasattr; the simulator replays the loop's admission."""

import ast
import logging
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import RepeatedKFold

from foldgraph import FoldIndex, FullIndex, Learner, ParallelProcessing, SuperLearner
from foldgraph.engine.backends import BACKENDS, Backend, backend_class
from foldgraph.engine.simulate import simulate
from foldgraph.graph import map_graph
from foldgraph.testing import OLS

ENGINE = Path(__file__).resolve().parents[2] / "engine"
rng = np.random.RandomState(0)
X = rng.normal(size=(60, 4))
Y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.normal(size=60)


@pytest.mark.parametrize("name", list(BACKENDS))
def test_every_backend_subclasses_the_contract(name):
    cls = backend_class(name)
    assert issubclass(cls, Backend), f"{cls.__name__} does not subclass Backend"
    assert not getattr(cls, "__abstractmethods__", None)  # every abstract call implemented


def test_the_contract_lists_every_name_the_loop_uses():
    """Every attribute the scheduler reads off ``backend`` is declared on Backend."""
    used = set()
    for path in (ENGINE / "scheduler.py", ENGINE / "_follow.py"):
        tree = ast.parse(path.read_text())
        used |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                 and isinstance(node.value, ast.Name) and node.value.id == "backend"}
    assert used and used <= set(dir(Backend)), used - set(dir(Backend))


def test_the_scheduler_uses_no_getattr_or_hasattr():
    for name in ("scheduler.py", "_follow.py"):
        tree = ast.parse((ENGINE / name).read_text())
        calls = [node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call)
                 and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")]
        assert not calls, f"{name} calls {calls}"


def test_the_manager_has_one_path_for_every_backend():
    source = (ENGINE / "manager.py").read_text()
    assert "run_graph\"" not in source and "hasattr(" not in source


def test_the_simulator_admits_nodes_as_the_loop_does():
    """The same admission (scheduler.admit): a select strategy's order on one worker."""
    graph = map_graph(Learner(OLS(), FoldIndex(4), name="ols"), "fit", X=X, y=Y)
    backwards = lambda ready, graph, state: list(reversed(ready))  # noqa: E731
    with ParallelProcessing("threading", n_jobs=1, strategy=backwards) as pp:
        pp.run(graph, X, Y)
        ran = [e.key for e in sorted(pp.trace.events, key=lambda e: e.start)]
    assert [s.node for s in simulate(graph, 1, backwards).schedule] == ran


# -- dask: the same loop -------------------------------------------------------------
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.ERROR)
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


def tasks():
    return [Learner(Ridge(alpha=0.5), FoldIndex(3), name="ridge"),
            Learner(OLS(), FoldIndex(4), name="ols"),
            Learner(LinearRegression(), FullIndex(), name="meta")]


def test_a_dask_trace_has_the_structure_of_a_threading_one(client):
    traces = []
    for pp in (ParallelProcessing("threading", n_jobs=1), ParallelProcessing("dask", client=client)):
        with pp:
            out = pp.stack(tasks(), "fit", X, Y, return_preds=True)
            traces.append((out, pp.trace))
    (a, threads), (b, dask) = traces
    assert np.array_equal(a, b)
    assert type(dask.events[0]) is type(threads.events[0])
    assert sorted(e.key for e in dask.events) == sorted(e.key for e in threads.events)
    for e, f in zip(sorted(threads.events), sorted(dask.events)):
        assert (e.key, e.task, e.nbytes, e.bytes_read, e.bytes_written) == \
               (f.key, f.task, f.nbytes, f.bytes_read, f.bytes_written)  # fmt: skip
        assert f.worker == 0 and 0 <= f.start <= f.end
    assert dask.n_workers == 1 and "nodes on 1 worker" in dask.summary()


@pytest.mark.parametrize("strategy", ["lpt", "fifo", "select"])
def test_the_strategy_orders_the_nodes_on_one_dask_worker(client, strategy):
    """Independent nodes of different costs: the loop's order is the order they run in."""
    graph_tasks = [Learner(OLS(), FoldIndex(k), name=f"ols{k}") for k in (2, 3, 5)]
    if strategy == "select":
        strategy = lambda ready, graph, state: sorted(ready, reverse=True)  # noqa: E731
    ran = []
    for backend, kw in (("sequential", {}), ("dask", {"client": client})):
        with ParallelProcessing(backend, strategy=strategy, **kw) as pp:
            pp.map(graph_tasks, "fit", X, Y)
            ran.append([e.key for e in sorted(pp.trace.events, key=lambda e: e.start)])
    assert ran[0] == ran[1]


def test_repeated_splitters_average_on_dask(client):
    """The loop submits a later repeat's fold after the earlier ones wrote their rows:
    its task starts from those rows and leaves the running mean, as elsewhere."""
    cv = RepeatedKFold(n_splits=3, n_repeats=2, random_state=0)
    fits = []
    for backend in ("sequential", ParallelProcessing("dask", client=client)):
        ens = SuperLearner(folds=cv, backend=backend).add([Ridge(), OLS()])
        fits.append(ens.add_meta(LinearRegression()).fit(X, Y))
    np.testing.assert_allclose(fits[1].fit_transform_, fits[0].fit_transform_, rtol=1e-12)
    np.testing.assert_allclose(fits[1].predict(X), fits[0].predict(X), rtol=1e-9)
