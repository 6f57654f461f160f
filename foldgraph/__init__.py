"""foldgraph: an explicit DAG execution engine for machine-learning ensembles.

Learners and transformers compile into a ``networkx`` task graph of
fold-level nodes; a scheduler walks it over workers. This module only
re-exports the public names.
"""

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
