"""Drafted codebooks on the shapes of real public surveys: short labels that tell look-alike
questions apart (OSMI Mental Health in Tech 2016, DETE/TAFE exit surveys) and rating items
named like demographics (Young People Survey). Every fixture is synthetic; the wordings copy
the real questionnaires' shapes."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
from personalab.codebook import SHORT_MAX, ScaleOption, infer_codebook, validate_codebook
from personalab.loaders import RawWave, load_export

YES_NO_MAYBE = ["Yes", "No", "Maybe"]

# OSMI 2016 wordings (columns 11-14, 19-22, 31-34, 37-40, 54-55 of the real export), with the
# words that tell each from its look-alikes.
OSMI = [
    ("Do you think that discussing a mental health disorder with your employer would have "
     "negative consequences?", ["mental", "your employer"]),
    ("Do you think that discussing a physical health issue with your employer would have "
     "negative consequences?", ["physical", "your employer"]),
    ("Would you feel comfortable discussing a mental health disorder with your coworkers?",
     ["coworkers"]),
    ("Would you feel comfortable discussing a mental health disorder with your direct "
     "supervisor(s)?", ["supervisor"]),
    ("If you have been diagnosed or treated for a mental health disorder, do you ever reveal "
     "this to clients or business contacts?", ["clients"]),
    ("If you have been diagnosed or treated for a mental health disorder, do you ever reveal "
     "this to coworkers or employees?", ["coworkers"]),
    ("Do you think that discussing a mental health disorder with previous employers would "
     "have negative consequences?", ["mental", "previous employers"]),
    ("Do you think that discussing a physical health issue with previous employers would "
     "have negative consequences?", ["physical", "previous employers"]),
    ("Would you be willing to bring up a physical health issue with a potential employer in "
     "an interview?", []),
    ("Why or why not?", ["physical"]),
    ("Would you bring up a mental health issue with a potential employer in an interview?", []),
    ("Why or why not?", ["mental"]),
    ("If you have a mental health issue, do you feel that it interferes with your work when "
     "being treated effectively?", ["being"]),
    ("If you have a mental health issue, do you feel that it interferes with your work when "
     "NOT being treated effectively?", ["NOT"]),
]


def _write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _osmi_export(tmp_path, n=80):
    rng = np.random.default_rng(2016)
    reasons = ["It depends on the job", "Stigma", "Not their business", "I would, openly",
               "Fear of not being hired", "Only if relevant"]
    cols = []
    for text, _ in OSMI:
        pool = reasons if text == "Why or why not?" else YES_NO_MAYBE
        cols.append([f"{rng.choice(pool)} {k}" if pool is reasons else rng.choice(pool)
                     for k in range(n)])
    return _write(tmp_path / "osmi_shape.csv", [t for t, _ in OSMI], zip(*cols))


def _norm(label: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", label.replace("\u2026", " ").casefold()).split())


def test_osmi_look_alike_questions_keep_the_words_that_tell_them_apart(tmp_path):
    raw = load_export(_osmi_export(tmp_path))           # the loader renames the 2nd "Why"
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    labels = [q.display_label for q in cb]
    assert len(labels) == len(OSMI)
    # no two read alike (case, punctuation and ellipses aside), none carries a "(2)" tag or
    # the loader's note, and each fits a card
    assert len({_norm(lab) for lab in labels}) == len(labels), labels
    assert not any(re.search(r"\(\d+\)$|duplicate column", lab) for lab in labels), labels
    assert all(len(lab) <= SHORT_MAX for lab in labels)
    for lab, (_, words) in zip(labels, OSMI):
        for w in words:
            assert w in lab, (w, lab)
    # the two bare follow-ups name the question each follows up
    assert labels[9] == "Why or why not? (physical health issue\u2026)"
    assert labels[11] == "Why or why not? (mental health issue\u2026)"
    # the current and the previous employer: the opening, then what differs
    assert labels[0] == "Do you think that discussing a mental\u2026 with your employer\u2026"
    assert labels[6] == "Do you think that discussing a mental\u2026 previous employers\u2026"


def test_labels_that_do_not_collide_stay_40_characters():
    from personalab.codebook import Question, _draft_shorts
    qs = [Question("q1", "How many employees does your company or organization have?"),
          Question("q2", "Is your employer primarily a tech company/organization?")]
    _draft_shorts(qs)
    assert [q.short for q in qs] == ["How many employees does your company or\u2026",
                                     "Is your employer primarily a tech\u2026"]


def test_exit_survey_blocks_are_told_apart_by_their_qualifier_and_placeholders_dropped(tmp_path):
    # DETE/TAFE: "InductionInfo. Face to Face Topic:Did you undertake a Corporate Induction?"
    # repeated for "On-line" and "Induction Manual"; a piping placeholder that lost its "["
    rng = np.random.default_rng(7)
    header = ["InductionInfo. Topic:Did you undertake a Corporate Induction?",
              "InductionInfo. Face to Face Topic:Did you undertake a Corporate Induction; "
              "Category:How it was conducted?",
              "InductionInfo. On-line Topic:Did you undertake a Corporate Induction; "
              "Category:How it was conducted?",
              "InductionInfo. Induction Manual Topic:Did you undertake a Corporate Induction?",
              "InstituteViews. Topic:3. I was given adequate opportunities for personal "
              "development",
              "InstituteViews. Topic:4. I was given adequate opportunities for promotion "
              "within %Institute]Q25LBL%"]
    agree = ["Strongly Agree", "Agree", "Neutral", "Disagree", "Strongly Disagree"]
    rows = [[rng.choice(["Yes", "No"]) for _ in range(4)] + [rng.choice(agree) for _ in (4, 5)]
            for _ in range(60)]
    cb = infer_codebook(load_export(_write(tmp_path / "tafe_shape.csv", header, rows)))
    assert [q.display_label for q in cb] == [
        "Did you undertake a Corporate Induction?",      # the wording, its prefix dropped
        "Did you undertake a Corporate Induction (Face to Face)",
        "Did you undertake a Corporate Induction (On-line)",
        "Did you undertake a Corporate Induction (Induction Manual)",
        "I was given adequate opportunities for personal development",
        "I was given adequate opportunities for promotion within"]


def test_battery_items_of_two_stems_name_the_stem_that_differs():
    # the same item under two stems: the stem's differing words, in brackets
    from personalab.codebook import Question, _draft_shorts
    qs = [Question("q1", "How satisfied are you with your current job? - Pay and benefits",
                   "likert"),
          Question("q2", "How satisfied were you with your previous job? - Pay and benefits",
                   "likert")]
    _draft_shorts(qs)
    assert [q.short for q in qs] == ["Pay and benefits (current job)",
                                     "Pay and benefits (previous job)"]


def test_look_alikes_read_on_to_their_first_difference_and_others_name_their_parent():
    from personalab.codebook import Question, _draft_shorts
    stem = "Please choose your top 3 desired development priorities."
    qs = [
        # projoint / ANES: the first differing word fits after the opening
        Question("Q2.7", "Would you call yourself a strong Republican or a not very strong "
                         "Republican?"),
        Question("Q2.8", "Would you call yourself a strong Democrat or a not very strong "
                         "Democrat?"),
        # Typeform: "Other" after each of three ranked choices, and after another battery
        Question("q1_7", "What operating system(s) do you use? - Other"),
        Question("q20_1", f"{stem} - Please choose the option that is your *highest* "
                          "development priority."),
        Question("q20_2", f"{stem} - Other"),
        Question("q20_3", f"{stem} - Please choose the option that is your *second highest* "
                          "development priority."),
        Question("q20_4", f"{stem} - Other"),
    ]
    _draft_shorts(qs)
    assert [q.short for q in qs] == [
        "Would you call yourself a strong Republican\u2026",
        "Would you call yourself a strong Democrat\u2026",
        "Other (What operating system(s) do you use)",
        "Please choose the option that is your highest\u2026",
        "Other (your highest development priority)",
        "Please choose the option that is your second\u2026",
        "Other (second highest development priority)"]


def test_questions_alike_word_for_word_that_follow_nothing_keep_their_id_tag():
    from personalab.codebook import Question, _draft_shorts
    text = "Which of these two communities do you prefer? Community A Community B"
    qs = [Question("Q4.2", text), Question("Q4.3", text)]
    _draft_shorts(qs)
    assert [q.short for q in qs] == ["Which of these two communities do you\u2026",
                                     "Which of these two communities do you (Q4.3)"]


def test_young_people_items_named_like_counts_inside_a_1_to_5_battery_are_ratings():
    # Young People Survey: "Children" ("I enjoy childrens' company", 1-5) and "Number of
    # friends" ("I have lots of friends", 1-5) sit among 1-5 music and hobby items; the
    # header reads like a count, the answers are the battery's 1..5.
    from personalab.survey import Survey
    rng = np.random.default_rng(2013)
    n = 300
    cols = {name: rng.integers(1, 6, n).astype(float) for name in
            ["Music", "Dance", "Folk", "Country", "Pop", "Rock", "Metal", "Punk", "Opera",
             "Movies", "Horror", "Comedy"]}
    children = rng.choice([1, 2, 3, 4, 5], n, p=[.04, .12, .31, .26, .27]).astype(float)
    children[:4] = np.nan
    cols["Children"] = children
    cols["Number of friends"] = rng.choice([1, 2, 3, 4, 5], n, p=[.05, .13, .42, .23, .17])
    # real counts: siblings run 0..10; a worded count stays a number even on 1..5
    cols["Number of siblings"] = rng.choice([0, 1, 2, 3, 4, 10], n, p=[.16, .53, .2, .07, .03, .01])
    cols["How many children live in your household?"] = rng.integers(1, 6, n)
    cols["Age"] = rng.integers(15, 31, n)
    raw = RawWave(data=pd.DataFrame(cols), path=Path("responses.csv"), format="csv",
                  sha256="0" * 64, labels={c: c for c in cols}, header_rows=1)
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    for c in ("Children", "Number of friends"):
        q = cb[c]
        assert (q.type, q.role, q.scale_codes) == ("likert", "segment", [1, 2, 3, 4, 5]), c
    for c in ("Number of siblings", "How many children live in your household?", "Age"):
        assert cb[c].type == "numeric", c
    assert any("Children" in note and "named like a count" in note for note in cb.notes)
    likert = Survey.from_raw(raw, cb).likert()
    assert likert["Children"].isna().sum() == 4
    assert likert["Children"].dropna().isin([1, 2, 3, 4, 5]).all()


def test_a_reason_flag_named_like_a_demographic_keeps_the_role_of_its_run():
    # DETE exit survey: 18 adjacent True/False reasons for leaving; "Employment conditions"
    # was drafted as a demographic (profile) because of the word "employment"
    rng = np.random.default_rng(822)
    n = 200
    reasons = ["Career move to public sector", "Interpersonal conflicts", "Job dissatisfaction",
               "Employment conditions", "Relocation", "Ill Health", "Workload"]
    cols = {r: rng.random(n) < 0.1 for r in reasons}
    cols["Employment Status"] = rng.choice(["Permanent Full-time", "Temporary Part-time",
                                            "Casual"], n)
    raw = RawWave(data=pd.DataFrame(cols), path=Path("dete.csv"), format="csv",
                  sha256="0" * 64, labels={c: c for c in cols}, header_rows=1)
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    assert {cb[r].role for r in reasons} == {"segment"}
    assert cb["Employment Status"].role == "profile"       # a demographic, not a flag
    assert any(note.startswith("Employment conditions:") and "flags" in note
               for note in cb.notes)


def test_numeric_range_answers_are_ordered_low_to_high():
    # OSMI "How many employees...", DETE "Age", Google Forms income and spend brackets:
    # natural sorting put "100-500" before "26-100" and left the scale unordered
    rng = np.random.default_rng(3)
    n = 240
    employees = ["1-5", "6-25", "26-100", "100-500", "500-1000", "More than 1000"]
    age = ["20 or younger", "21-25", "26-30", "31-35", "56 or older"]
    spend = ["under 500", "500 - 1000", "1000-1500", "above 2000"]
    cols = {"How many employees does your company or organization have?":
            rng.choice(employees[::-1], n),
            "Age": rng.choice(age, n),
            "How much money do you spend monthly?": rng.choice(spend, n),
            "Favourite colour": rng.choice(["Red", "Green", "Blue"], n)}
    raw = RawWave(data=pd.DataFrame(cols), path=Path("w.csv"), format="csv",
                  sha256="0" * 64, labels={c: c for c in cols}, header_rows=1)
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    q = cb["How many employees does your company or organization have?"]
    assert (q.type, q.ordered, q.scale_labels) == ("single", True, employees)
    assert (cb["Age"].ordered, cb["Age"].scale_labels) == (True, age)
    assert cb["How much money do you spend monthly?"].scale_labels == spend
    assert not cb["Favourite colour"].is_ordered


def test_a_frequency_question_offering_three_answers_gets_a_three_point_scale():
    # OSMI 2016 "Do you work remotely?" offered Never/Sometimes/Always (333/757/343 of 1433);
    # the 5-point Never..Always template made persona cards read "Sometimes (2 of 5)". The
    # "interferes ... when being treated" item offered Never..Often (no "Always", 65 "Often").
    # A Google Forms rating with 3 "Poor" and 73 "Good" but no "Fair" keeps "Fair": with so
    # few answers next to it, nobody choosing it does not show it was not offered.
    n = 240
    remote = np.repeat(["Never", "Sometimes", "Always"], [56, 127, 57])
    interferes = np.repeat(["Never", "Rarely", "Sometimes", "Often", "Not applicable to me"],
                           [20, 54, 62, 31, 73])
    rating = np.repeat(["Poor", "Good", "Very Good", "Excellent"], [3, 130, 70, 37])
    rng = np.random.default_rng(1433)
    cols = {"Do you work remotely?": rng.permutation(remote),
            "If you have a mental health issue, do you feel that it interferes with your work "
            "when being treated effectively?": rng.permutation(interferes),
            "What about your experiences on e-commerce?": rng.permutation(rating)}
    raw = RawWave(data=pd.DataFrame(cols), path=Path("osmi.csv"), format="csv",
                  sha256="0" * 64, labels={c: c for c in cols}, header_rows=1)
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    remote_q = cb["Do you work remotely?"]
    assert (remote_q.type, remote_q.scale_codes, remote_q.scale_labels) == (
        "likert", [1, 2, 3], ["Never", "Sometimes", "Always"])
    q = cb[list(cols)[1]]
    assert q.scale_labels == ["Never", "Rarely", "Sometimes", "Often"]
    assert [m.label for m in q.missing] == ["Not applicable to me"]
    assert cb[list(cols)[2]].scale_labels == ["Poor", "Fair", "Good", "Very Good", "Excellent"]
    assert any(note.startswith("Do you work remotely?: 3-point scale") for note in cb.notes)
    from personalab.survey import Survey
    assert set(Survey.from_raw(raw, cb).likert()["Do you work remotely?"]) == {1, 2, 3}


def test_a_battery_item_nobody_answered_at_one_end_keeps_the_battery_scale():
    # the file shows the longer scale: the other items of the battery (Q3_1, Q3_2...) use it
    agree = ["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree",
             "Strongly agree"]
    rng = np.random.default_rng(5)
    n = 300
    cols = {f"Q3_{k}": rng.choice(agree, n) for k in (1, 2, 3)}
    cols["Q3_4"] = rng.choice(agree[1:], n)                  # nobody strongly disagrees
    raw = RawWave(data=pd.DataFrame(cols), path=Path("w.csv"), format="csv",
                  sha256="0" * 64, labels={c: c for c in cols}, header_rows=1)
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    assert {tuple(cb[c].scale_labels) for c in cols} == {tuple(agree)}


def _qualtrics(path, columns: dict, texts: dict, n: int):
    """A Qualtrics 3-row export: ids, question texts, ImportId JSON, then the answers."""
    header = list(columns)
    rows = [[texts.get(c, c) for c in header],
            ['{"ImportId":"%s"}' % texts.get(c + "#id", c) for c in header]]
    rows += [[columns[c][i] for c in header] for i in range(n)]
    return _write(path, header, rows)


def test_attention_checks_are_drafted_as_checks_not_segmentation_inputs(tmp_path):
    # projoint (Mummolo & Nall 2022): an embedded-data column "attention_check" holding
    # "failed" or nothing was drafted as a one-level segmentation question, and a persona
    # of 22 people was defined by failing it. An instructed-response item in a rating battery
    # ("please select 'Strongly disagree' to show you are reading") is a check too; a
    # multi-select "Please select all that apply", a routing hint "choose 'Other' if none
    # apply", a question about attention to news and "mark your manager as good" are not.
    from personalab.quality import check_quality
    from personalab.survey import Survey
    rng = np.random.default_rng(2022)
    n = 120
    agree = ["Strongly disagree", "Somewhat disagree", "Neither agree nor disagree",
             "Somewhat agree", "Strongly agree"]
    failed = rng.random(n) < 0.12
    careless = rng.random(n) < 0.1
    cols = {"ResponseId": [f"R_{i:04d}" for i in range(n)],
            "Q3_1": rng.choice(agree, n), "Q3_2": rng.choice(agree, n),
            "Q3_3": np.where(careless, rng.choice(agree[1:], n), "Strongly disagree"),
            "Q3_4": rng.choice(agree, n),
            "Q4": rng.choice(["Work", "Home", "Other"], n),
            "Q5": rng.choice(["News;Sports", "News", "Weather;News", "Sports"], n),
            "Q6": rng.choice(["Not at all", "A little", "A lot"], n),
            "Q7": rng.choice(agree, n),
            "Q8": rng.choice(["Poor", "Fair", "Good", "Very good", "Excellent"], n),
            "attention_check": np.where(failed, "failed", "")}
    texts = {"Q3_1": "How much do you agree? - Police keep my community safe",
             "Q3_2": "How much do you agree? - I trust my neighbours",
             "Q3_3": "How much do you agree? - For this statement, please select 'Strongly "
                     "disagree' to show you are reading",
             "Q3_4": "How much do you agree? - My street is quiet at night",
             "Q4": "Where do you use the app most? Choose 'Other' if none of these apply",
             "Q5": "Which topics do you follow? Please select all that apply",
             "Q6": "How much attention do you pay to local news?",
             "Q7": "To what extent do you agree that schools deserve more money?",
             "Q8": "Would you mark your manager as good overall?"}
    raw = load_export(_qualtrics(tmp_path / "projoint_shape.csv", cols, texts, n))
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    flag = cb["attention_check"]
    assert (flag.role, flag.attention_check) == ("ignore", {"expected": "passed"})
    item = cb["Q3_3"]
    assert (item.role, item.attention_check) == ("ignore", {"expected": "Strongly disagree"})
    assert item.grid == "Q3"                              # still one item of its battery
    for qid in ("Q3_1", "Q4", "Q5", "Q6", "Q7", "Q8"):
        assert (cb[qid].role, cb[qid].attention_check) == ("segment", None), qid
    assert not any(q.role == "segment" and q.attention_check for q in cb)
    # the quality step flags exactly who failed either check
    result = check_quality(Survey.from_raw(raw, cb))
    flagged = set(result.flags.loc[result.flags["flag"] == "attention_check", "respondent_id"])
    assert flagged == {f"R_{i:04d}" for i in np.flatnonzero(failed | careless)}


def test_one_answer_tick_columns_are_flags_not_one_level_segmentation_inputs(tmp_path):
    # DETE exit survey: "Aboriginal", "Torres Strait", "South Sea", "Disability", "NESB" hold
    # "Yes" (16/3/7/23/32 of 822), "N/A" for the rest of those who reached the block, and a
    # blank for the ~300 who did not. Drafted as one-level choices ("Yes"; "N/A" missing),
    # they were segmentation inputs and a persona read "Aboriginal: Yes" for all who answered.
    # Typeform (Cantera): one tick column per operating system, then "- Other" typed in.
    from personalab.codebook import load_codebook, save_codebook
    from personalab.survey import Survey
    rng = np.random.default_rng(822)
    n = 400
    reached = rng.random(n) < 0.63
    cols, yes = {}, {}
    for name, p in [("Aboriginal", .02), ("Torres Strait", .004), ("South Sea", .01),
                    ("Disability", .03), ("NESB", .04)]:
        yes[name] = reached & (rng.random(n) < p)
        yes[name][np.flatnonzero(reached)[:2]] = True          # at least two each
        cols[name] = np.where(yes[name], "Yes", np.where(reached, "N/A", ""))
    cols["Gender"] = rng.choice(["Female", "Male"], n)
    cols["Job dissatisfaction"] = rng.choice(["True", "False"], n)
    cols["Staff morale"] = rng.choice(["SA", "A", "N", "D", "SD"], n)
    os_names = ["macOS", "BSD", "Windows 10", "Debian or its derivatives (Ubuntu, Mint, etc.)"]
    for k, name in enumerate(os_names, 1):
        cols[f"q1_{k}"] = np.where(rng.random(n) < 0.3, name, "")
    cols["q1_5"] = np.where(rng.random(n) < 0.05, rng.choice(["Archlinux", "Solaris", "AIX"], n),
                            "")
    cols["q29_other"] = np.where(np.arange(n) == 7, "Employed by a government agency", "")
    texts = {f"q1_{k}": f"What operating system(s) do you use? - {name}"
             for k, name in enumerate(os_names + ["Other"], 1)}
    texts["q29_other"] = "What is your employment status? - Other"
    raw = RawWave(data=pd.DataFrame(cols).replace("", None), path=Path("dete.csv"),
                  format="csv", sha256="0" * 64, labels={c: texts.get(c, c) for c in cols},
                  header_rows=2)
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    for name in yes:
        q = cb[name]
        assert (q.type, q.role, q.scale_labels) == ("single", "profile", ["No (N/A)", "Yes"]), name
        assert q.missing == []
    assert not [q.id for q in cb if q.role == "segment" and q.type in ("single", "likert")
                and len(q.scale) < 2]
    os_q = next(q for q in cb if q.type == "multi" and "operating system" in q.text)
    assert os_q.multi_options == os_names and os_q.role == "segment"
    assert os_q.data_columns == ["q1_1", "q1_2", "q1_3", "q1_4"]
    assert "q1_5" in cb and cb["q29_other"].type == "text"     # typed-in "Other" answers
    # the flag reads the export as drafted, also after a save and a reload
    path_cb = save_codebook(cb, tmp_path / "dete.yaml")
    cb2 = load_codebook(path_cb)
    assert validate_codebook(cb2, raw).ok
    got = Survey.from_raw(raw, cb2).data["Aboriginal"]
    assert (got == "Yes").sum() == yes["Aboriginal"].sum()
    assert (got == "No (N/A)").sum() == (reached & ~yes["Aboriginal"]).sum()
    assert got.isna().sum() == (~reached).sum()


def test_a_lone_tick_column_is_a_one_option_multi_select_of_role_profile():
    from personalab.codebook import Question, _tick_boxes
    # and a constant answer is no tick box, but segments nobody either; TAFE's on-line
    # "Team Induction" column holds only "-" (nothing ticked) or blank
    data = pd.DataFrame({"Carer": ["Yes", None, None, "Yes", None],
                         "Everyone": ["Agree"] * 5,
                         "Team Induction": ["-", "-", None, "-", "-"]})
    qs = [Question("Carer", "Carer", "single", "segment", [ScaleOption(1, "Yes")]),
          Question("Everyone", "Everyone", "single", "segment", [ScaleOption(1, "Agree")]),
          Question("Team Induction", "Team Induction", "single", "segment",
                   [ScaleOption(1, "-")])]
    notes = []
    out = _tick_boxes(qs, data, notes)
    assert (out[0].type, out[0].role, out[0].columns) == ("multi", "profile", {"Carer": "Yes"})
    assert out[0].facet == "demographic"
    assert (out[1].type, out[1].role) == ("single", "profile")
    assert (out[2].type, out[2].role) == ("single", "ignore")
    assert [n.split(":")[0] for n in notes] == ["Carer", "Everyone", "Team Induction"]


# --- who someone is, where they work, design columns, survey feedback, row indexes ---------

AGREE5 = ["Strongly Disagree", "Disagree", "Neutral", "Agree", "Strongly Agree"]


def _pick(rng, values, n, blank=0.0):
    out = rng.choice(np.array(values, dtype=object), n)
    out[rng.random(n) < blank] = ""
    return out


def test_org_units_grade_tenure_residence_and_semester_describe_personas(tmp_path):
    # Queensland exit surveys (TAFE "Institute", "WorkArea", "Classification. Classification",
    # "LengthofServiceOverall. ..."; DETE "Position", "Business Unit", "SeparationType") and
    # Google Forms ("Place of Residence", the semester) were drafted as segmentation inputs,
    # so personas were defined by the institute people worked at. A rating that names the
    # institute and a 1-5 music item named "Country" (Young People Survey) stay inputs.
    rng = np.random.default_rng(41)
    n = 120
    cols = {
        "Record ID": [str(6340000 + 7 * i) for i in range(n)],
        "Institute": _pick(rng, ["Southern Queensland Institute of TAFE",
                                 "Brisbane North Institute of TAFE", "Tropical North Institute"], n),
        "WorkArea": _pick(rng, ["Delivery (teaching)", "Non-Delivery (corporate)"], n),
        "Classification. Classification": _pick(rng, ["Administration (AO)", "Teacher (including "
                                                      "LVT)", "Tutor", "Operational (OO)"], n),
        "LengthofServiceOverall. Overall Length of Service at Institute (in years)":
            _pick(rng, ["Less than 1 year", "1-2", "3-4", "5-6", "More than 20 years"], n),
        "Position": _pick(rng, ["Teacher", "Cleaner", "Teacher Aide", "Public Servant"], n),
        "Business Unit": _pick(rng, ["Education Queensland", "Corporate Procurement",
                                     "Information and Technologies"], n, blank=.5),
        "SeparationType": _pick(rng, ["Age Retirement", "Resignation-Other reasons",
                                      "Voluntary Early Retirement (VER)"], n),
        "Place of Residence": _pick(rng, ["Rural", "Urban"], n),
        "Being an undergraduate science student , select the semester in which you are "
        "studying": _pick(rng, ["2nd semester", "4th semester", "6th semester"], n),
        "Staff morale was positive within the Institute": _pick(rng, AGREE5, n),
        "My position was challenging and interesting": _pick(rng, AGREE5, n),
    }
    music = ["Music", "Slow songs or fast songs", "Dance", "Folk", "Country",
             "Classical music", "Musical", "Pop", "Rock", "Metal or Hardrock", "Punk"]
    for name in music:
        cols[name] = rng.integers(1, 6, n).astype(str)
    path = _write(tmp_path / "exit_shape.csv", list(cols), zip(*cols.values()))
    raw = load_export(path)
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    who = ["Institute", "WorkArea", "Classification. Classification",
           "LengthofServiceOverall. Overall Length of Service at Institute (in years)",
           "Position", "Business Unit", "SeparationType", "Place of Residence",
           "Being an undergraduate science student , select the semester in which you are "
           "studying"]
    assert {c: cb[c].role for c in who} == {c: "profile" for c in who}
    assert cb["LengthofServiceOverall. Overall Length of Service at Institute (in years)"] \
        .scale_labels[0] == "Less than 1 year"                   # still ordered low to high
    for c in ("Staff morale was positive within the Institute",
              "My position was challenging and interesting"):
        assert (cb[c].type, cb[c].role) == ("likert", "segment")
    assert [(cb[m].type, cb[m].role) for m in music] == [("likert", "segment")] * len(music)


def test_conjoint_choice_tasks_randomisation_flags_and_panel_party_codes_are_no_inputs(tmp_path):
    # projoint (Mummolo & Nall 2022): personas were defined by "flipped" (TRUE/FALSE drawn
    # at random: which profile was shown first), by the ten "Which of these two communities
    # do you prefer?" tasks (Community A / B) and by the panel's political_party codes 1-10
    rng = np.random.default_rng(42)
    n = 90
    cols = {"ResponseId": [f"R_{i:05d}" for i in range(n)]}
    texts = {}
    for task in (1, 2):
        for a in (1, 2):
            cols[f"K-{task}-{a}"] = _pick(rng, ["Housing Cost", "School Quality"], n)
            cols[f"K-{task}-1-{a}"] = _pick(rng, ["25 min", "75 min"], n)
    for q in ("Q4.2", "Q4.3", "Q5.1"):
        cols[q] = _pick(rng, ["Community A", "Community B"], n, blank=.1)
        texts[q] = "Which of these two communities do you prefer? Community Trait Community A"
    cols["Q2.9"] = _pick(rng, ["Extremely liberal", "Liberal", "Moderate; middle of the road",
                               "Conservative", "Extremely conservative"], n)
    texts["Q2.9"] = "Where would you place yourself on this scale?"
    cols["Q2.10"] = _pick(rng, ["Plan A", "Plan B"], n)        # a choice, not a task
    texts["Q2.10"] = "Which health plan are you enrolled in?"
    cols["political_party"] = rng.integers(1, 11, n).astype(str)
    cols["flipped"] = _pick(rng, ["TRUE", "FALSE"], n, blank=.2)
    cols["FL_12_DO"] = _pick(rng, ["Block1|Block2", "Block2|Block1"], n)
    raw = load_export(_qualtrics(tmp_path / "projoint_shape.csv", cols, texts, n))
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    assert {q: (cb[q].type, cb[q].role) for q in ("Q4.2", "Q4.3", "Q5.1")} == \
        {q: ("single", "ignore") for q in ("Q4.2", "Q4.3", "Q5.1")}
    assert [(cb[c].type, cb[c].role) for c in ("flipped", "FL_12_DO")] == [("meta", "ignore")] * 2
    party = cb["political_party"]
    assert (party.type, party.role) == ("single", "profile")
    assert [o.code for o in party.scale] == list(range(1, 11))
    assert [q.id for q in cb.questions_of(role="segment")] == ["Q2.9", "Q2.10"]
    notes = " ".join(cb.notes)
    assert "conjoint choice task" in notes and "randomisation" in notes
    # without design columns, a choice between two profiles is known by its wording
    texts2 = {"T1": "Which of these two candidates would you rather vote for?",
              "T2": "Which health plan are you enrolled in?"}
    cols2 = {"T1": _pick(rng, ["Candidate 1", "Candidate 2"], n),
             "T2": _pick(rng, ["Plan A", "Plan B"], n)}
    cb2 = infer_codebook(load_export(_qualtrics(tmp_path / "tasks.csv", cols2, texts2, n)))
    assert [cb2[q].role for q in ("T1", "T2")] == ["ignore", "segment"]


FEEDBACK = ["Please tell us if you have any comments about this survey. Please use the space "
            "below.",
            "What question do you wish we had asked you? How would you have answered that "
            "question?",
            "Any feedback on this survey?"]
VIEWS = ["What could we improve about the experience of using the app?",
         "Do you have any comments on the study materials?"]


def test_open_questions_about_the_survey_itself_are_not_quoted(tmp_path):
    # projoint's headline quote was "This survey was great I liked taking it." (comments
    # about this survey); Typeform's, an answer to "What question do you wish we had asked
    # you?". Both are about the questionnaire, not the persona.
    from personalab.survey import Survey
    rng = np.random.default_rng(43)
    n = 60
    words = ["slow", "export", "docs", "price", "support", "plots", "speed", "install"]
    cols = {"id": [f"r{i}" for i in range(n)],
            "rating": _pick(rng, AGREE5, n)}
    for k, text in enumerate(FEEDBACK + VIEWS):
        cols[f"open{k}"] = [f"I think the {rng.choice(words)} part was {rng.choice(words)} "
                            f"and {i}" for i in range(n)]
    texts = {f"open{k}": t for k, t in enumerate(FEEDBACK + VIEWS)}
    raw = load_export(_qualtrics(tmp_path / "open.csv", cols, texts, n))
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    assert [(cb[f"open{k}"].type, cb[f"open{k}"].role) for k in range(5)] == \
        [("text", "ignore")] * 3 + [("text", "profile")] * 2
    assert list(Survey.from_raw(raw, cb).text().columns) == ["open3", "open4"]
    from personalab.codebook import is_survey_feedback
    assert [is_survey_feedback(cb[f"open{k}"]) for k in range(5)] == [True] * 3 + [False] * 2
    assert any("feedback on the survey itself" in n for n in cb.notes)


def test_row_index_typed_gender_and_typed_answers_are_not_choices(tmp_path):
    # Women's Clothing Reviews (a 3,000-row sample): "Unnamed: 0", pandas' row index, was
    # drafted a number and profiled; OSMI's typed-in gender was a choice of ~55 spellings;
    # Typeform's "Which external software are you coupling with Cantera?" (4 answers, each
    # given once) a single choice and segmentation input
    rng = np.random.default_rng(44)
    n = 300
    spellings = ["Male", "male", "M", "m", "Female", "female", "F", "f", "Man", "Woman",
                 "Cis male", "cis man", "Male (cis)", "Cis female", "female/woman", "Nonbinary",
                 "non-binary", "Genderqueer", "Agender", "Malr", "mail", "Dude",
                 "I identify as female.", "none of your business"]
    gender = [spellings[i] if i < len(spellings) else rng.choice(spellings[:8])
              for i in range(n)]
    coupled = [""] * n
    for i, t in zip((3, 40, 77, 150), ("OpenFOAM", "In-house legacy FORTRAN code",
                                       "COMPASS", "In-house experimental code")):
        coupled[i] = t
    cols = {"Unnamed: 0": np.sort(rng.choice(23000, n, replace=False)).astype(str),
            "Age": rng.integers(18, 80, n).astype(str),
            "What is your gender?": gender,
            "Which external software are you coupling with Cantera via this interface?":
                coupled,
            "Rating": rng.integers(1, 6, n).astype(str)}
    raw = load_export(_write(tmp_path / "reviews_shape.csv", list(cols), zip(*cols.values())))
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    assert cb.respondent_id == "Unnamed: 0" and cb["Unnamed: 0"].type == "id"
    g = cb["What is your gender?"]
    assert (g.type, g.role, g.scale) == ("text", "ignore", [])
    assert any("gender typed in" in note for note in cb.notes)
    c = cb["Which external software are you coupling with Cantera via this interface?"]
    assert (c.type, c.role) == ("text", "profile")
    assert (cb["Age"].type, cb["Rating"].type) == ("numeric", "likert")


def test_a_usage_grid_is_ordered_from_not_heard_of_to_used_often(tmp_path):
    # Typeform (Cantera): "How frequently do you use the following support features?",
    # answers drafted nominal in alphabetical order; one item nobody answered "heard of it"
    rng = np.random.default_rng(45)
    n = 60
    use = ["I have not heard of this",
           "I have heard of this, but I don't really use it or have only used it once or twice",
           "I use this sometimes", "I use this often"]
    stem = "How frequently do you use the following support features? - "
    cols = {"q26_1": _pick(rng, [use[0], use[2], use[3]], n),
            "q26_2": _pick(rng, use, n), "q26_3": _pick(rng, use, n)}
    texts = {"q26_1": stem + "Cantera website", "q26_2": stem + "Online documentation",
             "q26_3": stem + "Create a new user group post"}
    raw = load_export(_qualtrics(tmp_path / "usage.csv", cols, texts, n))
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    for q in ("q26_1", "q26_2", "q26_3"):
        assert (cb[q].type, cb[q].grid, cb[q].scale_labels) == ("likert", "q26", use)


def test_exit_survey_statements_lose_the_export_prefix_but_keep_their_grid(tmp_path):
    # TAFE: cards quoted "InstituteViews. Topic:12. If I had a workplace issue it was dealt
    # with efficiently" and listed the option "Contributing Factors. Dissatisfaction"
    rng = np.random.default_rng(46)
    n = 80
    statements = {
        "InstituteViews. Topic:11. If I had a workplace issue it was dealt with quickly":
            "If I had a workplace issue it was dealt with quickly",
        "InstituteViews. Topic:12. If I had a workplace issue it was dealt with efficiently":
            "If I had a workplace issue it was dealt with efficiently",
        "WorkUnitViews. Topic:21. I was able to use the full range of my abilities in my job. ; "
        "Category:Level of Agreement; Question:YOUR VIEWS ABOUT YOUR WORK UNIT]":
            "I was able to use the full range of my abilities in my job",
        "WorkUnitViews. Topic:22. I was able to use the full range of my knowledge in my job":
            "I was able to use the full range of my knowledge in my job",
    }
    cols = {"Contributing Factors. Ill Health": np.where(rng.random(n) < .3, "Ill Health", "-"),
            "Contributing Factors. Dissatisfaction":
                np.where(rng.random(n) < .3, "Contributing Factors. Dissatisfaction ", "-"),
            "Contributing Factors. Study": np.where(rng.random(n) < .3, "Study", "-")}
    cols.update({h: _pick(rng, AGREE5, n) for h in statements})
    cols["Gender. What is your Gender?"] = _pick(rng, ["Female", "Male"], n)
    cols["Main Factor. Which of these was the main factor for leaving?"] = \
        _pick(rng, ["Ill Health", "Study", "Travel"], n)
    raw = load_export(_write(tmp_path / "tafe_views.csv", list(cols), zip(*cols.values())))
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    assert {h: cb[h].text for h in statements} == statements
    assert [cb[h].grid for h in statements] == ["InstituteViews"] * 2 + ["WorkUnitViews"] * 2
    assert all(cb[h].display_label.startswith(("If I had", "I was able")) for h in statements)
    assert cb["Contributing Factors"].multi_options == ["Ill Health", "Dissatisfaction", "Study"]
    assert cb["Gender. What is your Gender?"].text == "What is your Gender?"
    assert cb["Main Factor. Which of these was the main factor for leaving?"].text == \
        "Which of these was the main factor for leaving?"


def test_options_joined_by_a_comma_and_a_line_break_are_a_multi_select(tmp_path):
    # Typeform (Cantera) q23_1: the ticked roles of the Steering Committee in one cell,
    # "Spending project funds,\nDelegating / managing project administrative
    # responsibilities and communication" - drafted a single choice of 9 combinations
    rng = np.random.default_rng(47)
    roles = ["Modifications of the governance procedures",
             "Adding/removing steering committee members", "Spending project funds",
             "Delegating / managing project administrative responsibilities and communication",
             "Adding/removing members from the Scientific Advisory Board"]
    n = 60
    cells = []
    for i in range(n):
        if i % 6:
            cells.append("I'm not aware of the Steering Committee")
        else:
            cells.append(",\n".join(rng.choice(roles, rng.integers(2, 4), replace=False)))
    raw = load_export(_write(tmp_path / "joined.csv", ["q23"], [[c] for c in cells]))
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    q = cb["q23"]
    assert (q.type, q.separator) == ("multi", ",")
    assert set(q.options) <= set(roles) | {"I'm not aware of the Steering Committee"}
    from personalab.survey import Survey
    chosen = Survey.from_raw(raw, cb).multi()
    assert int(chosen["q23:I'm not aware of the Steering Committee"].sum()) == n - 10


# --- misfires of the rules above (review of the drafting rules) ----------------------------

def test_snake_case_headers_that_say_do_are_questions_not_display_orders(tmp_path):
    # a plain CSV's snake_case wordings ("q12_do_you_smoke", "quality_do") were drafted
    # display-order flags (meta, ignore); Qualtrics' own "FL_6_DO" / "Q5_DO" / "BL_intro_DO"
    # still are, and a rating never is, whatever its name
    rng = np.random.default_rng(48)
    n = 120
    cols = {"respondent": [f"r{i}" for i in range(n)],
            "q12_do_you_smoke": _pick(rng, ["Yes", "No"], n),
            "q13_do_you_exercise": _pick(rng, AGREE5, n),
            "quality_do": _pick(rng, AGREE5, n),
            "question_do_you_own_a_car": _pick(rng, ["Yes", "No"], n),
            "Q7_DO": _pick(rng, AGREE5, n),
            "FL_6_DO": _pick(rng, ["Block1|Block2", "Block2|Block1"], n),
            "Q5_DO": _pick(rng, ["1|2|3", "3|1|2", "2|3|1"], n),
            "BL_intro_DO": _pick(rng, ["Consent|Intro", "Intro|Consent"], n)}
    raw = load_export(_write(tmp_path / "snake.csv", list(cols), zip(*cols.values())))
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    for c in ("q12_do_you_smoke", "question_do_you_own_a_car"):
        assert (cb[c].type, cb[c].role) == ("single", "segment"), c
    for c in ("q13_do_you_exercise", "quality_do", "Q7_DO"):
        assert (cb[c].type, cb[c].role) == ("likert", "segment"), c
    for c in ("FL_6_DO", "Q5_DO", "BL_intro_DO"):
        assert (cb[c].type, cb[c].role) == ("meta", "ignore"), c


def test_rating_items_named_like_roles_or_demographics_stay_items(tmp_path):
    # the rules for "who someone is" drafted ratings as profile: a header that is the word
    # alone ("Position" answered Agree ... Disagree), a battery split by its block prefix
    # ("Satisfaction. Position" profile, "Satisfaction. Pay" segment), words inside a
    # statement ("heavy-handed", "urban", "siblings") and phrases in a long one ("length
    # of service", "type of housing", "only child", "which semester ... hardest")
    rng = np.random.default_rng(49)
    n = 120
    rated = ["Management is heavy-handed", "I prefer urban living to rural living",
             "I get on well with my siblings",
             "My organisation values length of service more than performance and I dislike "
             "it", "The type of housing available in my area is affordable for people like me",
             "Position", "Faculty", "Residence", "Classification",
             "What is your position on the new policy?", "Service",
             "Is an only child more selfish than others?",
             "Satisfaction. Position", "Satisfaction. Faculty", "Satisfaction. Pay"]
    cols = {c: _pick(rng, AGREE5, n) for c in rated}
    cols["Which semester did you find hardest?"] = _pick(rng, ["First", "Second", "Third"], n)
    # still who someone is: named roles and places answered by their values
    cols["Job title"] = _pick(rng, ["Teacher", "Cleaner", "Teacher Aide"], n)
    cols["Which semester are you in?"] = _pick(rng, ["2nd semester", "4th semester"], n)
    cols["Number of siblings"] = rng.integers(0, 5, n).astype(str)
    cols["Left - right handed"] = _pick(rng, ["right handed", "left handed"], n)
    raw = load_export(_write(tmp_path / "rated.csv", list(cols), zip(*cols.values())))
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    assert {c: (cb[c].type, cb[c].role) for c in rated} == {c: ("likert", "segment")
                                                           for c in rated}
    assert cb["Which semester did you find hardest?"].role == "segment"
    for c in ("Job title", "Which semester are you in?", "Number of siblings",
              "Left - right handed"):
        assert cb[c].role == "profile", c


def test_the_respondents_own_story_is_not_feedback_on_the_survey(tmp_path):
    # "you didn't ask" and "the interview" / "the study" read as feedback on the survey,
    # so a respondent's own account was drafted ignore and never quoted (OSMI-like
    # accommodation follow-ups, a candidate-experience or a course survey)
    from personalab.codebook import asks_about_the_survey
    own = ["If you didn't ask your employer for accommodations, why not?",
           "Describe a time you did not ask for help",
           "Any comments on the interview?", "How would you rate the study overall?",
           "What did you think of the form you filled in at the clinic?"]
    about = ["Please tell us if you have any comments about this survey. Please use the "
             "space below.", "What question do you wish we had asked you?",
             "Any feedback on the questionnaire?", "How could we improve this survey?",
             "Is there anything we should have asked?",
             "Do you have any other comments regarding this study?",
             "Is there anything else we didn't ask about?", "Any comments on this interview?"]
    assert [asks_about_the_survey(w) for w in own] == [False] * len(own)
    assert [asks_about_the_survey(w) for w in about] == [True] * len(about)
    rng = np.random.default_rng(50)
    n = 60
    cols = {"id": [f"r{i}" for i in range(n)], "rating": _pick(rng, AGREE5, n),
            own[0]: [f"I was afraid they would say no, case {i}" for i in range(n)],
            about[0]: [f"It was long, case {i}" for i in range(n)]}
    raw = load_export(_write(tmp_path / "own.csv", list(cols), zip(*cols.values())))
    cb = infer_codebook(raw)
    assert [(cb[c].type, cb[c].role) for c in (own[0], about[0])] == \
        [("text", "profile"), ("text", "ignore")]


def test_an_abbreviation_before_a_dot_is_no_block_prefix(tmp_path):
    # once three headers carried a block prefix, "St. Louis is a great place to live" was
    # quoted as "Louis is a great place to live" and "Mr. Smith ..." as "Smith ..."
    rng = np.random.default_rng(51)
    n = 100
    kept = ["St. Louis is a great place to live", "St. Paul is a great place to live",
            "Mr. Smith explained things clearly", "Dr. Jones listened to me"]
    cols = {h: _pick(rng, AGREE5, n) for h in
            ["Before. Pay", "After. Pay", "Before. Hours", "After. Hours"] + kept}
    raw = load_export(_write(tmp_path / "abbrev.csv", list(cols), zip(*cols.values())))
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    assert [(cb[h].text, cb[h].grid) for h in kept] == [(h, None) for h in kept]
    assert [cb[h].display_label for h in kept] == kept
    assert [(cb[h].text, cb[h].grid) for h in ("Before. Pay", "After. Hours")] == \
        [("Pay", "Before"), ("Hours", "After")]


def test_chart_labels_of_look_alike_questions_without_short_are_told_apart():
    # a hand-written codebook without short: OSMI's two "interferes with your work" items
    # both cut to "If you have a mental health issue, do you feel that it…", two heat-map
    # rows of one name; a hand-written short is kept, and a word-for-word twin gets its id
    from personalab.codebook import Question, short_label
    from personalab.plotting._common import question_labels
    treated, untreated = OSMI[-2][0], OSMI[-1][0]
    qs = [Question("Q8", treated, "single"), Question("Q9", untreated, "single"),
          Question("Q10", "How many employees does your company have?", "single",
                   short="Company size"),
          Question("Q11", "Why or why not?", "text"), Question("Q12", "Why or why not?", "text")]
    assert short_label(qs[0]) == short_label(qs[1])
    labels = question_labels(qs)
    assert len(set(labels.values())) == len(qs)
    assert "NOT" in labels["Q9"] and "NOT" not in labels["Q8"]
    assert all(len(lab) <= SHORT_MAX for lab in labels.values())
    assert labels["Q10"] == "Company size"
    assert labels["Q11"] == "Why or why not?" and labels["Q12"] == "Why or why not? (Q12)"
    # from YAML-like mappings too; a codebook whose labels differ keeps them as they are
    assert question_labels([{"id": q.id, "text": q.text} for q in qs[:2]]) == \
        {k: labels[k] for k in ("Q8", "Q9")}
    plain = [Question("A", "Age"), Question("B", "How satisfied are you with your pay?")]
    assert question_labels(plain) == {"A": "Age", "B": "How satisfied are you with your pay?"}


def test_past_use_ranks_below_use_now(tmp_path):
    # "I used to use it often" ranked with "I use this often" (the top of the usage scale)
    rng = np.random.default_rng(52)
    n = 60
    use = ["I have not heard of this", "I used to use it often", "I use this sometimes",
           "I use this often"]
    cols = {"q30_1": _pick(rng, use, n), "q30_2": _pick(rng, use, n)}
    stem = "How frequently do you use the following support features? - "
    texts = {"q30_1": stem + "Cantera website", "q30_2": stem + "Online documentation"}
    raw = load_export(_qualtrics(tmp_path / "past_use.csv", cols, texts, n))
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    assert [(cb[q].type, cb[q].scale_labels) for q in cols] == [("likert", use)] * 2
    # use in the past ranks below use now, and "Not heard of it" below "Used it once"
    past = ["I have not heard of it", "I used it once", "I used it regularly in the past",
            "I use it sometimes", "I use it often"]
    cols = {"q31_1": _pick(rng, past, n), "q31_2": _pick(rng, past, n)}
    texts = {"q31_1": stem + "Forum", "q31_2": stem + "Mailing list"}
    cb = infer_codebook(load_export(_qualtrics(tmp_path / "past_use2.csv", cols, texts, n)))
    for q in cols:
        assert cb[q].type == "likert", q
        labels = cb[q].scale_labels
        assert labels[0] == "I have not heard of it" and labels[-2:] == past[-2:], labels


def test_a_preference_between_two_designs_outside_a_conjoint_is_a_view(tmp_path):
    # "Which of these two logos do you prefer?" (Logo A / Logo B) in a survey without a
    # conjoint design was drafted a conjoint choice task (role ignore): a taste for one of
    # two designs is a view; a choice between profiles ("Candidate 1 / 2") is still a task
    rng = np.random.default_rng(53)
    n = 80
    texts = {"L1": "Which of these two logos do you prefer?",
             "T1": "Which of these two candidates would you rather vote for?"}
    cols = {"L1": _pick(rng, ["Logo A", "Logo B"], n),
            "T1": _pick(rng, ["Candidate 1", "Candidate 2"], n)}
    cb = infer_codebook(load_export(_qualtrics(tmp_path / "logos.csv", cols, texts, n)))
    assert [cb[q].role for q in ("L1", "T1")] == ["segment", "ignore"]


def test_ticked_lists_of_who_someone_is_describe_by_the_one_rule(tmp_path):
    # the wide multi-select read its block name against the demographic words alone, the
    # lone tick boxes against a longer list: "Disability. Hearing" ... was a segmentation
    # input while a "Disability" tick box described. One rule reads both.
    rng = np.random.default_rng(54)
    n = 100
    cols = {}
    for block, opts in (("Disability", ["Hearing", "Vision", "Mobility"]),
                        ("Contributing Factors", ["Ill Health", "Study", "Travel"])):
        for o in opts:
            cols[f"{block}. {o}"] = np.where(rng.random(n) < .3, o, "-")
    cols["Torres Strait"] = np.where(rng.random(n) < .1, "Yes", "")
    cols["Satisfaction. Pay"] = _pick(rng, AGREE5, n)
    raw = load_export(_write(tmp_path / "ticks.csv", list(cols), zip(*cols.values())))
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    assert (cb["Disability"].type, cb["Disability"].role) == ("multi", "profile")
    assert (cb["Contributing Factors"].type, cb["Contributing Factors"].role) == \
        ("multi", "segment")
    assert cb["Torres Strait"].role == "profile"


def test_where_and_how_someone_works_describes_personas(tmp_path):
    # OSMI 2016: self-employment, company size, a tech employer, a tech role and the work
    # position were drafted as segmentation inputs, and two segments were "100% self-
    # employed". They say who someone is. Questions about the employer's conduct and a
    # rating of one's role stay inputs.
    rng = np.random.default_rng(2016)
    n = 120
    positions = ["Back-end Developer", "Front-end Developer", "Supervisor/Team Lead", "HR",
                 "DevOps/SysAdmin"]
    cols = {
        "Are you self-employed?": rng.integers(0, 2, n).astype(str),
        "How many employees does your company or organization have?":
            _pick(rng, ["1-5", "6-25", "26-100", "100-500", "500-1000", "More than 1000"], n),
        "Is your employer primarily a tech company/organization?":
            _pick(rng, ["0", "1"], n, blank=.2),
        "Is your primary role within your company related to tech/IT?":
            _pick(rng, ["0", "1"], n, blank=.8),
        "Which of the following best describes your work position?":
            ["|".join(sorted(set(rng.choice(positions, rng.integers(1, 3))))) for _ in range(n)],
        "Does your employer provide mental health benefits as part of healthcare coverage?":
            _pick(rng, ["Yes", "No", "I don't know"], n),
        "Is your employer a supportive place to work?": _pick(rng, YES_NO_MAYBE, n),
        "How satisfied are you with your role in your company?":
            _pick(rng, ["Very dissatisfied", "Dissatisfied", "Neutral", "Satisfied",
                        "Very satisfied"], n),
    }
    raw = load_export(_write(tmp_path / "osmi_work.csv", list(cols), zip(*cols.values())))
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    who = list(cols)[:5]
    assert {c: cb[c].role for c in who} == {c: "profile" for c in who}
    assert cb["Which of the following best describes your work position?"].type == "multi"
    assert [cb[c].role for c in list(cols)[5:]] == ["segment"] * 3


def test_word_association_and_insincere_answers_screen_respondents_not_segment(tmp_path):
    # projoint (Mummolo & Nall 2022) Q3.1 '"Build" is most associated with...' (one right
    # answer: a comprehension check) and Q7.2 "How often do you provide humorous or insincere
    # responses to survey questions?" (the data's quality) were drafted as segmentation
    # inputs. A frequency question about the respondent's own habits stays one.
    rng = np.random.default_rng(31)
    n = 90
    often = ["Never", "Rarely", "Some of the time", "Most of the time", "Always"]
    cols = {"ResponseId": [f"R_{i:05d}" for i in range(n)],
            "Q3.1": _pick(rng, ["Understand", "Assemble", "Commander", "Find", "Right"], n),
            "Q7.2": _pick(rng, often, n),
            "Q8": _pick(rng, often, n)}
    texts = {"ResponseId": "Response ID",
             "Q3.1": '"Build" is most associated with...',
             "Q7.2": "We sometimes find people don't always take surveys seriously, instead "
                     "providing humorous or insincere responses to questions. How often do "
                     "you provide humorous or insincere responses to survey questions?",
             "Q8": "How often do you read the news?"}
    raw = load_export(_qualtrics(tmp_path / "projoint_shape.csv", cols, texts, n))
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    assert [cb[q].role for q in ("Q3.1", "Q7.2", "Q8")] == ["ignore", "ignore", "segment"]
    notes = " ".join(cb.notes)
    assert "Q3.1: a word-association item" in notes
    assert "Q7.2: a self-report of answering surveys insincerely" in notes


def test_a_column_named_id_holding_product_codes_is_an_identifier(tmp_path):
    # Women's E-Commerce Clothing Reviews: "Clothing ID" (product ids repeated across
    # reviews) was drafted numeric, role profile, and a persona's card ranked it 4th among
    # its distinguishing traits (mean 920.38 vs 925.38). Identifiers are never averaged. A
    # party identification coded 1-7 still describes; an age is still a number.
    rng = np.random.default_rng(23486)
    n = 400
    cols = {"Clothing ID": rng.choice(np.arange(0, 1206), n).astype(str),
            "storeId": rng.choice([11, 12, 40, 41], n).astype(str),
            "Party ID": rng.integers(1, 8, n).astype(str),
            "Age": rng.integers(18, 90, n).astype(str),
            "Rating": rng.integers(1, 6, n).astype(str)}
    raw = load_export(_write(tmp_path / "reviews.csv", list(cols), zip(*cols.values())))
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    assert [(cb[c].type, cb[c].role) for c in ("Clothing ID", "storeId")] == \
        [("id", "ignore")] * 2
    assert any(x.startswith("Clothing ID, storeId: named as an identifier") for x in cb.notes)
    assert cb["Party ID"].role == "profile" and cb["Party ID"].type == "single"
    assert (cb["Age"].type, cb["Age"].role) == ("numeric", "profile")
    assert cb["Rating"].type == "likert"


def test_piping_placeholders_left_in_a_wording_read_as_a_token(tmp_path):
    # TAFE: "I was given adequate opportunities for promotion within %Institute]Q25LBL%" kept
    # the export's placeholder in the wording cards quote; Qualtrics' ${e://Field/...} too.
    rng = np.random.default_rng(25)
    n = 60
    header = ["InstituteViews. Topic:4. I was given adequate opportunities for promotion "
              "within %Institute]Q25LBL%",
              "Dissatisfaction with %[Institute]Q25LBL% was a factor",
              "How do you rate ${e://Field/Brand}?",
              "I was given adequate opportunities for personal development"]
    rows = [[rng.choice(AGREE5) for _ in header] for _ in range(n)]
    raw = load_export(_write(tmp_path / "tafe_piped.csv", header, rows))
    cb = infer_codebook(raw)
    assert validate_codebook(cb, raw).ok
    assert [q.text for q in cb] == [
        "I was given adequate opportunities for promotion within [Institute]",
        "Dissatisfaction with [Institute] was a factor",
        "How do you rate [Brand]?",
        "I was given adequate opportunities for personal development"]
    assert [q.id for q in cb] == header                     # the data's columns, unchanged
    assert any("%Institute]Q25LBL%" in x and "[Institute]" in x for x in cb.notes)


def test_readable_piping_reuses_the_loaders_rule_for_typeform_and_reads_export_forms():
    from personalab.codebook import readable_piping
    assert readable_piping("Dissatisfaction with %[Institute]Q25LBL%") == \
        "Dissatisfaction with [Institute]"
    assert readable_piping("Why did you pick {{field:abc123}}?") == \
        "Why did you pick [earlier answer]?"                   # the loader's own token
    assert readable_piping("Hi {{hidden:name}}, rate ${q://QID5/ChoiceGroup/SelectedChoices}") \
        == "Hi [name], rate [earlier answer]"


def _plain(cols: dict):
    """A plain CSV's RawWave: each column named by its wording."""
    return RawWave(data=pd.DataFrame(cols).astype(object), path=Path("w.csv"), format="csv",
                   sha256="0" * 64, labels={c: c for c in cols}, header_rows=1)


