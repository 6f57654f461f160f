"""How nodes run: the manager, jobs, the scheduler loop, backends and strategies.

The names below are imported on first use (PEP 562): a worker process
imports ``foldgraph.engine.worker``, which must not load the graph layer,
the cache or networkx through this package.
"""

from __future__ import annotations

import sys
from importlib import import_module
from importlib.util import find_spec
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the names are, for type checkers and editors
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

#: the module of this package each public name is imported from
_HOMES = {
    "BACKENDS": "backends", "NodeCache": "cache", "Plan": "cache", "UnsafeCacheError": "cache",
    "Job": "job", "ParallelProcessing": "manager", "RunState": "scheduler",
    "finish": "scheduler", "run_graph": "scheduler", "start_state": "scheduler",
    "SimResult": "simulate", "simulate": "simulate", "STRATEGIES": "strategies",
    "Trace": "trace", "TraceEvent": "trace",
}  # fmt: skip


def __getattr__(name: str):
    """Import a public name (or a submodule) on first use, then keep it as an attribute."""
    home = _HOMES.get(name)
    if home is None:
        if name.startswith("__") or find_spec(f"{__name__}.{name}") is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return import_module(f"{__name__}.{name}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(ModuleType):
    """This package, keeping ``simulate`` the function: importing a submodule sets it
    as an attribute of its package, and the submodule ``simulate`` shares the name."""

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, ModuleType) and _HOMES.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
