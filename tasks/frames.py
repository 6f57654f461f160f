"""DataFrames as node inputs: recognised, sliced by rows, and taken apart for shared memory.

A pandas DataFrame given as ``X`` reaches every learner and preprocessing
step as a DataFrame, with its column names and dtypes. In one process the
nodes slice the frame itself (one row range is a view, as for arrays). For
worker processes, :func:`frame_parts` takes a frame apart: a column of a
NumPy dtype (numbers, bool) and the codes of a categorical column go to
shared memory; the categories, and columns of any other dtype (strings,
objects, nullable or timezone-aware dtypes) travel pickled, once per worker
and run. :func:`frame_from_parts` puts it back together in the worker.

A polars DataFrame is read as a pandas one (:func:`as_frame`): the learners
see pandas, with the same names and dtypes (``Categorical`` and ``Enum``
become pandas categoricals). pandas is imported only when a frame is met.
"""

from __future__ import annotations

import numpy as np

__all__ = ["is_frame", "as_frame", "take_frame", "numeric_block", "frame_parts",
           "frame_from_parts", "data_dtype"]


def _module(X) -> str:
    return type(X).__module__.split(".", 1)[0]


def is_frame(X) -> bool:
    """True for a pandas DataFrame.

    Examples
    --------
    >>> import pandas as pd
    >>> is_frame(pd.DataFrame({"a": [1]})), is_frame(np.ones((1, 1)))
    (True, False)
    """
    return _module(X) == "pandas" and type(X).__name__ == "DataFrame"


def as_frame(X):
    """``X`` as a pandas DataFrame with a default row index, or None if it is no frame.

    A polars DataFrame is converted column by column (without pyarrow).
    Row positions, not index labels, say which rows a fold takes, so the
    index is reset: a frame with any index gives the same results.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": [1.0, 2.0], "c": pd.Categorical(["x", "y"])}, index=[7, 3])
    >>> frame = as_frame(X)
    >>> frame.index.tolist(), [str(t) for t in frame.dtypes], as_frame(np.ones((2, 2)))
    ([0, 1], ['float64', 'category'], None)
    """
    if is_frame(X):
        return X.reset_index(drop=True) if not _default_index(X) else X
    if _module(X) == "polars" and type(X).__name__ == "DataFrame":
        return _from_polars(X)
    return None


def _default_index(X) -> bool:
    import pandas as pd

    index = X.index
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1


def _from_polars(X):
    import pandas as pd
    import polars as pl

    columns = {}
    for name, series in zip(X.columns, X.get_columns()):
        if isinstance(series.dtype, pl.Enum):  # its categories are part of its dtype
            values = pd.Categorical(series.cast(pl.String).to_list(),
                                    categories=series.dtype.categories.to_list())
        elif isinstance(series.dtype, pl.Categorical):  # categories: the values seen
            values = pd.Categorical(series.cast(pl.String).to_list())
        elif series.dtype == pl.String:
            values = np.array(series.to_list(), dtype=object)
        else:
            values = series.to_numpy()
        columns[name] = values
    return pd.DataFrame(columns)


def take_frame(X, rows):
    """Rows ``rows`` (half-open ranges) of the frame ``X``: a view for one range.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": range(6)})
    >>> take_frame(X, ((0, 2), (4, 6)))["a"].tolist()
    [0, 1, 4, 5]
    """
    if len(rows) == 1:
        start, stop = rows[0]
        return X.iloc[start:stop]
    return X.iloc[np.concatenate([np.arange(start, stop) for start, stop in rows])]