def test_review_probes_short_blocks_random_arms_attitudes_and_brand_association():
    """Final review of the day's drafting rules, on other kinds of surveys: an HR survey's
    short block names ("Pay. ...", "Job. ...") are grids again; an experiment's arm
    ("treatment_group") is no input; attitude statements that mention a state, a city or
    education on an agree scale segment; a brand-association question is a view, not a
    comprehension check."""
    rng = np.random.default_rng(77)
    n = 150
    cols = {
        "Pay. Base salary is fair": _pick(rng, AGREE5, n),
        "Pay. Bonus is fair": _pick(rng, AGREE5, n),
        "Pay. Raises are explained": _pick(rng, AGREE5, n),
        "Job. Workload is manageable": _pick(rng, AGREE5, n),
        "treatment_group": _pick(rng, ["Treatment A", "Treatment B", "Control"], n),
        "The state government is doing a good job": _pick(rng, AGREE5, n),
        "My city is a safe place to live": _pick(rng, AGREE5, n),
        "Education should be free for all": _pick(rng, AGREE5, n),
        "\u201cReliable\u201d is most associated with which brand?":
            _pick(rng, ["Acme", "Globex", "Initech"], n),
    }
    cb = infer_codebook(_plain(cols))
    pay = [cb[c] for c in cols if c.startswith("Pay.")]
    assert {q.grid for q in pay} == {"Pay"} and pay[0].text == "Base salary is fair"
    assert cb["treatment_group"].role == "ignore"
    for c in ("The state government is doing a good job", "My city is a safe place to live",
              "Education should be free for all"):
        assert (cb[c].type, cb[c].role) == ("likert", "segment"), c
    brand = cb["\u201cReliable\u201d is most associated with which brand?"]
    assert brand.role == "segment"


