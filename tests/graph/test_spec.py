"""Ensemble specs: a JSON spec builds the graph the builders build by hand; bad specs say where."""

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.preprocessing import StandardScaler

from foldgraph import (
    BlendIndex,
    FoldIndex,
    FullIndex,
    GraphError,
    Learner,
    SubsetIndex,
    Transformer,
    map_graph,
    stack_graph,
)
from foldgraph.graph.spec import graph_from_spec, load_spec, task_from_spec
from foldgraph.testing import OLS

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "stack.json"
RIDGE = "sklearn.linear_model.Ridge"


def synthetic(rows=100, features=4, classes=0):
    """The data a spec's ``"data"`` stands for (same seed as graph/spec.py)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, features))
    y = rng.integers(0, classes, size=rows) if classes else rng.normal(size=rows)
    return X, y


def structure(graph):
    """What two graphs must share: tasks, nodes with their plain attributes, edges, buffers."""
    plain = (str, int, float, bool, tuple, type(None))
    nodes = {
        key: {k: v for k, v in graph.attrs(key).items() if isinstance(v, plain)} for key in graph.nx
    }
    return {
        "tasks": list(graph.tasks),
        "nodes": nodes,
        "edges": sorted(graph.nx.edges),
        "buffers": {name: (b.shape, b.dtype) for name, b in graph.buffers.items()},
        "outputs": list(graph.outputs),
    }


class TestSameGraphAsTheBuilders:
    def test_map(self):
        spec = {
            "data": {"rows": 30, "features": 3},
            "tasks": [
                {
                    "learner": RIDGE,
                    "params": {"alpha": 2.0},
                    "name": "ridge",
                    "indexer": {"FoldIndex": {"folds": 3}},
                },
                {"learner": "foldgraph.testing.OLS", "indexer": {"SubsetIndex": {"partitions": 2}}},
                {
                    "learner": "sklearn.neighbors.KNeighborsRegressor",
                    "params": {"n_neighbors": 3},
                    "name": "knn",
                    "indexer": "BlendIndex",
                },
            ],
        }
        by_hand = map_graph(
            [
                Learner(Ridge(alpha=2.0), FoldIndex(3), name="ridge"),
                Learner(OLS(), SubsetIndex(partitions=2)),
                Learner(KNeighborsRegressor(3), BlendIndex(), name="knn"),
            ],
            "fit",
            *synthetic(30, 3),
        )
        graph = graph_from_spec(spec)
        assert structure(graph) == structure(by_hand)
        assert graph.tasks["ridge"].estimator.get_params() == Ridge(alpha=2.0).get_params()

    @pytest.mark.parametrize("split, link", [(False, "scale"), (True, None)])
    def test_stack(self, split, link):
        """A stack (split=True seals tasks off, so only split=False links a preprocess)."""
        ridge = {"learner": RIDGE, "name": "ridge", "indexer": {"FoldIndex": {"folds": 2}}}
        spec = {
            "graph": "stack",
            "split": split,
            "data": {"rows": 40, "features": 2},
            "tasks": [
                {
                    "transformer": "sklearn.preprocessing.StandardScaler",
                    "name": "scale",
                    "indexer": {"FoldIndex": {"folds": 2}},
                },
                {**ridge, **({"preprocess": link} if link else {})},
                {"learner": "foldgraph.testing.OLS", "name": "meta", "indexer": "FullIndex"},
            ],
        }
        by_hand = stack_graph(
            [
                Transformer(StandardScaler(), FoldIndex(2), name="scale"),
                Learner(Ridge(), FoldIndex(2), name="ridge", preprocess=link),
                Learner(OLS(), FullIndex(), name="meta"),
            ],
            "fit",
            split=split,
            X=synthetic(40, 2)[0],
            y=synthetic(40, 2)[1],
        )
        assert structure(graph_from_spec(spec)) == structure(by_hand)

    def test_classes_and_proba(self):
        spec = {
            "data": {"rows": 24, "features": 2, "classes": 3},
            "tasks": [
                {
                    "learner": "sklearn.linear_model.LogisticRegression",
                    "name": "logit",
                    "proba": True,
                    "indexer": {"FoldIndex": {"folds": 2}},
                }
            ],
        }
        from sklearn.linear_model import LogisticRegression

        by_hand = map_graph(
            Learner(LogisticRegression(), FoldIndex(2), name="logit", proba=True),
            "fit",
            *synthetic(24, 2, classes=3),
        )
        graph = graph_from_spec(spec)
        assert structure(graph) == structure(by_hand)
        assert set(np.unique(graph.y)) == {0, 1, 2}

    def test_example_file(self):
        graph, title = load_spec(EXAMPLE)
        assert title == "a stack of three learners, each behind its own scaler"
        spec = json.loads(EXAMPLE.read_text())
        tasks = [task_from_spec(entry) for entry in spec["tasks"]]
        by_hand = stack_graph(
            tasks, "fit", split=False, X=synthetic(442, 10)[0], y=synthetic(442, 10)[1]
        )
        assert structure(graph) == structure(by_hand)
        assert len(graph) == 36

    def test_same_spec_same_graph(self):
        spec = {"tasks": [{"learner": RIDGE}]}
        a, b = graph_from_spec(spec), graph_from_spec(spec)
        assert structure(a) == structure(b)
        np.testing.assert_array_equal(a.X, b.X)


@pytest.mark.parametrize("spec, culprit, fix", [
    ([], "spec: expected a JSON object", "{...}"),
    ({"tasks": []}, "'tasks' must be a non-empty list", '"learner"'),
    ({"graph": "tree", "tasks": [{}]}, "spec: graph must be 'map' or 'stack'", "'tree'"),
    ({"tsks": []}, "spec: unknown key 'tsks'", "allowed: graph, split, data, tasks, title"),
    ({"tasks": [{"learner": RIDGE, "estimator": 1}]}, "tasks[0]: unknown key 'estimator'",
     "allowed: learner, transformer"),
    ({"tasks": [{"name": "x"}]}, "tasks[0]: give exactly one of 'learner' or 'transformer'",
     "import path"),
    ({"tasks": [{"learner": "Ridge"}]}, "tasks[0]: learner: give the estimator as 'module.Class'",
     "'sklearn.linear_model.Ridge'"),
    ({"tasks": [{"learner": "sklearn.linear_model.Rigde"}]},
     "tasks[0]: learner: cannot import 'sklearn.linear_model.Rigde'", "check the spelling"),
    ({"tasks": [{"learner": RIDGE, "params": {"alpah": 1}}]},
     "tasks[0]: params:", "unexpected keyword argument 'alpah'"),
    ({"tasks": [{"learner": RIDGE, "params": [1]}]}, "tasks[0]: params:", "a JSON object"),
    ({"tasks": [{"learner": RIDGE, "indexer": "KFold"}]},
     "tasks[0]: indexer: unknown indexer 'KFold'", "choose one of FoldIndex"),
    ({"tasks": [{"learner": RIDGE, "indexer": {"FoldIndex": {"fold": 3}}}]},
     "tasks[0]: indexer:", "unexpected keyword argument 'fold'"),
    ({"tasks": [{"learner": RIDGE, "indexer": ["FoldIndex"]}]},
     "tasks[0]: indexer: give the indexer as", '{"FoldIndex": {"folds": 5}}'),
    ({"tasks": [{"transformer": "sklearn.preprocessing.StandardScaler", "proba": True}]},
     "tasks[0]: 'proba' is for learners only", 'use "learner"'),
    ({"data": {"rows": 10, "cols": 3}, "tasks": [{"learner": RIDGE}]},
     "data: unknown key 'cols'", "allowed: rows, features, classes"),
    ({"data": {"rows": "many"}, "tasks": [{"learner": RIDGE}]},
     "data: rows must be a whole number >= 1", "'many'"),
    ({"tasks": [{"learner": RIDGE, "preprocess": "scale"}]}, "preprocess='scale'",
     "add the Transformer"),
])  # fmt: skip
def test_bad_specs_name_the_culprit_and_the_fix(spec, culprit, fix):
    with pytest.raises(GraphError) as info:
        graph_from_spec(spec)
    message = str(info.value)
    assert culprit in message and fix in message
    assert isinstance(info.value, ValueError)  # the CLI and older callers catch ValueError


class TestLoadSpec:
    def test_missing_file(self, tmp_path):
        with pytest.raises(GraphError, match="no spec file"):
            load_spec(tmp_path / "missing.json")

    def test_invalid_json(self, tmp_path):
        path = tmp_path / "bad.json"
        path.write_text("{not json")
        with pytest.raises(GraphError, match="bad.json is not valid JSON"):
            load_spec(path)

    def test_bad_spec_names_the_file(self, tmp_path):
        path = tmp_path / "spec.json"
        path.write_text(json.dumps({"tasks": [{"learner": RIDGE, "folds": 3}]}))
        with pytest.raises(GraphError, match=r"^spec.json: spec: tasks\[0\]: unknown key 'folds'"):
            load_spec(path)

    def test_no_title(self, tmp_path):
        path = tmp_path / "spec.json"
        path.write_text(json.dumps({"tasks": [{"learner": RIDGE}]}))
        graph, title = load_spec(path)
        assert title is None and list(graph.tasks) == ["ridge"]


def test_the_cli_names_still_work():
    """``foldgraph.cli`` kept its names: they are the spec module's."""
    from foldgraph import cli

    assert cli.build_spec is graph_from_spec and cli.load_spec is load_spec


def test_spec_module_imports_no_engine():
    """The spec compiler sits in the graph layer: it imports graph and tasks, never the engine."""
    import ast

    source = Path(__file__).resolve().parents[2] / "graph" / "spec.py"
    imported = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    ours = {m for m in imported if m.startswith("foldgraph")}
    assert ours <= {
        "foldgraph.errors",
        "foldgraph.tasks",
        "foldgraph.tasks.indexers",
        "foldgraph.tasks.learner",
    }, ours
