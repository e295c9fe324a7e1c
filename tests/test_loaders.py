"""Tests of personalab.loaders: every export format on a small synthetic fixture.

Fixtures in tests/fixtures/exports/ are hand-made and synthetic, each shaped like one
real export (see docs/real_data_log.md for the real files they stand in for). Binary
fixtures (XLSX, SPSS) and encoding variants are written into tmp_path by the tests.
"""
from __future__ import annotations

import codecs
import gzip
import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from personalab.errors import FormatError, InputError
from personalab.loaders import (DecodeWarning, RawWave, detect_format, load_export,
                                parse_google_timestamp)

FIXTURES = Path(__file__).parent / "fixtures" / "exports"

QUALTRICS_META = [
    "StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)",
    "Finished", "RecordedDate", "ResponseId", "DistributionChannel", "UserLanguage",
    "Q_RecaptchaScore",
]

PLAIN_TEXT = (
    "id,code,city,comment,score,score\n"
    "1,01,Zürich,fine,3,4\n"
    '2,02,,"has a comma, inside",,5\n'
    "3,10,Köln,NA,2,\n"
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(tmp_path: Path, name: str, content, encoding="utf-8") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode(encoding))
    return path


def as_table(text: str, delimiter: str) -> str:
    """PLAIN_TEXT with another delimiter (its one quoted comma stays inside quotes)."""
    out = text.replace(",", delimiter).replace(f"has a comma{delimiter} inside", "has a comma, inside")
    return out


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize("name, expected", [
    ("plain.csv", "csv"),
    ("qualtrics.csv", "qualtrics"),
    ("qualtrics_numeric.csv", "qualtrics"),
    ("qualtrics_legacy.csv", "qualtrics_legacy"),
    ("surveymonkey.csv", "surveymonkey"),
    ("google_forms.csv", "google_forms"),
    ("google_forms_comma.csv", "google_forms"),
    ("typeform.csv", "typeform"),
    ("typeform_one_row.csv", "typeform"),
])
def test_detect_format_on_every_fixture(name, expected):
    assert detect_format(FIXTURES / name) == expected
    assert load_export(FIXTURES / name).format == expected


# --------------------------------------------------------------------------- plain CSV


def test_plain_csv_keeps_codes_as_text_and_maps_empty_to_missing():
    raw = load_export(FIXTURES / "plain.csv")
    assert isinstance(raw, RawWave)
    assert raw.format == "csv" and raw.delimiter == "," and raw.encoding == "utf-8"
    assert list(raw.data["code"]) == ["01", "02", "10"]
    assert raw.data["city"].isna().tolist() == [False, True, False]
    assert raw.data.loc[2, "comment"] == "NA"          # "NA" is an answer, not missing
    assert raw.data.loc[1, "comment"] == "has a comma, inside"
    assert isinstance(raw.data.index, pd.RangeIndex)
    assert raw.header_rows == 1 and raw.file_row(0) == 2
    assert list(raw.file_rows()) == [2, 3, 4]


def test_duplicate_column_names_made_unique_and_reported_in_labels():
    raw = load_export(FIXTURES / "plain.csv")
    assert list(raw.data.columns) == ["id", "code", "city", "comment", "score", "score__2"]
    assert raw.labels["score"] == "score"
    assert "duplicate column name 'score'" in raw.labels["score__2"]
    assert raw.data["score__2"].tolist()[:2] == ["4", "5"]


def test_duplicate_suffix_never_collides_with_an_existing_column(tmp_path):
    path = write(tmp_path, "d.csv", "a,a__2,a\n1,2,3\n")
    raw = load_export(path)
    assert list(raw.data.columns) == ["a", "a__2", "a__3"]
    assert raw.data.iloc[0].tolist() == ["1", "2", "3"]


def test_blank_header_cell_gets_a_positional_id_and_trailing_empty_column_is_dropped(tmp_path):
    path = write(tmp_path, "b.csv", "x,,y,\n1,2,3,\n4,5,6,\n")
    raw = load_export(path)
    assert list(raw.data.columns) == ["x", "column_2", "y"]
    assert raw.data["column_2"].tolist() == ["2", "5"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path, delimiter):
    path = write(tmp_path, "d.csv", as_table(PLAIN_TEXT, delimiter))
    raw = load_export(path)
    assert raw.delimiter == delimiter
    assert raw.data.shape == (3, 6)
    assert raw.data.loc[1, "comment"] == "has a comma, inside"
    assert raw.data.loc[0, "city"] == "Zürich"


def test_semicolon_file_with_commas_in_answers_is_not_read_as_comma(tmp_path):
    text = "id;answer;score\n1;good, fast, cheap;5\n2;slow, but ok;3\n3;fine;4\n"
    raw = load_export(write(tmp_path, "s.csv", text))
    assert raw.delimiter == ";"
    assert raw.data["answer"].tolist() == ["good, fast, cheap", "slow, but ok", "fine"]


