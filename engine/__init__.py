"""How nodes run: the manager, jobs, the scheduler loop, backends and strategies."""

from .backends import BACKENDS
from .cache import NodeCache, Plan, UnsafeCacheError
from .job import Job
from .manager import ParallelProcessing
from .scheduler import RunState, finish, run_graph, start_state
from .simulate import SimResult, simulate
from .strategies import STRATEGIES
from .trace import Trace, TraceEvent

__all__ = [
    "ParallelProcessing",
    "NodeCache",
    "UnsafeCacheError",
    "Plan",
    "Job",
    "Trace",
    "TraceEvent",
    "RunState",
    "start_state",
    "finish",
    "run_graph",
    "simulate",
    "SimResult",
    "BACKENDS",
    "STRATEGIES",
]
