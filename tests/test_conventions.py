"""personalab.conventions: one number and date convention per column, or a refusal."""
from __future__ import annotations

import pandas as pd
import pytest

from personalab.conventions import (canonical_dates, _canonical_numbers, date_orders,
                                    decide_conventions, normalize_raw, number_conventions)
from personalab.errors import InputError


def numbers(values, **kw):
    frame = pd.DataFrame({"x": pd.Series(values, dtype="str")})
    conv = number_conventions(frame, ["x"], file="f.csv", **kw)
    return _canonical_numbers(frame["x"], conv["x"]).tolist() if "x" in conv else values


@pytest.mark.parametrize("values, expected", [
    (["1,5", "2,25", "3"], ["1.5", "2.25", "3"]),                 # decimal comma
    (["1,393", "12,000", "800"], ["1393", "12000", "800"]),       # thousands
    (["1.5", "1,393"], ["1.5", "1393"]),                          # '.' decides: ',' groups
    (["2,5", "1,393"], ["2.5", "1.393"]),                         # ',' decides
    (["0,393", "1,393"], ["0.393", "1.393"]),                     # no group starts with 0
    (["1.234,5", "1.393"], ["1234.5", "1393"]),                   # German
    (["1,234.5", "7"], ["1234.5", "7"]),                          # English
    (["1 234,5", "1'393", "-3"], ["1234.5", "1393", "-3"]),       # grouping spaces
    (["1.393", "0.5"], ["1.393", "0.5"]),                         # a decimal point by default
    ([",5", "n/a", None], [".5", "n/a", None]),                   # words left for the codebook
])
def test_each_column_gets_the_convention_its_values_decide(values, expected):
    got = numbers(values)
    assert [None if pd.isna(v) else v for v in got] == expected


@pytest.mark.parametrize("values, needle", [
    (["1,393", "2,500"], "can be read two ways"),
    (["1,5", "1.5"], "mix two conventions"),
    (["1,2,3", "4"], "not a number in any convention"),
])
def test_undecidable_mixed_and_malformed_columns_are_refused(values, needle):
    with pytest.raises(InputError, match=needle) as err:
        numbers(values)
    assert err.value.file == "f.csv" and err.value.column == "x" and err.value.fix
    assert err.value.row in (2, [2, 3])


def test_the_files_other_columns_decide_an_undecided_one():
    frame = pd.DataFrame({"a": ["1,393", "2,500"], "b": ["0,5", "1,25"], "c": ["1.393", "7"]},
                         dtype="str")
    conv = number_conventions(frame, ["a", "b", "c"])
    assert {c: (v.decimal, v.source) for c, v in conv.items()} == {
        "a": (",", "file"), "b": (",", "values"), "c": (",", "file")}
    assert _canonical_numbers(frame["c"], conv["c"]).tolist() == ["1393", "7"]


def test_given_options_settle_a_column_and_name_what_contradicts_them():
    assert numbers(["1,393", "2,500"], decimal=",") == ["1.393", "2.500"]
    assert numbers(["1,393", "2,500"], thousands={"x": ","}) == ["1393", "2500"]
    with pytest.raises(InputError, match="'1.5' in 'x' is not a number with decimal mark ','"):
        numbers(["1,5", "1.5"], decimal=",")
    with pytest.raises(InputError, match="decimal=';' is not a mark"):
        numbers(["1"], decimal=";")


def dates(values, **kw):
    frame = pd.DataFrame({"d": pd.Series(values, dtype="str")})
    orders = date_orders(frame, ["d"], file="f.csv", **kw)
    return canonical_dates(frame["d"], orders["d"]).tolist() if "d" in orders else values


def test_date_order_from_the_values_or_refused():
    assert dates(["03/04/2024", "13/04/2024 10:20"]) == ["2024-04-03", "2024-04-13 10:20"]
    assert dates(["03/04/2024", "04/13/24"]) == ["2024-03-04", "2024-04-13"]
    assert dates(["24.12.2023", "01.02.99"]) == ["2023-12-24", "1999-02-01"]
    assert dates(["2024-04-03", "2024/04/07 8:54:18 PM GMT+5:30"]) == [
        "2024-04-03", "2024/04/07 8:54:18 PM GMT+5:30"]                  # year first: as is
    assert dates(["05/05/2024"]) == ["05/05/2024"]        # the same day either way
    with pytest.raises(InputError, match="mix two orders") as err:
        dates(["13/04/2024", "04/13/2024", "03/04/2024"])
    assert err.value.row == [2, 3] and "%d/%m/%Y" in err.value.fix
    with pytest.raises(InputError, match="reads both ways"):
        dates(["03/04/2024", "05/06/2024"])
    assert dates(["03/04/2024", "05/06/2024"], dayfirst=False) == ["2024-03-04", "2024-05-06"]
    with pytest.raises(InputError, match="not a date with the month first"):
        dates(["13/04/2024"], dayfirst={"d": False})


def test_decided_conventions_given_back_as_options_read_the_same():
    # what lets the parts of a partitioned wave be read one way
    from personalab.codebook import Codebook, Question
    from personalab.loaders import RawWave

    data = pd.DataFrame({"spend": ["1,5", "2,25"], "income": ["1.393", "7"],
                         "d": ["13/04/2024", "03/04/2024"]}, dtype="str")
    raw = RawWave(data=data, path=None, format="csv", sha256="")
    cb = Codebook(survey="s", questions=[Question("spend", type="numeric"),
                                         Question("income", type="numeric"),
                                         Question("d", type="date")])
    decided = decide_conventions(raw, cb)
    assert decided == {"decimal": {"spend": ",", "income": ","},
                       "thousands": {"spend": ".", "income": "."}, "dayfirst": {"d": True}}
    part = RawWave(data=pd.DataFrame({"spend": ["1,393"], "income": ["1.393"],
                                      "d": ["03/04/2024"]}, dtype="str"),
                   path=None, format="csv", sha256="")
    with pytest.raises(InputError):
        normalize_raw(part, cb)              # alone, the part cannot tell
    part.decimal, part.thousands, part.dayfirst = (decided["decimal"], decided["thousands"],
                                                   decided["dayfirst"])
    assert normalize_raw(part, cb).data.iloc[0].tolist() == ["1.393", "1393", "2024-04-03"]