def test_excel_sep_hint_line(tmp_path):
    raw = load_export(write(tmp_path, "x.csv", "sep=;\nid;q1\n1;a,b\n2;c\n"))
    assert raw.delimiter == ";" and raw.header_rows == 2 and raw.file_row(0) == 3
    assert raw.data["q1"].tolist() == ["a,b", "c"]
    with pytest.raises(InputError) as err:
        load_export(write(tmp_path, "y.csv", "sep=;\nid;q1\n1;a\n2;c;d\n"))
    assert err.value.row == 4


def test_explicit_delimiter_wins(tmp_path):
    path = write(tmp_path, "x.csv", "a;b,c\n1;2,3\n")
    assert list(load_export(path, delimiter=",").data.columns) == ["a;b", "c"]
    assert list(load_export(path, delimiter=";").data.columns) == ["a", "b,c"]


@pytest.mark.parametrize("encoding, expected, delimiter", [
    ("utf-8", "utf-8", ","),
    ("utf-8-sig", "utf-8-sig", ","),
    ("cp1252", "cp1252", ";"),
    ("utf-16", "utf-16", "\t"),        # Excel "Unicode text": UTF-16 LE with BOM, tabs
    ("utf-16-be-bom", "utf-16", "\t"),
])
def test_every_encoding_is_detected(tmp_path, encoding, expected, delimiter):
    text = as_table(PLAIN_TEXT, delimiter).replace("fine", "fine € naïve “quoted”")
    if encoding == "utf-16-be-bom":
        data = b"\xfe\xff" + text.encode("utf-16-be")
    else:
        data = text.encode(encoding)
    raw = load_export(write(tmp_path, "e.csv", data))
    assert raw.encoding == expected
    assert raw.delimiter == delimiter
    assert list(raw.data.columns)[0] == "id"               # no BOM left in the first id
    assert raw.data["city"].tolist()[::2] == ["Zürich", "Köln"]
    assert raw.data.loc[0, "comment"] == "fine € naïve “quoted”"


def test_explicit_encoding_is_used(tmp_path):
    path = write(tmp_path, "l.csv", "id,city\n1,Zürich\n", encoding="latin-1")
    assert load_export(path, encoding="latin-1").data.loc[0, "city"] == "Zürich"
    # Read as cp1250 on purpose, the same bytes give another letter: the override is honoured.
    assert load_export(path, encoding="cp1250").data.loc[0, "city"] == "Zürich"
    assert load_export(path, encoding="cp1252").encoding == "cp1252"


def test_gzipped_csv_is_read_and_hashed_as_stored(tmp_path):
    path = tmp_path / "plain.csv.gz"
    path.write_bytes(gzip.compress((FIXTURES / "plain.csv").read_bytes()))
    raw = load_export(path)
    assert raw.format == "csv"
    assert raw.sha256 == sha256(path)
    pd.testing.assert_frame_equal(raw.data, load_export(FIXTURES / "plain.csv").data)


def test_blank_lines_between_rows_keep_file_rows_right(tmp_path):
    path = write(tmp_path, "b.csv", "id,q\n1,a\n\n2,b\n\n\n3,c\n\n")
    raw = load_export(path)
    assert raw.data["id"].tolist() == ["1", "2", "3"]
    assert [raw.file_row(i) for i in range(3)] == [2, 4, 7]
    assert list(raw.file_rows()) == [2, 4, 7]


def test_multiline_answers_count_as_one_row(tmp_path):
    path = write(tmp_path, "m.csv", 'id,comment\n1,"two\n\nparagraphs"\n2,short\n')
    raw = load_export(path)
    assert raw.data["comment"].tolist() == ["two\n\nparagraphs", "short"]
    assert list(raw.file_rows()) == [2, 3]


def test_rows_shorter_than_the_header_are_padded(tmp_path):
    raw = load_export(write(tmp_path, "s.csv", "a,b,c\n1,2\n3,4,5\n"))
    assert raw.data["c"].isna().tolist() == [True, False]


def test_blank_crlf_lines_keep_file_rows_right(tmp_path):
    # "\n\r\n": a blank line in a Windows file (the body scan must look past the CR).
    raw = load_export(write(tmp_path, "w.csv", "id,q\r\n1,a\r\n\r\n2,b\r\n"))
    assert raw.data["id"].tolist() == ["1", "2"]
    assert list(raw.file_rows()) == [2, 4]


@pytest.mark.parametrize("step", [1, 2, 3, 7, 1 << 24])
def test_body_scan_counts_quotes_and_blank_line_starts_across_chunks(step):
    from personalab.loaders import _scan_body

    rng = np.random.default_rng(step)
    body = bytes(rng.choice(list(b'ab,"\n\r \t'), size=500))
    starts_blank = any(body[i] == 10 and body[i + 1] in b"\t\n\r " for i in range(len(body) - 1))
    assert _scan_body(memoryview(body), step=step) == (body.count(b'"'), starts_blank)
    assert _scan_body(memoryview(b"a,b\nc,d\n"), step=step) == (0, False)


