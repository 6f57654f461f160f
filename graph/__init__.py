"""How nodes connect: the TaskGraph, its builders and its validation.

Knows nothing of processes or memory.
"""

from .builders import add_task, assign_names, map_graph, stack_graph
from .layers import add_layer
from .nodes import BufferSpec, node_key, parse_key
from .taskgraph import TaskGraph
from .validate import validate

__all__ = [
    "TaskGraph",
    "map_graph",
    "stack_graph",
    "add_task",
    "add_layer",
    "assign_names",
    "validate",
    "node_key",
    "parse_key",
    "BufferSpec",
]
