"""`validate_codebook` and `personalab validate` read numbers, dates and bytes as a run does.

Before, validation read each value on its own ("1,5" -> 15.0, "1,393" -> 1393, dates row by
row) and never looked at the bytes the loader replaced: a file a run refuses, or reads
differently, was reported as "no problems found". Each test below is on a small
synthetic export written here, with the answer known.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from personalab.cli import main
from personalab.codebook import Codebook, Question, save_codebook, validate_codebook
from personalab.errors import InputError
from personalab.loaders import DecodeWarning, load_export
from personalab.survey import Survey


def codebook(**types) -> Codebook:
    qs = [Question("rid", "Respondent", "id", "ignore")]
    qs += [Question(c, c, t, "profile") if isinstance(t, str) else
           Question(c, c, t[0], "profile", **t[1]) for c, t in types.items()]
    return Codebook(survey="s", respondent_id="rid", questions=qs)


def export(tmp_path, text: str | bytes, name="wave.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def validate(path, cb, **load_kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DecodeWarning)
        raw = load_export(path, **load_kw)
    return validate_codebook(cb, raw), raw


# --------------------------------------------------------------------------- numbers
def test_decimal_commas_are_read_as_decimals_before_ranges_are_checked(tmp_path):
    # "0,75" and "1,5" are decimals (a value like "0,75" only reads with a decimal comma);
    # read value by value they were 75 and 15, and both were 'outside [0, 10]'
    path = export(tmp_path, 'rid,hours\n1,"1,5"\n2,"0,75"\n3,12\n4,3\n')
    report, _ = validate(path, codebook(hours=("numeric", {"min": 0, "max": 10})))
    assert [(i.kind, i.column, i.rows) for i in report.errors] == [("out_of_range", "hours", [4])]
    assert "12.0" in report.errors[0].problem and "15" not in report.errors[0].problem


def test_an_ambiguous_thousands_or_decimal_comma_is_an_error_with_the_option(tmp_path):
    # "1,393" is 1393 or 1.393: a run refuses it, so validation must too (it said nothing)
    path = export(tmp_path, 'rid,spend,note\n1,"1,393",a\n2,"2,750",b\n3,,c\n4,800,d\n')
    cb = codebook(spend="numeric", note="text")
    report, raw = validate(path, cb)
    [issue] = report.errors
    assert (issue.kind, issue.column, issue.rows, issue.level) == (
        "number_format", "spend", [2, 3], "error")
    assert "can be read two ways" in issue.problem
    assert "decimal={'spend': ','}" in issue.fix and "thousands={'spend': ','}" in issue.fix
    # the run stops on the same problem, naming the same rows
    with pytest.raises(InputError, match="can be read two ways") as err:
        Survey.from_raw(raw, cb)
    assert (err.value.column, err.value.row) == ("spend", [2, 3])
    # and the option the fix names settles it for both
    report, raw = validate(path, cb, thousands={"spend": ","})
    assert report.ok and not report.of_kind("number_format")
    assert Survey.from_raw(raw, cb).data["spend"].tolist()[:2] == [1393.0, 2750.0]


def test_a_column_mixing_decimal_marks_is_an_error(tmp_path):
    path = export(tmp_path, 'rid,price\n1,"1,5"\n2,2.5\n3,4\n')
    report, _ = validate(path, codebook(price="numeric"))
    [issue] = report.of_kind("number_format")
    assert issue.column == "price" and issue.rows == [2, 3]
    assert "mix two conventions" in issue.problem


# --------------------------------------------------------------------------- dates
def test_a_date_column_mixing_day_first_and_month_first_is_an_error(tmp_path):
    # 25/04 is day-first, 04/26 month-first: 03/04/2024 cannot be placed (it went to
    # March 4 or April 3 by whichever format pandas guessed, and validation said nothing)
    path = export(tmp_path, "rid,when\n1,03/04/2024\n2,25/04/2024\n3,04/26/2024\n4,\n")
    report, raw = validate(path, codebook(when="date"))
    [issue] = report.errors
    assert (issue.kind, issue.column, issue.rows) == ("date_format", "when", [3, 4])
    assert "mix two orders" in issue.problem and "dayfirst={'when': True}" in issue.fix


def test_day_first_dates_decided_by_one_row_are_read_one_way(tmp_path):
    # 25/04/2024 says the column is day-first: 03/04/2024 is 3 April, not March 4
    path = export(tmp_path, "rid,when\n1,03/04/2024\n2,25/04/2024\n")
    cb = codebook(when="date")
    report, raw = validate(path, cb)
    assert report.ok and not report.issues
    got = Survey.from_raw(raw, cb).data["when"].dt.strftime("%Y-%m-%d").tolist()
    assert got == ["2024-04-03", "2024-04-25"]


def test_every_refused_column_is_reported_not_just_the_first(tmp_path):
    path = export(tmp_path, 'rid,spend,price,when\n1,"1,393","1,5",03/04/2024\n'
                            '2,"2,750",2.5,13/04/2024\n3,,,04/13/2024\n')
    report, _ = validate(path, codebook(spend="numeric", price="numeric", when="date"))
    assert sorted((i.kind, i.column) for i in report.errors) == [
        ("date_format", "when"), ("number_format", "price"), ("number_format", "spend")]


# --------------------------------------------------------------------------- bytes
def test_a_damaged_utf8_byte_is_a_warning_naming_row_and_column(tmp_path):
    data = "rid,city,comment\n1,Zürich,très bien\n2,Köln,ça va\n3,Wien,gut\n".encode()
    path = export(tmp_path, data.replace("ça".encode(), b"\xe7a"))
    report, raw = validate(path, codebook(city="single", comment="text"))
    assert raw.data["city"].tolist() == ["Zürich", "Köln", "Wien"]       # not cp1252 mojibake
    [issue] = report.of_kind("decode_error")
    assert (issue.level, issue.column, issue.rows, issue.n_rows) == ("warning", "comment", [3], 1)
    assert "U+FFFD" in issue.problem and r"b'\xe7'" in issue.problem
    assert "encoding_errors='strict'" in issue.fix
    assert report.ok                       # a warning: the run goes ahead


# --------------------------------------------------------------------------- the command
def test_cli_validate_prints_the_rows_and_fixes_of_conventions_and_bytes(tmp_path, capsys):
    cbp = save_codebook(codebook(spend="numeric", when="date", comment="text"),
                        tmp_path / "cb.yml")
    path = export(tmp_path, 'rid,spend,when,comment\n1,"1,393",03/04/2024,ok\n'
                            '2,"2,750",13/04/2024,fine\n3,5,04/13/2024,bien\n')
    assert main(["validate", str(path), "--codebook", str(cbp)]) == 1
    out = capsys.readouterr().out.splitlines()
    errors = [ln for ln in out if ln.startswith("[error]")]
    assert any("column 'spend', rows 2, 3" in ln and "can be read two ways" in ln
               and "Fix: say which: decimal={'spend': ','}" in ln for ln in errors)
    assert any("column 'when', rows 3, 4" in ln and "mix two orders" in ln
               and "dayfirst={'when': True}" in ln for ln in errors)
    assert out[-1] == "2 error(s), 0 warning(s): a run stops on the errors."

    bad = export(tmp_path, "rid,spend,when,comment\n1,5,2024-01-02,schön\n2,6,2024-01-03,"
                           "très bien\n".encode().replace("è".encode(), b"\xe8"), "bad.csv")
    assert main(["validate", str(bad), "--codebook", str(cbp)]) == 0
    captured = capsys.readouterr()
    [line] = [ln for ln in captured.out.splitlines() if ln.startswith("[warning]")]
    assert "column 'comment', row 3" in line and "U+FFFD" in line and "Fix:" in line
    assert "DecodeWarning" not in captured.err          # said once, in the report


# --------------------------------------------------------------------------- a run's ingest
def test_ingest_takes_the_study_options_and_its_errors_name_the_study_keys(tmp_path):
    from personalab import steps
    from personalab.errors import ConfigError

    cbp = save_codebook(codebook(spend="numeric", when="date"), tmp_path / "cb.yml")
    path = export(tmp_path, 'rid,spend,when\n1,"1,393",03/04/2024\n2,"2,750",05/06/2024\n'
                            "3,7,07/08/2024\n")
    with pytest.raises(InputError, match="can be read two ways") as err:
        steps.ingest(path, output_dir=tmp_path / "out", codebook_path=cbp)
    assert err.value.row == [2, 3]
    assert "in study.yml: decimal: {spend: ','} or thousands: {spend: ','}" in err.value.fix
    # the keys the fix names, as the study config passes them, settle it
    with pytest.raises(InputError, match="reads both ways") as err:
        steps.ingest(path, output_dir=tmp_path / "out", codebook_path=cbp, thousands=",")
    assert "dayfirst: {when: true}" in err.value.fix
    res = steps.ingest(path, output_dir=tmp_path / "out", codebook_path=cbp,
                       thousands={"spend": ","}, dayfirst=True)
    assert res.survey.data["spend"].tolist() == [1393.0, 2750.0, 7.0]
    assert res.survey.data["when"].dt.strftime("%d.%m").tolist() == ["03.04", "05.06", "07.08"]
    res = steps.ingest(path, output_dir=tmp_path / "out", codebook_path=cbp,
                       decimal=",", dayfirst={"when": False})
    assert res.survey.data["spend"].tolist() == [1.393, 2.75, 7.0]
    assert res.survey.data["when"].dt.strftime("%d.%m").tolist() == ["04.03", "06.05", "08.07"]
    # a per-column option must name a column the codebook reads that way
    with pytest.raises(ConfigError, match="'spnd', which is not a numeric") as err:
        steps.ingest(path, output_dir=tmp_path / "out", codebook_path=cbp,
                     decimal={"spnd": ","})
    assert err.value.column == "decimal" and "did you mean 'spend'" in err.value.fix
    with pytest.raises(ConfigError, match="must be true or false"):
        steps.ingest(path, output_dir=tmp_path / "out", codebook_path=cbp, dayfirst="yes")


def test_ingest_reads_the_encoding_options(tmp_path):
    from personalab import steps

    cbp = save_codebook(codebook(comment="text"), tmp_path / "cb.yml")
    path = export(tmp_path, "rid,comment\n1,schön\n2,très bien\n".encode().replace(
        "è".encode(), b"\xe8"))
    with pytest.warns(DecodeWarning):
        res = steps.ingest(path, output_dir=tmp_path / "out", codebook_path=cbp)
    [issue] = res.validation.of_kind("decode_error")
    assert issue.rows == [3] and "in study.yml: encoding_errors: strict" in issue.fix
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DecodeWarning)
        alone = validate_codebook(codebook(comment="text"), load_export(path))
    assert [(i.kind, i.column, i.rows) for i in res.validation.issues] == \
        [(i.kind, i.column, i.rows) for i in alone.issues]
    with pytest.raises(InputError, match="not valid utf-8") as err:
        steps.ingest(path, output_dir=tmp_path / "out", codebook_path=cbp,
                     encoding_errors="strict")
    assert (err.value.row, err.value.column) == (3, "comment")
    res = steps.ingest(path, output_dir=tmp_path / "out", codebook_path=cbp,
                       encoding="latin-1")
    assert res.survey.data["comment"].tolist() == ["schÃ¶n", "très bien"]


def test_cli_validate_takes_the_options_as_flags_or_from_the_study_config(tmp_path, capsys):
    cbp = save_codebook(codebook(spend="numeric", when="date"), tmp_path / "cb.yml")
    path = export(tmp_path, 'rid,spend,when\n1,"1,393",03/04/2024\n2,"2,750",13/04/2024\n')
    assert main(["validate", str(path), "--codebook", str(cbp)]) == 1
    out = capsys.readouterr().out
    assert "(in study.yml: decimal: {spend: ','} or thousands: {spend: ','}" in out
    assert main(["validate", str(path), "--codebook", str(cbp), "--thousands", "spend=,"]) == 0
    assert "no problems found" in capsys.readouterr().out
    assert main(["validate", str(path), "--codebook", str(cbp), "--decimal", ","]) == 0
    capsys.readouterr()
    # what the fix said to put in study.yml is what `validate --config` reads
    study = tmp_path / "study.yml"
    study.write_text("wave: w\ninput: wave.csv\ncodebook: cb.yml\ndecimal: {spend: ','}\n",
                     encoding="utf-8")
    assert main(["validate", "--config", str(study)]) == 0
    assert "no problems found" in capsys.readouterr().out
    study.write_text("wave: w\ninput: wave.csv\ncodebook: cb.yml\ndecimal: {spnd: ','}\n",
                     encoding="utf-8")
    assert main(["validate", "--config", str(study)]) == 2
    err = capsys.readouterr().err
    assert "parameter 'decimal'" in err and "did you mean 'spend'" in err
    assert "Traceback" not in err
    assert main(["validate", str(path), "--codebook", str(cbp), "--dayfirst", "perhaps"]) == 2
    assert "--dayfirst takes true or false" in capsys.readouterr().err


def test_partitioned_input_takes_number_and_date_options_but_not_encoding(tmp_path):
    from personalab import steps
    from personalab.errors import ConfigError

    cbp = save_codebook(codebook(spend="numeric", when="date"), tmp_path / "cb.yml")
    parts = tmp_path / "wave"
    parts.mkdir()
    (parts / "part-0.csv").write_text('rid,spend,when\n1,"1,393",03/04/2024\n2,"2,750",05/06/2024\n')
    (parts / "part-1.csv").write_text("rid,spend,when\n3,7,07/08/2024\n")
    res = steps.ingest(parts, output_dir=tmp_path / "out", codebook_path=cbp,
                       thousands={"spend": ","}, dayfirst=True)
    assert sorted(res.survey.data["spend"].tolist()) == [7.0, 1393.0, 2750.0]
    assert sorted(res.survey.data["when"].dt.strftime("%d.%m")) == ["03.04", "05.06", "07.08"]
    with pytest.raises(ConfigError, match="encoding_errors cannot be given for a partitioned"):
        steps.ingest(parts, output_dir=tmp_path / "out2", codebook_path=cbp,
                     encoding_errors="strict")


@pytest.mark.slow
def test_personalab_run_reads_the_wave_with_the_study_yml_options(tmp_path, capsys, monkeypatch):
    """The fix a refusal prints (a study.yml key) is one `personalab run` honours."""
    monkeypatch.chdir(tmp_path)         # the config's output is relative to the working folder
    from personalab.artifacts import ArtifactStore
    from personalab.cli import main

    save_codebook(codebook(spend="numeric", when="date"), tmp_path / "cb.yml")
    export(tmp_path, 'rid,spend,when\n1,"1,393",03/04/2024\n2,"2,750",05/06/2024\n'
                     "3,7,07/08/2024\n")
    study = tmp_path / "study.yml"
    study.write_text("wave: w1\ninput: wave.csv\ncodebook: cb.yml\noutput: out\n")
    rc = main(["run", "--config", str(study), "--steps", "ingest", "--no-progress"])
    assert rc != 0 and "thousands: {spend: ','}" in capsys.readouterr().err
    study.write_text("wave: w1\ninput: wave.csv\ncodebook: cb.yml\noutput: out\n"
                     "thousands: {spend: ','}\ndayfirst: true\n")
    rc = main(["run", "--config", str(study), "--steps", "ingest", "--no-progress", "--overwrite"])
    assert rc == 0, capsys.readouterr().err
    survey = ArtifactStore(tmp_path / "out").load("survey")
    assert survey.data["spend"].tolist() == [1393.0, 2750.0, 7.0]
    assert survey.data["when"].dt.strftime("%d.%m").tolist() == ["03.04", "05.06", "07.08"]


def test_cli_codebook_notes_damaged_bytes_as_one_line_not_a_python_warning(tmp_path, capsys):
    from personalab.cli import main

    path = export(tmp_path, "rid,comment\n1,schön\n2,très bien\n".encode().replace(
        "è".encode(), b"\xe8"))
    rc = main(["codebook", str(path), "-o", str(tmp_path / "cb.yml")])
    err = capsys.readouterr().err
    assert rc == 0
    [line] = [x for x in err.splitlines() if x.strip()]
    assert line.startswith("personalab codebook: warning: file ") and "U+FFFD" in line
    assert "row 3" in line and "cli.py" not in err and "DecodeWarning" not in err