def test_reads_the_same_where_pyarrow_has_no_jemalloc(monkeypatch):
    import pyarrow as pa

    expected = load_export(FIXTURES / "qualtrics.csv").data

    def not_built():
        raise NotImplementedError("jemalloc support is not enabled")

    monkeypatch.setattr(pa, "jemalloc_memory_pool", not_built)
    pd.testing.assert_frame_equal(load_export(FIXTURES / "qualtrics.csv").data, expected)


# --------------------------------------------------------------------------- large text files
# UTF-8 is checked on the first megabyte up front and on the rest by the CSV parser; a file
# that turns out not to be UTF-8 further on is read again with the encoding detected whole.

def _rows_past_the_first_megabyte(n=60_000) -> str:
    return "".join(f"{i},answer {i}\n" for i in range(1, n))    # about 1.1 MB of ASCII


def test_non_utf8_after_the_first_megabyte_is_still_detected(tmp_path):
    text = "id,q\n" + _rows_past_the_first_megabyte() + "60000,Zürich café\n"
    path = write(tmp_path, "late.csv", text, encoding="cp1252")
    assert path.stat().st_size > 1 << 20 and path.read_bytes()[: 1 << 20].isascii()
    raw = load_export(path)
    assert raw.encoding == "cp1252"
    assert raw.n_responses == 60_000
    assert raw.data["q"].iloc[-1] == "Zürich café"
    assert raw.data["q"].iloc[0] == "answer 1"
    assert raw.sha256 == sha256(path)


def test_late_undecodable_byte_with_utf8_given_names_its_line(tmp_path):
    text = "id,q\n" + _rows_past_the_first_megabyte() + "60000,Zürich\n"
    path = write(tmp_path, "late.csv", text, encoding="cp1252")
    with pytest.raises(FormatError, match="cannot decode byte") as err:
        load_export(path, encoding="utf-8")
    assert err.value.row == 60_001 and err.value.fix


@pytest.mark.parametrize("at", ["start", "end"])
def test_undecodable_byte_after_a_utf8_bom_is_the_one_named(tmp_path, at):
    rows = "1,Berlin\n2,Zürich\n"
    if at == "end":          # past the first megabyte, found while the responses are read
        rows = _rows_past_the_first_megabyte() + "60000,Zürich\n"
    path = write(tmp_path, "b.csv", codecs.BOM_UTF8 + ("id,city\n" + rows).encode("cp1252"))
    with pytest.raises(FormatError, match="cannot decode byte b'\\\\xfc' as utf-8-sig") as err:
        load_export(path)
    assert err.value.row == (3 if at == "start" else 60_001)


@pytest.mark.parametrize("name, text", [
    ("qualtrics", None),
    ("large", "id,q\n1,\"two\nlines\"\n\n" + _rows_past_the_first_megabyte() + "x,Zürich\n"),
])
def test_bom_file_loads_like_the_same_file_without_bom(tmp_path, name, text):
    data = (FIXTURES / "qualtrics.csv").read_bytes() if text is None else text.encode("utf-8")
    plain = load_export(write(tmp_path, f"{name}.csv", data))
    bom = load_export(write(tmp_path, f"{name}_bom.csv", codecs.BOM_UTF8 + data))
    assert (plain.encoding, bom.encoding) == ("utf-8", "utf-8-sig")
    assert bom.data.columns[0] == plain.data.columns[0] != ""
    pd.testing.assert_frame_equal(bom.data, plain.data)
    assert bom.labels == plain.labels and bom.format == plain.format
    assert bom.header_rows == plain.header_rows and bom.separators == plain.separators
    np.testing.assert_array_equal(bom.file_rows(), plain.file_rows())
    if text is not None:     # spreadsheet rows: header, the two-line answer, the blank line
        assert bom.data.loc[0, "q"] == "two\nlines" and bom.file_row(1) == 4


# --------------------------------------------------------------------------- damaged UTF-8
# A UTF-8 export with one invalid byte used to be read whole as cp1252: every other accented
# letter garbled, and nothing said so. Now the byte is replaced, located and reported.

DAMAGED = ("id,city,comment\n1,Zürich,très bien\n2,Köln,\"ça va,\nmerci\"\n"
           "3,Berlin,naïve café\n").encode("utf-8").replace("ça".encode(), b"\xe7a")


