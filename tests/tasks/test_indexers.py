"""Tests for foldgraph.tasks.indexers: exact folds, invariants, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, clone
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import KFold

from foldgraph.tasks.indexers import (
    INDEXERS,
    BlendIndex,
    ClusteredSubsetIndex,
    Fold,
    FoldIndex,
    FullIndex,
    SubsetIndex,
    TemporalIndex,
    array_to_rows,
    n_rows,
    partition_sizes,
    rows_to_array,
)


def kmeans(k: int = 2, n_init: int = 10) -> KMeans:
    return KMeans(n_clusters=k, n_init=n_init, random_state=0)


def blobs(n: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two well separated 2-D blobs whose rows are interleaved at random."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 2)
    return rng.normal(scale=0.1, size=(n, 2)) + 10.0 * labels[:, None], labels


def fold_fits(idx) -> list[Fold]:
    return [f for f in idx.folds_ if f.fold != "full"]


def as_set(rows) -> set[int]:
    return set(rows_to_array(rows).tolist())


def assert_well_formed(rows, n: int) -> None:
    """Sorted, disjoint, non-empty ranges inside [0, n), in canonical form."""
    assert all(0 <= a < b <= n for a, b in rows)
    assert array_to_rows(rows_to_array(rows)) == rows


class TestRows:
    def test_round_trip(self):
        rows = ((0, 3), (5, 7), (9, 10))
        assert rows_to_array(rows).tolist() == [0, 1, 2, 5, 6, 9]
        assert rows_to_array(rows).dtype == np.int64
        assert array_to_rows(rows_to_array(rows)) == rows
        assert n_rows(rows) == 6

    def test_bool_mask_and_empty(self):
        assert array_to_rows(np.array([False, True, True, False, True])) == ((1, 3), (4, 5))
        assert array_to_rows([]) == ()
        assert array_to_rows(np.zeros(4, dtype=bool)) == ()
        assert rows_to_array(()).tolist() == [] and n_rows(()) == 0

    @pytest.mark.parametrize("bad", [[2, 1], [1, 1], [-1, 0], [0.0, 1.0], [[0, 1]]])
    def test_array_to_rows_rejects(self, bad):
        with pytest.raises(ValueError, match="strictly increasing"):
            array_to_rows(bad)

    def test_partition_sizes(self):
        assert partition_sizes(10, 3) == [4, 3, 3]
        assert partition_sizes(9, 3) == [3, 3, 3]
        assert partition_sizes(2, 3) == [1, 1, 0]
        with pytest.raises(ValueError, match="p >= 1"):
            partition_sizes(10, 0)


class TestFoldIndex:
    def test_exact_folds(self):
        folds = FoldIndex(3).make_folds(range(10))
        assert folds == [
            Fold(0, 0, ((4, 10),), ((0, 4),)),
            Fold(0, 1, ((0, 4), (7, 10)), ((4, 7),)),
            Fold(0, 2, ((0, 7),), ((7, 10),)),
            Fold(0, "full", ((0, 10),), ()),
        ]

    @pytest.mark.parametrize("n, k", [(n, k) for n in (2, 3, 4, 5, 7, 10, 11, 16, 29, 50)
                                      for k in (2, 3, 4, 5, 7, 10) if k <= n])
    def test_equals_kfold(self, n, k):
        idx = FoldIndex(k).fit(np.zeros((n, 2)))
        expected = list(KFold(k).split(np.zeros((n, 2))))
        got = list(idx.generate(as_array=True))
        assert len(got) == len(expected) == k
        for (train, test), (e_train, e_test) in zip(got, expected, strict=True):
            np.testing.assert_array_equal(train, e_train)
            np.testing.assert_array_equal(test, e_test)

    def test_fitted_attributes(self):
        idx = FoldIndex(2).fit(np.zeros((7, 3)))
        assert (idx.n_samples_, idx.n_test_samples_, idx.n_partitions_) == (7, 7, 1)
        assert list(idx.partition()) == [((0, 7),)]

    def test_one_fold_warns_and_fits_in_sample(self):
        with pytest.warns(UserWarning, match=r"FoldIndex\(folds=1\).*in-sample"):
            folds = FoldIndex(1, raise_on_exception=False).make_folds(range(5))
        assert folds == [Fold(0, 0, ((0, 5),), ((0, 5),)), Fold(0, "full", ((0, 5),), ())]

    def test_make_folds_returns_a_copy(self):
        idx = FoldIndex(2)
        folds = idx.make_folds(range(4))
        folds.clear()
        assert len(idx.folds_) == 3

    def test_sized_inputs_agree(self):
        expected = FoldIndex(3).make_folds(np.zeros((10, 4)))
        assert FoldIndex(3).make_folds(range(10)) == expected
        assert FoldIndex(3).make_folds([[0]] * 10) == expected


class TestBlendIndex:
    @pytest.mark.parametrize("test_size, train_size, n, train, test", [
        (0.5, None, 10, ((0, 5),), ((5, 10),)),
        (0.25, None, 10, ((0, 8),), ((8, 10),)),  # floor(2.5) = 2
        (3, None, 10, ((0, 7),), ((7, 10),)),
        (3, 4, 10, ((0, 4),), ((7, 10),)),  # gap: the output is still the tail
        (0.2, 0.5, 10, ((0, 5),), ((8, 10),)),
        (1, 1, 2, ((0, 1),), ((1, 2),)),
    ])
    def test_sizes_and_tail_rule(self, test_size, train_size, n, train, test):
        idx = BlendIndex(test_size, train_size).fit(range(n))
        assert idx.folds_ == [Fold(0, 0, train, test), Fold(0, "full", ((0, n),), ())]
        assert idx.n_test_samples_ == n_rows(test)
        assert test[-1][1] == n == idx.n_samples_
        assert list(idx.generate()) == [(train, test)]


class TestFullIndex:
    def test_one_in_sample_fit(self):
        idx = FullIndex().fit(range(6))
        assert idx.folds_ == [Fold(0, "full", ((0, 6),), ((0, 6),))]
        assert (idx.n_test_samples_, idx.n_partitions_) == (6, 1)
        assert list(idx.generate()) == [(((0, 6),), ((0, 6),))]
        assert list(idx.partition()) == [((0, 6),)]


class TestSubsetIndex:
    def test_exact_folds(self):
        folds = SubsetIndex(2, 2).make_folds(range(10))  # partitions [0, 5) and [5, 10)
        assert folds == [
            Fold(0, 0, ((3, 5),), ((0, 3), (5, 8))),
            Fold(0, 1, ((0, 3),), ((3, 5), (8, 10))),
            Fold(1, 0, ((8, 10),), ((0, 3), (5, 8))),
            Fold(1, 1, ((5, 8),), ((3, 5), (8, 10))),
            Fold(0, "full", ((0, 5),), ()),
            Fold(1, "full", ((5, 10),), ()),
        ]

    @pytest.mark.parametrize("j, k, n", [(1, 2, 4), (2, 2, 9), (3, 2, 10), (2, 3, 13), (4, 3, 50)])
    def test_each_row_predicted_once_per_partition(self, j, k, n):
        idx = SubsetIndex(j, k).fit(range(n))
        assert (idx.n_partitions_, idx.n_test_samples_) == (j, n)
        parts = [as_set(rows) for rows in idx.partition()]
        assert sorted(len(p) for p in parts) == sorted(partition_sizes(n, j))
        for p in range(j):
            column = [f for f in fold_fits(idx) if f.partition == p]
            tests = [rows_to_array(f.test) for f in column]
            assert sorted(np.concatenate(tests).tolist()) == list(range(n))
            for f in column:
                assert as_set(f.train) <= parts[p]
                assert not as_set(f.train) & as_set(f.test)

    def test_one_partition_is_kfold(self):
        subset = SubsetIndex(1, 3).make_folds(range(11))
        assert subset == FoldIndex(3).make_folds(range(11))


class TestClusteredSubsetIndex:
    def test_partitions_are_label_pure(self):
        X, labels = blobs()
        est = kmeans()
        idx = ClusteredSubsetIndex(est, partitions=2, folds=2).fit(X)
        assert idx.n_partitions_ == 2 and idx.n_test_samples_ == 20
        parts = [rows_to_array(rows) for rows in idx.partition()]
        assert sorted(np.concatenate(parts).tolist()) == list(range(20))
        assert all(len(set(labels[p])) == 1 for p in parts)
        assert idx.estimator_ is not est and hasattr(idx.estimator_, "cluster_centers_")
        assert not hasattr(est, "cluster_centers_")

    def test_fold_semantics_match_subset_index(self):
        X, _ = blobs(seed=1)
        idx = ClusteredSubsetIndex(kmeans(), folds=3).fit(X)
        parts = [as_set(rows) for rows in idx.partition()]
        for p, part in enumerate(parts):
            column = [f for f in fold_fits(idx) if f.partition == p]
            tests = np.concatenate([rows_to_array(f.test) for f in column])
            assert sorted(tests.tolist()) == list(range(20))
            for f in column:
                assert as_set(f.train) <= part and not as_set(f.train) & as_set(f.test)
                assert_well_formed(f.train, 20)

    def test_records_cluster_count_without_touching_partitions(self):
        X, _ = blobs(30)
        idx = ClusteredSubsetIndex(kmeans(3, n_init=1), partitions=2, folds=2).fit(X)
        assert idx.partitions == 2 and idx.n_partitions_ == 3
        assert [f.partition for f in idx.folds_ if f.fold == "full"] == [0, 1, 2]

    def test_other_jobs_keep_partitions(self):
        X, _ = blobs()
        idx = ClusteredSubsetIndex(kmeans()).fit(X)
        folds, fitted = idx.folds_, idx.estimator_
        idx.fit(X[::-1], job="predict")
        assert idx.folds_ == folds and idx.estimator_ is fitted
        with pytest.raises(NotFittedError, match=r"call fit\(X\) first"):
            ClusteredSubsetIndex(kmeans()).fit(X, job="predict")

    def test_labels_attribute_and_fit_without_y(self):
        class HalfSplitter(BaseEstimator):
            """Labels the first half 0 and the rest 1; fit takes no y."""

            def fit(self, X):
                self.labels_ = (np.arange(len(X)) >= len(X) // 2).astype(int)
                return self

        idx = ClusteredSubsetIndex(HalfSplitter()).fit(np.zeros((8, 1)), np.zeros(8))
        assert list(idx.partition()) == [((0, 4),), ((4, 8),)]
        X, labels = blobs()
        agg = ClusteredSubsetIndex(AgglomerativeClustering(2)).fit(X)
        assert all(len(set(labels[p])) == 1 for p in agg.partition(as_array=True))
        assert agg.n_partitions_ == 2


class TestTemporalIndex:
    def test_default_folds(self):
        idx = TemporalIndex().fit(range(4))
        assert fold_fits(idx) == [
            Fold(0, 0, ((0, 1),), ((1, 2),)),
            Fold(0, 1, ((0, 2),), ((2, 3),)),
            Fold(0, 2, ((0, 3),), ((3, 4),)),
        ]
        assert idx.n_test_samples_ == 3 and idx.folds_[-1] == Fold(0, "full", ((0, 4),), ())

    def test_step_burn_in_and_last_partial_step(self):
        idx = TemporalIndex(step_size=3, burn_in=2).fit(range(10))
        assert [(f.train, f.test) for f in fold_fits(idx)] == [
            (((0, 2),), ((2, 5),)), (((0, 5),), ((5, 8),)), (((0, 8),), ((8, 10),))]
        assert idx.n_test_samples_ == 8

    def test_window_and_lag(self):
        idx = TemporalIndex(step_size=2, burn_in=4, window=3, lag=1).fit(range(10))
        assert [(f.train, f.test) for f in fold_fits(idx)] == [
            (((0, 3),), ((4, 6),)), (((2, 5),), ((6, 8),)), (((4, 7),), ((8, 10),))]
        assert idx.n_test_samples_ == 6


X20 = blobs()[0]
SAMPLES = [FoldIndex(3), BlendIndex(0.3, 0.5), FullIndex(), SubsetIndex(2, 3),
           ClusteredSubsetIndex(kmeans(n_init=1), partitions=2, folds=2),
           TemporalIndex(2, burn_in=3, window=4, lag=1)]


@pytest.mark.parametrize("indexer", SAMPLES, ids=lambda i: type(i).__name__)
class TestCommon:
    def test_clone_keeps_params_and_drops_fit(self, indexer):
        fitted = clone(indexer).fit(X20)
        copy = clone(fitted)
        assert type(copy) is type(indexer) and not hasattr(copy, "folds_")
        assert repr(copy) == repr(indexer)
        params = copy.get_params(deep=False)
        for key, value in indexer.get_params(deep=False).items():
            assert params[key] is value or repr(params[key]) == repr(value)

    def test_generate_as_array_matches_rows(self, indexer):
        idx = clone(indexer).fit(X20)
        for (train, test), (a_train, a_test) in zip(
                idx.generate(), idx.generate(as_array=True), strict=True):
            np.testing.assert_array_equal(a_train, rows_to_array(train))
            np.testing.assert_array_equal(a_test, rows_to_array(test))
        for rows, array in zip(idx.partition(), idx.partition(as_array=True), strict=True):
            np.testing.assert_array_equal(array, rows_to_array(rows))

    def test_not_fitted(self, indexer):
        for method in (indexer.generate, indexer.partition):
            with pytest.raises(NotFittedError, match=r"call fit\(X\) first"):
                method()

    def test_folds_are_ordered_and_in_the_tail(self, indexer):
        idx = clone(indexer).fit(X20)
        keys = [(f.fold == "full", f.partition) for f in idx.folds_]
        assert keys == sorted(keys)
        assert idx.n_partitions_ == sum(f.fold == "full" for f in idx.folds_)
        tail = range(idx.n_samples_ - idx.n_test_samples_, idx.n_samples_)
        for f in fold_fits(idx):
            assert as_set(f.test) <= set(tail)


def test_registry():
    assert INDEXERS == {"stack": FoldIndex, "blend": BlendIndex, "subsemble": SubsetIndex,
                        "clustered": ClusteredSubsetIndex, "full": FullIndex,
                        "temporal": TemporalIndex}


ERRORS = [
    (FoldIndex(1), 10, ValueError, re.escape("FoldIndex(folds=1) needs an int folds >= 2, got 1")),
    (FoldIndex(0, raise_on_exception=False), 10, ValueError, "folds >= 2, got 0"),
    (FoldIndex(-2), 10, ValueError, "folds >= 2, got -2"),
    (FoldIndex(2.0), 10, ValueError, "int folds >= 2, got 2.0"),
    (FoldIndex(True), 10, ValueError, "int folds >= 2, got True"),
    (FoldIndex("3"), 10, ValueError, "int folds >= 2, got '3'"),
    (FoldIndex(12), 10, ValueError,
     re.escape("FoldIndex(folds=12) needs at least 12 rows, got 10: lower folds or pass more")),
    (FoldIndex(2), 0, ValueError, re.escape("FoldIndex(folds=2) needs at least 1 row, got 0")),
    (BlendIndex(0.0), 10, ValueError, "test_size as an int count or a float in"),
    (BlendIndex(1.0), 10, ValueError, "test_size as an int count or a float in"),
    (BlendIndex(True), 10, ValueError, "test_size as an int count"),
    (BlendIndex("half"), 10, ValueError, "test_size as an int count"),
    (BlendIndex(0), 10, ValueError, "at least 1 test row, got 0 of 10"),
    (BlendIndex(0.05), 10, ValueError, "at least 1 test row, got 0 of 10"),
    (BlendIndex(10), 10, ValueError, "at least 1 train row, got 0 of 10"),
    (BlendIndex(3, 0), 10, ValueError, "at least 1 train row, got 0 of 10"),
    (BlendIndex(3, 0.0), 10, ValueError, "train_size as an int count or a float in"),
    (BlendIndex(3, 8), 10, ValueError,
     re.escape("BlendIndex(test_size=3, train_size=8) needs train + test <= 10 rows, got 8 + 3")),
    (FullIndex(), 0, ValueError, re.escape("FullIndex() needs at least 1 row, got 0")),
    (SubsetIndex(0, 2), 10, ValueError, "int partitions >= 1, got 0"),
    (SubsetIndex(2, 1), 10, ValueError, "int folds >= 2, got 1"),
    (SubsetIndex(2.0, 2), 10, ValueError, "int partitions >= 1, got 2.0"),
    (SubsetIndex(2, 2.0), 10, ValueError, "int folds >= 2, got 2.0"),
    (SubsetIndex(3, 4), 10, ValueError,
     re.escape("SubsetIndex(partitions=3, folds=4) needs at least partitions * folds = 12 rows")),
    (ClusteredSubsetIndex(kmeans(), partitions=0), 10, ValueError, "int partitions >= 1, got 0"),
    (ClusteredSubsetIndex(kmeans(), folds=1), 10, ValueError, "int folds >= 2, got 1"),
    (ClusteredSubsetIndex(kmeans(), folds=2.5), 10, ValueError, "int folds >= 2, got 2.5"),
    (ClusteredSubsetIndex(kmeans(n_init=1), folds=2), 10, ValueError,
     r"at least folds=2 rows in every cluster, got 1 in cluster 1 .*lower folds or partitions"),
    (ClusteredSubsetIndex("kmeans"), 10, TypeError, "needs an estimator with fit, got str"),
    (TemporalIndex(0), 10, ValueError, "int step_size >= 1, got 0"),
    (TemporalIndex(1.0), 10, ValueError, "int step_size >= 1, got 1.0"),
    (TemporalIndex(burn_in=0), 10, ValueError, re.escape("int burn_in in [1, 10), got 0")),
    (TemporalIndex(burn_in=2.0), 10, ValueError, re.escape("int burn_in in [1, 10), got 2.0")),
    (TemporalIndex(burn_in=10), 10, ValueError, re.escape("int burn_in in [1, 10), got 10")),
    (TemporalIndex(step_size=10), 10, ValueError, re.escape("int step_size in [1, 10), got 10")),
    (TemporalIndex(lag=-1), 10, ValueError, re.escape("int lag in [0, 1), got -1")),
    (TemporalIndex(lag=1), 10, ValueError, re.escape("int lag in [0, 1), got 1")),
    (TemporalIndex(burn_in=3, lag=3), 10, ValueError, re.escape("lag in [0, 3), got 3")),
    (TemporalIndex(lag=0.0), 10, ValueError, re.escape("int lag in [0, 1), got 0.0")),
    (TemporalIndex(window=0), 10, ValueError, "int window >= 1, got 0"),
    (TemporalIndex(window=2.0), 10, ValueError, "int window >= 1, got 2.0"),
]


@pytest.mark.parametrize("indexer, n, exc, match", ERRORS, ids=lambda v: repr(v)[:40])
def test_errors(indexer, n, exc, match):
    X = np.zeros((n, 1))
    X[n - 1:] = 100.0  # KMeans(2) puts the last row alone in cluster 1
    with pytest.raises(exc, match=match) as info:
        indexer.fit(X)
    message = str(info.value)
    assert message.startswith(type(indexer).__name__ + "(")
    if exc is ValueError:
        assert str(n) in message and ": " in message


@st.composite
def indexers(draw):
    """A valid FoldIndex, SubsetIndex or TemporalIndex with a number of rows."""
    kind = draw(st.sampled_from(["fold", "subset", "temporal"]))
    if kind == "fold":
        k = draw(st.integers(2, 8))
        return FoldIndex(k), draw(st.integers(k, 60))
    if kind == "subset":
        j, k = draw(st.integers(1, 4)), draw(st.integers(2, 5))
        return SubsetIndex(j, k), draw(st.integers(j * k, 60))
    n = draw(st.integers(2, 60))
    burn_in = draw(st.integers(1, n - 1))
    window = draw(st.none() | st.integers(1, 12))
    return TemporalIndex(draw(st.integers(1, 7)), burn_in, window,
                         draw(st.integers(0, burn_in - 1))), n


@settings(max_examples=100, deadline=None)
@given(indexers())
def test_test_sets_tile_the_tail_per_partition(case):
    indexer, n = case
    idx = indexer.fit(range(n))
    tail = list(range(n - idx.n_test_samples_, n))
    for p in range(idx.n_partitions_):
        column = [f for f in fold_fits(idx) if f.partition == p]
        tests = np.concatenate([rows_to_array(f.test) for f in column])
        assert sorted(tests.tolist()) == tail  # disjoint and exactly the output tail
        for f in column:
            assert_well_formed(f.train, n)
            assert_well_formed(f.test, n)
            assert f.train and not as_set(f.train) & as_set(f.test)
