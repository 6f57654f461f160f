"""Job: the data and options of one manager run, and its buffers.

A Job holds the input (``X``, ``y``: arrays, or a path to a ``.npy`` file,
memory-mapped, or a ``.csv`` file, loaded), what to return, and whether the
tasks are stacked. :meth:`Job.allocate` creates one array per
:class:`~foldgraph.graph.nodes.BufferSpec` of a graph; :meth:`Job.release`
drops them. The in-process backends use the arrays directly.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from foldgraph.errors import GraphError
from foldgraph.graph.checks import check_data, check_labels, check_sample_weight
from foldgraph.graph.taskgraph import check_job
from foldgraph.tasks.frames import frame_parts, is_frame

__all__ = ["Job", "load_array"]

SUFFIXES = (".npy", ".csv")


def load_array(data, what: str = "X"):
    """Return ``data`` as an array; a path to ``.npy`` is memory-mapped, ``.csv`` loaded.

    Raises
    ------
    GraphError
        The path does not exist or has an unsupported suffix.

    Examples
    --------
    >>> import numpy as np
    >>> np.save("X.npy", np.ones((3, 2)))
    >>> type(load_array("X.npy")).__name__, load_array("X.npy").shape
    ('memmap', (3, 2))
    >>> load_array("X.parquet")
    Traceback (most recent call last):
      ...
    foldgraph.errors.GraphError: X='X.parquet': unsupported file type '.parquet'; save the data as .npy or .csv
    """
    if not isinstance(data, (str, os.PathLike)):
        return data
    path = Path(data)
    if path.suffix not in SUFFIXES:
        raise GraphError(
            f"{what}={str(path)!r}: unsupported file type {path.suffix!r}; "
            f"save the data as {' or '.join(SUFFIXES)}"
        )
    if not path.is_file():
        raise GraphError(f"{what}={str(path)!r}: no such file")
    if path.suffix == ".npy":
        return np.load(path, mmap_mode="r")
    return np.loadtxt(path, delimiter=",", ndmin=2 if what == "X" else 1)


def _is_sparse(array) -> bool:
    return not isinstance(array, np.ndarray) and hasattr(array, "tocsr")


class Job:
    """The data and options of one run.

    Parameters
    ----------
    job : {"fit", "predict", "transform"}
    X : array-like or str
        Input, or a path to a ``.npy`` (memory-mapped) or ``.csv`` file.
    y : array-like or str, optional
    stack : bool, default=False
        Chain the tasks (output of one learner is the input of the next).
    split : bool, default=True
        With ``stack``: seal tasks off from each other (see ``stack_graph``).
    path : str, optional
        Kept for mlens compatibility: in-process backends write nothing to
        disk. foldgraph never deletes a directory it did not create.
    return_preds : bool or list of str, default=False
    sample_weight : array-like of shape (n_samples,), optional

    Attributes
    ----------
    buffers : dict of str to ndarray
        The arrays of the current run (empty when released).
    handles : dict of str to tuple
        For a shared allocation: how a worker attaches each buffer.

    Examples
    --------
    >>> import numpy as np
    >>> Job("fit", np.ones((4, 2)), np.ones(4)).X.shape
    (4, 2)
    """

    def __init__(
        self,
        job: str = "fit",
        X=None,
        y=None,
        stack: bool = False,
        split: bool = True,
        path=None,
        return_preds=False,
        sample_weight=None,
    ):
        self.job = check_job(job)
        self._sources = {
            name: os.fspath(value)
            for name, value in (("X", X), ("y", y))
            if isinstance(value, (str, os.PathLike))
        }
        # every entry point of the manager comes here: bad data is refused before any node
        # runs, and a sparse X of any format becomes CSR once, for every backend
        self.X, self.y = check_data(load_array(X, "X"), load_array(y, "y"), job=self.job)
        self.sample_weight = (None if sample_weight is None
                              else check_sample_weight(sample_weight, self.X.shape[0]))  # fmt: skip
        self.stack = bool(stack)
        self.split = bool(split)
        self.path = path
        self.return_preds = return_preds
        self.buffers: dict[str, np.ndarray] = {}
        self.handles: dict[str, tuple] = {}
        self._owned: list = []

    def __repr__(self) -> str:
        return (
            f"Job(job={self.job!r}, X={self.X.shape}, stack={self.stack}, "
            f"split={self.split})"
        )

    def allocate(self, graph, shared: bool = False) -> dict:
        """Create the arrays of ``graph``'s buffers: X and y as given, outputs zeroed.

        With ``shared``, every buffer lives in a shared-memory segment (X and
        y copied in once) and :attr:`handles` says how workers attach; an X
        or y given as a ``.npy`` path is memory-mapped by the workers instead.
        """
        spec = graph.buffers.get("X")
        if spec is not None and tuple(self.X.shape) != tuple(spec.shape):
            raise GraphError(
                f"the graph was built for X of shape {tuple(spec.shape)}, got "
                f"{tuple(self.X.shape)}: rebuild the graph for this data"
            )
        if "y" in graph.buffers and self.y is None:
            raise GraphError(
                f"the graph was built with y (a {graph.job!r} job of learners needs "
                f"targets): pass y to run(graph, X, y)"
            )
        self._check_targets(graph)
        self.release()
        if "w" in graph.buffers and self.sample_weight is None:
            raise GraphError("the graph was built with sample_weight: pass it to run() too")
        inputs = {"X": self.X} if self.y is None else {"X": self.X, "y": self.y}
        if "w" in graph.buffers:
            inputs["w"] = self.sample_weight
        outputs = {n: s for n, s in graph.buffers.items() if n not in inputs}
        try:
            if shared:
                self._allocate_shared(inputs, outputs)
            else:
                self.buffers = dict(inputs)
                for name, spec in outputs.items():
                    self.buffers[name] = np.zeros(spec.shape, dtype=spec.dtype)
        except BaseException:
            self.release()
            raise
        return self.buffers

    def _check_targets(self, graph) -> None:
        spec = graph.buffers.get("y")
        if spec is not None and tuple(self.y.shape) != tuple(spec.shape):
            raise GraphError(
                f"the graph was built for y of shape {tuple(spec.shape)}, got "
                f"{tuple(self.y.shape)}: rebuild the graph for these targets"
            )
        if graph.job == "fit" and self.y is not None:
            for name, task in graph.tasks.items():
                check_labels(task, name, self.y)

    def _allocate_shared(self, inputs: dict, outputs: dict) -> None:
        from .buffers import SharedBuffer

        specs, layouts, frame_arrays = {}, {}, {}
        for name, array in inputs.items():
            source = self._sources.get(name)
            if source is not None and source.endswith(".npy"):  # workers map the file
                self.buffers[name] = array
                self.handles[name] = ("npy", source, tuple(array.shape), array.dtype.str)
            elif is_frame(array):  # typed columns and category codes go to shared memory
                layouts[name], parts = frame_parts(array)
                specs.update({f"{name}#{p}": (a.shape, a.dtype) for p, a in parts.items()})
                frame_arrays.update({f"{name}#{p}": a for p, a in parts.items()})
            elif _is_sparse(array):  # CSR: its three arrays go to shared memory
                array = array.tocsr()
                for part in ("data", "indices", "indptr"):
                    specs[f"{name}#{part}"] = (getattr(array, part).shape,
                                               getattr(array, part).dtype)  # fmt: skip
            else:
                specs[name] = (np.shape(array), np.asarray(array).dtype)
        specs.update({name: (spec.shape, spec.dtype) for name, spec in outputs.items()})
        buf = SharedBuffer(specs)
        self._owned.append(buf)
        for name in specs:
            if name in inputs:
                buf.arrays[name][...] = inputs[name]
            elif name in frame_arrays:
                buf.arrays[name][...] = frame_arrays[name]
            elif "#" in name:
                base, part = name.split("#")
                buf.arrays[name][...] = getattr(inputs[base].tocsr(), part)
            # outputs: a new segment reads as zeros already (POSIX ftruncate)
        for name, layout in layouts.items():  # the worker rebuilds the frame on the parts
            parts = {key.split("#", 1)[1]: buf.handles.pop(key) for key in list(buf.handles)
                     if key.startswith(f"{name}#")}
            for key in parts:
                buf.arrays.pop(f"{name}#{key}")
            self.buffers[name] = inputs[name]
            self.handles[name] = ("frame", layout, parts)
        for name, array in inputs.items():
            if _is_sparse(array):
                parts = [buf.handles.pop(f"{name}#{p}") for p in ("data", "indices", "indptr")]
                for p in ("data", "indices", "indptr"):
                    buf.arrays.pop(f"{name}#{p}")
                self.buffers[name] = array
                self.handles[name] = ("csr", tuple(array.shape), *parts)
        self.buffers.update(buf.arrays)
        self.handles.update(buf.handles)

    @property
    def segments(self) -> list[str]:
        """Names of the shared-memory segments this job owns right now."""
        return [buf.segment for buf in self._owned]

    def free(self, name: str) -> bool:
        """Let go of buffer ``name``'s memory (no node will touch it again); True if freed.

        A shared buffer's pages go back to the system
        (:meth:`SharedBuffer.free <foldgraph.engine.buffers.SharedBuffer.free>`);
        an in-process one is replaced by an empty array of its dtype.

        Examples
        --------
        >>> import numpy as np
        >>> from foldgraph import FoldIndex, Learner, map_graph
        >>> from foldgraph.testing import OLS
        >>> X = np.ones((4, 2))
        >>> job = Job("fit", X, np.ones(4))
        >>> buffers = job.allocate(map_graph(Learner(OLS(), FoldIndex(2), name="a"), "fit", X, np.ones(4)))
        >>> job.free("P:a"), job.buffers["P:a"].shape
        (True, (0, 1))
        """
        for buf in self._owned:
            if name in buf.arrays:
                return buf.free(name)
        array = self.buffers.get(name)
        if array is None:
            return False
        self.buffers[name] = np.empty((0, *array.shape[1:]), dtype=array.dtype)
        return True

    def release(self) -> None:
        """Drop every buffer of the run, unlinking its segments (idempotent)."""
        self.buffers, self.handles = {}, {}
        owned, self._owned = self._owned, []
        for buf in owned:
            buf.release()