def test_one_bad_byte_in_a_utf8_file_is_replaced_and_reported(tmp_path):
    path = write(tmp_path, "damaged.csv", DAMAGED)
    with pytest.warns(DecodeWarning, match=r"row 3, column 'comment', byte offset 46") as w:
        raw = load_export(path)
    assert "encoding_errors='strict'" in str(w[0].message)
    assert raw.encoding == "utf-8"
    assert raw.data["city"].tolist() == ["Zürich", "Köln", "Berlin"]      # not "ZÃ¼rich"
    assert raw.data["comment"].tolist() == ["très bien", "\ufffda va,\nmerci", "naïve café"]
    errs = raw.decode_errors
    assert errs.to_dict("records") == [{"file_row": 3, "column": "comment", "line": 3,
                                        "byte_offset": 46, "byte": "b'\\xe7'"}]
    assert DAMAGED[46:47] == b"\xe7"
    with pytest.raises(FormatError, match=r"byte b'\\xe7' \(byte offset 46\) is not valid utf-8") \
            as err:
        load_export(path, encoding_errors="strict")
    assert (err.value.row, err.value.column) == (3, "comment") and "encoding=" in err.value.fix


def test_bad_bytes_past_the_first_megabyte_and_after_a_bom(tmp_path):
    rows = "".join(f"{i},réponse {i}\n" for i in range(1, 60_000))     # ~1.1 MB of UTF-8
    data = ("id,q\n" + rows).encode("utf-8") + b"60000,Z\xfcrich\n"
    for name, content in (("late.csv", data), ("late_bom.csv", codecs.BOM_UTF8 + data)):
        with pytest.warns(DecodeWarning):
            raw = load_export(write(tmp_path, name, content))
        assert raw.encoding == ("utf-8-sig" if "bom" in name else "utf-8")
        assert raw.data["q"].iloc[0] == "réponse 1" and raw.data["q"].iloc[-1] == "Z\ufffdrich"
        assert raw.decode_errors[["file_row", "column", "line"]].values.tolist() == \
            [[60_001, "q", 60_001]]


def test_file_in_cp1252_throughout_still_loads_as_cp1252(tmp_path):
    text = "id,city,comment\n1,Zürich,très bien\n2,Köln,ça va – merci\n"
    raw = load_export(write(tmp_path, "legacy.csv", text, encoding="cp1252"))
    assert raw.encoding == "cp1252" and raw.data["comment"].iloc[1] == "ça va – merci"
    assert raw.decode_errors.empty


def test_fixture_with_bad_bytes_names_rows_not_just_lines():
    # a UTF-8 export (Qualtrics-like) with two cp1252 letters, one after a two-line answer
    with pytest.warns(DecodeWarning, match="2 byte"):
        raw = load_export(FIXTURES / "utf8_one_bad_byte.csv")
    assert raw.format == "qualtrics" and raw.encoding == "utf-8"
    assert raw.data["Q1"].tolist() == ["Zürich", "Köln", "Genève", "Wien"]
    assert raw.data["Q2"].tolist()[2:] == ["naïve café", "sch\ufffdn"]
    assert raw.decode_errors[["file_row", "column", "line"]].values.tolist() == \
        [[3, "Q2", 3], [5, "Q2", 6]]
    assert raw.file_row(3) == 5


def test_encoding_errors_replace_applies_to_a_given_encoding(tmp_path):
    path = write(tmp_path, "damaged.csv", DAMAGED)
    with pytest.warns(DecodeWarning):
        raw = load_export(path, encoding="utf-8", encoding_errors="replace")
    assert raw.data["city"].iloc[0] == "Zürich" and len(raw.decode_errors) == 1
    # 0x81 is undefined in cp1252
    path = write(tmp_path, "w.csv", "id,city\n1,Zürich\n2,x".encode("cp1252") + b"\x81\n")
    with pytest.warns(DecodeWarning, match="not valid cp1252"):
        raw = load_export(path, encoding="cp1252", encoding_errors="replace")
    assert raw.data["city"].tolist() == ["Zürich", "x\ufffd"]
    assert raw.decode_errors[["file_row", "column"]].values.tolist() == [[3, "city"]]
    with pytest.raises(InputError, match="encoding_errors='ignore' is not an option"):
        load_export(path, encoding_errors="ignore")


# --------------------------------------------------------------------------- Qualtrics


def test_qualtrics_three_row_header():
    raw = load_export(FIXTURES / "qualtrics.csv")
    assert raw.format == "qualtrics" and raw.header_rows == 3
    assert raw.file_row(0) == 4
    assert raw.n_responses == 4
    assert raw.meta_columns == QUALTRICS_META
    assert raw.labels["Q1"] == "Do you consent to take part?"
    assert raw.labels["Q2"] == "How old are you? (in years)"      # multi-line header cell
    assert raw.data["Q2"].tolist()[:2] == ["034", "29"]
    assert raw.groups == {"Q3": ["Q3_1", "Q3_2", "Q3_3"]}
    assert raw.option_labels == {"Q3_1": "The app saves me time",
                                 "Q3_2": "The app is easy to use",
                                 "Q3_3": "I would recommend it"}
    assert raw.question_text("Q3") == "How much do you agree?"
    assert raw.export_values == "choice_text"
    # Joined multi-select found; a single option that contains a comma is not one.
    assert raw.separators == {"Q4": ","}
    assert raw.data.loc[0, "Q4"] == "Email,Phone"
    assert raw.data.loc[2, "Q4_5_TEXT"] == "Carrier pigeon"
    assert raw.data.loc[2, "Status"] == "Survey Preview"
    roles = raw.meta_roles()
    assert roles["response_id"] == "ResponseId" and roles["duration"] == "Duration (in seconds)"
    assert roles["progress"] == "Progress" and roles["recaptcha"] == "Q_RecaptchaScore"


