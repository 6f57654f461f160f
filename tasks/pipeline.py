"""Pipeline: a chain of transformers whose steps may also transform ``y``.

A step's ``transform`` may take ``y`` (a parameter named ``y``) and may
return ``(X, y)`` instead of ``X``; with ``return_y=True`` the pipeline
passes the new ``y`` on and returns ``(X, y)``. This is what a transformer
that turns predictions into errors needs (the "Parallel Mechanics" tutorial).
"""

from __future__ import annotations

import inspect

from sklearn.base import BaseEstimator, clone

__all__ = ["Pipeline", "apply_transform", "fit_step"]


def _takes_y(method) -> bool:
    """Whether ``method`` (a bound ``fit``/``transform``) accepts a ``y`` argument."""
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return "y" in params


def apply_transform(transformer, X, y=None):
    """Call ``transformer.transform`` and always return ``(X, y)``.

    ``y`` is passed only when ``transform`` has a parameter named ``y``; a
    returned ``(X, y)`` tuple replaces ``y``.

    Parameters
    ----------
    transformer : object with a ``transform`` method
    X : array-like
    y : array-like, optional

    Returns
    -------
    X, y : tuple

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph.testing import Scale
    >>> Xt, yt = apply_transform(Scale().fit(np.ones((2, 1))), np.ones((2, 1)), [1, 2])
    >>> Xt.ravel().tolist(), yt
    ([0.0, 0.0], [1, 2])
    """
    if _takes_y(transformer.transform):
        out = transformer.transform(X, y=y)
    else:
        out = transformer.transform(X)
    if isinstance(out, tuple):
        if len(out) != 2:
            raise ValueError(
                f"{type(transformer).__name__}.transform returned a tuple of "
                f"{len(out)} items; return X or (X, y)"
            )
        return out
    return out, y


def fit_step(transformer, X, y=None):
    """Call ``transformer.fit``, passing ``y`` only if ``fit`` has a ``y`` parameter.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import StandardScaler
    >>> fit_step(StandardScaler(), np.arange(8.0).reshape(4, 2), y=None).mean_.tolist()
    [3.0, 4.0]
    """
    if _takes_y(transformer.fit):
        return transformer.fit(X, y=y)
    return transformer.fit(X)


class Pipeline(BaseEstimator):
    """A sequence of ``(name, transformer)`` steps fitted and applied in order.

    Parameters
    ----------
    steps : list of (str, transformer) pairs
        Transformers with ``fit`` and ``transform``. A bare transformer is
        accepted and named after its class in lower case. An empty list is
        the identity.
    return_y : bool, default=False
        Return ``(X, y)`` from ``transform``/``fit_transform`` so that a
        step that changes ``y`` passes it on.

    Attributes
    ----------
    steps_ : list of (str, transformer)
        The fitted clones of ``steps``.

    Examples
    --------
    >>> import numpy as np
    >>> from foldgraph.testing import Scale
    >>> Pipeline([("sc", Scale())]).fit_transform(np.array([[1.0], [3.0]])).ravel()
    array([-1.,  1.])
    """

    def __init__(self, steps, return_y: bool = False):
        self.steps = steps
        self.return_y = return_y

    def _named_steps(self):
        named = []
        for step in self.steps or []:
            if isinstance(step, tuple):
                if len(step) != 2 or not isinstance(step[0], str):
                    raise ValueError(
                        f"Pipeline step {step!r} is not a (name, transformer) pair"
                    )
                named.append(step)
            else:
                named.append((type(step).__name__.lower(), step))
        for name, tr in named:
            if not (hasattr(tr, "fit") and hasattr(tr, "transform")):
                raise TypeError(
                    f"Pipeline step '{name}' ({type(tr).__name__}) has no "
                    f"fit/transform methods: every step must be a transformer"
                )
        return named

    def fit(self, X, y=None):
        """Fit clones of every step in order, each on the previous one's output."""
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None):
        """Fit the steps and return the transformed ``X`` (or ``(X, y)``)."""
        self.steps_ = []
        for name, tr in self._named_steps():
            tr = clone(tr, safe=False)  # plain objects with fit/transform are deep-copied
            fit_step(tr, X, y)
            X, y = apply_transform(tr, X, y)
            self.steps_.append((name, tr))
        return (X, y) if self.return_y else X

    def transform(self, X, y=None):
        """Apply the fitted steps; returns ``X``, or ``(X, y)`` with ``return_y``."""
        if not hasattr(self, "steps_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This Pipeline is not fitted: call fit(X, y) first")
        for _, tr in self.steps_:
            X, y = apply_transform(tr, X, y)
        return (X, y) if self.return_y else X
