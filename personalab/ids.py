"""Respondent-id lookups that stay fast on Arrow-backed string indexes.

``Index.isin(values)`` on pandas' Arrow strings turns every one of ``values`` into a Python
string first (about a second per million). A hash lookup (``get_indexer``) does not.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["in_ids"]


def in_ids(index, ids) -> np.ndarray:
    """Boolean mask: which entries of ``index`` are among ``ids`` (same as ``index.isin(ids)``)."""
    index = pd.Index(index)
    ids = pd.Index(ids if not isinstance(ids, (set, frozenset)) else list(ids))
    if not ids.is_unique:
        ids = ids.unique()
    if len(ids) == 0:
        return np.zeros(len(index), dtype=bool)
    return ids.get_indexer(index) >= 0
