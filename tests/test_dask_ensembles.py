"""An ensemble with backend="dask" starts one cluster, not one per call (issue 20)."""

import gc
import os

import numpy as np
import psutil
import pytest
from conftest import wait_until
from sklearn.linear_model import LinearRegression, Ridge

from foldgraph import SuperLearner

distributed = pytest.importorskip("distributed")

X = np.random.default_rng(0).normal(size=(200, 4))
Y = X @ [1.0, 2.0, 0.0, -1.0]


def worker_pids(ens) -> set:
    return {r["pid"] for r in ens.trace_.records}


@pytest.mark.slow
def test_fits_and_predicts_share_one_local_cluster_closed_with_the_ensemble():
    ens = SuperLearner(backend="dask", n_jobs=2, cache=False).add([Ridge()])
    ens.add_meta(LinearRegression()).fit(X, Y)
    fitted_on = worker_pids(ens)
    expected = ens.predict(X[:20])
    ens.fit(X, Y)  # a second fit: the same workers
    assert worker_pids(ens) == fitted_on
    np.testing.assert_allclose(ens.predict(X[:20]), expected)
    ens.set_params(n_jobs=1).fit(X, Y)  # other settings: a new cluster, the old one closed
    assert wait_until(lambda: not any(psutil.pid_exists(p) for p in fitted_on), timeout=20)
    latest = worker_pids(ens)
    del ens
    gc.collect()
    assert wait_until(lambda: not any(psutil.pid_exists(p) for p in latest), timeout=20)


@pytest.mark.slow
def test_a_running_client_is_used_and_never_closed():
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:  # fmt: skip
        ens = SuperLearner(backend="dask").add([Ridge()]).add_meta(LinearRegression())
        ens.fit(X, Y).predict(X[:5])
        theirs = set(client.run(os.getpid).values())
        assert worker_pids(ens) <= theirs
        del ens
        gc.collect()
        assert client.status == "running" and all(psutil.pid_exists(p) for p in theirs)
