"""Pictures of a TaskGraph (foldgraph.viz): DOT, Mermaid, matplotlib files and the HTML page.

The graphs are the demo's size: a stack of three learners, each behind its
own preprocessing transformer (6 tasks x 6 nodes), and a map of six
learners x 5 folds.
"""

import itertools
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from foldgraph import FoldIndex, Learner, Transformer, map_graph, stack_graph
from foldgraph import viz as fgdraw
from foldgraph.testing import OLS, Scale

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
X = np.random.default_rng(0).normal(size=(60, 3))
y = X @ np.array([1.0, -2.0, 0.5])


def stack_tasks():
    tasks = []
    for i, name in enumerate(["ridge", "knn", "meta"], start=1):
        tasks.append(Transformer(Scale(), FoldIndex(5), name=f"scale-{i}"))
        tasks.append(Learner(OLS(), FoldIndex(5), name=name, preprocess=f"scale-{i}"))
    return tasks


@pytest.fixture(scope="module")
def stack():
    return stack_graph(stack_tasks(), "fit", split=False, X=X, y=y)


@pytest.fixture(scope="module")
def mapped():
    names = ["ridge", "lasso", "knn", "forest", "boosting", "svr"]
    return map_graph([Learner(OLS(), FoldIndex(5), name=n) for n in names], "fit", X=X, y=y)


@pytest.fixture(scope="module")
def files(stack, tmp_path_factory):
    """The stack saved once in each format that needs a parser to check."""
    folder = tmp_path_factory.mktemp("pictures")
    durations = {key: 0.001 * (i + 1) for i, key in enumerate(stack.nx)}
    return {suffix: stack.save(folder / f"stack{suffix}", durations=durations)
            for suffix in (".svg", ".html", ".dot", ".mmd")}  # fmt: skip


@pytest.fixture(scope="module")
def small():
    return map_graph(Learner(OLS(), FoldIndex(2), name="ols"), "fit", X=X, y=y)


def dot_nodes(graph):
    """Nodes and their attributes of a pydot graph, subgraphs included."""
    out = {}
    for node in graph.get_nodes():
        if node.get_name() not in ("graph", "node", "edge"):  # default attribute statements
            out[node.get_name().strip('"')] = node.get_attributes()
    for sub in graph.get_subgraphs():
        out.update(dot_nodes(sub))
    return out


@pytest.mark.parametrize("attrs, kind", [
    ({"kind": "learner", "op": "fit", "fold": 0}, "fold fit"),
    ({"kind": "learner", "op": "fit", "fold": "full"}, "full fit"),
    ({"kind": "transformer", "op": "fit", "fold": 3}, "transformer"),
    ({"kind": "learner", "op": "predict", "fold": "full"}, "predict"),
    ({"kind": "learner", "op": "transform", "fold": 1}, "transform"),
])  # fmt: skip
def test_node_kind(attrs, kind):
    assert fgdraw.node_kind(attrs) == kind


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pydot on recent pyparsing
class TestDot:
    def test_parses_with_pydot(self):
        """Every node and edge comes back, edges labelled with their buffer."""
        pydot = pytest.importorskip("pydot")
        tasks = stack_tasks()
        for task in tasks:
            task.indexer = FoldIndex(2)  # fewer nodes: pydot's parser is slow
        stack = stack_graph(tasks, "fit", split=False, X=X, y=y)
        (parsed,) = pydot.graph_from_dot_data(stack.to_dot())
        nodes = dot_nodes(parsed)
        assert set(nodes) == set(stack.nx)
        edges = {(e.get_source().strip('"'), e.get_destination().strip('"')):
                 e.get_attributes()["label"].strip('"') for e in parsed.get_edges()}  # fmt: skip
        assert edges == {(u, v): via for u, v, via in stack.nx.edges(data="via")}
        assert len(parsed.get_subgraphs()) == len(stack.tasks)
        assert nodes["scale-1/fit/fold-0"]["shape"] == "hexagon"
        assert nodes["ridge/fit/fold-0"]["shape"] == "box"
        assert nodes["ridge/fit/full"]["peripheries"] == "2"
        assert "cost estimate" in nodes["ridge/fit/fold-0"]["tooltip"]

    def test_structure(self, stack):
        """Checks that need no parser: clusters, arrows, balanced braces."""
        text = stack.to_dot()
        assert text.startswith('digraph "foldgraph" {') and text.rstrip().endswith("}")
        assert text.count("{") == text.count("}")
        assert len(re.findall(r'subgraph "cluster_\d+"', text)) == len(stack.tasks)
        assert text.count(" -> ") == stack.nx.number_of_edges()
        assert text.count('label="estimator", style=dashed') == 18  # 3 transformers x 6 folds

    def test_task_level(self, stack):
        pydot = pytest.importorskip("pydot")
        (parsed,) = pydot.graph_from_dot_data(stack.to_dot(level="task"))
        assert set(dot_nodes(parsed)) == set(stack.tasks)
        pairs = {(e.get_source().strip('"'), e.get_destination().strip('"'))
                 for e in parsed.get_edges()}  # fmt: skip
        assert ("ridge", "knn") in pairs and ("scale-2", "knn") in pairs
        assert ("scale-1", "knn") not in pairs

    def test_quotes_in_names_are_escaped(self):
        pydot = pytest.importorskip("pydot")
        g = map_graph(Learner(OLS(), FoldIndex(2), name='my "ols"'), "fit", X=X, y=y)
        (parsed,) = pydot.graph_from_dot_data(g.to_dot())
        assert len(dot_nodes(parsed)) == 3


