"""Trace: critical path, ideal makespan, summary, Gantt chart; the verbose progress bar."""

import sys

import networkx as nx
import numpy as np
import pytest

from foldgraph import FoldIndex, Learner, ParallelProcessing
from foldgraph.engine import Trace, TraceEvent
from foldgraph.testing import OLS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def event(key, worker, start, end):
    return TraceEvent(key, key.split("/")[0], worker, 1, start, end, 0)


@pytest.fixture
def diamond():
    """Three workers, a diamond graph and an independent node::

        a --> b --> d        c (independent)
          \\-> e -/

    a 0-1 s (worker 0), b 1-3 s (0), e 1-2 s (1), d 3-4 s (0), c 0-1.5 s (1).
    Worker 2 never runs anything.
    """
    g = nx.DiGraph([("a/fit/0", "b/fit/0"), ("a/fit/0", "e/fit/0"), ("b/fit/0", "d/fit/0"),
                    ("e/fit/0", "d/fit/0")])  # fmt: skip
    g.add_node("c/fit/0")
    nx.set_node_attributes(g, {key: key.split("/")[0] for key in g}, "task")
    trace = Trace(n_workers=3, graph=g)
    for ev in [event("a/fit/0", 0, 0.0, 1.0), event("c/fit/0", 1, 0.0, 1.5),
               event("e/fit/0", 1, 1.5, 2.5), event("b/fit/0", 0, 1.0, 3.0),
               event("d/fit/0", 0, 3.0, 4.0)]:  # fmt: skip
        trace.record(ev)
    return trace


class TestIdeal:
    def test_critical_path_follows_the_edges(self, diamond):
        assert diamond.critical_path() == (["a/fit/0", "b/fit/0", "d/fit/0"], 4.0)
        assert diamond.ideal == 4.0  # the chain beats work / workers = 6.5 / 3

    def test_without_the_graph_the_longest_node_bounds_it(self, diamond):
        diamond.predecessors = None
        assert diamond.critical_path() == (["b/fit/0"], 2.0)
        assert diamond.ideal == pytest.approx(6.5 / 3)

    def test_work_bound_wins_on_one_worker(self):
        trace = Trace(n_workers=1)
        for i in range(4):
            trace.record(event(f"t/fit/{i}", 0, i, i + 1.0))
        assert trace.ideal == 4.0 == trace.makespan

    def test_set_graph_keeps_plain_data(self, diamond):
        assert diamond.predecessors["d/fit/0"] == ("b/fit/0", "e/fit/0")
        assert diamond.tasks == ["a", "b", "e", "d", "c"]

    def test_empty(self):
        trace = Trace(2)
        assert trace.critical_path() == ([], 0.0) and trace.ideal == 0.0
        assert "nothing ran" in trace.summary()


def test_summary_table(diamond):
    text = diamond.summary(slowest=2)
    lines = text.splitlines()
    assert lines[0] == "5 nodes on 3 workers"
    assert lines[1] == "makespan    4.000 s"
    assert lines[2].startswith("ideal       4.000 s   critical path 4.000 s (3 nodes)")
    assert lines[3] == "work        6.500 s   utilization 54%"
    rows = {int(line.split()[0]): line.split() for line in lines[5:8]}
    assert rows[0] == ["0", "3", "4.000", "0.000", "100%"]
    assert rows[2] == ["2", "0", "0.000", "4.000", "0%"]
    assert lines[8] == "slowest nodes"
    assert [line.split()[0] for line in lines[9:]] == ["b/fit/0", "c/fit/0"]


def test_summary_uses_milliseconds_for_short_runs():
    trace = Trace(1)
    trace.record(event("a/fit/0", 0, 0.0, 0.004))
    assert "makespan    4.000 ms" in trace.summary()