def test_qualtrics_numeric_export():
    raw = load_export(FIXTURES / "qualtrics_numeric.csv")
    assert raw.export_values == "numeric"
    assert raw.separators == {"Q4": ","}
    assert raw.data["Q3_1"].tolist() == ["4", "4", "2"]


def test_qualtrics_legacy_two_row_header():
    raw = load_export(FIXTURES / "qualtrics_legacy.csv")
    assert raw.format == "qualtrics_legacy" and raw.header_rows == 2
    assert raw.encoding == "utf-8-sig"
    cols = [f"V{i}" for i in range(1, 11)] + ["Q1", "Q2_1", "Q2_2", "Q3", "LocationLatitude",
                                               "LocationLongitude", "LocationAccuracy"]
    assert list(raw.data.columns) == cols                 # trailing empty column dropped
    assert raw.labels["V1"] == "ResponseID" and raw.labels["V8"] == "StartDate"
    assert raw.meta_columns == cols[:10] + cols[-3:]
    assert raw.meta_roles()["response_id"] == "V1"
    assert raw.groups == {"Q2": ["Q2_1", "Q2_2"]}
    assert raw.option_labels == {"Q2_1": "Taste", "Q2_2": "Price"}
    assert raw.export_values == "numeric"
    assert raw.data.loc[0, "V1"] == "R_9zzz" and raw.data.loc[1, "Q3"] is np.nan


def test_qualtrics_override_as_plain_csv():
    raw = load_export(FIXTURES / "qualtrics.csv", format="csv")
    assert raw.format == "csv" and raw.header_rows == 1
    assert raw.data.loc[0, "Q1"] == "Do you consent to take part?"
    assert raw.meta_columns == []


def test_qualtrics_with_import_row_deleted_is_still_qualtrics(tmp_path):
    lines = (FIXTURES / "qualtrics.csv").read_text(encoding="utf-8").split("\n")
    # the second header line spans two lines (a line break inside the question text)
    kept = lines[:3] + lines[4:]
    raw = load_export(write(tmp_path, "q2.csv", "\n".join(kept)))
    assert raw.format == "qualtrics" and raw.header_rows == 2
    assert raw.labels["Q1"] == "Do you consent to take part?"
    assert raw.n_responses == 4


# --------------------------------------------------------------------------- SurveyMonkey


def check_surveymonkey(raw):
    assert raw.format == "surveymonkey" and raw.header_rows == 2
    assert list(raw.data.columns) == [
        "Respondent ID", "Collector ID", "Start Date", "End Date", "IP Address",
        "Email Address", "First Name", "Last Name", "Custom Data 1",
        "q1", "q2_1", "q2_2", "q2_3", "q2_4", "q3_1", "q3_2", "q4", "q5"]
    assert raw.meta_columns == list(raw.data.columns[:9])
    assert raw.groups == {"q2": ["q2_1", "q2_2", "q2_3", "q2_4"], "q3": ["q3_1", "q3_2"]}
    assert raw.labels["q1"] == "How satisfied are you with our service?"
    assert raw.labels["q2_2"] == "Which of these do you use? - Phone"
    assert raw.option_labels["q2_4"] == "Other (please specify)"
    assert raw.option_labels["q3_1"] == "Price"
    assert raw.question_text("q3") == "Please rate the following:"
    assert raw.labels["q5"] == "Any other feedback?"
    assert raw.data["q4"].tolist()[:2] == ["007", "45"]
    assert raw.data.loc[1, "q2_4"] == "Fax machine"
    assert raw.meta_roles()["response_id"] == "Respondent ID"


def test_surveymonkey_csv():
    check_surveymonkey(load_export(FIXTURES / "surveymonkey.csv"))