def test_mermaid_flowchart(stack):
    text = stack.to_mermaid()
    lines = text.splitlines()
    assert lines[3] == "flowchart LR"
    assert sum(line.strip().startswith("subgraph ") for line in lines) == len(stack.tasks)
    declared = re.findall(r"^\s+(n\d+)[\[\(\{]", text, flags=re.M)
    assert len(declared) == len(set(declared)) == len(stack)
    arrows = [line for line in lines if re.match(r"\s+n\d+ -(\.)?-+>", line)]
    assert len(arrows) == stack.nx.number_of_edges()
    assert sum("-.->" in a for a in arrows) == 18
    assert 'n5{{"full"}}' in text and 'n11[["full"]]' in text


class TestFiles:
    def test_svg_is_xml_naming_every_task(self, files, stack):
        root = ET.parse(files[".svg"]).getroot()
        assert root.tag.endswith("svg")
        texts = {"".join(el.itertext()) for el in root.iter() if el.tag.endswith("text")}
        assert set(stack.tasks) <= texts
        ids = {el.get("id") for el in root.iter()}
        assert {f"fg-node-{i}" for i in range(len(stack))} <= ids

    def test_png_and_pdf_signatures(self, small, tmp_path):
        assert small.save(tmp_path / "g.png").read_bytes().startswith(PNG_SIGNATURE)
        assert small.save(tmp_path / "g.pdf", level="task").read_bytes().startswith(b"%PDF")

    def test_html_is_self_contained_with_hover_text(self, files, stack):
        page = files[".html"].read_text(encoding="utf-8")
        urls = set(re.findall(r"https?://[^\s\"'<>)]*", page))
        assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
        for needle in ("<script src", "<link", "@import", "url(http"):
            assert needle not in page
        assert page.count("<svg") == 1
        tips = re.findall(r'<g id="fg-node-(\d+)"><title>(.*?)</title>', page, flags=re.S)
        assert len(tips) == len(stack)
        tip = dict(tips)["6"]  # ridge/fit/fold-0
        for words in ("ridge/fit/fold-0", "op: fit", "fold: 0", "train rows", "cost estimate",
                      "duration:"):
            assert words in tip
        assert page.count("<tr>") == len(stack) + 1

    def test_dot_and_mmd_files(self, files, stack):
        dot = files[".dot"].read_text(encoding="utf-8")
        assert dot.startswith('digraph "foldgraph"') and "duration: 1.0 ms" in dot
        assert files[".mmd"].read_text(encoding="utf-8") == stack.to_mermaid()

    def test_svg_is_reproducible(self, small, tmp_path):
        a, b = small.save(tmp_path / "a.svg"), small.save(tmp_path / "b.svg")
        assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("call, match", [
    (lambda g, tmp: g.save(tmp / "graph.gif"), r"\.svg, \.png"),
    (lambda g, tmp: g.save(tmp / "graph.svg", level="fold"), "unknown level 'fold'"),
    (lambda g, tmp: g.to_dot(level="layer"), "choose one of 'node', 'task'"),
])  # fmt: skip
def test_bad_arguments(stack, tmp_path, call, match):
    with pytest.raises(ValueError, match=match):
        call(stack, tmp_path)


