"""Checks of what a user passes to an ensemble's fit and predict, before any node runs.

Each function returns the cleaned value or raises the error a scikit-learn
user would catch (ValueError, TypeError), naming the culprit and the fix.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    column_or_1d,
    validate_data,
)

from foldgraph.tasks.frames import as_frame, is_frame, numeric_block

__all__ = ["as_numeric", "check_weights", "check_groups", "fit_seed", "check_folds", "to_csr",
           "check_targets", "take_rows", "user_order", "check_fit_data", "check_predict_data", "column_positions", "on_classes",
           "check_propagated", "feature_names", "frame_dtypes", "check_fit_params"]


def as_numeric(X, names=None, where: str = "X"):
    """``X`` with a numeric dtype: object columns converted, or a ValueError naming the column.

    Examples
    --------
    >>> import numpy as np
    >>> as_numeric(np.array([[1, "2"]], dtype=object)).dtype
    dtype('float64')
    >>> as_numeric(np.array([[1.0, "z"]], dtype=object))
    Traceback (most recent call last):
      ...
    ValueError: X column 1 holds non-numeric values such as 'z': encode it first (e.g. OneHotEncoder or OrdinalEncoder), or drop it
    """
    if getattr(X, "dtype", None) is None or X.dtype != object:
        return X
    try:
        return X.astype(float)
    except (TypeError, ValueError):
        pass
    for j in range(X.shape[1]):
        try:
            X[:, j].astype(float)
        except (TypeError, ValueError) as exc:
            bad = next(v for v in X[:, j] if not _is_number(v))
            column = repr(names[j]) if names is not None else j
            if isinstance(exc, TypeError):  # not even a string: say what float() said
                raise TypeError(f"{where} column {column} holds {bad!r} of type "
                                f"{type(bad).__name__}: {exc}") from None
            raise ValueError(
                f"{where} column {column} holds non-numeric values such as {bad!r}: encode it "
                f"first (e.g. OneHotEncoder or OrdinalEncoder), or drop it"
            ) from None
    raise ValueError(f"{where} cannot be converted to numbers: encode its columns first")


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def check_fit_data(estimator, X, y, names, classifier: bool, meta: str):
    """X and y of an ensemble's fit, checked the scikit-learn way (``n_features_in_`` set);
    NaN and inf in X are left to the estimators, which may accept them.

    Examples
    --------
    >>> from foldgraph import SuperLearner
    >>> X, y = check_fit_data(SuperLearner(), [[1], [2]], [0.5, 1.5], None, False, "'ols'")
    >>> X.shape, y.dtype
    ((2, 1), dtype('float64'))
    """
    frame = as_frame(X)
    if frame is not None:  # kept as it is: the learners get the names and dtypes
        return _check_fit_frame(estimator, frame, y), check_targets(
            _checked_y(frame, y, estimator), classifier, type(estimator).__name__, meta)
    if not hasattr(X, "shape"):
        X = np.asarray(X)
    X, y = validate_data(estimator, X, y, reset=True, ensure_all_finite=False,
                         ensure_min_samples=2, multi_output=True, y_numeric=False, dtype=None,
                         accept_sparse=("csr", "csc", "coo"))  # fmt: skip
    X = to_csr(as_numeric(X, names))
    return X, check_targets(y, classifier, type(estimator).__name__, meta)


def _check_fit_frame(estimator, X, y):
    # what validate_data checks, without turning the frame into an array
    validate_data(estimator, X, reset=True, skip_check_array=True)
    if X.shape[0] < 2:
        raise ValueError(f"Found array with {X.shape[0]} sample(s) (shape={X.shape}) while a "
                         f"minimum of 2 is required by {type(estimator).__name__}.")
    return X


def _checked_y(X, y, estimator):
    if y is None:
        raise ValueError(f"{type(estimator).__name__} requires y to be passed, but the target "
                         f"y is None")
    y = check_array(y, ensure_2d=False, dtype=None, input_name="y", estimator=estimator)
    check_consistent_length(X, y)
    return y


def check_predict_data(estimator, X, names):
    """X of a fitted ensemble's predict or transform: the fit's features, numeric, CSR.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> from foldgraph import SuperLearner
    >>> ens = SuperLearner(backend="sequential").add([Ridge()]).add_meta(LinearRegression())
    >>> ens = ens.fit([[1.0], [2.0], [3.0], [4.0]], [1.0, 2.0, 3.0, 4.0])
    >>> check_predict_data(ens, [[1.0, 2.0]], None)
    Traceback (most recent call last):
      ...
    ValueError: X has 2 features, but SuperLearner is expecting 1 features as input.
    """
    frame = as_frame(X)
    if frame is not None and hasattr(estimator, "feature_dtypes_"):  # fitted on a frame
        validate_data(estimator, frame, reset=False, skip_check_array=True)
        return frame
    X = validate_data(estimator, X, reset=False, ensure_all_finite=False, dtype=None,
                      accept_sparse=("csr", "csc", "coo"))  # fmt: skip
    return to_csr(as_numeric(X, names))


def feature_names(X):
    """A frame's column names as strings (an object array), else None.

    Examples
    --------
    >>> import pandas as pd
    >>> feature_names(pd.DataFrame({"a": [1], 2: [3]})).tolist(), feature_names(np.ones((1, 1)))
    (['a', '2'], None)
    """
    names = getattr(X, "columns", None)
    return None if names is None else np.asarray([str(c) for c in names], dtype=object)


def frame_dtypes(X):
    """``{column: dtype}`` of a frame (what the learners see), else None.

    Examples
    --------
    >>> import pandas as pd
    >>> frame_dtypes(pd.DataFrame({"a": [1.0], "c": pd.Categorical(["x"])})), frame_dtypes(None)
    ({'a': 'float64', 'c': 'category'}, None)
    """
    return {str(c): str(t) for c, t in X.dtypes.items()} if is_frame(X) else None


def check_propagated(X, columns) -> None:
    """Refuse, before any node runs, to propagate a frame's non-numeric columns.

    Examples
    --------
    >>> import pandas as pd
    >>> check_propagated(pd.DataFrame({"a": [1.0], "s": ["u"]}), "all")
    Traceback (most recent call last):
      ...
    ValueError: propagate_features: column 's' (#1) has dtype str, not numbers: propagate numeric columns only, or encode this one in a learner
    """
    if columns is not None and is_frame(X):
        numeric_block(X.iloc[:1], range(X.shape[1]) if columns == "all" else columns)


def column_positions(columns, layer: int, ensemble):
    """``propagate_features`` with column names of the first layer's DataFrame as positions.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> fitted = SimpleNamespace(feature_names_in_=np.array(["a", "b", "c"], dtype=object))
    >>> column_positions(["c", "a"], 0, fitted), column_positions("all", 1, fitted)
    ([2, 0], 'all')
    """
    if columns is None or isinstance(columns, str) or not any(isinstance(c, str) for c in columns):
        return columns
    names = getattr(ensemble, "feature_names_in_", None)
    if layer != 0 or names is None:
        raise ValueError(f"propagate_features={list(columns)!r} names columns: only the first "
                         f"layer of an ensemble fitted on a DataFrame has column names; pass "
                         f"positions")
    where = {str(n): i for i, n in enumerate(names)}
    missing = [c for c in columns if isinstance(c, str) and c not in where]
    if missing:
        raise ValueError(f"propagate_features names {missing[0]!r}, which X does not have "
                         f"(columns: {', '.join(map(repr, where))})")
    return [where[c] if isinstance(c, str) else c for c in columns]


def on_classes(proba, seen, classes):
    """``proba`` over the encoded classes ``seen`` as one column per class of ``classes``.

    Examples
    --------
    >>> on_classes(np.array([[0.25, 0.75]]), np.array([0, 2]), np.array(["a", "b", "c"]))
    array([[0.25, 0.  , 0.75]])
    """
    if classes is None or seen is None or len(seen) == len(classes):
        return proba
    full = np.zeros((proba.shape[0], len(classes)), dtype=proba.dtype)
    full[:, np.asarray(seen).astype(int)] = proba
    return full


def to_csr(X):
    """A scipy sparse matrix or array in CSR (rows sliced in place); anything else as is.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> to_csr(sp.coo_matrix(np.eye(2))).format
    'csr'
    """
    return X.tocsr() if hasattr(X, "tocsr") and X.format != "csr" else X


def check_targets(y, classifier: bool, owner: str, meta: str):
    """``y`` checked for an ensemble whose meta learner is a classifier or a regressor.

    A column vector is raveled with a warning (as scikit-learn does); a
    classifier needs two classes; a regressor numbers, else the message
    names the meta learner ``meta``.

    Examples
    --------
    >>> check_targets(np.array(["a", "b"]), False, "SuperLearner", "'ols' (LinearRegression)")
    Traceback (most recent call last):
      ...
    ValueError: y holds labels such as 'a', but the meta learner 'ols' (LinearRegression) is a regressor: use a classifier as the meta learner for classification
    """
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    if classifier:
        check_classification_targets(y)
        if y.ndim == 1 and len(np.unique(y)) < 2:
            raise ValueError(f"{owner} needs samples of at least 2 classes in y, got 1 class")
        return y
    if y.dtype.kind in "biuf":
        return y
    try:
        return y.astype(float)
    except (TypeError, ValueError):
        raise ValueError(
            f"y holds labels such as {y.ravel()[0].item()!r}, but the meta learner {meta} is a "
            f"regressor: use a classifier as the meta learner for classification"
        ) from None


def take_rows(order, *arrays) -> tuple:
    """Each of ``arrays`` (None stays None) with its rows in ``order``.

    Examples
    --------
    >>> take_rows(np.array([1, 0]), np.array([5, 6]), None)
    (array([6, 5]), None)
    """
    return tuple(None if a is None else a.iloc[order].reset_index(drop=True) if is_frame(a)
                 else a[order] for a in arrays)  # fmt: skip


def user_order(out, n: int, order=None) -> tuple:
    """``(out, rows)``: the predictions of the tail rows of a (permuted) input of ``n``
    rows, back in the user's row order, and which user rows they are.

    Examples
    --------
    >>> out, rows = user_order(np.array([[1.0], [2.0]]), 3, np.array([1, 2, 0]))
    >>> out.ravel().tolist(), rows.tolist()  # permuted rows 1, 2 are the user's rows 2, 0
    ([2.0, 1.0], [0, 2])
    """
    rows = np.arange(n - out.shape[0], n)
    if order is None:
        return out, rows
    rows = order[rows]
    back = np.argsort(rows, kind="stable")
    return out[back], rows[back]


def check_weights(sample_weight, n: int):
    """``sample_weight`` as a float64 array of ``n`` non-negative weights, not all zero.

    Examples
    --------
    >>> check_weights([1, 2], 2).tolist()
    [1.0, 2.0]
    >>> check_weights([1, -2], 2)
    Traceback (most recent call last):
      ...
    ValueError: sample_weight must be non-negative: weight -2.0 at row 1
    """
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=float)
    if w.shape != (n,):
        raise ValueError(f"sample_weight has shape {w.shape} for {n} rows: pass one weight per row")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"sample_weight holds NaN or inf at row {int(np.flatnonzero(~np.isfinite(w))[0])}")
    if np.any(w < 0):
        row = int(np.flatnonzero(w < 0)[0])
        raise ValueError(f"sample_weight must be non-negative: weight {w[row]} at row {row}")
    if not np.any(w):
        raise ValueError("sample_weight is all zero: give some row a positive weight")
    return w


def check_groups(groups, n: int):
    """``groups`` as an array of ``n`` labels, or None.

    Examples
    --------
    >>> check_groups([0, 0, 1], 2)
    Traceback (most recent call last):
      ...
    ValueError: groups has 3 labels for 2 rows: pass one group label per row
    """
    if groups is None:
        return None
    groups = np.asarray(groups)
    if groups.ndim != 1 or len(groups) != n:
        raise ValueError(f"groups has {len(groups)} labels for {n} rows: pass one group label "
                         f"per row")
    return groups


def fit_seed(random_state) -> int:
    """One int seed for a fit, from what ``check_random_state`` accepts.

    An int is kept (so folds equal ``KFold(shuffle=True, random_state=int)``);
    None draws a fresh seed; a RandomState gives its next int.

    Examples
    --------
    >>> import numpy as np
    >>> fit_seed(3), fit_seed(np.random.RandomState(0)) == fit_seed(np.random.RandomState(0))
    (3, True)
    """
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def check_folds(folds, name: str = "folds") -> None:
    """Refuse a ``folds`` that is neither an int >= 2 nor a splitter or indexer.

    Examples
    --------
    >>> check_folds(1)
    Traceback (most recent call last):
      ...
    ValueError: folds=1: pass an int >= 2, or a CV splitter such as KFold(5) or StratifiedKFold(5)
    """
    if isinstance(folds, numbers.Integral) and not isinstance(folds, bool):
        if folds >= 2:
            return
    elif (callable(getattr(folds, "split", None)) and callable(getattr(folds, "get_n_splits", None))
          or callable(getattr(folds, "make_folds", None))):  # a splitter or an indexer
        return
    raise ValueError(f"{name}={folds!r}: pass an int >= 2, or a CV splitter such as KFold(5) "
                     f"or StratifiedKFold(5)")


def check_fit_params(fit_params: dict) -> None:
    """Refuse fit parameters other than ``sample_weight`` and ``groups``, naming them.

    Examples
    --------
    >>> check_fit_params({"eval_set": None})
    Traceback (most recent call last):
      ...
    TypeError: fit() got fit parameters ['eval_set']: only sample_weight and groups are supported
    """
    if fit_params:
        raise TypeError(f"fit() got fit parameters {sorted(fit_params)}: only sample_weight "
                        f"and groups are supported")
