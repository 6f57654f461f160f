"""Fuzz SuperLearner.fit/predict with odd shapes, dtypes and values (hypothesis).

X has 1-40 rows and 1-5 columns of float64, float32, int64 or bool; X and y
hold finite values, NaN, inf or huge numbers. A fit (and a predict, if the
fit succeeds) may fail only with one of foldgraph's documented errors (a
FoldgraphError: GraphError, TaskError[E] naming the node...) or with the
ValueError/TypeError of the input validation of scikit-learn or of an
estimator; anything else (an IndexError, a ZeroDivisionError, a numpy
FloatingPointError escaping from foldgraph...) is a bug. The run is
derandomized so that CI sees the same 40 examples every time; set
FUZZ_EXAMPLES=2000 in the environment for a random search, locally.
"""

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.linear_model import Ridge
from sklearn.tree import DecisionTreeRegressor

from foldgraph import FoldgraphError, SuperLearner, TaskError

pytestmark = [pytest.mark.usefixtures("no_leaks"), pytest.mark.timeout(120)]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
#: the same examples on every CI run; a random search when FUZZ_EXAMPLES is set
DERANDOMIZE = "FUZZ_EXAMPLES" not in os.environ
DTYPES = [np.float64, np.float32, np.int64, np.bool_]
#: what a caller may have to catch: foldgraph's errors, or input validation's
ALLOWED = (FoldgraphError, ValueError, TypeError)


def elements(dtype):
    """Values of ``dtype``: mostly ordinary, sometimes NaN, inf or huge."""
    if dtype == np.bool_:
        return st.booleans()
    if dtype == np.int64:
        return st.one_of(st.integers(-100, 100), st.sampled_from([2**62, -(2**62), 2**31]))
    huge = 3e38 if dtype == np.float32 else 1e308
    width = 32 if dtype == np.float32 else 64
    special = st.sampled_from(
        [np.nan, np.inf, -np.inf, huge, -huge, 1e-300 if width == 64 else 0.0]
    )
    ordinary = st.floats(-1e3, 1e3, allow_nan=False, width=width)
    return st.one_of(ordinary, ordinary, ordinary, special)


@st.composite
def data(draw):
    n = draw(st.integers(1, 40))
    d = draw(st.integers(1, 5))
    x_dtype, y_dtype = draw(st.sampled_from(DTYPES)), draw(st.sampled_from(DTYPES))
    X = draw(hnp.arrays(x_dtype, (n, d), elements=elements(x_dtype)))
    y = draw(hnp.arrays(y_dtype, (n,), elements=elements(y_dtype)))
    if draw(st.booleans()):
        y = y.reshape(n, 1)  # a column vector: raveled with a warning, as scikit-learn does
    learner = draw(st.sampled_from(["ridge", "tree", "both"]))
    return X, y, learner


def ensemble(learner):
    base = {"ridge": [Ridge()], "tree": [DecisionTreeRegressor(max_depth=3, random_state=0)],
            "both": [Ridge(), DecisionTreeRegressor(max_depth=3, random_state=0)]}[learner]  # fmt: skip
    return SuperLearner(folds=2, backend="sequential").add(base).add_meta(Ridge())


OUTCOMES = {}


@settings(max_examples=EXAMPLES, deadline=None, derandomize=DERANDOMIZE, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])  # fmt: skip
@given(data())
def test_fit_predict_fail_only_with_documented_errors(case):
    X, y, learner = case
    ens = ensemble(learner)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow, column-vector y, ill-conditioned solves
        try:
            ens.fit(X, y)
            P = ens.predict(X)
        except ALLOWED as error:
            kind = "TaskError" if isinstance(error, TaskError) else type(error).__name__
            OUTCOMES[kind] = OUTCOMES.get(kind, 0) + 1
            if isinstance(error, TaskError):  # names the node that failed
                assert error.node and error.node in str(error), str(error)
            return
    assert P.shape == (len(X),)
    # the meta learner's predict runs outside the graph: with targets near 1e308 it may
    # return inf without an error (foldgraph/base.py predict): counted, not failed
    kind = "ok" if np.isfinite(P).all() else "ok, non-finite predictions"
    OUTCOMES[kind] = OUTCOMES.get(kind, 0) + 1


def test_zz_report_outcomes():
    """Print how the fuzzed fits ended (pytest -s)."""
    print(f"\nfuzz outcomes over {EXAMPLES} examples: {dict(sorted(OUTCOMES.items()))}")
