"""Loaders: read a raw survey export, as researchers really receive it, into a RawWave.

The RawWave dataclass is the contract with the rest of the package (see docs/design.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass
class RawWave:
    """A survey export as read from disk, before any codebook is applied.

    Attributes
    ----------
    data : DataFrame
        One row per response (RangeIndex), columns are unique column ids, values as read.
    path : Path
        The source file. It is never modified.
    format : str
        'csv', 'xlsx', 'qualtrics', 'qualtrics_legacy', 'surveymonkey', 'spss',
        'google_forms' or 'typeform'.
    sha256 : str
        Hash of the source file's bytes.
    labels : dict
        Column id -> question text (the id itself when the export has none).
    header_rows : int
        Lines before the first data row; see :meth:`file_row`.
    option_labels : dict
        Column -> option text, for exports with one column per option.
    groups : dict
        Question id -> its option or row columns (multi-select, grids).
    value_labels : dict
        Column -> {code: label} (SPSS value labels, Qualtrics numeric exports).
    missing_codes : dict
        Column -> {code: reason} (SPSS user-defined missing values and the like).
    meta_columns : list
        Recognised metadata columns (ResponseId, Status, Progress, Duration, ...).
    encoding, delimiter : str or None
        What was detected (text formats only).
    export_values : str or None
        Qualtrics: 'choice_text' or 'numeric'.
    """

    data: pd.DataFrame
    path: Path
    format: str
    sha256: str
    labels: dict = field(default_factory=dict)
    header_rows: int = 1
    option_labels: dict = field(default_factory=dict)
    groups: dict = field(default_factory=dict)
    value_labels: dict = field(default_factory=dict)
    missing_codes: dict = field(default_factory=dict)
    meta_columns: list = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    export_values: str | None = None

    def file_row(self, i: int) -> int:
        """File line number (1-based, headers included) of data row ``i`` (0-based)."""
        return self.header_rows + int(i) + 1

    @property
    def n_responses(self) -> int:
        return len(self.data)
