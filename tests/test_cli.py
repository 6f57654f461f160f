"""The command line: demo, show, bench, and one-line errors."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from foldgraph.cli import build_spec, main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "stack.json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_cli(*args, timeout=120):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "foldgraph", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)  # fmt: skip


def test_demo_writes_its_pictures(tmp_path):
    """The newcomer's command, in a subprocess: report, summary and three files."""
    pytest.importorskip("matplotlib")
    out = tmp_path / "pictures"
    proc = run_cli("demo", "--out", str(out), "--n-jobs", "2", "--folds", "2")
    assert proc.returncode == 0, proc.stderr
    for words in ("cv rmse", "ensemble holdout rmse", "makespan", "ideal", "worker  nodes",
                  "slowest nodes", "wrote"):
        assert words in proc.stdout
    assert {p.name for p in out.iterdir()} == {"graph.svg", "graph.html", "gantt.png"}
    svg = ET.parse(out / "graph.svg").getroot()
    texts = {"".join(el.itertext()) for el in svg.iter() if el.tag.endswith("text")}
    names = ("ridge", "lasso", "knn", "forest", "boosting", "svr")
    assert {f"layer-1.{n}" for n in names} | {"meta.linearregression"} <= texts
    assert (out / "gantt.png").read_bytes().startswith(PNG_SIGNATURE)
    assert "duration:" in (out / "graph.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("argv, code, match", [
    (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
    (["demo", "--n-jobs", "x"], 2, "argument --n-jobs: invalid int value"),
    (["demo", "--n-jobs", "0"], 1, "n_jobs=0"),
    (["demo", "--backend", "gpu"], 1, "unknown backend 'gpu'"),
    (["show"], 2, "the following arguments are required: spec"),
    (["show", "missing.json"], 1, "no spec file 'missing.json'"),
    (["show", str(EXAMPLE), "--level", "fold"], 2, "invalid choice: 'fold'"),
    (["show", str(EXAMPLE), "--out", "graph.gif"], 1, "use one of the suffixes .svg"),
    (["bench", "no-such-benchmark"], 1, "no benchmark 'no-such-benchmark'"),
])  # fmt: skip
def test_errors_are_one_line(argv, code, match, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if argv[0] == "bench" and not (ROOT / "benchmarks").is_dir():
        pytest.skip("no benchmarks/ folder in this tree")
    try:
        got = main(argv)
    except SystemExit as exc:  # argparse
        got = exc.code
    err = capsys.readouterr().err
    assert got == code
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("foldgraph") and match in err


class TestShow:
    def test_prints_dot_without_out(self, capsys):
        assert main(["show", str(EXAMPLE), "--level", "task"]) == 0
        out = capsys.readouterr().out
        assert out.startswith('digraph "foldgraph" {')
        assert out.count("->") == 7  # scale-k -> learner-k, and the data P:ridge, P:knn

    @pytest.mark.parametrize("suffix", [".svg", ".html", ".mmd", ".dot"])
    def test_writes_by_suffix(self, suffix, tmp_path, capsys):
        if suffix in (".svg", ".html"):
            pytest.importorskip("matplotlib")
        path = tmp_path / f"stack{suffix}"
        assert main(["show", str(EXAMPLE), "--out", str(path), "--level", "task"]) == 0
        assert capsys.readouterr().out.strip() == f"wrote {path}"
        text = path.read_text(encoding="utf-8")
        assert "a stack of three learners" in text  # the spec's title
        assert "meta" in text

    def test_example_spec_builds_the_demo_stack(self):
        graph = build_spec(json.loads(EXAMPLE.read_text()))
        assert list(graph.tasks) == ["scale-1", "ridge", "scale-2", "knn", "scale-3", "meta"]
        assert len(graph) == 36
        assert graph.nx.has_edge("scale-2/fit/fold-1", "knn/fit/fold-1")


@pytest.mark.parametrize("spec, match", [
    ({"tasks": []}, "'tasks' must be a non-empty list"),
    ({"graph": "tree", "tasks": [{}]}, "graph must be 'map' or 'stack'"),
    ({"tasks": [{"learner": "sklearn.linear_model.Ridge", "estimator": 1}]},
     r"tasks\[0\]: unknown key 'estimator'"),
    ({"tasks": [{"name": "x"}]}, "exactly one of 'learner' or 'transformer'"),
    ({"tasks": [{"learner": "Ridge"}]}, "as 'module.Class'"),
    ({"tasks": [{"learner": "sklearn.linear_model.Rigde"}]}, "cannot import"),
    ({"tasks": [{"learner": "sklearn.linear_model.Ridge", "params": {"alpah": 1}}]},
     "unexpected keyword argument 'alpah'"),
    ({"tasks": [{"learner": "sklearn.linear_model.Ridge", "indexer": "KFold"}]},
     "unknown indexer 'KFold'"),
    ({"tasks": [{"transformer": "sklearn.preprocessing.StandardScaler", "proba": True}]},
     "'proba' is for learners only"),
    ({"data": {"rows": 10, "cols": 3}, "tasks": [{"learner": "sklearn.linear_model.Ridge"}]},
     "data: unknown key 'cols'"),
])  # fmt: skip
def test_spec_errors_say_where(spec, match):
    with pytest.raises(ValueError, match=match):
        build_spec(spec)


def test_bench_lists_the_scripts(capsys):
    if not (ROOT / "benchmarks").is_dir():
        pytest.skip("no benchmarks/ folder in this tree")
    assert main(["bench", "--list"]) == 0
    assert "overhead" in capsys.readouterr().out.split()


@pytest.mark.slow
def test_bench_writes_its_results_where_asked_never_into_the_repository(tmp_path, monkeypatch):
    """Issue 20: ``foldgraph bench`` results go to ``--out`` (default: the current directory)."""
    if not (ROOT / "benchmarks").is_dir():
        pytest.skip("no benchmarks/ folder in this tree")
    results = ROOT / "benchmarks" / "results"
    before = {p.name: p.stat().st_mtime_ns for p in results.iterdir()}
    assert main(["bench", "strategies", "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "strategies_quick.json").is_file()
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "strategies"]) == 0
    assert (tmp_path / "strategies_quick.json").is_file()
    assert {p.name: p.stat().st_mtime_ns for p in results.iterdir()} == before
