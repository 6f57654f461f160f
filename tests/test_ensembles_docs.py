"""Every ensemble class documents itself in a literal numpydoc docstring.

The docstrings are written out in the source, not assembled at run time, so
``help()``, editors and the API pages read the same text. The parameters the
ensembles share are written out in each; these tests keep the copies
identical, each ``__init__`` parameter documented in order, and each fitted
attribute listed under Attributes.
"""

from __future__ import annotations

import ast
import inspect
import pydoc
import re
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

import foldgraph
import foldgraph.ensembles
from foldgraph.base import BaseEnsemble

CLASSES = [getattr(foldgraph.ensembles, name) for name in foldgraph.ensembles.__all__]
IDS = [cls.__name__ for cls in CLASSES]
#: parameters whose meaning differs from one ensemble to another
OWN = {"folds"}
SECTIONS = ("Parameters", "Attributes", "Examples")


def sections(doc: str) -> dict[str, list[str]]:
    """``{title: lines}`` of a numpydoc docstring (a title is underlined with dashes)."""
    lines = inspect.cleandoc(doc).splitlines()
    found: dict[str, list[str]] = {}
    title = None
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and line.strip() and set(lines[i + 1].strip()) == {"-"}:
            title = line.strip()
            found[title] = []
        elif title is not None and set(line.strip()) != {"-"}:
            found[title].append(line)
    return found


def entries(lines: list[str]) -> dict[str, str]:
    """``{name: type and description}`` of a Parameters or Attributes section, in order."""
    out: dict[str, str] = {}
    name = None
    for line in lines:
        match = re.match(r"^(\w+)(?: : (.*))?$", line)
        if match:
            name = match[1]
            out[name] = (match[2] or "") + "\n"
        elif name is not None:
            out[name] += line + "\n"
    return {k: v.strip() for k, v in out.items()}


def init_params(cls) -> list[str]:
    return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]


def test_every_ensemble_class_is_checked():
    """The list covers every BaseEnsemble subclass the package defines."""
    defined = {
        cls
        for cls in BaseEnsemble.__subclasses__()
        if cls.__module__.startswith("foldgraph.") and not cls.__name__.startswith("_")
    }
    assert defined == set(CLASSES)
    for cls in CLASSES:  # importable from the package and from foldgraph.ensembles alike
        assert getattr(foldgraph, cls.__name__) is cls


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_the_docstring_is_a_literal(cls):
    """The class body opens with its docstring, and nothing assigns ``__doc__``."""
    source = inspect.getsource(sys.modules[cls.__module__])
    node = next(
        n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == cls.__name__
    )
    assert ast.get_docstring(node) == inspect.cleandoc(cls.__doc__)
    assigned = [
        t.id
        for stmt in node.body
        if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign))
        for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])
        if isinstance(t, ast.Name)
    ]
    assert "__doc__" not in assigned


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_sections_in_numpydoc_order(cls):
    found = list(sections(cls.__doc__))
    assert [t for t in found if t in SECTIONS] == list(SECTIONS), found


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_every_init_parameter_is_documented_in_order(cls):
    """Parameters lists exactly the arguments of ``__init__``, in signature order, each
    with a type and a description."""
    documented = entries(sections(cls.__doc__)["Parameters"])
    assert list(documented) == init_params(cls)
    for name, text in documented.items():
        kind, _, description = text.partition("\n")
        assert kind and description.strip(), f"{cls.__name__}: describe {name}"


def test_shared_text_is_the_same_in_every_class():
    """A parameter several ensembles share, and the Attributes, read the same in each."""
    params = {cls: entries(sections(cls.__doc__)["Parameters"]) for cls in CLASSES}
    shared = {name for cls in CLASSES for name in params[cls]} - OWN
    for name in sorted(shared):
        texts = {params[cls][name] for cls in CLASSES if name in params[cls]}
        assert len(texts) == 1, f"{name!r} is documented differently: {texts}"
    attributes = {"\n".join(sections(cls.__doc__)["Attributes"]) for cls in CLASSES}
    assert len(attributes) == 1


def fitted_attributes(ens) -> set[str]:
    return {k for k in vars(ens) if k.endswith("_") and not k.startswith("_")}


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_the_fitted_attributes_are_documented(cls):
    """Whatever ``fit`` sets (on arrays, and on a DataFrame for a classifier) is listed,
    and everything listed is there after one of the two fits."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((40, 3))
    y = X @ np.array([1.0, -1.0, 0.5])
    labels = np.arange(40) % 2  # both classes in every fold of every ensemble
    extra = {"partition_estimator": KMeans(2, n_init=1, random_state=0)}
    kw = {"backend": "sequential", **(extra if "partition_estimator" in init_params(cls) else {})}
    if cls.__name__ == "TemporalEnsemble":
        kw.update(step_size=10, burn_in=10)

    def add(ens, est):
        return ens.add("stack", [est]) if cls.__name__ == "SequentialEnsemble" else ens.add([est])

    reg = add(cls(**kw), Ridge()).add_meta(LinearRegression()).fit(X, y)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    clf = add(cls(**kw), LogisticRegression()).add_meta(LogisticRegression()).fit(frame, labels)
    documented = set(entries(sections(cls.__doc__)["Attributes"]))
    found = fitted_attributes(reg) | fitted_attributes(clf)
    assert found <= documented, f"document {sorted(found - documented)}"
    properties = {name for name in documented if isinstance(getattr(cls, name, None), property)}
    assert documented - properties <= found, f"not set by fit: {sorted(documented - found)}"


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_help_shows_the_parameters_and_attributes(cls):
    text = pydoc.render_doc(cls, renderer=pydoc.plaintext)
    for name in init_params(cls) + ["layers_", "Examples"]:
        assert name in text
    assert "backend : str or ParallelProcessing" in text and "Attributes\n" in text
