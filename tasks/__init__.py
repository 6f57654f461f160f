"""What one node does: tasks (Learner, Transformer, Pipeline), indexers and node ops.

Knows nothing of graphs or processes: numpy and scikit-learn only.
"""

from .indexers import (
    BlendIndex,
    ClusteredSubsetIndex,
    Fold,
    FoldIndex,
    FullIndex,
    SubsetIndex,
    TemporalIndex,
)
from .learner import Learner, Transformer
from .pipeline import Pipeline
from .splitters import SplitIndex

__all__ = [
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
]
