"""Job: data from arrays or files, buffers allocated and released."""

import os

import numpy as np
import pytest

from foldgraph import FoldIndex, GraphError, Job, Learner, ParallelProcessing, TaskGraph
from foldgraph.engine.buffers import SharedBuffer, segment_names
from foldgraph.graph import map_graph
from foldgraph.testing import OLS

X = np.arange(40.0).reshape(20, 2) ** 1.5
Y = np.arange(20.0)


@pytest.mark.parametrize("backend", ["sequential", "threading", "multiprocessing"])
@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_X_and_y_from_files(tmp_path, backend, suffix, no_leaks):
    xp, yp = tmp_path / f"X{suffix}", tmp_path / f"y{suffix}"
    if suffix == ".npy":
        np.save(xp, X)
        np.save(yp, Y)
    else:
        np.savetxt(xp, X, delimiter=",")
        np.savetxt(yp, Y, delimiter=",")
    with ParallelProcessing("sequential") as pp:
        want = pp.map(Learner(OLS(), FoldIndex(4), name="o"), "fit", X, Y, return_preds=True)
    with ParallelProcessing(backend, n_jobs=2) as pp:
        got = pp.map(Learner(OLS(), FoldIndex(4), name="o"), "fit", str(xp), yp,
                     return_preds=True)  # fmt: skip
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert xp.exists()  # foldgraph never deletes the user's files


def test_npy_input_is_memory_mapped_not_copied(tmp_path):
    np.save(tmp_path / "X.npy", X)
    job = Job("fit", str(tmp_path / "X.npy"), Y)
    assert isinstance(job.X, np.memmap)
    graph = map_graph(Learner(OLS(), FoldIndex(2), name="o"), job)
    job.allocate(graph, shared=True)
    assert job.handles["X"][0] == "npy" and job.handles["y"][0] == "shm"
    job.release()
    assert job.buffers == {} and job.handles == {}


def test_shared_allocation_is_one_segment_released_once():
    job = Job("fit", X, Y)
    graph = map_graph([Learner(OLS(), FoldIndex(2), name=f"o{i}") for i in range(5)], job)
    job.allocate(graph, shared=True)
    assert len(job.segments) == 1
    name = job.segments[0]
    assert name in segment_names(os.getpid()) and name.startswith(f"fg_{os.getpid()}_")
    np.testing.assert_array_equal(job.buffers["X"], X)
    assert not job.buffers["P:o3"].any() and job.buffers["P:o3"].dtype == np.float64
    job.release()
    job.release()  # idempotent
    assert name not in segment_names(os.getpid())


def test_shared_buffer_is_unlinked_when_garbage_collected():
    buf = SharedBuffer({"a": ((3, 2), "float64")})
    name = buf.segment
    assert name in segment_names(os.getpid())
    del buf
    assert name not in segment_names(os.getpid())


def test_release_happens_even_if_allocation_fails(monkeypatch):
    job = Job("fit", X, Y)
    graph = map_graph(Learner(OLS(), FoldIndex(2), name="o"), job)
    import foldgraph.engine.buffers as buffers

    def boom(*args, **kwargs):
        raise MemoryError("no room")

    monkeypatch.setattr(buffers.SharedBuffer, "__init__", boom)
    with pytest.raises(MemoryError):
        job.allocate(graph, shared=True)
    assert job.buffers == {} and not segment_names(os.getpid())


def test_a_builders_graph_is_rebound_to_fewer_rows_but_other_columns_are_refused():
    graph = map_graph(Learner(OLS(), FoldIndex(2), name="o"), "fit", X=X, y=Y)
    with ParallelProcessing("sequential") as pp:
        got = pp.run(graph, X[:10], Y[:10], return_preds=True)  # graphs before data (#20)
        expected = pp.map(Learner(OLS(), FoldIndex(2), name="o"), "fit", X[:10], Y[:10],
                          return_preds=True)
        np.testing.assert_array_equal(got, expected)
        with pytest.raises(GraphError, match=r"built for X of shape \(20, 2\), got \(20, 3\)"):
            pp.run(graph, np.c_[X, X[:, :1]], Y)
    hand = TaskGraph("fit", X=X, y=Y)
    hand.add_task(Learner(OLS(), FoldIndex(2), name="o"))
    with ParallelProcessing("sequential") as pp:
        with pytest.raises(GraphError, match=r"built for X of shape \(20, 2\), got \(10, 2\)"):
            pp.run(hand.validate(), X[:10], Y[:10])
