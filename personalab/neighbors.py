"""Exact nearest neighbours whose answer depends on the data alone.

Survey answers are discrete: many respondents sit at exactly the same distance from one
another (identical Likert patterns are common). scikit-learn's brute-force search splits its
work over OpenMP threads, and which of several equidistant rows it returns, and in which
order, depends on how many threads it had. The distances themselves do not change, but the
neighbour graph does, and UMAP and the placement of unsampled respondents follow it: the same
wave and seed gave different segments on a 2-core laptop and under ``OMP_NUM_THREADS=1``
(which a Dask nanny sets in the process that starts it).

:func:`kneighbors` asks scikit-learn for a few more neighbours than needed and sorts them by
(distance, row index), so ties always go to the lower row index. A row whose k-th distance
equals the farthest one returned may have more tied rows that were not returned: it is asked
again with twice as many, until the tie is inside the answer or every fitted row is in it.
"""

from __future__ import annotations

import numpy as np

#: extra neighbours asked for on the first query, so most tie groups fit inside the answer
_PAD = 8


def kneighbors(nn, X, n_neighbors, *, anchor=None):
    """The ``n_neighbors`` nearest fitted rows of every row of ``X``, ties broken by index.

    Parameters
    ----------
    nn : fitted ``sklearn.neighbors.NearestNeighbors``
    X : array-like of shape (n_queries, n_features)
    n_neighbors : int
        At most the number of fitted rows.
    anchor : array-like of int, shape (n_queries,), optional
        Where each query starts counting fitted rows when breaking ties: among equidistant
        rows the one at the smallest ``(index - anchor) % n_fitted`` comes first. Without
        it every query prefers the lowest indices. Pass ``arange(n)`` when ``X`` is the
        fitted data itself: each of many identical respondents then links to the copies
        that follow it, instead of all of them to the same first few, which would make
        those few hubs of the neighbour graph.

    Returns
    -------
    distances : ndarray of shape (n_queries, n_neighbors), ascending along each row
    indices : ndarray of shape (n_queries, n_neighbors), fitted row indices
    """
    X = np.asarray(X)
    n_fit = int(nn.n_samples_fit_)
    k = int(n_neighbors)
    if not 1 <= k <= n_fit:
        raise ValueError(f"n_neighbors must be between 1 and {n_fit} (the fitted rows); got {k}.")
    dist = np.empty((len(X), k))
    idx = np.empty((len(X), k), dtype=np.intp)
    anchor = np.zeros(len(X), dtype=np.intp) if anchor is None else np.asarray(anchor)
    todo = np.arange(len(X))
    q = min(n_fit, k + _PAD)
    while len(todo):
        d, i = nn.kneighbors(X[todo], n_neighbors=q)
        order = np.lexsort(((i - anchor[todo, None]) % n_fit, d), axis=-1)
        d = np.take_along_axis(d, order, axis=-1)
        i = np.take_along_axis(i, order, axis=-1)
        # every row at the k-th distance is in the answer when something farther is too
        settled = (d[:, k - 1] < d[:, q - 1]) if q < n_fit else np.ones(len(todo), bool)
        dist[todo[settled]] = d[settled, :k]
        idx[todo[settled]] = i[settled, :k]
        todo = todo[~settled]
        q = min(n_fit, 2 * q)
    return dist, idx
