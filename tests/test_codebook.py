"""Codebook: YAML schema round trip, schema errors, inference and validation against a wave."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from personalab.codebook import (
    Codebook,
    MissingCode,
    Question,
    ScaleOption,
    infer_codebook,
    load_codebook,
    save_codebook,
    validate_codebook,
)
from personalab.errors import CodebookError, InputError
from personalab.loaders import RawWave, load_export
from personalab.survey import Survey

AGREE = ["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"]


def make_raw(df, header_rows=1, name="wave1.csv", **kw):
    df = pd.DataFrame(df)
    return RawWave(data=df, path=Path(name), format="csv", sha256="0" * 64,
                   labels={c: c for c in df.columns}, header_rows=header_rows, **kw)


def agree_scale():
    return [ScaleOption(i + 1, lab) for i, lab in enumerate(AGREE)]


def full_codebook():
    return Codebook(
        survey="product_research", respondent_id="ResponseId", weight="wt",
        questions=[
            Question("ResponseId", "Response ID", "id", "ignore"),
            Question("Q3_1", "The app saves me time", "likert", "segment", agree_scale(),
                     reverse=True, missing=[MissingCode(99, "Don't know", "dont_know")],
                     grid="Q3", attention_check={"expected": "Strongly agree"}),
            Question("Q4", "Channels", "multi", "segment", separator=";",
                     options=["Email", "Phone", "Chat, live"]),
            Question("Q5", "Devices", "multi", "profile",
                     columns={"Q5_1": "Laptop", "Q5_2": "Phone"}),
            Question("age", "Age", "numeric", "profile", min=18, max=120),
            Question("gender", "Gender", "single", "profile",
                     [ScaleOption("F", "Female"), ScaleOption("M", "Male")], ordered=False),
            Question("wt", "Weight", "weight", "ignore"),
        ],
    )


# --------------------------------------------------------------------------- round trip
def test_save_load_round_trip_is_exact_and_stable(tmp_path):
    cb = full_codebook()
    p = save_codebook(cb, tmp_path / "cb.yaml")
    back = load_codebook(p)
    assert back == cb
    assert back.to_dict() == cb.to_dict()
    first = p.read_text()
    save_codebook(back, tmp_path / "again.yaml")
    assert (tmp_path / "again.yaml").read_text() == first


def test_saved_yaml_is_human_editable(tmp_path):
    text = save_codebook(full_codebook(), tmp_path / "cb.yaml").read_text()
    lines = text.splitlines()
    assert lines[0].startswith("# PersonaLab codebook")
    body = [ln for ln in lines if not ln.startswith("#")]
    assert body[:5] == ["schema_version: 1", "survey: product_research",
                        "respondent_id: ResponseId", "weight: wt", "questions:"]
    assert "  - {code: 1, label: Strongly disagree}" in lines
    assert "  options: [Email, Phone, 'Chat, live']" in lines
    # keys of a question in schema order
    q = text[text.index("- id: Q3_1"):text.index("- id: Q4")]
    keys = [ln.strip().split(":")[0] for ln in q.splitlines() if ln.startswith("  ") and
            not ln.startswith("  -") and not ln.startswith("   ")]
    assert keys == ["text", "type", "role", "scale", "reverse", "missing", "grid",
                    "attention_check"]


def test_lookup_and_questions_of():
    cb = full_codebook()
    assert cb["age"].max == 120
    assert [q.id for q in cb.questions_of(type="multi")] == ["Q4", "Q5"]
    assert [q.id for q in cb.questions_of(type="multi", role="segment")] == ["Q4"]
    assert [q.id for q in cb.questions_of(role="ignore")] == ["ResponseId", "wt"]
    assert cb["Q5"].data_columns == ["Q5_1", "Q5_2"]
    with pytest.raises(KeyError, match="Did you mean 'age'"):
        cb["agee"]


def test_from_dict_defaults_role_and_missing_reason():
    cb = Codebook.from_dict({"schema_version": 1, "survey": "s", "questions": [
        {"id": 7, "type": "likert", "scale": [{"code": 1, "label": "No"}, {"code": 2, "label": "Yes"}],
         "missing": [{"code": 9, "label": "Prefer not to say"}]},
        {"id": "comments", "type": "text"}]})
    assert cb.ids == ["7", "comments"]
    assert cb["7"].role == "segment" and cb["comments"].role == "profile"
    assert cb["7"].missing[0].reason == "prefer_not_to_say"


# --------------------------------------------------------------------------- schema errors
def _q(**kw):
    q = {"id": "Q1", "type": "likert", "scale": [{"code": 1, "label": "Disagree"},
                                                 {"code": 2, "label": "Agree"}]}
    q.update(kw)
    return q


def _cb(*questions, **top):
    d = {"schema_version": 1, "survey": "s", "questions": list(questions)}
    d.update(top)
    return d


@pytest.mark.parametrize("doc, column, problem, fix", [
    (["a", "b"], None, "must be a YAML mapping", "schema_version: 1"),
    (None, None, "it is empty", "schema_version: 1"),
    (_cb(_q(), questons=[]), None, "unknown top-level key 'questons'", "rename 'questons' to 'questions'"),
    (_cb(_q(revers=True)), "Q1", "unknown key 'revers'", "rename 'revers' to 'reverse'"),
    (_cb(_q(type="likret")), "Q1", "unknown type 'likret'", "did you mean 'likert'"),
    (_cb(_q(role="segmnet")), "Q1", "unknown role 'segmnet'", "did you mean 'segment'"),
    (_cb(_q(scale=None)), "Q1", "has no scale", "scale:"),
    (_cb(_q(), _q()), "Q1", "appears twice", "unique id"),
    (_cb(_q(scale=[{"code": 1, "label": "No"}, {"code": 1, "label": "Yes"}])), "Q1",
     "duplicate scale code 1", "renumber"),
    (_cb(_q(scale=[{"code": 1, "label": "No"}, {"code": 2, "label": "no"}])), "Q1",
     "duplicate scale label", "renumber"),
    (_cb(_q(), schema_version=2), None, "schema_version is 2", "schema_version: 1"),
    ({"survey": "s", "questions": [_q()]}, None, "schema_version is None", "schema_version: 1"),
    (_cb(_q(missing=[{"code": 2, "label": "Don't know"}])), "Q1",
     "both a scale answer and a missing code", "remove it"),
    (_cb({"id": "Q9", "type": "multi"}), "Q9", "lists neither 'options'", "columns"),
    (_cb({"id": "age", "type": "numeric", "min": 99, "max": 18}), "age", "min 99 > max 18", "swap"),
    (_cb(_q(scale=[{"code": "a", "label": "No"}, {"code": "b", "label": "Yes"}])), "Q1",
     "non-numeric scale code", "type 'single'"),
    (_cb({"id": "Q1"}), "Q1", "unknown type None", "type must be one of"),
])
def test_every_schema_error_names_file_question_and_fix(tmp_path, doc, column, problem, fix):
    import yaml
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(CodebookError) as err:
        load_codebook(path)
    e = err.value
    assert e.file.endswith("bad.yaml")
    assert e.column == column
    assert problem in e.problem
    assert e.fix and fix in e.fix


def test_schema_error_points_at_the_question_line(tmp_path):
    path = tmp_path / "cb.yaml"
    path.write_text("schema_version: 1\nsurvey: s\nquestions:\n"
                    "  - id: Q1\n    type: text\n"
                    "  - id: Q2\n    type: likert\n")
    with pytest.raises(CodebookError) as err:
        load_codebook(path)
    assert err.value.column == "Q2" and err.value.row == 6
    assert "row 6" in str(err.value)


def test_python_object_tags_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text("schema_version: 1\nsurvey: !!python/object/apply:os.system "
                    f"['touch {marker}']\nquestions: []\n")
    with pytest.raises(CodebookError, match="tag") as err:
        load_codebook(path)
    assert not marker.exists()
    assert err.value.row == 2 and "remove" in err.value.fix


def test_invalid_yaml_and_missing_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("schema_version: 1\nquestions:\n  - id: Q1\n   type: x\n")
    with pytest.raises(CodebookError, match="not valid YAML"):
        load_codebook(path)
    with pytest.raises(CodebookError, match="not found"):
        load_codebook(tmp_path / "nope.yaml")


def test_alias_bomb_is_refused_before_it_expands(tmp_path):
    # "billion laughs": each level holds its anchor then 8 aliases of the level below, so
    # ~1 KB of YAML means 9**9 (387 million) options once expanded; the old loader built
    # str() of them while checking the options for duplicates.
    level = "&a0 lol"
    for k in range(1, 10):
        level = f"&a{k} [{level}, " + ", ".join([f"*a{k - 1}"] * 8) + "]"
    path = tmp_path / "bomb.yml"
    path.write_text("schema_version: 1\nquestions:\n  - id: Q1\n    type: multi\n"
                    f"    options: {level}\n")
    assert path.stat().st_size < 1500
    with pytest.raises(CodebookError, match="alias") as err:
        load_codebook(path)
    assert err.value.file.endswith("bomb.yml") and err.value.row is not None
    assert "alias" in err.value.fix


def test_modest_aliases_still_load(tmp_path):
    # a shared scale written once and reused is legitimate YAML and stays allowed
    path = tmp_path / "shared.yml"
    path.write_text(
        "schema_version: 1\nquestions:\n"
        "  - id: Q1\n    type: likert\n    scale: &agree\n"
        "      - {code: 1, label: Disagree}\n      - {code: 2, label: Agree}\n"
        "  - id: Q2\n    type: likert\n    scale: *agree\n")
    cb = load_codebook(path)
    assert cb["Q2"].scale_labels == ["Disagree", "Agree"]


def test_codebook_saved_as_cp1252_names_line_and_byte(tmp_path):
    path = tmp_path / "cb.yml"
    text = ("schema_version: 1\nquestions:\n  - id: Q1\n    type: single\n"
            "    scale:\n      - {code: 1, label: Caf\u00e9 au lait}\n")
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(CodebookError) as err:
        load_codebook(path)
    msg = str(err.value)
    assert err.value.row == 6 and "UTF-8" in msg and "cb.yml" in msg
    assert "byte offset" in msg and "'é'" in msg
    assert "iconv" in err.value.fix


# --------------------------------------------------------------------------- inference
def planted_wave(n=240, seed=3):
    """Every column kind the inference must recognise, with known answers."""
    rng = np.random.default_rng(seed)
    trait = rng.integers(0, 5, n)

    def likert(reverse=False):
        v = np.clip(trait + rng.integers(-1, 2, n), 0, 4)
        v = 4 - v if reverse else v
        out = np.array(AGREE, dtype=object)[v]
        out[rng.random(n) < 0.06] = "Don’t know"        # curly apostrophe, as exported
        out[rng.random(n) < 0.03] = ""
        return out

    q3_1 = likert()
    q3_1[q3_1 == "Strongly disagree"] = "Agree"           # nobody strongly disagrees here
    df = pd.DataFrame({
        "ResponseId": [f"R_{i:05x}z" for i in range(n)],
        "Status": "IP Address",
        "Q3_1": q3_1, "Q3_2": likert(), "Q3_3": likert(reverse=True), "Q3_4": likert(),
        "Q4": rng.choice(["Email;Phone", "Chat", "Email;Chat;Phone", "Phone", ""], n),
        "Q5_1": np.where(rng.random(n) < 0.5, "Laptop", ""),
        "Q5_2": np.where(rng.random(n) < 0.5, "Tablet", ""),
        "Q5_3": np.where(rng.random(n) < 0.5, "Desktop", ""),
        "gender": rng.choice(["Woman", "Man", "Non-binary", "Prefer not to say"], n),
        "region": rng.choice(["North", "South", "East", "West"], n),
        "plan": rng.choice(["Free", "Pro", "Team"], n),
        "age": rng.integers(18, 80, n).astype(str),
        "spend": (rng.random(n) * 300).round(2).astype(str),
        "sat": rng.choice(["Very satisfied", "Satisfied", "Dissatisfied", "Very dissatisfied",
                           "Neither satisfied nor dissatisfied", "N/A"], n),
        "often": rng.choice(["Never", "Always", "Rarely", "Often", "Sometimes"], n),
        "rate": rng.integers(1, 6, n).astype(str),
        "comments": [f"The app is {'great' if i % 3 else 'slow'} when I try feature {i}"
                     for i in range(n)],
        "serial": [f"SN-{100000 + i}" for i in range(n)],
        "email": [f"user{i}@example.com" for i in range(n)],
        "visited": pd.date_range("2024-03-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M"),
        "weight": (rng.random(n) + 0.5).round(4).astype(str),
    })
    return make_raw(df, header_rows=3, meta_columns=["ResponseId", "Status"])


@pytest.fixture(scope="module")
def inferred():
    raw = planted_wave()
    return raw, infer_codebook(raw)


def test_infer_id_weight_meta(inferred):
    raw, cb = inferred
    assert cb.survey == "wave1"
    assert cb.respondent_id == "ResponseId" and cb["ResponseId"].type == "id"
    assert cb.weight == "weight" and (cb["weight"].type, cb["weight"].role) == ("weight", "ignore")
    assert (cb["Status"].type, cb["Status"].role) == ("meta", "ignore")
    for col in ("serial", "email"):
        assert (cb[col].type, cb[col].role) == ("id", "ignore"), col
    assert (cb["visited"].type, cb["visited"].role) == ("date", "ignore")


def test_infer_likert_scale_order_missing_grid_and_reverse(inferred):
    raw, cb = inferred
    for qid in ("Q3_1", "Q3_2", "Q3_3", "Q3_4"):
        q = cb[qid]
        assert (q.type, q.role, q.grid) == ("likert", "segment", "Q3")
        # Q3_1 never shows "Strongly disagree"; the full 5-point scale is still drafted
        assert q.scale == agree_scale(), qid
        assert [(m.label, m.reason) for m in q.missing] == [("Don’t know", "dont_know")]
        assert q.missing[0].code not in q.scale_codes
    assert cb["Q3_3"].reverse and not any(cb[q].reverse for q in ("Q3_1", "Q3_2", "Q3_4"))
    assert "Q3_3" in " ".join(cb.notes)
    sat = cb["sat"]
    assert sat.type == "likert" and sat.scale_labels == [
        "Very dissatisfied", "Dissatisfied", "Neither satisfied nor dissatisfied", "Satisfied",
        "Very satisfied"]
    assert [(m.label, m.reason) for m in sat.missing] == [("N/A", "not_applicable")]
    assert cb["often"].scale_labels == ["Never", "Rarely", "Sometimes", "Often", "Always"]
    assert cb["rate"].type == "likert" and cb["rate"].scale_codes == [1, 2, 3, 4, 5]


def test_infer_multi_single_numeric_text(inferred):
    raw, cb = inferred
    q4 = cb["Q4"]
    assert (q4.type, q4.separator, set(q4.options)) == ("multi", ";", {"Email", "Phone", "Chat"})
    q5 = cb["Q5"]
    assert q5.type == "multi" and q5.columns == {"Q5_1": "Laptop", "Q5_2": "Tablet",
                                                 "Q5_3": "Desktop"}
    assert not any(q.id.startswith("Q5_") for q in cb)
    assert (cb["gender"].type, cb["gender"].role) == ("single", "profile")
    assert cb["gender"].scale_labels == ["Man", "Non-binary", "Woman"]
    assert cb["gender"].missing[0].reason == "prefer_not_to_say"
    assert (cb["region"].type, cb["region"].role) == ("single", "profile")
    assert (cb["plan"].type, cb["plan"].role) == ("single", "segment")
    assert (cb["age"].type, cb["age"].role) == ("numeric", "profile")
    assert cb["spend"].type == "numeric"
    assert (cb["comments"].type, cb["comments"].role) == ("text", "profile")


def test_inferred_codebook_fits_its_wave_and_round_trips(inferred, tmp_path):
    raw, cb = inferred
    report = validate_codebook(cb, raw)
    assert report.ok, str(report)
    assert report.warnings == []
    assert load_codebook(save_codebook(cb, tmp_path / "cb.yaml")) == cb


def test_infer_from_value_labels_orders_scale_by_meaning():
    # SPSS-style: codes in the data, 1 = Strongly agree (reversed coding), 9 = Don't know.
    vl = {1: "Strongly agree", 2: "Agree", 3: "Neither agree nor disagree", 4: "Disagree",
          5: "Strongly disagree", 9: "Don't know"}
    raw = make_raw({"q1": [1.0, 2.0, 9.0, 5.0, 4.0, 3.0], "q2": [1.0, 2.0, 2.0, 1.0, 7.0, 2.0]},
                   value_labels={"q1": vl, "q2": {1: "Yes", 2: "No"}},
                   missing_codes={"q2": {7: "Refused"}})
    cb = infer_codebook(raw, survey_name="spss")
    q1 = cb["q1"]
    assert q1.type == "likert"
    assert q1.scale_labels == AGREE and q1.scale_codes == [5, 4, 3, 2, 1]
    assert [(m.code, m.reason) for m in q1.missing] == [(9, "dont_know")]
    q2 = cb["q2"]
    assert q2.type == "single" and q2.scale_labels == ["Yes", "No"]
    assert [(m.code, m.reason) for m in q2.missing] == [(7, "refused")]
    assert validate_codebook(cb, raw).ok


def test_infer_is_sample_based_but_reads_every_answer():
    # 60k rows: types come from a sample, but the rare label in the last row is on the scale.
    n = 60_000
    vals = np.array(["Never", "Sometimes", "Often"], dtype=object)[np.arange(n) % 3]
    vals[-1] = "Rarely"
    raw = make_raw({"id": np.arange(n).astype(str), "f": vals})
    cb = infer_codebook(raw)
    assert cb.respondent_id == "id"
    assert "Rarely" in cb["f"].scale_labels
    assert validate_codebook(cb, raw).ok


# --------------------------------------------------------------------------- validation
@pytest.fixture()
def broken():
    """A wave with one planted problem per check; header_rows=3 (Qualtrics-like)."""
    cb = Codebook(survey="s", respondent_id="rid", weight="w", questions=[
        Question("rid", type="id"),
        Question("Q1", type="likert", scale=agree_scale(),
                 missing=[MissingCode(99, "Don't know", "dont_know")]),
        Question("Q2", type="likert", scale=agree_scale()),
        Question("age", type="numeric", min=18, max=99),
        Question("empty", type="text", role="profile"),
        Question("Q7_typo", type="single"),
        Question("w", type="weight"),
    ])
    raw = make_raw({
        "rid": ["a", "b", "c", "b", "e"],
        "Q1": ["Agree", "Agree strongly", "99", "Don't know", "5"],
        "Q2": ["1", "2", "7", "", "Strongly agree"],
        "age": ["30", "17", "45", "abc", "150"],
        "empty": ["", " ", "", "", ""],
        "Q7": ["x", "y", "x", "y", "x"],
        "w": ["1.0", "-0.5", "1.2", "heavy", "0.8"],
        "extra": ["", "", "", "", ""],
    }, header_rows=3)
    return cb, raw


def _one(report, kind, column=None):
    found = [i for i in report.issues if i.kind == kind and (column is None or i.column == column)]
    assert len(found) == 1, (kind, column, str(report))
    return found[0]


def test_validation_finds_each_planted_problem_with_file_rows(broken):
    cb, raw = broken
    report = validate_codebook(cb, raw)
    assert report.file == "wave1.csv"
    # data row i is on file line header_rows + i + 1 = i + 4
    lab = _one(report, "label_not_in_scale", "Q1")
    assert lab.rows == [5] and "'Agree strongly'" in lab.problem
    assert "Strongly disagree" in lab.problem and "Strongly agree" in lab.problem
    code = _one(report, "code_out_of_range", "Q2")
    assert code.rows == [6] and "'7'" in code.problem
    dup = _one(report, "duplicate_id", "rid")
    assert dup.rows == [5, 7] and "'b'" in dup.problem and "duplicate_ids='suffix'" in dup.fix
    low = [i for i in report.of_kind("out_of_range") if "17" in i.problem]
    high = [i for i in report.of_kind("out_of_range") if "150" in i.problem]
    assert [i.rows for i in low] == [[5]] and [i.rows for i in high] == [[8]]
    assert low[0].column == high[0].column == "age"
    assert _one(report, "not_numeric", "age").rows == [7]
    weights = [i for i in report.issues if i.kind == "bad_weight"]
    assert sorted(r for i in weights for r in i.rows) == [5, 7]
    assert any("'heavy'" in i.problem for i in weights) and any("negative" in i.problem for i in weights)
    assert _one(report, "all_missing", "empty").level == "error"
    miss = _one(report, "missing_column", "Q7_typo")
    assert "'Q7'" in miss.fix
    unmentioned = report.of_kind("unmentioned_column")
    assert [(i.level, i.column) for i in unmentioned] == [("warning", "Q7"), ("warning", "extra")]
    assert {i.column for i in report.errors} == {"Q1", "Q2", "rid", "age", "w", "empty", "Q7_typo"}
    assert set(report.to_frame().columns) >= {"level", "kind", "column", "rows", "problem", "fix"}


def test_a_matching_codebook_has_no_issues(broken):
    cb, raw = broken
    good = make_raw({"rid": ["a", "b"], "Q1": ["Agree", "99"], "Q2": ["1", "Strongly agree"],
                     "age": ["30", "99"], "empty": ["hi", ""], "Q7_typo": ["x", "y"],
                     "w": ["1", "0"]})
    report = validate_codebook(cb, good)
    assert report.ok and report.issues == []


def test_all_missing_ignored_column_is_only_a_warning(broken):
    cb, raw = broken
    cb["empty"].role = "ignore"
    assert _one(validate_codebook(cb, raw), "all_missing", "empty").level == "warning"


def test_raising_mode_raises_first_error_with_column_and_row(broken):
    cb, raw = broken
    with pytest.raises(CodebookError) as err:
        validate_codebook(cb, raw, raise_errors=True)
    e = err.value
    assert (e.column, e.row, e.file) == ("Q7_typo", None, "wave1.csv")
    assert "more problem(s)" in e.problem
    cb.questions = [q for q in cb.questions if q.id != "Q7_typo"]
    with pytest.raises(CodebookError) as err:
        validate_codebook(cb, raw, raise_errors=True)
    assert (err.value.column, err.value.row) == ("Q1", 5)
    assert isinstance(err.value, InputError)


def test_infer_meta_by_name_demographic_labels_and_band_order():
    raw = make_raw({
        "StartDate": ["2024-01-01 10:00:00", "2024-01-02 11:00:00", "2024-01-03 12:00:00"],
        "Duration (in seconds)": ["100", "250", "75"],
        "Q14": ["25k to 49k", "Under 25k", "100k or more"],
        "Q13": ["North", "South", "North"],
    })
    raw.labels.update({"Q14": "What is your household's yearly income?",
                       "Q13": "Where do you live?"})
    cb = infer_codebook(raw)
    assert [(cb[c].type, cb[c].role) for c in ("StartDate", "Duration (in seconds)")] == \
        [("meta", "ignore")] * 2
    assert (cb["Q14"].type, cb["Q14"].role) == ("single", "profile")
    assert cb["Q14"].scale_labels == ["Under 25k", "25k to 49k", "100k or more"]
    assert cb["Q13"].role == "profile"


def test_persona_facet_and_descriptor_round_trip_and_are_checked(tmp_path):
    doc = {"schema_version": 1, "survey": "s", "questions": [
        {"id": "Q1", "text": "I track every purchase", "type": "likert", "role": "segment",
         "scale": [{"code": 1, "label": "No"}, {"code": 2, "label": "Yes"}],
         "facet": "behaviour", "descriptor": {"high": "Meticulous", "low": "Laid-back"}}]}
    cb = Codebook.from_dict(doc)
    assert cb["Q1"].facet == "behaviour"
    assert cb["Q1"].descriptor == {"high": "Meticulous", "low": "Laid-back"}
    path = save_codebook(cb, tmp_path / "cb.yml")
    assert load_codebook(path)["Q1"].descriptor == {"high": "Meticulous", "low": "Laid-back"}
    doc["questions"][0]["facet"] = "goals-ish"
    with pytest.raises(CodebookError, match="facet of 'Q1'"):
        Codebook.from_dict(doc)


def test_dates_in_mixed_formats_and_offsets_are_read_and_a_bad_one_is_named_with_its_row():
    from personalab.codebook import _parse_wave

    raw = make_raw({"rid": ["a", "b", "c", "d", "e", "f"],
                    "visited": ["2024-03-01 11:48:47", " 2024-03-02 08:00:00 ", "2024-03-04",
                                "2024-03-05T10:00:00+01:00", "not yet", ""]})
    cb = Codebook.from_dict(_cb({"id": "rid", "type": "id"},
                                {"id": "visited", "type": "date", "role": "ignore"},
                                respondent_id="rid"))
    parsed, _, _, report = _parse_wave(cb, raw)
    got = parsed["visited"].values["visited"]
    assert got.dtype == "datetime64[ns]"
    assert got.tolist()[:4] == [pd.Timestamp("2024-03-01 11:48:47"),
                                pd.Timestamp("2024-03-02 08:00:00"), pd.Timestamp("2024-03-04"),
                                pd.Timestamp("2024-03-05 09:00:00")]  # +01:00 read as UTC
    assert got.isna().tolist()[4:] == [True, True]
    (issue,) = [i for i in report.issues if i.kind == "bad_date"]
    assert issue.column == "visited" and "'not yet'" in issue.problem and issue.n_rows == 1
    assert issue.rows == [6]  # spreadsheet row of respondent "e" under one header row


# --------------------------------------------------------------------------- short labels
def test_short_label_round_trips_and_is_the_display_label(tmp_path):
    cb = full_codebook()
    cb["Q3_1"].short = "Saves time"
    p = save_codebook(cb, tmp_path / "cb.yml")
    assert "  short: Saves time\n" in p.read_text()
    back = load_codebook(p)
    assert back == cb and back["Q3_1"].short == "Saves time"
    assert back["Q3_1"].display_label == "Saves time"
    assert back["Q4"].display_label == "Channels"          # no short: the text
    assert Question("Q9").display_label == "Q9"             # no text: the id


@pytest.mark.parametrize("value, match", [("", "short text label"), ([1, 2], "short text label"),
                                          ("x" * 61, "at most 60")])
def test_bad_short_label_is_a_codebook_error(tmp_path, value, match):
    d = full_codebook().to_dict()
    d["questions"][1]["short"] = value
    with pytest.raises(CodebookError, match=match) as err:
        Codebook.from_dict(d)
    assert err.value.column == "Q3_1"


def test_infer_drafts_short_labels_for_long_question_texts():
    n = 40
    rng = np.random.default_rng(0)
    stem = "How often do you purchase these products online? (Tick the box)"
    df = {f"q6_{i}": rng.choice(["Never", "Sometimes", "Often"], n) for i in (1, 2)}
    df["q7"] = rng.choice(["Yes", "No"], n)
    df["q8"] = rng.choice(["Yes", "No"], n)
    df["q9"] = rng.choice(["Yes", "No"], n)
    df["age"] = rng.integers(18, 70, n)
    labels = {"q6_1": f"{stem} [Electronics]", "q6_2": f"{stem} [Groceries and household items]",
              "q7": "Is your employer primarily a tech company/organization?",
              "q8": "Do you feel that your employer takes mental health as seriously as "
                    "physical health?",
              "q9": "Do you feel that your employer takes mental health as seriously as "
                    "physical health, now?",
              "age": "Age"}
    raw = RawWave(data=pd.DataFrame(df), path=Path("w.csv"), format="csv", sha256="0" * 64,
                  labels=labels, header_rows=1)
    cb = infer_codebook(raw)
    assert cb["q6_1"].short == "Electronics"
    assert cb["q6_2"].short == "Groceries and household items"
    assert cb["q7"].short == "Is your employer primarily a tech…"
    assert cb["age"].short is None and cb["age"].display_label == "Age"
    # two long texts that draft the same short label keep the words that tell them apart
    # (q8 ends where q9 goes on: its label ends with the text, no ellipsis)
    assert cb["q8"].short == "Do you feel that your employer takes… as physical health"
    assert cb["q9"].short == "Do you feel that your employer takes… physical health, now"
    assert all(len(q.short) <= 60 for q in cb if q.short)
    long_ids = infer_codebook(RawWave(
        data=pd.DataFrame({"Would you feel comfortable discussing it with your supervisor?":
                           df["q8"],
                           "Would you feel comfortable discussing it with your supervisor(s)?":
                           df["q9"]}), path=Path("w.csv"), format="csv", sha256="0" * 64,
        header_rows=1))
    assert [q.short for q in long_ids] == ["Would you feel comfortable discussing… with your supervisor",
                                           "Would you feel comfortable discussing… your supervisor(s)"]


# --------------------------------------------------------------------------- real-survey shapes
# Each test is the shape of a real public export that the draft got wrong (DETE/TAFE exit
# surveys, OSMI 2016, Young People Survey, Google Forms, Typeform, ANES 1996), made small.
def _drafted(columns: dict, labels: dict | None = None, **kw):
    df = pd.DataFrame(columns)
    raw = RawWave(data=df, path=Path("w.csv"), format="csv", sha256="0" * 64,
                  labels={c: (labels or {}).get(c, c) for c in df.columns}, header_rows=1, **kw)
    cb = infer_codebook(raw)
    report = validate_codebook(cb, raw)
    assert report.ok, str(report)                 # every draft validates against its file
    return raw, cb


def _answers(rng, values, p, n):
    return rng.choice(np.array(values, dtype=object), n, p=p)


def test_abbreviated_agree_scale_is_likert_and_a_stray_code_is_missing():
    rng = np.random.default_rng(0)
    n = 300
    cols = {f"Item {k}": _answers(rng, ["SA", "A", "N", "D", "SD", "M", "N/A", None],
                                  [.2, .4, .12, .1, .08, .02, .04, .04], n) for k in range(3)}
    raw, cb = _drafted(cols)
    q = cb["Item 0"]
    assert q.type == "likert" and q.role == "segment"
    assert q.scale_labels == ["Strongly disagree (SD)", "Disagree (D)", "Neutral (N)",
                              "Agree (A)", "Strongly agree (SA)"]
    assert {m.label: m.reason for m in q.missing} == {"N/A": "not_applicable",
                                                      "M": "unlabelled"}
    stray = [note for note in cb.notes if "'M'" in note]     # one note for the three items
    assert len(stray) == 1 and stray[0].startswith("Item 0, Item 1, Item 2: code 'M'")
    s = Survey.from_raw(raw, cb)
    codes = s.likert()["Item 0"]
    assert (codes[cols["Item 0"] == "SA"] == 5).all() and (codes[cols["Item 0"] == "SD"] == 1).all()
    assert codes[np.isin(cols["Item 0"], ["M", "N/A"])].isna().all()


def test_abbreviated_frequency_grid_is_ordered_never_to_always():
    rng = np.random.default_rng(1)
    stem = "How often do you purchase these products online?"
    cols = {f"q6_{k}": _answers(rng, ["A", "N", "S"], [.2, .3, .5], 120) for k in (1, 2)}
    _, cb = _drafted(cols, {c: f"{stem} [{c}]" for c in cols})
    assert cb["q6_1"].type == "likert"
    assert cb["q6_1"].scale_labels == ["Never (N)", "Sometimes (S)", "Always (A)"]


def test_binary_and_minus_one_zero_one_items_are_segmentation_inputs():
    rng = np.random.default_rng(2)
    n = 200
    cols = {"sought_help": rng.integers(0, 2, n), "stance": rng.integers(-1, 2, n),
            "vote": rng.integers(0, 2, n), "self_employed": rng.integers(0, 2, n)}
    _, cb = _drafted(cols, {"sought_help": "Have you ever sought help for stress at work?",
                            "stance": "Support for the policy",
                            "self_employed": "Are you self-employed?"})
    q = cb["sought_help"]
    assert (q.type, q.role, q.scale_codes, q.scale_labels) == ("single", "segment", [0, 1],
                                                              ["No", "Yes"])
    assert cb["vote"].scale_labels == ["0", "1"]            # not a question: no Yes/No guess
    s = cb["stance"]
    assert (s.type, s.role, s.scale_codes) == ("likert", "segment", [-1, 0, 1])
    # who someone is (OSMI's "Are you self-employed?") describes personas: a yes/no profile
    e = cb["self_employed"]
    assert (e.type, e.role, e.scale_labels) == ("single", "profile", ["No", "Yes"])
    assert len(cb.questions_of(role="segment")) == 3


def test_zero_to_five_rating_with_zero_for_not_applicable():
    rng = np.random.default_rng(3)
    n = 400
    rating = _answers(rng, [0, 1, 2, 3, 4, 5], [.25, .02, .08, .2, .25, .2], n)
    seven = rng.integers(0, 7, n)                           # a 0..6 party-id scale
    _, cb = _drafted({"rating": rating.astype(int), "PID": seven})
    q = cb["rating"]
    assert q.type == "likert" and q.scale_codes == [1, 2, 3, 4, 5]
    assert [(m.code, m.reason) for m in q.missing] == [(0, "not_applicable")]
    assert cb["PID"].scale_codes == list(range(7))          # not stretched to 0..10


def test_sentinel_and_unlabelled_codes_are_declared_so_the_draft_validates():
    rng = np.random.default_rng(4)
    n = 300
    item = rng.integers(1, 6, n).astype(float)
    item[:12] = 88
    edu = rng.integers(1, 9, n)
    edu[:3] = -3105
    labelled = rng.integers(1, 6, n)
    labelled[:5] = 88                                       # in the data, not labelled
    vl = {"labelled": {1: "Strongly disagree", 2: "Disagree", 3: "Neither agree nor disagree",
                       4: "Agree", 5: "Strongly agree"}}
    _, cb = _drafted({"item": item, "education": edu, "labelled": labelled}, value_labels=vl)
    assert cb["item"].scale_codes == [1, 2, 3, 4, 5]
    assert [m.code for m in cb["item"].missing] == [88]
    assert cb["education"].type == "single" and cb["education"].ordered is True
    assert [m.code for m in cb["education"].missing] == [-3105]
    assert [(m.code, m.reason) for m in cb["labelled"].missing] == [(88, "undeclared")]


def test_ordinal_answers_are_ordered_by_meaning_not_alphabet():
    rng = np.random.default_rng(5)
    n = 300
    edu = ["primary school", "secondary school", "college/bachelor degree", "masters degree",
           "doctorate degree", "currently a primary school pupil"]
    cols = {
        "Education": _answers(rng, edu, [.1, .4, .3, .15, .03, .02], n),
        "q7": _answers(rng, ["Daily", "Monthly", "Rarely", "Weekly"], [.1, .3, .2, .4], n),
        "prev": _answers(rng, ["None did", "Some did", "Yes, they all did", "I don't know"],
                         [.3, .3, .2, .2], n),
        "share": _answers(rng, ["Neutral", "Not applicable to me (I do not have a mental illness)",
                                "Not open at all", "Somewhat not open", "Somewhat open",
                                "Very open"], [.2, .1, .1, .2, .2, .2], n),
        "concern": _answers(rng, ["Concerned", "Neutral", "Not concerned at all",
                                  "Not very concerned", "Very concerned"], [.2] * 5, n),
        "ideology": _answers(rng, ["Conservative", "Extremely conservative", "Extremely liberal",
                                   "Liberal", "Moderate; middle of the road",
                                   "Slightly conservative", "Slightly liberal"], [1 / 7] * 7, n),
        "attention": _answers(rng, ["Always", "Most of the time", "Never", "Rarely",
                                    "Some of the time"], [.2] * 5, n),
        "Internet usage": _answers(rng, ["less than an hour a day", "few hours a day",
                                         "most of the day", "no time at all"], [.25] * 4, n),
    }
    _, cb = _drafted(cols, {"q7": "How often do you shop online?"})
    e = cb["Education"]
    assert e.scale_labels == ["currently a primary school pupil", "primary school",
                              "secondary school", "college/bachelor degree", "masters degree",
                              "doctorate degree"]
    assert e.type == "single" and e.ordered is True and e.role == "profile"
    us = ["High school graduate", "Bachelor's degree", "Some college, no degree",
          "Less than high school", "Master's degree", "Doctorate", "Associate degree",
          "Professional degree (JD, MD)"]
    _, us_cb = _drafted({"educ": _answers(rng, us, [1 / 8] * 8, n)},
                        {"educ": "What is the highest level of education you have completed?"})
    assert us_cb["educ"].scale_labels == [
        "Less than high school", "High school graduate", "Some college, no degree",
        "Associate degree", "Bachelor's degree", "Master's degree",
        "Professional degree (JD, MD)", "Doctorate"]
    assert cb["q7"].type == "likert"
    assert cb["q7"].scale_labels == ["Rarely", "Monthly", "Weekly", "Daily"]
    assert cb["prev"].scale_labels == ["None did", "Some did", "Yes, they all did"]
    assert [m.reason for m in cb["prev"].missing] == ["dont_know"]
    assert cb["share"].scale_labels == ["Not open at all", "Somewhat not open", "Neutral",
                                        "Somewhat open", "Very open"]
    assert [m.reason for m in cb["share"].missing] == ["not_applicable"]
    assert cb["concern"].scale_labels == ["Not concerned at all", "Not very concerned",
                                          "Neutral", "Concerned", "Very concerned"]
    assert cb["ideology"].scale_labels == ["Extremely liberal", "Liberal", "Slightly liberal",
                                           "Moderate; middle of the road",
                                           "Slightly conservative", "Conservative",
                                           "Extremely conservative"]
    assert cb["attention"].scale_labels == ["Never", "Rarely", "Some of the time",
                                            "Most of the time", "Always"]
    assert cb["Internet usage"].scale_labels == ["no time at all", "less than an hour a day",
                                                 "few hours a day", "most of the day"]


def test_commas_inside_answers_are_not_a_multi_select_but_pipes_are():
    rng = np.random.default_rng(6)
    n = 300
    roles = ["Back-end Developer", "Front-end Developer", "DevOps/SysAdmin", "Designer",
             "Supervisor/Team Lead", "Support", "Other"]
    piped = ["|".join(rng.choice(roles, rng.integers(1, 4), replace=False)) for _ in range(n)]
    cols = {
        "prev": _answers(rng, ["No, none did", "Some did", "Yes, they all did"], [.4, .4, .2], n),
        "heard": _answers(rng, ["I have heard of this, but I don't really use it",
                                "I use this often", "I have not heard of this"], [.3, .4, .3], n),
        "position": piped,
    }
    _, cb = _drafted(cols)
    assert cb["prev"].type == "likert"
    assert cb["prev"].scale_labels == ["No, none did", "Some did", "Yes, they all did"]
    # one answer with a comma, not a multi-select; a usage scale, ordered (not heard of it <
    # heard of it but don't use it < use it often)
    assert cb["heard"].type == "likert"
    assert cb["heard"].scale_labels == ["I have not heard of this",
                                        "I have heard of this, but I don't really use it",
                                        "I use this often"]
    p = cb["position"]
    assert (p.type, p.separator) == ("multi", "|") and set(roles) <= set(p.options)


def test_closed_question_with_long_options_is_a_choice_not_open_text():
    rng = np.random.default_rng(7)
    options = ["Full-time or part-time employed by a company in the private sector, "
               "including start-ups", "Full-time or part-time employed by a university, "
               "a research institute or a national laboratory", "Self-employed, freelancer or "
               "consultant working for several clients at a time", "Student at a university "
               "or college, including doctoral students and postdocs"]
    _, cb = _drafted({"q29": _answers(rng, options, [.4, .3, .2, .1], 80)})
    q = cb["q29"]
    assert q.type == "single" and sorted(q.scale_labels) == sorted(options)


def test_free_text_naming_people_or_organisations_is_not_quote_eligible():
    rng = np.random.default_rng(8)
    n = 60
    companies = [f"Company number {i} of the survey" for i in range(n)]
    why = [f"I use it because of reason {i} which is a long answer" for i in range(n)]
    _, cb = _drafted({"q30": companies, "q31": why},
                     {"q30": "Company/organization name (optional)",
                      "q31": "Why do you use Cantera in your job or school?"})
    assert (cb["q30"].type, cb["q30"].role) == ("text", "ignore")
    assert (cb["q31"].type, cb["q31"].role) == ("text", "profile")
    assert any(n.startswith("q30:") and "quotes" in n for n in cb.notes)


def test_demographic_names_inside_a_rating_battery_and_coded_demographics():
    rng = np.random.default_rng(9)
    n = 200
    cols = {name: rng.integers(1, 6, n) for name in
            ["Pop", "Rock", "Metal", "Folk", "Jazz", "Opera", "Dance", "Swing", "Punk", "Latino",
             "Country", "Religion"]}
    cols["gender"] = rng.integers(1, 3, n)
    _, cb = _drafted(cols)
    for c in ("Country", "Religion"):                      # music and hobby preferences
        assert (cb[c].type, cb[c].role, cb[c].scale_codes) == ("likert", "segment",
                                                               [1, 2, 3, 4, 5])
    g = cb["gender"]
    assert (g.type, g.role, g.scale_codes) == ("single", "profile", [1, 2])


def test_who_someone_is_and_where_they_live_describe_but_do_not_segment():
    """Young People Survey: handedness, being an only child, village or town and house or
    flat were drafted as segmentation inputs, so a persona could be defined by them; they
    are demographics (profile). The behaviours beside them still segment."""
    rng = np.random.default_rng(19)
    n = 200
    cols = {"Left - right handed": _answers(rng, ["right handed", "left handed"], [.9, .1], n),
            "Only child": _answers(rng, ["no", "yes"], [.75, .25], n),
            "Village - town": _answers(rng, ["city", "village"], [.7, .3], n),
            "House - block of flats": _answers(rng, ["block of flats", "house/bungalow"],
                                               [.6, .4], n),
            "Smoking": _answers(rng, ["never smoked", "tried smoking", "former smoker",
                                      "current smoker"], [.4, .3, .1, .2], n),
            "Punctuality": _answers(rng, ["i am always on time", "i am often early",
                                          "i am often running late"], [.4, .3, .3], n)}
    _, cb = _drafted(cols)
    for c in ("Left - right handed", "Only child", "Village - town", "House - block of flats"):
        assert (cb[c].type, cb[c].role) == ("single", "profile"), c
    for c in ("Smoking", "Punctuality"):
        assert (cb[c].type, cb[c].role) == ("single", "segment"), c


def test_number_column_with_a_few_stray_words_and_month_year_dates():
    rng = np.random.default_rng(10)
    n = 140
    age = rng.integers(17, 24, n).astype(str).astype(object)
    age[[3, 50, 99]] = ["Rahul Rai", "Satyam", "Sejal"]      # names typed into "Enter your age"
    cease = _answers(rng, ["01/2014", "12/2013", "2012", "07/2006", "Not Stated"],
                     [.3, .3, .2, .1, .1], n)
    raw, cb = _drafted({"q1": age, "Cease Date": cease}, {"q1": "Enter your age"})
    assert not validate_codebook(cb, raw).warnings           # "Not Stated" is not a bad date
    q = cb["q1"]
    assert q.type == "numeric"
    assert sorted(m.label for m in q.missing) == ["Rahul Rai", "Satyam", "Sejal"]
    assert {m.reason for m in q.missing} == {"not_a_number"}
    assert (cb["Cease Date"].type, cb["Cease Date"].role) == ("date", "ignore")
    assert [(m.label, m.reason) for m in cb["Cease Date"].missing] == [("Not Stated", "not_stated")]


def test_block_prefixed_columns_become_a_wide_multi_select_and_a_grid():
    # TAFE exit survey: "Contributing Factors. <option>" holds the option or '-', and
    # "InstituteViews. Topic:N. <statement>" is one agree battery
    rng = np.random.default_rng(11)
    n = 150
    cols = {}
    for opt in ("Career Move - Public Sector", "Ill Health", "Study", "NONE"):
        cols[f"Contributing Factors. {opt}"] = np.where(rng.random(n) < .3, opt, "-")
    for k in range(1, 6):
        cols[f"InstituteViews. Topic:{k}. Statement number {k} about the institute"] = \
            _answers(rng, AGREE, [.2] * 5, n)
    raw, cb = _drafted(cols)
    q = cb["Contributing Factors"]
    assert q.type == "multi" and q.text == "Contributing Factors"
    assert q.multi_options == ["Career Move - Public Sector", "Ill Health", "Study", "NONE"]
    chosen = Survey.from_raw(raw, cb).multi()["Contributing Factors:Ill Health"]
    assert (chosen == (cols["Contributing Factors. Ill Health"] == "Ill Health")).all()
    items = cb.questions_of(type="likert")
    assert len(items) == 5 and {i.grid for i in items} == {"InstituteViews"}
    # the wording is the statement without the export's block prefix (the block is the grid)
    assert items[0].text == items[0].display_label == "Statement number 1 about the institute"


def test_short_label_helper_takes_questions_and_plain_mappings():
    from personalab.codebook import short_label
    q = Question("Q1", "How satisfied are you with the speed of the checkout process?",
                 short="Checkout speed")
    assert short_label(q) == "Checkout speed"
    assert short_label({"id": "Q2", "text": "Price"}) == "Price"
    assert short_label({"id": "Q3"}) == "Q3"


def test_every_view_names_a_long_unlabelled_question_by_one_rule():
    """A hand-written codebook without ``short``: the explorer, the charts' label map and the
    persona cards all show the same cut label (the explorer showed the whole wording)."""
    from personalab.codebook import short_label
    from personalab.personas import question_label
    from personalab.plotting._common import question_labels

    text = ("If you have a mental health issue, do you feel that it interferes with your work "
            "when being treated effectively?")
    q = Question("Q9", text)
    label = short_label(q)
    assert label.endswith("\u2026") and len(label) <= 60 and text.startswith(label[:-1])
    assert q.display_label == question_label(q) == label
    assert question_labels([q]) == {"Q9": label}
    assert short_label(None, text) == question_label(None, text) == label


def test_conjoint_design_columns_are_meta_not_segmentation_inputs():
    rng = np.random.default_rng(12)
    n = 100
    cols = {f"K-1-{k}": _answers(rng, ["Housing Cost", "School Quality", "Crime"], [1 / 3] * 3, n)
            for k in (1, 2, 3)}
    cols["Q4.2"] = _answers(rng, ["Community A", "Community B"], [.5, .5], n)
    cols["Q1.2"] = _answers(rng, ["Yes", "No"], [.97, .03], n)
    _, cb = _drafted(cols, {"Q1.2": "Do you consent to participate in the survey?"})
    assert [q.type for q in cb] == ["meta", "meta", "meta", "single", "single"]
    # the choice task (Community A / B) compares profiles drawn at random: no input either
    assert cb["Q4.2"].role == "ignore" and not cb.questions_of(role="segment")
    assert cb["Q1.2"].role == "ignore"                     # consent tells nobody apart
    assert any("conjoint" in note for note in cb.notes)


def test_999_in_an_amount_column_is_a_missing_code_not_an_age():
    rng = np.random.default_rng(13)
    age = rng.integers(18, 80, 300)
    age[:6] = 999
    age[6:9] = -99
    _, cb = _drafted({"age": age}, {"age": "What is your age?"})
    q = cb["age"]
    assert q.type == "numeric" and sorted(m.code for m in q.missing) == [-99, 999]


FIXTURES = Path(__file__).parent / "fixtures" / "exports"


def test_cli_draft_of_a_real_shaped_export_validates_and_reads_right(tmp_path, capsys):
    # exit_survey_shapes.csv: 60 synthetic rows with the shapes real exports had (DETE/TAFE
    # abbreviations and 'Not Stated', OSMI 0/1 and '|' multi-selects, 0-5 with 0 = n/a, 88)
    from personalab.cli import main
    export = FIXTURES / "exit_survey_shapes.csv"
    out = tmp_path / "codebook.yml"
    assert main(["codebook", str(export), "-o", str(out)]) == 0
    assert main(["validate", str(export), "--codebook", str(out)]) == 0
    assert "no problems found" in capsys.readouterr().out
    cb = load_codebook(out)
    rate = "Rate the onboarding you received (0 = not applicable)"
    assert cb.respondent_id == "ID" and cb["Cease Date"].type == "date"
    assert {q.id for q in cb.questions_of(role="segment")} == {
        "Policy stance", rate,
        "Staff morale", "Peer support", "Feedback", "Previous employers", "Work position",
        "Satisfaction 1-5"}
    assert cb["Are you self-employed?"].role == "profile"     # who someone is: describes
    assert cb["Staff morale"].grid is None and cb["Staff morale"].type == "likert"
    assert cb[rate].scale_codes == [1, 2, 3, 4, 5]
    assert [m.code for m in cb["Satisfaction 1-5"].missing] == [88]
    assert cb["Education"].scale_labels[0] == "primary school" and cb["Education"].ordered
    assert cb["Work position"].separator == "|"
    assert cb["Company/organization name (optional)"].role == "ignore"
    assert cb["Why do you use it?"].role == "profile"
    assert cb[rate].short == "Rate the onboarding you received"
    survey = Survey.from_raw(load_export(export), cb)
    assert survey.likert()["Staff morale"].max() == 5


def test_yaml_helpers_for_other_hand_edited_files(tmp_path):
    # themes.py and others can read YAML the same safe way (text first, then parse)
    from personalab.codebook import load_yaml_text, read_yaml_text
    path = tmp_path / "themes.yml"
    path.write_bytes("themes:\n  - id: price\n    label: Caf\u00e9\n".encode("cp1252"))
    with pytest.raises(CodebookError, match="theme codebook is not UTF-8") as err:
        read_yaml_text(path, what="theme codebook")
    assert err.value.row == 3
    level = "&a0 x"
    for k in range(1, 10):
        level = f"&a{k} [{level}, " + ", ".join([f"*a{k - 1}"] * 8) + "]"
    with pytest.raises(CodebookError, match="alias"):
        load_yaml_text(f"themes: {level}\n", file="themes.yml", what="theme codebook")
    assert load_yaml_text("themes: [{id: a}]\n") == {"themes": [{"id": "a"}]}


def test_draft_short_keeps_brand_casing_and_capitalises_plain_words():
    from personalab.codebook import draft_short
    assert draft_short("What operating system(s) do you use? - macOS") == "macOS"
    assert draft_short("How often do you purchase these products online? [groceries]") == \
        "Groceries"
    assert draft_short("Short text") is None