def numeric_block(X, columns) -> np.ndarray:
    """``columns`` (positions) of the frame ``X`` as a 2-D float array: propagated features.

    Raises
    ------
    ValueError
        A column is not numeric (it is named, with the fix).

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": [1, 2], "b": [True, False], "s": pd.Series(["u", "v"], dtype=object)})
    >>> numeric_block(X, [1, 0]).tolist()
    [[1.0, 1.0], [0.0, 2.0]]
    >>> numeric_block(X, [2])
    Traceback (most recent call last):
      ...
    ValueError: propagate_features: column 's' (#2) has dtype object, not numbers: propagate numeric columns only, or encode this one in a learner
    """
    block = X.iloc[:, list(columns)]
    for j, (name, dtype) in zip(columns, block.dtypes.items()):
        if not (isinstance(dtype, np.dtype) and dtype.kind in "biuf"):
            raise ValueError(
                f"propagate_features: column {name!r} (#{j}) has dtype {dtype}, not numbers: "
                f"propagate numeric columns only, or encode this one in a learner"
            )
    return block.to_numpy(dtype=np.float64)


def frame_parts(X) -> tuple[list, dict]:
    """The frame ``X`` taken apart: ``(layout, arrays)``.

    ``arrays`` maps a part's name (``"c<j>"``) to the array that goes to
    shared memory: a NumPy-typed column, or a categorical's codes.
    ``layout`` holds, per column, ``(kind, extra)``: ``("array", None)``,
    ``("category", (categories, ordered))`` or ``("object", values)`` (sent
    pickled); with :attr:`X.columns <pandas.DataFrame.columns>` as its first item.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": [1.5, 2.5], "c": pd.Categorical(["x", "y"]), "s": ["u", "v"]})
    >>> layout, arrays = frame_parts(X)
    >>> [kind for kind, _ in layout[1:]], sorted(arrays), arrays["c1"].tolist()
    (['array', 'category', 'object'], ['c0', 'c1'], [0, 1])
    """
    import pandas as pd

    layout, arrays = [X.columns], {}
    for j in range(X.shape[1]):
        column = X.iloc[:, j]
        dtype = column.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "biufcmM":
            arrays[f"c{j}"] = column.to_numpy()
            layout.append(("array", None))
        elif isinstance(dtype, pd.CategoricalDtype):
            arrays[f"c{j}"] = np.asarray(column.cat.codes)
            layout.append(("category", (dtype.categories, dtype.ordered)))
        else:
            layout.append(("object", column.array))
    return layout, arrays


def frame_from_parts(layout: list, arrays: dict):
    """The frame :func:`frame_parts` took apart, on ``arrays`` without copying them.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": [1.5, 2.5], "c": pd.Categorical(["x", "y"]), "s": ["u", "v"]})
    >>> layout, arrays = frame_parts(X)
    >>> Y = frame_from_parts(layout, arrays)
    >>> Y.equals(X), np.shares_memory(Y["a"].to_numpy(), arrays["c0"])
    (True, True)
    """
    import pandas as pd

    columns = {}
    for j, (kind, extra) in enumerate(layout[1:]):
        if kind == "array":
            columns[j] = arrays[f"c{j}"]
        elif kind == "category":
            categories, ordered = extra
            dtype = pd.CategoricalDtype(categories, ordered=ordered)
            columns[j] = pd.Categorical.from_codes(arrays[f"c{j}"], dtype=dtype)
        else:
            columns[j] = extra
    frame = pd.DataFrame(columns, copy=False)
    frame.columns = layout[0]
    return frame


def data_dtype(X) -> str:
    """The dtype a graph records for the input ``X``; for a frame, its columns' common
    NumPy dtype, or ``"object"`` when a column has none (strings, categories).

    Examples
    --------
    >>> import pandas as pd
    >>> data_dtype(np.ones(2, dtype=np.float32)), data_dtype(pd.DataFrame({"a": [1], "b": [0.5]}))
    ('float32', 'float64')
    >>> data_dtype(pd.DataFrame({"a": [1], "s": ["u"]}))
    'object'
    """
    if not is_frame(X):
        return str(X.dtype)
    dtypes = list(X.dtypes)
    if all(isinstance(t, np.dtype) and t.kind in "biuf" for t in dtypes):
        return str(np.result_type(*dtypes))
    return "object"