def test_review_probes_ids_employers_and_careless_answers():
    """A poll's "Support for voter ID" (1-5) and "Has photo ID" (0/1) are answers, not ids
    ("Order ID" is one); "Is your employer a company that values diversity?" is a view and
    "How many people does your company serve each day?" no head count of staff (OSMI's
    employer questions still describe); giving random answers to test questions is no
    self-report about surveys."""
    rng = np.random.default_rng(78)
    n = 150
    cols = {
        "Support for voter ID": rng.integers(1, 6, n).astype(str),
        "Has photo ID": rng.integers(0, 2, n).astype(str),
        "Order ID": rng.integers(1000, 5000, n).astype(str),
        "Is your employer a company that values diversity?": _pick(rng, ["Yes", "No",
                                                                        "Not sure"], n),
        "Is your employer primarily a tech company/organization?": _pick(rng, ["Yes", "No"], n),
        "How many employees does your company or organization have?":
            _pick(rng, ["1-5", "6-25", "26-100", "100-500", "More than 1000"], n),
        "How many people does your company serve each day?": _pick(rng, ["1-5", "6-25",
                                                                         "26-100"], n),
        "Do you ever give random answers to test questions when you don't know?":
            _pick(rng, ["Yes", "No"], n),
        "How often do you provide humorous or insincere responses to survey questions?":
            _pick(rng, ["Never", "Sometimes", "Often"], n),
    }
    cb = infer_codebook(_plain(cols))
    role = {c: (cb[c].type, cb[c].role) for c in cols}
    assert role["Support for voter ID"] == ("likert", "segment")
    assert role["Has photo ID"][1] == "segment"
    assert role["Order ID"] == ("id", "ignore")
    assert role["Is your employer a company that values diversity?"][1] == "segment"
    assert role["Is your employer primarily a tech company/organization?"][1] == "profile"
    assert role["How many employees does your company or organization have?"][1] == "profile"
    assert role["How many people does your company serve each day?"][1] == "segment"
    assert role["Do you ever give random answers to test questions when you don't know?"][1] \
        == "segment"
    assert role["How often do you provide humorous or insincere responses to survey "
                "questions?"][1] == "ignore"