def text_boxes(ax):
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text()]
    return [(t.get_text(), t.get_window_extent(renderer)) for t in texts], fig.bbox


@pytest.mark.parametrize("which, level", [("stack", "node"), ("stack", "task"),
                                          ("mapped", "node")])  # fmt: skip
def test_no_label_overlaps_another(which, level, request):
    """At the demo's size, no two labels (nodes, clusters, edges, legend) touch."""
    import matplotlib.pyplot as plt

    graph = request.getfixturevalue(which)
    ax = graph.draw(level=level)
    try:
        ax.figure.canvas.draw()
        boxes, figure = text_boxes(ax)
        assert len(boxes) > len(graph.tasks)
        for (ta, a), (tb, b) in itertools.combinations(boxes, 2):
            assert not a.overlaps(b), f"labels {ta!r} and {tb!r} overlap"
        for text, box in boxes:
            assert figure.contains(box.x0, box.y0) and figure.contains(box.x1, box.y1), text
    finally:
        plt.close(ax.figure)


def test_layout_runs_left_to_right(stack):
    """Every edge between tasks points right; no two node boxes overlap."""
    from foldgraph.viz.layout import layout
    from foldgraph.viz.model import Model

    lay = layout(Model(stack), "node")
    for u, v in stack.nx.edges:
        assert lay.boxes[u].x < lay.boxes[v].x
    for a, b in itertools.combinations(lay.boxes.values(), 2):
        apart = a.right <= b.left or b.right <= a.left or a.top <= b.bottom or b.top <= a.bottom
        assert apart, (a.key, b.key)


def test_draw_into_given_axes(mapped):
    from matplotlib.figure import Figure

    ax = Figure(figsize=(6, 6)).add_subplot()
    assert mapped.draw(ax=ax, level="task") is ax
    assert {t.get_text() for t in ax.texts} >= set(mapped.tasks)


def test_describe_node_names_rows_cost_and_duration(stack):
    lines = fgdraw.describe_node(stack, "knn/fit/fold-1", {"knn/fit/fold-1": 0.25})
    assert lines[0] == "knn/fit/fold-1"
    text = "\n".join(lines)
    assert "train rows of P:ridge: 0:12, 24:60 (48 rows)" in text
    assert "test rows: 12:24 (12 rows)" in text
    assert "writes: P:knn rows 12:24 (12 rows)" in text
    assert "duration: 250.0 ms" in text


def test_task_colors_are_shared_with_the_gantt_chart(stack):
    colors = fgdraw.task_colors(stack.tasks)
    assert list(colors) == list(stack.tasks)
    assert len(set(colors.values())) == len(colors)


def test_a_transformer_feeding_several_learners_is_drawn_fold_to_fold():
    """Issue 20: the one-to-one fold edges of a shared preprocessing case were drawn as a
    bus, as if every fold fed every fold. Each drawn arrow is one edge of the graph."""
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch

    from foldgraph import SuperLearner

    X, y = np.random.default_rng(0).normal(size=(30, 3)), np.arange(30.0)
    ens = SuperLearner(folds=3).add([OLS(), OLS(offset=1.0)], preprocessing=[Scale()])
    graph = ens.add_meta(OLS()).graph("fit", X, y)
    fed = [(u, v) for u, v, via in graph.nx.edges(data="via") if via == "estimator"]
    assert len(fed) == 8  # 4 transformer nodes x 2 learners, fold k -> fold k
    ax = Figure(figsize=(9, 6)).add_subplot()
    fgdraw.draw(graph, ax=ax, level="node")
    dashed = [p for p in ax.patches if isinstance(p, FancyArrowPatch) and p.get_linestyle() != "-"]
    assert len(dashed) == len(fed)  # no collector, trunk or distributor: one arrow per edge
    assert all(p.get_arrowstyle().__class__.__name__ == "CurveFilledB" for p in dashed)
