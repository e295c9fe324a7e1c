"""Exports neutralise spreadsheet formulas in respondent text (CSV/formula injection)."""
from __future__ import annotations

import csv

import openpyxl
import pandas as pd
import pytest

from personalab.exports import neutralise_cell, to_safe_csv, to_safe_xlsx

PAYLOADS = ["=HYPERLINK(\"http://x\",\"click\")", "+1+1", "-2+3", "@SUM(A1:A2)",
            "\t=1+1", " =cmd|' /C calc'!A0", "＝1+1"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_formula_like_text_is_prefixed(payload):
    assert neutralise_cell(payload).startswith("'")


def test_ordinary_values_are_left_alone():
    assert neutralise_cell("I love it") == "I love it"
    assert neutralise_cell(-3) == -3
    assert neutralise_cell(None) is None


def test_csv_export_holds_no_live_formula(tmp_path):
    df = pd.DataFrame({"quote": PAYLOADS, "n": range(len(PAYLOADS))})
    p = to_safe_csv(df, tmp_path / "q.csv")
    with open(p, encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert all(r["quote"].startswith("'") for r in rows)
    assert [int(r["n"]) for r in rows] == list(range(len(PAYLOADS)))


def test_xlsx_export_stores_text_not_formulas(tmp_path):
    df = pd.DataFrame({"quote": PAYLOADS})
    p = to_safe_xlsx({"quotes": df}, tmp_path / "q.xlsx")
    ws = openpyxl.load_workbook(p)["quotes"]
    cells = [ws.cell(row=i + 2, column=1) for i in range(len(PAYLOADS))]
    assert all(c.data_type == "s" for c in cells), [c.data_type for c in cells]
    assert all(str(c.value).startswith("'") for c in cells)