def test_surveymonkey_xlsx(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    rows = pd.read_csv(FIXTURES / "surveymonkey.csv", header=None, dtype=str,
                       keep_default_na=False).values.tolist()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sheet"
    for row in rows:
        sheet.append([v if v != "" else None for v in row])
    path = tmp_path / "sm.xlsx"
    book.save(path)
    assert detect_format(path) == "surveymonkey"
    raw = load_export(path)
    check_surveymonkey(raw)
    assert raw.encoding is None and raw.delimiter is None


# --------------------------------------------------------------------------- XLSX


def test_plain_xlsx_keeps_text_codes_and_numbers(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["not the data"])
    sheet = book.create_sheet("Responses")
    for row in [["id", "code", "age", "city"], ["r1", "01", 34, "Köln"], ["r2", "02", None, ""]]:
        sheet.append(row)
    path = tmp_path / "plain.xlsx"
    book.save(path)
    assert detect_format(path) == "xlsx"       # the first sheet holds a one-line note
    raw = load_export(path, sheet="Responses")
    assert raw.format == "xlsx" and raw.header_rows == 1
    assert raw.data["code"].tolist() == ["01", "02"]
    assert raw.data.loc[0, "age"] == 34
    assert raw.data[["age", "city"]].iloc[1].isna().all()
    assert load_export(path, sheet=1).data.shape == (2, 4)
    with pytest.raises(InputError, match="no worksheet 'Answers'") as err:
        load_export(path, sheet="Answers")
    assert "Responses" in err.value.fix


def test_xlsx_blank_rows_above_and_between_keep_worksheet_rows(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    for ref, value in {"A3": "id", "B3": "q1", "A4": "r1", "B4": "x", "A6": "r2", "B6": "y"}.items():
        sheet[ref] = value
    path = tmp_path / "gaps.xlsx"
    book.save(path)
    raw = load_export(path)
    assert raw.data["id"].tolist() == ["r1", "r2"]
    assert raw.header_rows == 3
    assert [raw.file_row(0), raw.file_row(1)] == [4, 6]


# --------------------------------------------------------------------------- SPSS


@pytest.fixture
def sav_path(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    df = pd.DataFrame({
        "id": ["a1", "a2", "a3", "a4"],
        "q1": [1.0, 5.0, 98.0, 99.0],
        "q2": [2.0, 97.0, 1.0, np.nan],
        "comment": ["good", "", "bad", "meh"],
    })
    path = tmp_path / "wave.sav"
    pyreadstat.write_sav(
        df, str(path),
        column_labels=["Respondent", "The app saves me time", "Household size", "Comment"],
        variable_value_labels={
            "q1": {1: "Strongly disagree", 5: "Strongly agree", 98: "Don't know", 99: "Refused"},
            "q2": {97: "Not applicable"},
        },
        missing_ranges={"q1": [98, 99], "q2": [97]},
    )
    return path


def test_spss_labels_value_labels_and_user_missing(sav_path):
    assert detect_format(sav_path) == "spss"
    raw = load_export(sav_path)
    assert raw.format == "spss" and raw.header_rows == 0 and raw.file_row(0) == 1
    assert raw.labels == {"id": "Respondent", "q1": "The app saves me time",
                          "q2": "Household size", "comment": "Comment"}
    assert raw.value_labels["q1"] == {1: "Strongly disagree", 5: "Strongly agree",
                                      98: "Don't know", 99: "Refused"}
    assert raw.missing_codes == {"q1": {98: "Don't know", 99: "Refused"},
                                 "q2": {97: "Not applicable"}}
    # user-missing codes are kept as values, so the reason is not lost
    assert raw.data["q1"].tolist() == [1.0, 5.0, 98.0, 99.0]
    assert raw.data["q2"].isna().tolist() == [False, False, False, True]
    assert raw.data["comment"].isna().tolist() == [False, True, False, False]
    assert raw.sha256 == sha256(sav_path)


def test_spss_format_asked_for_a_csv_is_refused():
    with pytest.raises(FormatError, match="format='spss'"):
        load_export(FIXTURES / "plain.csv", format="spss")


def test_damaged_sav_is_a_format_error(tmp_path):
    path = write(tmp_path, "bad.sav", b"$FL2" + b"\x00garbage" * 20)
    with pytest.raises(FormatError, match="SPSS file cannot be read") as err:
        load_export(path)
    assert err.value.file and err.value.fix


# --------------------------------------------------------------------------- Google Forms


def test_google_forms_grid_meta_and_semicolon_multi_select():
    raw = load_export(FIXTURES / "google_forms.csv")
    assert raw.format == "google_forms" and raw.header_rows == 1
    assert list(raw.data.columns) == ["Timestamp", "Email Address", "q1", "q2_1", "q2_2",
                                      "q2_3", "q3", "q4"]
    assert raw.meta_columns == ["Timestamp", "Email Address"]
    assert raw.groups == {"q2": ["q2_1", "q2_2", "q2_3"]}
    assert raw.option_labels == {"q2_1": "Clothing", "q2_2": "Groceries", "q2_3": "Books"}
    assert raw.question_text("q2") == "How often do you buy these online?"
    assert raw.labels["q3"] == "What influences you? (Multiple select)"
    assert raw.labels["q4"] == "Why do you shop online?"
    # q4 is free text that happens to contain ';': not a multi-select
    assert raw.separators == {"q3": ";"}


def test_google_forms_comma_space_multi_select():
    raw = load_export(FIXTURES / "google_forms_comma.csv")
    assert raw.separators == {"q1": ", "}                  # "Springfield, IL" is no list


def test_parse_google_timestamp_offsets_to_utc():
    out = parse_google_timestamp(["2024/04/07 8:54:18 PM GMT+5:30", "2023/11/02 10:00:00 AM GMT-4",
                                  "2024/01/01 13:00:00", None, "garbage"])
    assert str(out.dtype).startswith("datetime64") and str(out.dt.tz) == "UTC"
    assert out[0] == pd.Timestamp("2024-04-07 15:24:18", tz="UTC")
    assert out[1] == pd.Timestamp("2023-11-02 14:00:00", tz="UTC")
    assert out[2] == pd.Timestamp("2024-01-01 13:00:00", tz="UTC")
    assert out[3:].isna().all()


# --------------------------------------------------------------------------- Typeform


def test_typeform_two_header_rows():
    raw = load_export(FIXTURES / "typeform.csv")
    assert raw.format == "typeform" and raw.header_rows == 2 and raw.file_row(0) == 3
    assert list(raw.data.columns) == [
        "#", "q1_1", "q1_2", "q1_3", "q2", "q3_1", "q3_2", "q3_3", "q4_1", "q4_2", "q5",
        "q6", "q6_other", "Network ID", "Start Date (UTC)", "Submit Date (UTC)",
        "Response Type", "q7"]
    assert raw.meta_columns == ["#", "Network ID", "Start Date (UTC)", "Submit Date (UTC)",
                                "Response Type"]
    assert raw.groups == {"q1": ["q1_1", "q1_2", "q1_3"],      # checkbox, with Other
                          "q3": ["q3_1", "q3_2", "q3_3"],      # checkbox, question line blank
                          "q4": ["q4_1", "q4_2"]}              # grid ("Please rate these:")
    assert raw.labels["q1_2"] == "Which tools do you use? - MATLAB"
    assert raw.data.loc[1, "q1_3"] == "Julia"
    assert raw.labels["q2"] == "Which version do you use?"
    assert raw.option_labels["q3_1"] == "Windows"
    assert raw.labels["q4_1"] == "Please rate these: - Documentation"
    assert raw.labels["q5"] == "Anything missing from [earlier answer]?"   # piping cleaned
    assert raw.labels["q6_other"] == "What is your role? - Other"
    assert raw.labels["q7"] == "Which tools did you say? [tool_list]"
    assert raw.meta_roles()["response_id"] == "#"
    assert raw.meta_roles()["status"] == "Response Type"


def test_typeform_token_column_is_the_drafted_respondent_id():
    """The '#' token is Typeform's response id: the drafted codebook names it, so respondents
    are known by their token (a study can list test responses by it), not by file row."""
    from personalab.codebook import infer_codebook

    for name in ("typeform.csv", "typeform_one_row.csv"):
        raw = load_export(FIXTURES / name)
        assert infer_codebook(raw).respondent_id == "#", name


def test_typeform_one_header_row():
    raw = load_export(FIXTURES / "typeform_one_row.csv")
    assert raw.header_rows == 1
    assert list(raw.data.columns)[:6] == ["#", "q1", "q2_1", "q2_2", "q2_3", "q3"]
    assert raw.groups == {"q2": ["q2_1", "q2_2", "q2_3"]}
    assert raw.option_labels["q2_3"] == "Chat"
    assert raw.labels["q3"] == "Rate us, [name]"
    assert set(raw.meta_columns) == {"#", "Response Type", "Start Date (UTC)",
                                     "Submit Date (UTC)", "Network ID"}


# --------------------------------------------------------------------------- source untouched


@pytest.mark.filterwarnings("ignore::personalab.loaders.DecodeWarning")
@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.csv")))
def test_source_file_is_unchanged_and_hashed(tmp_path, name):
    path = tmp_path / name
    shutil.copy2(FIXTURES / name, path)
    before, stat = sha256(path), path.stat()
    raw = load_export(path)
    assert raw.sha256 == before == sha256(path)
    assert path.stat().st_mtime_ns == stat.st_mtime_ns
    assert raw.path == path


# --------------------------------------------------------------------------- bad input


def test_file_not_found(tmp_path):
    with pytest.raises(InputError, match="file not found") as err:
        load_export(tmp_path / "nope.csv")
    assert "nope.csv" in err.value.file and err.value.fix


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(InputError, match="folder"):
        load_export(tmp_path)


def test_empty_file(tmp_path):
    with pytest.raises(InputError, match="empty") as err:
        load_export(write(tmp_path, "empty.csv", b""))
    assert err.value.row == 1 and err.value.fix
    with pytest.raises(InputError, match="only blanks"):
        load_export(write(tmp_path, "blank.csv", b"\n \r\n\n"))
    with pytest.raises(InputError, match="empty once decompressed"):
        load_export(write(tmp_path, "empty.csv.gz", gzip.compress(b"")))


@pytest.mark.parametrize("name, text, data_row", [
    ("plain.csv", "id,q1,q2\n", 2),
    ("qualtrics.csv", None, 4),       # 3 header rows (4 text lines: one cell has a line break)
    ("typeform.csv", None, 3),
])
def test_header_only_file_names_the_first_missing_data_row(tmp_path, name, text, data_row):
    if text is None:
        full = (FIXTURES / name).read_text(encoding="utf-8")
        keep = {"qualtrics.csv": 4, "typeform.csv": 2}[name]       # physical lines of header
        text = "\n".join(full.split("\n")[:keep]) + "\n"
    with pytest.raises(InputError, match="no data rows") as err:
        load_export(write(tmp_path, name, text))
    assert err.value.row == data_row


@pytest.mark.parametrize("content, match", [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
    (bytes(range(256)) * 8, "binary"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, r"\.xls"),
])
def test_unknown_format(tmp_path, content, match):
    with pytest.raises(FormatError, match=match) as err:
        load_export(write(tmp_path, "export.pdf", content))
    assert err.value.file and err.value.fix


def test_zip_that_is_not_a_workbook(tmp_path):
    import zipfile

    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("responses.csv", "a,b\n1,2\n")
    with pytest.raises(FormatError, match="ZIP archive"):
        load_export(path)


def test_undecodable_with_the_given_encoding_names_the_line(tmp_path):
    path = write(tmp_path, "w.csv", "id,city\n1,Berlin\n2,Zürich\n", encoding="cp1252")
    with pytest.raises(FormatError, match="cannot decode") as err:
        load_export(path, encoding="utf-8")
    assert err.value.row == 3 and "cp1252" in err.value.fix
    assert load_export(path).data.loc[1, "city"] == "Zürich"       # auto-detect copes


def test_unknown_encoding_name(tmp_path):
    with pytest.raises(InputError, match="unknown encoding 'utf-9'"):
        load_export(FIXTURES / "plain.csv", encoding="utf-9")


def test_unknown_format_name():
    with pytest.raises(InputError, match="unknown format 'stata'") as err:
        load_export(FIXTURES / "plain.csv", format="stata")
    assert "qualtrics" in err.value.fix


def test_ragged_row_names_row_and_column(tmp_path):
    path = write(tmp_path, "r.csv", "id,q1,q2\n1,a,b\n2,c,d,e\n3,f,g\n4,h,i,j\n")
    with pytest.raises(InputError, match="more fields than the header") as err:
        load_export(path)
    assert err.value.row == [3, 5]
    assert "after the last column" in err.value.column
    assert "r.csv" in err.value.file and err.value.fix


def test_ragged_row_after_a_multiline_answer_gives_the_editor_line_too(tmp_path):
    path = write(tmp_path, "r.csv", 'id,q1\n1,"line one\nline two"\n2,x,y\n')
    with pytest.raises(InputError) as err:
        load_export(path)
    assert err.value.row == 3
    assert "line 4 in a text editor" in str(err.value)


def test_ragged_row_in_a_two_row_header_export_counts_header_rows(tmp_path):
    text = (FIXTURES / "surveymonkey.csv").read_text(encoding="utf-8").rstrip("\n") + ",extra\n"
    with pytest.raises(InputError) as err:
        load_export(write(tmp_path, "sm.csv", text))
    assert err.value.row == 5


def test_unbalanced_quote_is_reported(tmp_path):
    path = write(tmp_path, "q.csv", 'id,q1\n1,"open\n2,b\n')
    with pytest.raises(InputError, match="never closed") as err:
        load_export(path)
    assert err.value.row == 2            # the row where the quote opens


def test_stray_quote_inside_an_unquoted_answer_is_fine(tmp_path):
    raw = load_export(write(tmp_path, "q.csv", "id,height\n1,5'8\" tall\n2,6'0\n"))
    assert raw.data["height"].tolist() == ["5'8\" tall", "6'0"]


def test_a_plain_csv_with_a_responseid_column_keeps_its_first_respondent(tmp_path):
    """A second row whose ResponseId is a respondent id other than Qualtrics' R_... is the
    first respondent, not a question-text header row to skip (it was dropped silently)."""
    path = tmp_path / "wave.csv"
    path.write_text("ResponseId,Q1,Q2\nr000,1,2\nr001,3,4\nr002,5,5\n", encoding="utf-8")
    raw = load_export(path)
    assert len(raw.data) == 3 and "r000" in set(raw.data["ResponseId"])
    # Qualtrics' own two-row header is still read as one
    path.write_text("StartDate,ResponseId,Q1\nStart Date,Response ID,How satisfied?\n"
                    "2024-01-01,R_abc,4\n", encoding="utf-8")
    raw = load_export(path)
    assert len(raw.data) == 1 and list(raw.data["ResponseId"]) == ["R_abc"]
