"""Build the documentation site the way ``make docs`` does, into a temporary folder.

``mkdocs build --strict`` fails on any warning: a broken link or anchor, a
page missing from the nav, an API page naming an object that no longer
exists. The build also draws the pictures (docs/hooks.py runs
docs/make_images.py), so this test fails if a picture can no longer be made.
Then the built pages are read as a newcomer would: the API reference shows
the real docstrings, every picture a page shows was produced, and no page
fetches anything from the network.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# one build (about 30 s: it draws the pictures) serves every test of the module
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> tuple[Path, str]:
    """Build the site; return its folder and the build's log."""
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    assert "WARNING" not in proc.stderr, proc.stderr
    return out, proc.stderr


@pytest.fixture(scope="module")
def site(build) -> Path:
    return build[0]


def test_every_nav_page_is_built(site):
    """Each page of the nav exists as HTML with its title."""
    pages = {
        "getting-started": "Getting started",
        "parallel-mechanics": "Parallel mechanics",
        "building-graphs": "Building graphs by hand",
        "ensembles": "Ensembles",
        "visualizing": "Visualizing",
        "strategies": "Scheduling strategies",
        "memory": "Memory and shared buffers",
        "distributed": "Distributed",
        "incremental": "Incremental fitting",
        "benchmarks": "Benchmarks",
        "changelog": "Changelog",
        "api/engine": "Manager and engine",
    }
    for slug, title in pages.items():
        html = (site / slug / "index.html").read_text(encoding="utf-8")
        assert "<h1" in html and title in html, slug


def test_api_reference_renders_the_docstrings(site):
    """API pages hold the real docstrings, parsed as numpy style, with signatures."""
    graph = (site / "api" / "graph" / "index.html").read_text(encoding="utf-8")
    assert 'id="foldgraph.graph.taskgraph.TaskGraph.add_task"' in graph
    assert "Add a Learner or Transformer as fold-level nodes" in graph
    engine = (site / "api" / "engine" / "index.html").read_text(encoding="utf-8")
    assert 'id="foldgraph.engine.manager.ParallelProcessing"' in engine
    # numpy "Parameters" sections become tables, not raw dashes
    assert "doc-section-title" in engine and "----------" not in engine
    tasks = (site / "api" / "tasks" / "index.html").read_text(encoding="utf-8")
    assert 'id="foldgraph.tasks.indexers.FoldIndex"' in tasks
    # Sphinx roles are shown as code (docs/griffe_roles.py), not verbatim
    assert ":class:`" not in graph + engine + tasks
    assert "<code>NodeAttrs</code>" in graph


def test_benchmarks_page_includes_the_measured_report(site):
    """The benchmarks page carries benchmarks/README.md's tables verbatim."""
    html = (site / "benchmarks" / "index.html").read_text(encoding="utf-8")
    readme = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    heading = re.search(r"^## (.+)$", readme, re.M).group(1)
    assert heading.split("(")[0].strip() in html
    assert "--8&lt;--" not in html and "--8<--" not in html  # the snippet was resolved
    assert html.count("<table>") >= 2


def test_pictures_are_drawn_by_the_build(build):
    """Every image a page shows exists in the site, drawn by this build."""
    site, log = build
    shown = set()
    for page in site.rglob("*.html"):
        for src in re.findall(r'<img[^>]+src="([^"]+)"', page.read_text(encoding="utf-8")):
            target = (page.parent / src).resolve()
            assert target.is_file(), f"{page.relative_to(site)} shows missing {src}"
            shown.add(target.name)
    assert {"gantt.png", "stack-graph.png", "strategies-ratio-by-family.png"} <= shown
    drawn = re.search(r"drew (\d+) pictures: (.+)", log)
    assert drawn, log
    assert shown <= set(drawn.group(2).split(", ")), "a page shows a picture the build did not draw"
    assert (site / "images" / "gantt.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_page_fetches_from_the_network(site):
    """No stylesheet, script, font or image is loaded from another host."""
    pattern = re.compile(r'(?:src|href)="(https?:)?//[^"]+"|@import url\((https?:)?//|'
                         r"url\((https?:)?//")
    for path in list(site.rglob("*.html")) + list(site.rglob("*.css")):
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in pattern.finditer(text):
            # a plain link the reader may click is fine; a resource is not
            tag_start = text.rfind("<", 0, match.start())
            tag = text[tag_start : match.end()]
            assert tag.startswith("<a "), f"{path.relative_to(site)} loads {match.group(0)}"
    assert "fonts.googleapis" not in "".join(p.read_text(errors="replace")
                                             for p in site.rglob("*.html"))  # fmt: skip
