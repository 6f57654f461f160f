"""The notebook view (issue 20): ensembles and graphs as self-contained HTML."""

import re

import numpy as np
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.preprocessing import StandardScaler

from foldgraph import SuperLearner

X = np.random.default_rng(0).normal(size=(60, 3))
Y = X.sum(axis=1)


def ensemble():
    ens = SuperLearner(folds=3, backend="sequential")
    ens.add([Ridge(alpha=2.0), KNeighborsRegressor()], preprocessing=[StandardScaler()])
    return ens.add_meta(LinearRegression())


def no_network_no_script(page: str) -> bool:
    return "<script" not in page and not re.search(r"(src|href)=\"https?:", page)


def test_an_unfitted_ensemble_shows_its_layers_and_learners():
    page = ensemble()._repr_html_()
    assert "SuperLearner(backend=&#x27;sequential&#x27;, folds=3)" in page
    assert page.count("<details open>") == 2  # layer-1 and the meta learner
    for text in ("layer-1: stack", "meta: meta learner (all rows)", "pr.standardscaler",
                 "Ridge(alpha=2.0)", "KNeighborsRegressor()", "LinearRegression()"):
        assert text in page, text
    # before any data, the graph a fit will run (issue 20: graphs before data)
    assert "task graph a fit will run" in page and page.count("<svg") == 1
    assert no_network_no_script(page)


def test_a_fitted_ensemble_adds_its_graph_and_jupyter_gets_html():
    ens = ensemble().fit(X, Y)
    bundle = ens._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    page = bundle["text/html"]
    assert "task graph of the fit" in page and "<svg" in page and no_network_no_script(page)
    graph_page = ens.graph_._repr_html_()
    assert graph_page.count("<svg") == 1 and "TaskGraph(job=&#x27;fit&#x27;" in graph_page
