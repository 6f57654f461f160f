"""The notebook view of an ensemble: its layers, learners and graph, as HTML.

Each layer is a collapsible ``<details>`` block (like scikit-learn's
estimator diagram) listing its kind, preprocessing steps and learners,
followed by the task-level graph as inline SVG: the fit's, or before fit
the graph a fit will run. Nothing is loaded
from the network and there is no script.
"""

from __future__ import annotations

import html

__all__ = ["ensemble_html"]

_STYLE = (
    "<style>.foldgraph-ens{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;font-size:13px}"
    ".foldgraph-ens details{border:1px solid #ccc;border-radius:4px;margin:4px 0;"
    "padding:2px 8px}.foldgraph-ens summary{cursor:pointer;font-weight:bold}"
    ".foldgraph-ens code{background:#f4f4f4;padding:0 3px}</style>"
)


def _items(pairs) -> str:
    return "".join(f"<li><code>{html.escape(name)}</code>: {html.escape(repr(est))}</li>"
                   for name, est in pairs)  # fmt: skip


def ensemble_html(ensemble, named_layers: dict) -> str:
    """The HTML of ``ensemble``'s notebook view; ``named_layers`` maps names to LayerSpecs.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> from foldgraph import SuperLearner
    >>> from foldgraph.params import named_layers
    >>> ens = SuperLearner(folds=3).add([Ridge()]).add_meta(LinearRegression())
    >>> page = ensemble_html(ens, named_layers(ens))
    >>> "<summary>layer-1: stack" in page, "<script" in page
    (True, False)
    """
    head = html.escape(f"{type(ensemble).__name__}({', '.join(_settings(ensemble))})")
    parts = [_STYLE, f'<div class="foldgraph-ens"><div><b>{head}</b></div>']
    for name, spec in named_layers.items():
        kind = "meta learner (all rows)" if spec.meta else spec.kind
        extra = ", proba" if spec.proba else ""
        steps = [(key, step) for key, _, step in spec.named_steps()]
        body = ""
        if steps:
            body += f"<div>preprocessing</div><ul>{_items(steps)}</ul>"
        body += f"<div>learners</div><ul>{_items(spec.named(name))}</ul>"
        parts.append(f"<details open><summary>{html.escape(name)}: {html.escape(kind)}{extra}"
                     f"</summary>{body}</details>")  # fmt: skip
    parts.append(_graph_html(ensemble))
    parts.append("</div>")
    return "".join(parts)


def _settings(ensemble) -> list[str]:
    params = ensemble.get_params(deep=False)
    params.pop("layers", None)
    defaults = type(ensemble)().get_params(deep=False)
    return [f"{k}={v!r}" for k, v in params.items() if repr(v) != repr(defaults.get(k))]


def _graph_html(ensemble) -> str:
    """The fit's task graph as inline SVG; before fit, the graph a fit will run."""
    from foldgraph.errors import GraphError

    graph = getattr(ensemble, "graph_", None)
    title = "task graph of the fit"
    try:
        if graph is None:  # structure only: drawn before any data (foldgraph.templates)
            graph, title = ensemble.graph("fit"), "task graph a fit will run"
        from foldgraph.viz.export import to_svg
    except (GraphError, ImportError):  # folds that need the data; no matplotlib
        return ""
    return f"<details><summary>{title}</summary>{to_svg(graph, level='task')}</details>"
