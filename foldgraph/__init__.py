"""foldgraph: an explicit DAG execution engine for machine-learning ensembles.

Learners and transformers compile into a ``networkx`` task graph of
fold-level nodes; a scheduler walks it over workers. This module only
re-exports the public names, each imported on first use (PEP 562): a
worker process imports ``foldgraph.engine.worker`` without loading the
ensembles, the graph layer or networkx.
"""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the names are, for type checkers and editors
    from foldgraph.engine import Job, NodeCache, ParallelProcessing, Trace, UnsafeCacheError
    from foldgraph.ensembles import (
        BlendEnsemble,
        SequentialEnsemble,
        Subsemble,
        SuperLearner,
        TemporalEnsemble,
    )
    from foldgraph.errors import FoldgraphError, GraphError, NodeTimeout, TaskError, WorkerDied
    from foldgraph.evaluation import Evaluator
    from foldgraph.graph import TaskGraph, map_graph, stack_graph
    from foldgraph.tasks import (
        BlendIndex,
        ClusteredSubsetIndex,
        Fold,
        FoldIndex,
        FullIndex,
        Learner,
        Pipeline,
        SplitIndex,
        SubsetIndex,
        TemporalIndex,
        Transformer,
    )

__version__ = "0.1.0"

__all__ = [
    "SuperLearner",
    "Subsemble",
    "BlendEnsemble",
    "SequentialEnsemble",
    "TemporalEnsemble",
    "Evaluator",
    "ParallelProcessing",
    "NodeCache",
    "Job",
    "Trace",
    "TaskGraph",
    "map_graph",
    "stack_graph",
    "Learner",
    "Transformer",
    "Pipeline",
    "Fold",
    "FoldIndex",
    "BlendIndex",
    "FullIndex",
    "SubsetIndex",
    "ClusteredSubsetIndex",
    "TemporalIndex",
    "SplitIndex",
    "FoldgraphError",
    "GraphError",
    "TaskError",
    "WorkerDied",
    "NodeTimeout",
    "UnsafeCacheError",
]

#: the module each public name is imported from (the same as the imports above)
_HOMES = {
    **dict.fromkeys(["SuperLearner", "Subsemble", "BlendEnsemble", "SequentialEnsemble",
                     "TemporalEnsemble"], "foldgraph.ensembles"),
    "Evaluator": "foldgraph.evaluation",
    **dict.fromkeys(["ParallelProcessing", "NodeCache", "Job", "Trace", "UnsafeCacheError"],
                    "foldgraph.engine"),
    **dict.fromkeys(["TaskGraph", "map_graph", "stack_graph"], "foldgraph.graph"),
    **dict.fromkeys(["Learner", "Transformer", "Pipeline", "Fold", "FoldIndex", "BlendIndex",
                     "FullIndex", "SubsetIndex", "ClusteredSubsetIndex", "TemporalIndex",
                     "SplitIndex"], "foldgraph.tasks"),
    **dict.fromkeys(["FoldgraphError", "GraphError", "TaskError", "WorkerDied",
                     "NodeTimeout"], "foldgraph.errors"),
}  # fmt: skip


def __getattr__(name: str):
    """Import a public name (or a submodule) on first use, then keep it as an attribute."""
    home = _HOMES.get(name)
    if home is None:
        if name.startswith("__") or find_spec(f"{__name__}.{name}") is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return import_module(f"{__name__}.{name}")  # foldgraph.graph after `import foldgraph`
    value = getattr(import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
