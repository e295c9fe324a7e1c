"""Exact neighbours that do not depend on how many threads scikit-learn had.

Integer-valued answers make squared distances exact integers, so the true order (distance,
then fitted index counted from the anchor) is known without floating-point doubt.
"""

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from personalab.neighbors import kneighbors


def _reference(F, X, k, anchor):
    d2 = ((X[:, None, :].astype(np.int64) - F[None, :, :]) ** 2).sum(-1)
    n = len(F)
    key = (np.arange(n)[None, :] - anchor[:, None]) % n
    order = np.lexsort((key, d2), axis=-1)[:, :k]
    return np.sqrt(np.take_along_axis(d2, order, -1)), order


@pytest.fixture(scope="module")
def likert():
    rng = np.random.default_rng(0)
    # 1,500 respondents on 20 five-point items (over 15 features scikit-learn searches by
    # brute force, in parallel): many rows at exactly a row's k-th distance; 40 copies of
    # one answer pattern (a tie group larger than k + pad)
    F = rng.integers(1, 6, size=(1500, 20))
    F[100:140] = F[100]
    return F


@pytest.mark.parametrize("anchored", [False, True])
def test_ties_are_broken_by_index_exactly_as_specified(likert, anchored):
    F = likert
    anchor = np.arange(len(F)) if anchored else np.zeros(len(F), dtype=int)
    nn = NearestNeighbors(n_neighbors=15).fit(F.astype(float))
    d, i = kneighbors(nn, F.astype(float), 15, anchor=anchor if anchored else None)
    ref_d, ref_i = _reference(F, F, 15, anchor)
    np.testing.assert_array_equal(i, ref_i)
    np.testing.assert_allclose(d, ref_d, atol=1e-6)
    if anchored:  # each respondent is its own first neighbour, copies link onwards
        assert (i[:, 0] == np.arange(len(F))).all()
        np.testing.assert_array_equal(i[100, :15], np.arange(100, 115))
        np.testing.assert_array_equal(i[139, :4], [139, 100, 101, 102])


def test_the_answer_does_not_depend_on_the_number_of_threads(likert):
    F = likert.astype(float)
    nn = NearestNeighbors(n_neighbors=30).fit(F)
    answers = {}
    # scikit-learn's brute-force search changes strategy (parallel over queries or over
    # fitted rows) with the thread count at this size, and with it the order of ties
    for threads in (1, 2):
        with threadpool_limits(threads, user_api="openmp"):
            plain = nn.kneighbors(F, n_neighbors=30)[1]
            answers[threads] = (plain, kneighbors(nn, F, 30, anchor=np.arange(len(F)))[1])
    assert (answers[1][0] != answers[2][0]).any(), "scikit-learn alone no longer differs"
    np.testing.assert_array_equal(answers[1][1], answers[2][1])


def test_queries_other_than_the_fitted_rows_and_bad_k(likert):
    F = likert.astype(float)
    nn = NearestNeighbors().fit(F[:200])
    d, i = kneighbors(nn, F[200:260], 200)  # every fitted row: no further query possible
    ref_d, ref_i = _reference(likert[:200], likert[200:260], 200, np.zeros(60, dtype=int))
    np.testing.assert_array_equal(i, ref_i)
    with pytest.raises(ValueError, match="between 1 and 200"):
        kneighbors(nn, F[:3], 201)
