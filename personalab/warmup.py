"""Compile UMAP's and HDBSCAN's numba code once and cache it (``make install`` runs this).

umap-learn's functions are just-in-time compiled on first use (about 40 s on a 2-core
machine); PersonaLab keeps the compiled code in ``NUMBA_CACHE_DIR`` (``.cache/numba`` in a
source checkout, the user's cache folder for an installed package: see
:func:`personalab.paths.cache_dir`) so later processes load it in a fraction of that.
Warming the cache at install time means the first ``make demo`` or notebook does not pay the
compilation, and no two pipeline kernels compile the same functions at the same time.

Usage: ``python -m personalab.warmup``
"""
from __future__ import annotations

import os
import sys
import time


def warm(n_respondents: int = 600, random_state: int = 0) -> float:
    """Fit a small PersonaModel (UMAP + HDBSCAN) so every jitted function is compiled.

    Returns the seconds it took.
    """
    from sklearn.datasets import make_blobs

    from .segmentation import PersonaModel

    t0 = time.perf_counter()
    X, _ = make_blobs(n_respondents, n_features=10, centers=4, random_state=random_state)
    model = PersonaModel(random_state=random_state).fit(X)
    model.place(X[:10])
    return time.perf_counter() - t0


def main() -> int:
    from .paths import cache_dir

    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir() / "numba"))
    seconds = warm()
    print(f"numba cache warm in {os.environ['NUMBA_CACHE_DIR']} ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
