"""A fitted estimator still in the bytes a worker process pickled it into.

A worker process sends every fitted estimator back to the parent. The
parent needs a learner's *full* fits (they predict); the fold fits of a
fit job only matter if someone reads ``fold_estimators_`` (or a bagged
ensemble predicts with them). Unpickling a fold's forest in the parent
costs about as much as pickling it in the worker, and it is serial, so
fold fits travel as :class:`Pickled` and are loaded where they are first
used: :attr:`Learner.fold_estimators_ <foldgraph.tasks.learner.Learner>`
loads them at its first access.
"""

from __future__ import annotations

import pickle

__all__ = ["Pickled", "loaded"]


class Pickled:
    """An object's pickle, loaded by :func:`loaded` (pickling it keeps the bytes).

    Examples
    --------
    >>> p = Pickled(pickle.dumps({"coef": 2.0}))
    >>> loaded(p), loaded("anything else")
    ({'coef': 2.0}, 'anything else')
    >>> loaded(pickle.loads(pickle.dumps(p)))  # the bytes travel, not the object
    {'coef': 2.0}
    """

    __slots__ = ("blob",)

    def __init__(self, blob: bytes):
        self.blob = blob

    def __reduce__(self):
        return Pickled, (self.blob,)

    def __repr__(self) -> str:
        return f"Pickled({len(self.blob)} bytes)"


def loaded(obj):
    """``obj``, unpickled if it is :class:`Pickled`.

    Examples
    --------
    >>> loaded(Pickled(pickle.dumps([1, 2]))), loaded([1, 2])
    ([1, 2], [1, 2])
    """
    return pickle.loads(obj.blob) if type(obj) is Pickled else obj
