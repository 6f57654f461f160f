"""MkDocs hooks: the docs build draws its own pictures.

``on_files`` runs ``docs/make_images.py`` into a temporary directory once per
MkDocs process and publishes each picture under ``images/`` in place of the
committed copy of the same name. The pages link to ``images/<name>`` (which
also works when a page is read on its own), and the site always shows
pictures made by the current code from the current results. The committed
copies in ``docs/images/`` are not touched, so a build leaves the working
tree as it found it. ``mkdocs serve`` reuses the pictures of its first build
on every reload.

``on_config`` points mkdocstrings at the source. ``foldgraph.engine``,
``foldgraph.graph`` and ``foldgraph.tasks`` live in ``engine/``, ``graph/``
and ``tasks/`` (pyproject's package-dir mapping), which griffe's static
loader cannot follow. The hook lays out a temporary ``foldgraph/`` of
symbolic links (the package's files, plus one link per mapped sub-package,
taken from the installed package's ``__path__``) and gives that directory to
the Python handler as its search path: the API pages show the docstrings of
the working tree, read statically.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import logging
import shutil
import tempfile
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

DOCS = Path(__file__).resolve().parent
SUBPACKAGES = ("engine", "graph", "tasks", "viz")
log = logging.getLogger("mkdocs.hooks.foldgraph")
_made: list[Path] = []
_source: list[Path] = []


def _temp_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def source_tree() -> Path:
    """A directory holding ``foldgraph/`` laid out as it is imported."""
    if not _source:
        root = _temp_dir("foldgraph-docs-src-")
        package = importlib.import_module("foldgraph")
        top = root / "foldgraph"
        top.mkdir()
        for child in Path(package.__path__[0]).iterdir():
            if child.name != "__pycache__":
                (top / child.name).symlink_to(child)
        for name in SUBPACKAGES:
            sub = importlib.import_module(f"foldgraph.{name}")
            (top / name).symlink_to(Path(sub.__path__[0]), target_is_directory=True)
        _source.append(root)
    return _source[0]


@event_priority(100)  # before mkdocstrings reads its handler's configuration
def on_config(config):
    """Give the Python handler the laid-out source as its search path."""
    handlers = config.plugins["mkdocstrings"].config.handlers
    handlers.setdefault("python", {})["paths"] = [str(source_tree())]
    return config


def _load_make_images():
    spec = importlib.util.spec_from_file_location("foldgraph_docs_make_images",
                                                  DOCS / "make_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pictures() -> list[Path]:
    if not _made:
        out = _temp_dir("foldgraph-docs-images-")
        _made.extend(_load_make_images().main(out))
        names = ", ".join(sorted(path.name for path in _made))
        log.info(f"foldgraph docs: drew {len(_made)} pictures: {names}")
    return _made


def on_files(files: Files, config) -> Files:
    """Replace (or add) ``images/<name>`` with the freshly drawn pictures."""
    for path in _pictures():
        uri = f"images/{path.name}"
        old = files.get_file_from_path(uri)
        if old is not None:
            files.remove(old)
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files
