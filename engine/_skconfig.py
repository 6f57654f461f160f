"""scikit-learn's configuration of the calling thread, taken along to its run's nodes.

``sklearn.set_config`` and ``sklearn.config_context`` are thread-local: a
node run by another thread (the threading backend, a node timeout's helper
thread) or in a worker process would see scikit-learn's defaults. Some
settings change the numbers: with ``transform_output="pandas"`` a
ColumnTransformer keeps a category dtype, which HistGradientBoosting reads
as categorical. As joblib does for scikit-learn's own parallel loops, the
configuration of the thread that starts a run is carried to each node:
:func:`caller_config` reads it when the run starts, :func:`config_applied`
sets it around a node in another thread, and a worker process gets it in a
``CONFIG`` message before its run (:mod:`foldgraph.engine.worker` sets it in
its one thread). scikit-learn is imported only to apply a configuration.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext

__all__ = ["caller_config", "config_applied"]


def caller_config() -> dict | None:
    """This thread's scikit-learn configuration; None when scikit-learn is not imported
    (then no estimator of this process set one: its defaults apply everywhere).

    Examples
    --------
    >>> import sklearn
    >>> with sklearn.config_context(assume_finite=True):
    ...     caller_config()["assume_finite"]
    True
    """
    sklearn = sys.modules.get("sklearn")
    get_config = getattr(sklearn, "get_config", None)  # None while sklearn is half imported
    return None if get_config is None else get_config()


def config_applied(config: dict | None):
    """A context manager running its block under ``config`` (nothing for None).

    Examples
    --------
    >>> import sklearn, threading
    >>> with sklearn.config_context(assume_finite=True):
    ...     config = caller_config()
    >>> seen = []
    >>> def node():
    ...     with config_applied(config):
    ...         seen.append(sklearn.get_config()["assume_finite"])
    >>> thread = threading.Thread(target=node); thread.start(); thread.join()
    >>> seen, sklearn.get_config()["assume_finite"]
    ([True], False)
    """
    if config is None:
        return nullcontext()
    from sklearn import config_context

    return config_context(**config)
