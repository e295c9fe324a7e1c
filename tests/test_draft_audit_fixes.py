"""Drafting fixes from the audit of reports on real exports (report_audit items 8 and 9):
loader notes out of wordings, piping placeholders in answer labels, sentinel codes in
number columns, ZIP codes, and ordinal answer bands. Small synthetic fixtures shaped like
the exports that showed each problem (OSMI 2016, TAFE exit survey, projoint, Young People
Survey, Google Forms e-commerce survey)."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from personalab.codebook import infer_codebook, readable_piping, validate_codebook
from personalab.loaders import RawWave, load_export
from personalab.survey import Survey


def _raw(cols: dict, name="w.csv") -> RawWave:
    df = pd.DataFrame(cols).astype(object)
    df = df.where(df.notna(), None)
    return RawWave(data=df, path=Path(name), format="csv", sha256="0" * 64,
                   labels={c: c for c in cols}, header_rows=1)


def _note(cb, qid: str, words: str) -> str:
    found = [n for n in cb.notes if qid in n.split(": ", 1)[0] and words in n]
    assert found, (qid, words, cb.notes)
    return found[0]


# --------------------------------------------------------------------------- item 8
def test_a_repeated_header_keeps_its_wording_and_the_loader_note_becomes_a_drafting_note(
        tmp_path):
    # OSMI 2016 asks "Why or why not?" after two questions; the loader reads the second as
    # "Why or why not?__2" and its label used to carry "(duplicate column name ...)"
    header = ["Would you discuss a physical health issue with your employer?",
              "Why or why not?",
              "Would you discuss a mental health issue with your employer?",
              "Why or why not?", ""]
    rng = np.random.default_rng(8)
    why = ["It depends", "Stigma", "Not their business", "Only if relevant", "Fear"]
    rows = [[rng.choice(["Yes", "No", "Maybe"]), f"{rng.choice(why)} {k}",
             rng.choice(["Yes", "No", "Maybe"]), f"{rng.choice(why)} again {k}",
             f"note {k % 7}"] for k in range(60)]
    path = tmp_path / "osmi_shape.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header] + rows)
    raw = load_export(path)
    assert "duplicate column name" in raw.labels["Why or why not?__2"]   # the loader's note
    cb = infer_codebook(raw)
    first, second = cb["Why or why not?"], cb["Why or why not?__2"]
    assert first.text == second.text == "Why or why not?"
    assert "(no header" not in cb["column_5"].text
    # told apart by their short labels: the question each follows up
    assert first.display_label != second.display_label
    assert "physical" in first.display_label and "mental" in second.display_label
    note = _note(cb, "Why or why not?__2", "duplicate column name 'Why or why not?'")
    assert "file column 4" in note
    _note(cb, "column_5", "no header")
    assert validate_codebook(cb, raw).ok


def test_piping_placeholders_in_answer_labels_are_flagged_and_tick_options_made_readable():
    # TAFE's main factor for leaving offers "Dissatisfaction with %[Institute]Q25LBL%"; its
    # "Contributing Factors" tick boxes hold the same option text in the ticked cells
    rng = np.random.default_rng(25)
    n = 80
    main = ["Career Move - Private Sector", "Dissatisfaction with %[Institute]Q25LBL%",
            "Ill Health", "Study", "Travel"]
    cols = {"Main Factor. Which of these was the main factor for leaving?":
            rng.choice(main, n),
            "Contributing Factors. Ill Health": rng.choice(["Ill Health", "-"], n),
            "Contributing Factors. Dissatisfaction":
            rng.choice(["Dissatisfaction with %[Institute]Q25LBL%", "-"], n),
            "Contributing Factors. Study": rng.choice(["Study", "-"], n)}
    raw = _raw(cols)
    cb = infer_codebook(raw)
    single = cb["Main Factor. Which of these was the main factor for leaving?"]
    # the scale label must match the answers as the data holds them: kept, and flagged
    assert "Dissatisfaction with %[Institute]Q25LBL%" in single.scale_labels
    note = _note(cb, single.id, "piping placeholder")
    assert "'Dissatisfaction with [Institute]'" in note
    # a tick box's option label only names its column: made readable
    multi = next(q for q in cb if q.type == "multi")
    assert multi.columns["Contributing Factors. Dissatisfaction"] == \
        "Dissatisfaction with [Institute]"
    assert not any("%" in lab for lab in multi.multi_options)
    assert readable_piping(main[1]) == "Dissatisfaction with [Institute]"
    report = validate_codebook(cb, raw)
    assert report.ok, report.errors
    survey = Survey.from_raw(raw, cb)
    assert survey.multi().filter(like="Dissatisfaction").sum().iloc[0] == \
        (cols["Contributing Factors. Dissatisfaction"] != "-").sum()


# --------------------------------------------------------------------------- item 9a
def test_a_far_negative_code_under_a_number_column_is_missing_not_averaged():
    # projoint's hhi: income bands 1..24 plus -3105 ("prefer not to say"), 25 distinct
    # values, drafted numeric: the segment means came out negative (-92.4)
    rng = np.random.default_rng(3105)
    n = 300
    hhi = rng.integers(1, 25, n).astype(object)
    hhi[rng.choice(n, 20, replace=False)] = -3105
    cols = {"hhi": [str(v) for v in hhi],
            "spend": [str(v) for v in rng.integers(0, 500, n)]}
    raw = _raw(cols)
    cb = infer_codebook(raw)
    q = cb["hhi"]
    assert q.type == "numeric"
    assert [m.code for m in q.missing] == [-3105]
    _note(cb, "hhi", "-3105 sit apart")
    values = Survey.from_raw(raw, cb).numeric()["hhi"]
    real = hhi[hhi != -3105].astype(float)
    assert values.count() == len(real)
    assert abs(values.mean() - real.mean()) < 1e-9 and values.min() >= 1
    assert cb["spend"].missing == []          # a plain amount keeps every answer


def test_all_nines_codes_above_an_amount_are_missing():
    rng = np.random.default_rng(9)
    n = 200
    income = rng.integers(1000, 90000, n).astype(object)
    income[:6] = 999999
    rating = rng.integers(1, 6, n).astype(object)
    rating[:5] = 99999                      # 99999 = no answer, on a 1..5 rating
    cb = infer_codebook(_raw({"household income": [str(v) for v in income],
                              "How would you rate the service?": [str(v) for v in rating]}))
    assert [m.code for m in cb["household income"].missing] == [999999]
    q = cb["How would you rate the service?"]
    assert (q.type, q.scale_codes, [m.code for m in q.missing]) == \
        ("likert", [1, 2, 3, 4, 5], [99999])


def test_a_code_missing_in_one_question_is_missing_in_a_number_column_that_holds_it():
    # the panel's -5 "refused" is set apart in education (codes 1..8); hours online is a
    # number 0..30 where -5 is not far enough below to look like a code on its own
    rng = np.random.default_rng(5)
    n = 240
    educ = rng.integers(1, 9, n).astype(object)
    educ[:10] = -5
    hours = rng.integers(0, 31, n).astype(object)
    hours[20:27] = -5
    age = rng.integers(18, 101, n).astype(object)
    age[40:43] = 99
    educ[50:55] = 99                           # 99 also "missing" in education
    cols = {"education": [str(v) for v in educ], "hours online": [str(v) for v in hours],
            "age": [str(v) for v in age]}
    raw = _raw(cols)
    cb = infer_codebook(raw)
    assert {m.code for m in cb["education"].missing} == {-5, 99}
    q = cb["hours online"]
    assert q.type == "numeric" and [(m.code, m.reason) for m in q.missing] == \
        [(-5, "unlabelled")]
    _note(cb, "hours online", "code -5 is drafted as missing in education")
    # 99 lies among the ages 18..100: an answer, not a code
    assert 99 not in {m.code for m in cb["age"].missing}
    assert Survey.from_raw(raw, cb).numeric()["hours online"].min() >= 0


# --------------------------------------------------------------------------- item 9b
def test_a_zip_code_column_is_an_identifier_not_a_number_to_average():
    # projoint's "zip": 5-digit strings with leading zeros, profiled as a mean of 49,734
    rng = np.random.default_rng(10001)
    n = 120
    zips = [f"{v:05d}" for v in rng.integers(1000, 99999, n)]
    cols = {"zip": zips,
            "What is your ZIP code?": zips[::-1],
            "Postcode": [f"SW{k % 9 + 1}A {k % 7}AA" for k in range(n)],
            "Do you know your zip code?": rng.choice(["Yes", "No"], n),
            "age": [str(v) for v in rng.integers(18, 80, n)]}
    raw = _raw(cols)
    cb = infer_codebook(raw)
    for qid in ("zip", "What is your ZIP code?", "Postcode"):
        assert (cb[qid].type, cb[qid].role) == ("id", "ignore"), qid
        _note(cb, qid, "ZIP / postal code")
    assert cb["Do you know your zip code?"].type == "single"
    assert cb["age"].type == "numeric"
    assert "zip" not in Survey.from_raw(raw, cb).numeric().columns
    assert validate_codebook(cb, raw).ok


# --------------------------------------------------------------------------- item 9c
def test_answer_bands_with_units_and_currency_are_ordered_by_their_bounds():
    # TAFE length of service, a spend band in dollars, a semester of study: drafted as
    # unordered categories (the units and "$" hid the numbers)
    rng = np.random.default_rng(20)
    n = 300
    service = ["Less than 1 year", "1-2", "3-4", "5-6", "7-10", "11-20", "More than 20 years"]
    dollars = ["Under $10", "$10-$50", "$50 - $100", "$100 to $250", "Over $250"]
    years = ["less than a year", "1-2 years", "3-5 years", "6-10 years", "10+ years"]
    semester = ["1st semester", "2nd semester", "3rd semester", "4th semester",
                "10th semester"]
    monthly = ["Rs. 500 or less per month", "Rs. 500-1k per month", "Rs. 1k-5k per month",
               "Over Rs. 5k per month"]
    cols = {"Length of Service (in years)": rng.choice(service[::-1], n),
            "How much do you spend per order?": rng.choice(dollars[::-1], n),
            "How long have you been a customer?": rng.choice(years, n),
            "Which semester are you in?": rng.choice(semester, n),
            "Monthly spend": rng.choice(monthly, n),
            "Number of children": rng.choice(["0", "1", "2", "3 or more"], n),
            "How long have you used it?": rng.choice(["5 years", "10 years", "2 years",
                                                       "1 year"], n),
            "Favourite shop": rng.choice(["Shop 1", "Shop 2", "Shop 10"], n)}
    raw = _raw(cols)
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    expect = {"Length of Service (in years)": service,
              "How much do you spend per order?": dollars,
              "Which semester are you in?": semester, "Monthly spend": monthly,
              "Number of children": ["0", "1", "2", "3 or more"]}
    for qid, labels in expect.items():
        q = cb[qid]
        assert (q.type, q.ordered, q.scale_labels) == ("single", True, labels), qid
    # "less than a year" has no number: not a band, so the answers stay unordered
    assert not cb["How long have you been a customer?"].is_ordered
    assert not cb["Favourite shop"].is_ordered
    # single amounts with a unit and no band among them: left as answered
    assert not cb["How long have you used it?"].is_ordered
    categories = Survey.from_raw(raw, cb).categorical()["Length of Service (in years)"]
    assert categories.cat.ordered and list(categories.cat.categories) == service


def test_stages_of_use_are_ordered_never_to_current():
    # Young People Survey "Smoking" and "Alcohol": drafted as unordered categories in
    # alphabetical order (current smoker, former smoker, never smoked, tried smoking)
    rng = np.random.default_rng(1010)
    n = 400
    smoking = ["never smoked", "tried smoking", "former smoker", "current smoker"]
    alcohol = ["never", "social drinker", "drink a lot"]
    cols = {"Smoking": rng.choice(smoking, n), "Alcohol": rng.choice(alcohol, n),
            "Vaping": rng.choice(["Non-vaper", "Ex-vaper", "Occasional vaper",
                                  "Daily vaper"], n),
            "Bank": rng.choice(["current account", "savings account", "credit card"], n),
            "Lying": rng.choice(["never", "sometimes", "only to avoid hurting someone",
                                 "everytime it suits me"], n)}
    cb = infer_codebook(_raw(cols))
    assert (cb["Smoking"].ordered, cb["Smoking"].scale_labels) == (True, smoking)
    assert (cb["Alcohol"].ordered, cb["Alcohol"].scale_labels) == (True, alcohol)
    assert cb["Vaping"].scale_labels == ["Non-vaper", "Ex-vaper", "Occasional vaper",
                                         "Daily vaper"]
    assert cb["Smoking"].type == cb["Alcohol"].type == "single"
    _note(cb, "Smoking", "stages of use")
    # "current account" alone is no stage of use; "Lying" mixes words of no known order
    assert not cb["Bank"].is_ordered and not cb["Lying"].is_ordered


def test_panel_codes_of_hispanic_origin_are_categories_not_an_amount():
    # projoint's embedded "hispanic" (Lucid codes 1..16, 11 of them used) was drafted
    # numeric and averaged next to "ethnicity", which was drafted as categories
    rng = np.random.default_rng(16)
    n = 300
    codes = [1, 2, 3, 4, 5, 7, 12, 13, 14, 15, 16]
    cols = {"hispanic": [str(v) for v in rng.choice(codes, n)],
            "ethnicity": [str(v) for v in rng.choice(codes, n)]}
    cb = infer_codebook(_raw(cols))
    q = cb["hispanic"]
    assert (q.type, q.role, q.scale_codes) == ("single", "profile", codes)
    assert (cb["ethnicity"].type, cb["ethnicity"].role) == ("single", "profile")
