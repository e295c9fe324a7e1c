"""Exports meant to leave the researcher's machine: CSV/XLSX that are safe to open.

Respondent text is untrusted. A cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or
carriage return before one) is run as a formula by Excel, LibreOffice and Google Sheets
(CSV/formula injection, OWASP). Such cells are prefixed with a single quote, which every
spreadsheet shows as text; numbers (including negative ones) are left as numbers.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralise_cell(value):
    """Return ``value`` made safe for a spreadsheet (strings only; other types unchanged)."""
    if isinstance(value, str) and value.lstrip(" ").startswith(_FORMULA_START):
        return "'" + value
    return value


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells (and column names) cannot run as formulas."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            out[col] = s.map(neutralise_cell, na_action="ignore")
    out.columns = [neutralise_cell(c) if isinstance(c, str) else c for c in out.columns]
    if out.index.dtype == object or pd.api.types.is_string_dtype(out.index):
        out.index = out.index.map(neutralise_cell)
    return out


def to_safe_csv(df: pd.DataFrame, path, *, index: bool = False) -> Path:
    """Write ``df`` as UTF-8 CSV (with BOM, so Excel reads accents) with formulas neutralised."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    neutralise_formulas(df).to_csv(path, index=index, encoding="utf-8-sig", lineterminator="\n")
    return path


def to_safe_xlsx(sheets: dict, path) -> Path:
    """Write several DataFrames as sheets of one XLSX, formulas neutralised.

    openpyxl would store a string starting with ``=`` as a formula; neutralising first keeps
    it text.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for name, df in sheets.items():
            neutralise_formulas(df).to_excel(xw, sheet_name=str(name)[:31], index=False)
    return path