def test_hr_patient_and_course_units_describe_personas():
    """Who someone is in HR, patient and course surveys: a whole header "Department",
    "Team", "Job level", "Ward", "Course", or "Years at company", "How many employees report
    to you?" describes (profile); a rating item under such a header, or a statement that
    mentions a team, still segments."""
    rng = np.random.default_rng(79)
    n = 150
    cols = {
        "Department": _pick(rng, ["Sales", "Finance", "IT", "Operations"], n),
        "Team": _pick(rng, ["North", "South", "East"], n),
        "Job level": _pick(rng, ["Junior", "Senior", "Manager"], n),
        "Ward": _pick(rng, ["Cardiology", "Oncology", "Maternity"], n),
        "Course": _pick(rng, ["Statistics 101", "Biology 201", "History 110"], n),
        "Years at company": _pick(rng, ["Under 1", "1-5", "6-10", "Over 10"], n),
        "How many employees report to you?": _pick(rng, ["None", "1-3", "4-10", "More"], n),
        "Team. My team supports me": _pick(rng, AGREE5, n),
        "Team. My team shares information": _pick(rng, AGREE5, n),
        "Team. My team meets its deadlines": _pick(rng, AGREE5, n),
        "I feel valued by my team": _pick(rng, AGREE5, n),
    }
    cb = infer_codebook(_plain(cols))
    for c in ("Department", "Team", "Job level", "Ward", "Course", "Years at company",
              "How many employees report to you?"):
        assert cb[c].role == "profile", c
    for c in ("Team. My team supports me", "Team. My team shares information",
              "I feel valued by my team"):
        assert (cb[c].type, cb[c].role) == ("likert", "segment"), c
