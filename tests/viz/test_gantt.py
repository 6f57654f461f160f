"""The Gantt chart from plain records (foldgraph.viz.gantt), as Trace.gantt draws it."""

from __future__ import annotations

import pytest

from foldgraph.engine.trace import Trace, TraceEvent

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from foldgraph.viz.gantt import gantt, legend_columns  # noqa: E402


def run_trace() -> Trace:
    trace = Trace(3, graph=None)
    for i, (worker, start, end) in enumerate([(0, 0.0, 1.0), (1, 0.0, 2.5), (0, 1.0, 3.0)]):
        trace.record(TraceEvent(f"t{i % 2}/fit/fold-{i}", f"t{i % 2}", worker, 1, start, end, 0))
    return trace


def test_trace_gantt_is_the_chart_of_its_records(tmp_path):
    """Trace.gantt hands its records to viz: the same picture, byte for byte."""
    trace = run_trace()
    trace.gantt(tmp_path / "trace.svg")
    gantt(trace.records, n_workers=trace.n_workers, tasks=trace.task_order(),
          ideal=trace.ideal, path=tmp_path / "records.svg")  # fmt: skip
    assert (tmp_path / "trace.svg").read_bytes() == (tmp_path / "records.svg").read_bytes()


def test_defaults_without_the_graph(tmp_path):
    """Without ``ideal``, the bound is the trace's own without the graph; idle workers get rows."""
    trace = run_trace()
    ax = gantt(trace.records, n_workers=4, path=tmp_path / "g.png")
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"worker {w}" for w in range(4)]
    # ideal: the longest node (2.5 s) beats the work per worker (5.5 s / 4), as in Trace.ideal
    assert sorted(line.get_xdata()[0] for line in ax.lines) == [2.5, 3.0]
    assert trace.ideal == 2.5
    assert ax.get_title(loc="left").startswith("3 nodes on 4 workers: makespan 3.00 s")
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["t0", "t1"]


def test_empty_run(tmp_path):
    ax = gantt([], n_workers=2, path=tmp_path / "empty.png")
    assert len(ax.containers) == 0 and len(ax.get_yticklabels()) == 2


def test_legend_columns_shrink_for_long_names():
    assert legend_columns(["a", "b", "c", "d"], width=8.6) == 4
    assert legend_columns(["x" * 60, "y"], width=4.0) == 1