class TestGantt:
    def test_one_row_per_worker_one_bar_per_node(self, diamond):
        matplotlib = pytest.importorskip("matplotlib")
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ax = diamond.gantt()
        try:
            labels = [t.get_text() for t in ax.get_yticklabels()]
            assert labels == ["worker 0", "worker 1", "worker 2"]  # worker 2 was idle
            assert len(ax.containers) == len(diamond)
            bars = {(round(c[0].get_x(), 6), round(c[0].get_y() + c[0].get_height() / 2))
                    for c in ax.containers}  # fmt: skip
            assert (1.0, 0) in bars and (1.5, 1) in bars  # b on worker 0, e on worker 1
            xs = sorted(line.get_xdata()[0] for line in ax.lines)
            assert xs == [4.0, 4.0]  # ideal = makespan: the run was optimal
            colors = {c[0].get_facecolor() for c in ax.containers}
            assert len(colors) == 5  # one colour per task
        finally:
            plt.close(ax.figure)

    def test_saves_a_png(self, diamond, tmp_path):
        pytest.importorskip("matplotlib")
        path = tmp_path / "gantt.png"
        ax = diamond.gantt(path)
        assert path.read_bytes().startswith(PNG_SIGNATURE)
        assert ax.get_xlabel() == "time since the run started (s)"

    def test_after_a_real_run(self, tmp_path):
        pytest.importorskip("matplotlib")
        X, y = np.arange(40.0).reshape(20, 2), np.arange(20.0)
        with ParallelProcessing("threading", n_jobs=2) as manager:
            manager.map([Learner(OLS(), FoldIndex(3), name=f"ols-{i}") for i in range(3)],
                        "fit", X, y)  # fmt: skip
            trace = manager.trace.set_graph(manager.graph)
        assert set(trace.records[0]) == {"key", "task", "worker", "pid", "start", "end",
                                         "nbytes", "bytes_read", "bytes_written", "peak_bytes",
                                         "peak_rss", "duration"}
        assert trace.ideal <= trace.makespan + 1e-9
        ax = trace.gantt(tmp_path / "g.svg")
        assert len(ax.get_yticklabels()) == 2
        assert (tmp_path / "g.svg").read_text().count("ols-") >= 3  # legend names the tasks


class TestProgress:
    """verbose=True: a progress bar on stderr; silent otherwise."""

    def run(self, verbose):
        X, y = np.arange(40.0).reshape(20, 2), np.arange(20.0)
        with ParallelProcessing("sequential", verbose=verbose) as manager:
            manager.map(Learner(OLS(), FoldIndex(2), name="ols"), "fit", X, y)

    def test_silent_by_default(self, capsys):
        self.run(verbose=False)
        assert capsys.readouterr() == ("", "")

    def test_bar_on_stderr(self, capsys):
        pytest.importorskip("tqdm")
        self.run(verbose=True)
        out, err = capsys.readouterr()
        assert out == ""
        assert "foldgraph" in err and "3/3" in err and "node" in err

    def test_lines_without_tqdm(self, capsys, monkeypatch):
        monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now raises ImportError
        monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # and the notebook-aware one
        self.run(verbose=True)
        out, err = capsys.readouterr()
        assert out == ""
        assert err.splitlines()[-1].startswith("[foldgraph] 3/3 ols/fit/")


def test_gantt_legend_lies_inside_the_figure_with_long_task_names(tmp_path):
    """Issue 20: the legend was cut off at both edges with default (long) task names."""
    pytest.importorskip("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import Lasso, LinearRegression, Ridge
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.tree import DecisionTreeRegressor

    from foldgraph import SuperLearner

    X = np.random.default_rng(0).normal(size=(120, 4))
    y = X[:, 0] + X[:, 1]
    ens = SuperLearner(folds=2, backend="sequential").add([
        Ridge(), Lasso(), KNeighborsRegressor(), DecisionTreeRegressor(),
        RandomForestRegressor(3), HistGradientBoostingRegressor(max_iter=3)])
    ens.add_meta(LinearRegression()).fit(X, y)
    ax = ens.trace_.gantt(path=tmp_path / "gantt.png")
    fig = ax.figure
    canvas = fig.canvas if hasattr(fig.canvas, "get_renderer") else FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    fig.draw(renderer)
    legend = ax.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert "layer-1.histgradientboostingregressor" in labels
    box = fig.bbox
    for text in legend.get_texts():
        extent = text.get_window_extent(renderer)
        assert box.x0 <= extent.x0 and extent.x1 <= box.x1, text.get_text()
        assert box.y0 <= extent.y0 and extent.y1 <= box.y1, text.get_text()
