"""Survey: typing a raw wave through its codebook, with known answers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from personalab import loaders
from personalab.codebook import (
    Codebook,
    MissingCode,
    Question,
    ScaleOption,
    save_codebook,
)
from personalab.errors import CodebookError, InputError
from personalab.loaders import RawWave
from personalab.survey import Survey, read_survey

FIXTURES = Path(__file__).parent / "fixtures" / "exports"
AGREE = ["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"]
SCALE = [ScaleOption(i + 1, lab) for i, lab in enumerate(AGREE)]
DK = [MissingCode(99, "Don't know", "dont_know")]


def make_raw(df, header_rows=1, name="exports/wave7.csv", **kw):
    df = pd.DataFrame(df)
    return RawWave(data=df, path=Path(name), format="qualtrics", sha256="ab" * 32,
                   labels={c: c for c in df.columns}, header_rows=header_rows, **kw)


def codebook(**kw):
    qs = [
        Question("rid", type="id"),
        Question("Q1", "Saves time", "likert", "segment", SCALE, missing=DK, grid="Q"),
        Question("Q2", "Wastes time", "likert", "segment", SCALE, reverse=True, missing=DK,
                 grid="Q"),
        Question("ch", "Channels", "multi", "segment", separator=",",
                 options=["Email", "Phone", "Chat, live"],
                 missing=[MissingCode(98, "Prefer not to say", "prefer_not_to_say")]),
        Question("dev", "Devices", "multi", "profile",
                 columns={"dev_1": "Laptop", "dev_2": "Phone"}),
        Question("plan", "Plan", "single", "segment",
                 [ScaleOption(1, "Free"), ScaleOption(2, "Pro")]),
        Question("size", "Company size", "single", "profile",
                 [ScaleOption(1, "1-9"), ScaleOption(2, "10-99"), ScaleOption(3, "100+")],
                 ordered=True),
        Question("age", "Age", "numeric", "profile", min=18, max=99,
                 missing=[MissingCode(999, "Refused", "refused")]),
        Question("why", "Why", "text", "profile"),
        Question("Status", type="meta"),
        Question("Progress", type="meta"),
        Question("w", type="weight"),
    ]
    return Codebook(survey="s", respondent_id="rid", weight="w", questions=qs, **kw)


def wave(**over):
    df = {
        "rid": ["1001", "1002", "1003", "1004"],
        "Q1": ["Strongly agree", "2", "Don't know", ""],                # labels and codes mixed
        "Q2": ["Strongly agree", "Disagree", "1", "Don’t know"],         # reverse-keyed
        "ch": ["Email,Chat, live", "Phone", "", "Prefer not to say"],
        "dev_1": ["Laptop", "", "", ""],
        "dev_2": ["", "Phone", "", ""],
        "plan": ["Pro", "Free", "1", ""],
        "size": ["100+", "1-9", "10-99", "1-9"],
        "age": ["34", "999", "", "71.5"],
        "why": ["  fast and cheap ", "", "   ", "slow"],
        "Status": ["IP Address", "IP Address", "Survey Preview", "IP Address"],
        "Progress": ["100", "100", "40", "100"],
        "w": ["1.5", "0.5", "1", "1"],
    }
    df.update(over)
    return make_raw(df, header_rows=3)


@pytest.fixture()
def survey():
    return Survey.from_raw(wave(), codebook())


def test_identity_and_provenance(survey):
    assert survey.wave == "wave7"
    assert survey.source == Path("exports/wave7.csv")
    assert (survey.format, survey.sha256) == ("qualtrics", "ab" * 32)
    assert list(survey.data.index) == ["1001", "1002", "1003", "1004"]
    assert survey.data.index.name == "respondent_id"
    assert survey.file_rows.to_dict() == {"1001": 4, "1002": 5, "1003": 6, "1004": 7}
    assert Survey.from_raw(wave(), codebook(), wave="spring").wave == "spring"


def test_likert_codes_reverse_and_missing(survey):
    lik = survey.likert()
    assert list(lik.columns) == ["Q1", "Q2"]
    np.testing.assert_array_equal(lik["Q1"].to_numpy(), [5, 2, np.nan, np.nan])
    # Q2 answered 5, 2, 1, DK; reverse-keyed: 1 + 5 - code
    np.testing.assert_array_equal(lik["Q2"].to_numpy(), [1, 4, 5, np.nan])
    # data keeps the answers as given
    np.testing.assert_array_equal(survey.data["Q2"].to_numpy(), [5, 2, 1, np.nan])
    assert lik.dtypes.eq(float).all()


def test_likert_is_a_fresh_float_frame(survey):
    lik = survey.likert(role="segment")
    lik.iloc[0, :] = -1.0                     # the caller's copy, never the survey's data
    np.testing.assert_array_equal(survey.data["Q1"].to_numpy(), [5, 2, np.nan, np.nan])
    np.testing.assert_array_equal(survey.likert()["Q2"].to_numpy(), [1, 4, 5, np.nan])
    pd.testing.assert_index_equal(lik.index, survey.data.index)
    cb = codebook()
    no_likert = Codebook(survey="s", respondent_id="rid", weight="w",
                         questions=[q for q in cb.questions if q.type != "likert"])
    empty = Survey.from_raw(wave(), no_likert).likert()
    assert empty.shape == (4, 0) and list(empty.index) == ["1001", "1002", "1003", "1004"]


def test_missing_reasons_are_kept_tidy(survey):
    mr = survey.missing_reasons
    assert list(mr.columns) == ["respondent_id", "question", "reason"]
    got = sorted(map(tuple, mr.astype(str).to_numpy().tolist()))
    assert got == [("1002", "age", "refused"), ("1003", "Q1", "dont_know"),
                   ("1004", "Q2", "dont_know"), ("1004", "ch", "prefer_not_to_say")]


def test_multi_joined_and_wide(survey):
    m = survey.multi()
    assert list(m.columns) == ["ch:Email", "ch:Phone", "ch:Chat, live", "dev:Laptop", "dev:Phone"]
    assert all(str(t) == "Int8" for t in m.dtypes)
    # "Chat, live" holds the separator and is still one option
    assert m.loc["1001", ["ch:Email", "ch:Phone", "ch:Chat, live"]].tolist() == [1, 0, 1]
    assert m.loc["1002", ["ch:Email", "ch:Phone", "ch:Chat, live"]].tolist() == [0, 1, 0]
    # nothing answered / a missing code -> <NA> on every option, not 0
    assert m.loc["1003"].isna().all()
    assert m.loc["1004", ["ch:Email", "ch:Phone", "ch:Chat, live"]].isna().all()
    assert m.loc["1001", ["dev:Laptop", "dev:Phone"]].tolist() == [1, 0]
    assert m.loc["1002", ["dev:Laptop", "dev:Phone"]].tolist() == [0, 1]
    assert list(survey.multi(role="segment").columns) == ["ch:Email", "ch:Phone", "ch:Chat, live"]


def test_categorical_ordered_for_scales(survey):
    cat = survey.categorical()
    assert list(cat.columns) == ["Q1", "Q2", "plan", "size"]
    assert cat["Q1"].cat.ordered and list(cat["Q1"].cat.categories) == AGREE
    assert cat["Q1"].tolist()[:2] == ["Strongly agree", "Disagree"] and cat["Q1"].isna().sum() == 2
    # categorical shows the answer given (not flipped)
    assert cat["Q2"].tolist()[:3] == ["Strongly agree", "Disagree", "Strongly disagree"]
    assert not cat["plan"].cat.ordered
    assert cat["plan"].tolist()[:3] == ["Pro", "Free", "Free"] and pd.isna(cat["plan"].iloc[3])
    assert cat["size"].cat.ordered and cat["size"].max() == "100+"


def test_numeric_text_meta_weights(survey):
    num = survey.numeric()
    np.testing.assert_array_equal(num["age"].to_numpy(), [34, np.nan, np.nan, 71.5])
    txt = survey.text()["why"]
    assert txt.iloc[0] == "fast and cheap" and txt.iloc[3] == "slow"
    assert txt.isna().tolist() == [False, True, True, False]
    assert list(survey.meta().columns) == ["Status", "Progress"]
    assert survey.meta()["Status"].iloc[2] == "Survey Preview"
    np.testing.assert_array_equal(survey.weights().to_numpy(), [1.5, 0.5, 1, 1])
    assert survey.weights().name == "weight"


def test_weights_default_to_one_and_role_filters():
    cb = codebook()
    cb.weight = None
    cb.questions = [q for q in cb.questions if q.id != "w"]
    raw = wave()
    raw.data = raw.data.drop(columns="w")
    s = Survey.from_raw(raw, cb)
    assert s.weights().tolist() == [1.0] * 4
    assert [q.id for q in s.questions(type="likert")] == ["Q1", "Q2"]
    assert "rid" not in [q.id for q in s.questions()]            # ignore left out by default
    assert "rid" in [q.id for q in s.questions(role="all")]
    assert list(s.numeric(role="segment").columns) == []


def test_summary(survey):
    sm = survey.summary().set_index("question")
    assert sm.loc["Q1", ["type", "role", "n_answered", "n_missing", "n_no_answer"]].tolist() == \
        ["likert", "segment", 2, 2, 1]
    assert sm.loc["Q1", "missing_reasons"] == "dont_know: 1"
    assert sm.loc["ch", ["n_answered", "n_missing", "missing_reasons"]].tolist() == \
        [2, 2, "prefer_not_to_say: 1"]
    assert sm.loc["age", "missing_reasons"] == "refused: 1"
    assert sm.loc["why", "n_answered"] == 2


def test_subset_keeps_order_and_side_tables(survey):
    sub = survey.subset(["1004", "1002"])
    assert list(sub.data.index) == ["1004", "1002"]
    assert sub.file_rows.tolist() == [7, 5]
    assert set(sub.missing_reasons["respondent_id"]) == {"1004", "1002"}
    assert sub.likert()["Q2"].tolist()[1] == 4
    assert sub.summary().set_index("question").loc["Q1", "n_answered"] == 1
    with pytest.raises(InputError, match="'9999'"):
        survey.subset(["9999"])


def test_row_based_ids_without_respondent_id_column():
    cb = codebook()
    cb.respondent_id = None
    s = Survey.from_raw(wave(), cb)
    assert list(s.data.index) == ["row-4", "row-5", "row-6", "row-7"]


def test_numeric_ids_read_as_strings():
    raw = wave(rid=[1001.0, 1002.0, 1003.0, 1004.0])
    assert list(Survey.from_raw(raw, codebook()).data.index) == ["1001", "1002", "1003", "1004"]


def test_duplicate_ids_raise_naming_rows_or_get_suffixed():
    raw = wave(rid=["a", "b", "a", "a"])
    with pytest.raises(InputError) as err:
        Survey.from_raw(raw, codebook())
    e = err.value
    assert (e.column, e.row) == ("rid", [4, 6, 7])
    assert "duplicate_ids='suffix'" in e.fix and "wave7.csv" in e.file
    s = Survey.from_raw(raw, codebook(), duplicate_ids="suffix")
    assert list(s.data.index) == ["a", "b", "a~2", "a~3"]
    d = s.duplicate_ids
    assert d["respondent_id"].tolist() == ["a", "a~2", "a~3"]
    assert d["original_id"].tolist() == ["a"] * 3
    assert d["file_row"].tolist() == [4, 6, 7] and d["occurrence"].tolist() == [1, 2, 3]
    with pytest.raises(InputError, match="duplicate_ids='drop'"):
        Survey.from_raw(raw, codebook(), duplicate_ids="drop")


def test_bad_values_raise_with_column_row_and_fix():
    with pytest.raises(CodebookError) as err:
        Survey.from_raw(wave(Q1=["Agree", "Agree strongly", "", ""]), codebook())
    assert (err.value.column, err.value.row) == ("Q1", 5)
    assert "Agree strongly" in str(err.value) and err.value.fix
    with pytest.raises(InputError) as err:
        Survey.from_raw(wave(age=["34", "thirty", "", ""]), codebook())
    assert (err.value.column, err.value.row) == ("age", 5) and "'thirty'" in err.value.problem
    with pytest.raises(InputError) as err:
        Survey.from_raw(wave(w=["1", "1", "-2", "1"]), codebook())
    assert (err.value.column, err.value.row) == ("w", 6)


def test_file_rows_follow_loader_row_numbers():
    raw = wave()
    raw.row_numbers = np.array([4, 5, 9, 10])       # blank lines skipped by the loader
    s = Survey.from_raw(raw, codebook())
    assert s.file_rows.tolist() == [4, 5, 9, 10]
    raw = wave(rid=["a", "b", "b", "c"])
    raw.row_numbers = np.array([4, 5, 9, 10])
    with pytest.raises(InputError) as err:
        Survey.from_raw(raw, codebook())
    assert err.value.row == [5, 9]


def test_read_survey_with_path_object_or_inferred_codebook(tmp_path, monkeypatch):
    raw = wave()
    calls = []

    def fake_load_export(path, format="auto", **kw):
        calls.append((path, format))
        return raw

    monkeypatch.setattr(loaders, "load_export", fake_load_export, raising=False)
    cb_path = save_codebook(codebook(), tmp_path / "cb.yaml")
    s = read_survey("exports/wave7.csv", codebook=cb_path, wave="w7", format="qualtrics")
    assert calls == [("exports/wave7.csv", "qualtrics")]
    assert s.wave == "w7" and s.likert()["Q2"].tolist()[:3] == [1, 4, 5]
    assert read_survey("x.csv", codebook=codebook()).codebook.weight == "w"
    inferred = read_survey("x.csv")
    assert inferred.codebook.respondent_id == "rid"
    assert inferred.codebook["Q2"].type == "likert"
    assert inferred.likert()["Q2"].notna().sum() == 3


# --------------------------------------------------------------------------- number and date conventions
# Numbers and dates are read in one convention per column, decided from all its values
# (personalab.conventions); they used to be read value by value: "1,5" became 15.0 (every
# comma stripped) and "03/04/2024" went to March or April depending on the other rows.

def with_columns(extra: dict, types: dict, **raw_kw):
    """The test wave plus ``extra`` columns typed as ``types`` says."""
    raw = wave(**extra)
    for k, v in raw_kw.items():
        setattr(raw, k, v)
    cb = codebook()
    cb.questions += [Question(c, c, t, "profile") for c, t in types.items()]
    return raw, cb


def typed(extra, types, **raw_kw):
    raw, cb = with_columns(extra, types, **raw_kw)
    return Survey.from_raw(raw, cb)


def test_decimal_commas_and_thousands_are_decided_per_column():
    s = typed({"spend": ["1,5", "2,25", "", "-0,5"], "income": ["1,393", "12,000", "800", ""],
               "score": ["1.5", "1,393", "2", ""]},
              {"spend": "numeric", "income": "numeric", "score": "numeric"})
    np.testing.assert_array_equal(s.data["spend"], [1.5, 2.25, np.nan, -0.5])  # was 15, 225
    assert s.data["income"].tolist()[:3] == [1393.0, 12000.0, 800.0]
    assert s.data["score"].tolist()[:3] == [1.5, 1393.0, 2.0]   # "1.5" decides: ',' groups
    # a weight with a decimal comma
    assert typed({"w": ["1,5", "0,5", "1", "1"]}, {}).weights().tolist() == [1.5, 0.5, 1, 1]


def test_undecidable_or_mixed_number_column_is_refused_with_the_fix():
    with pytest.raises(InputError) as err:
        typed({"spend": ["1,393", "2,500", "", ""]}, {"spend": "numeric"})
    assert (err.value.column, err.value.row) == ("spend", [4, 5])
    assert "can be read two ways" in err.value.problem and "decimal={'spend': ','}" in \
        err.value.fix
    with pytest.raises(InputError) as err:
        typed({"spend": ["1,5", "2.5", "", ""]}, {"spend": "numeric"})
    assert err.value.column == "spend" and err.value.row == [4, 5]
    assert "mix two conventions" in err.value.problem
    # the option settles it, and so do the file's other number columns
    s = typed({"spend": ["1,393", "2,500", "", ""]}, {"spend": "numeric"},
              decimal={"spend": ","})
    assert s.data["spend"].tolist()[:2] == [1.393, 2.5]
    s = typed({"spend": ["1,393", "2,500", "", ""]}, {"spend": "numeric"},
              thousands={"spend": ","})
    assert s.data["spend"].tolist()[:2] == [1393.0, 2500.0]
    s = typed({"spend": ["1,393", "", "", ""], "rate": ["0,5", "1,25", "", ""]},
              {"spend": "numeric", "rate": "numeric"})
    assert s.data["spend"].iloc[0] == 1.393
    # the file's decimal commas outweigh "12,000" looking like thousands
    s = typed({"spend": ["12,000", "2,500", "", ""], "rate": ["0,5", "1,25", "", ""]},
              {"spend": "numeric", "rate": "numeric"})
    assert s.data["spend"].tolist()[:2] == [12.0, 2.5]


def test_digits_with_misplaced_separators_are_refused_not_joined():
    # "1,2,3" used to become 123.0 and ",5" 5.0 (every comma stripped)
    with pytest.raises(InputError) as err:
        typed({"spend": ["1,5", "1,2,3", "", ""]}, {"spend": "numeric"})
    assert (err.value.column, err.value.row) == ("spend", 5)
    assert "not a number in any convention" in err.value.problem
    s = typed({"spend": [",5", "2", "", ""]}, {"spend": "numeric"})
    assert s.data["spend"].tolist()[:2] == [0.5, 2.0]


def test_a_value_against_the_given_convention_is_named():
    with pytest.raises(InputError) as err:
        typed({"spend": ["1,5", "1,234,567", "", ""]}, {"spend": "numeric"},
              decimal={"spend": ","})
    assert (err.value.column, err.value.row) == ("spend", 5) and "'1,234,567'" in str(err.value)


def test_date_order_is_decided_per_column_or_refused():
    s = typed({"d": ["03/04/2024", "13/04/2024", "", "01/12/2023 10:30"]}, {"d": "date"})
    assert s.data["d"].dt.strftime("%Y-%m-%d").tolist()[:2] == ["2024-04-03", "2024-04-13"]
    assert s.data["d"].iloc[3] == pd.Timestamp("2023-12-01 10:30")
    s = typed({"d": ["03/04/2024", "04/13/2024", "", ""]}, {"d": "date"})
    assert s.data["d"].iloc[0] == pd.Timestamp("2024-03-04")
    with pytest.raises(InputError) as err:       # day-first and month-first rows
        typed({"d": ["13/04/2024", "04/13/2024", "03/04/2024", ""]}, {"d": "date"})
    assert err.value.column == "d" and err.value.row == [4, 5]
    assert "mix two orders" in err.value.problem and "%d/%m/%Y" in err.value.fix
    with pytest.raises(InputError) as err:       # every date reads both ways
        typed({"d": ["03/04/2024", "05/06/2024", "", ""]}, {"d": "date"})
    assert "reads both ways" in err.value.problem and "dayfirst={'d': True}" in err.value.fix
    s = typed({"d": ["03/04/2024", "05/06/2024", "", ""]}, {"d": "date"}, dayfirst=True)
    assert s.data["d"].iloc[1] == pd.Timestamp("2024-06-05")
    iso = typed({"d": ["2024-04-03", "2024-04-13T10:00:00Z", "", ""]}, {"d": "date"})
    assert iso.data["d"].iloc[1] == pd.Timestamp("2024-04-13 10:00")


def test_read_survey_passes_the_conventions_to_the_loader(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("rid,spend\n1,\"1,393\"\n2,\"2,5\"\n3,\"1,750\"\n", encoding="utf-8")
    cb = Codebook(survey="s", respondent_id="rid",
                  questions=[Question("spend", "Spend", "numeric", "profile")])
    assert read_survey(path, cb).data["spend"].tolist() == [1.393, 2.5, 1.75]
    path.write_text("rid,spend\n1,\"1,393\"\n2,\"2,750\"\n", encoding="utf-8")
    with pytest.raises(InputError, match="can be read two ways"):
        read_survey(path, cb)
    assert read_survey(path, cb, thousands=",").data["spend"].tolist() == [1393.0, 2750.0]


def test_german_excel_export_reads_commas_dots_and_dates_as_meant():
    # ';'-separated, decimal commas, '.' grouping thousands, dd.mm.yyyy dates: the old
    # reader made 1,5 -> 15.0 and 1.393 -> 1.393 (not 1393), without a word.
    cb = Codebook(survey="s", respondent_id="id", questions=[
        Question("Alter", "Age", "numeric", "profile"),
        Question("Ausgaben", "Spend", "numeric", "profile"),
        Question("Einkommen", "Income", "numeric", "profile"),
        Question("Zufriedenheit", "Satisfaction", "numeric", "profile"),
        Question("Datum", "Date", "date", "ignore"),
    ])
    s = read_survey(FIXTURES / "excel_de.csv", cb)
    assert s.data["Ausgaben"].tolist() == [1.5, 12.25, 0.75, 3.0]
    assert s.data["Einkommen"].tolist() == [1393.0, 2500.0, 12000.0, 850.0]
    assert s.data["Datum"].tolist()[:3] == [pd.Timestamp("2023-12-24"),
                                            pd.Timestamp("2024-01-03"),
                                            pd.Timestamp("2024-01-05")]


def test_read_with_report_gives_the_validation_report_from_one_reading(monkeypatch):
    import personalab.survey as survey_module
    from personalab.codebook import validate_codebook

    raw, cb = with_columns({"spend": ["1,5", "2,25", "", "-0,5"], "extra": ["a", "b", "", ""]},
                           {"spend": "numeric"})
    expected = validate_codebook(cb, raw).to_frame()
    calls = []
    real = survey_module._parse_wave
    monkeypatch.setattr(survey_module, "_parse_wave",
                        lambda *a: calls.append(1) or real(*a))
    survey, report = Survey.read_with_report(raw, cb)
    assert len(calls) == 1                                   # parsed (and normalised) once
    pd.testing.assert_frame_equal(report.to_frame(), expected)
    assert [i.kind for i in report.warnings] == ["unmentioned_column"]
    assert survey.data["spend"].tolist()[:2] == [1.5, 2.25]
    pd.testing.assert_frame_equal(survey.data, Survey.from_raw(raw, cb).data)
