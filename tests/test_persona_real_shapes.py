"""Persona text on shapes the real-export audit found (typeform, OSMI, Google Forms, TAFE,
women's clothing reviews): every sentence says what its numbers are, and why a segment has
nothing to say.

* a 9-person segment that all chose one option (Typeform's "Michael": 100% vs 18% "C++",
  Cohen's h 2.74) was written up as "no answer sets them apart by more than a small effect";
* shares among those who answered a routed question (OSMI: 350 of 653 answerers, 24% of all
  1,433) read "of all respondents";
* a segment the run's verdict says is not a persona still got a person's name;
* with no gender question, names alternated female/male by segment number.
"""
from __future__ import annotations

import json
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from _planted_survey import LIKERT5, survey_from_frame
from personalab.codebook import Question, ScaleOption
from personalab.personas import (_num, apply_run_verdict, draft_personas, name_table,
                                 personas_to_markdown, write_persona_exports)
from personalab.profiles import profile_segments, segment_sizes

YES_NO = [ScaleOption(1, "Yes"), ScaleOption(2, "No")]
INTERFACES = ["Python", "C++", "Matlab"]


def _run(frame, questions, seg, **kw):
    survey = survey_from_frame(frame, questions)
    labels = pd.Series(seg, index=survey.data.index, name="segment")
    profile = profile_segments(survey, labels)
    sizes = segment_sizes(labels.to_numpy())
    return survey, labels, profile, sizes, draft_personas(survey, labels, profile, sizes,
                                                          **kw)


# --------------------------------------------------------------------------- 1: too few people
@pytest.fixture(scope="module")
def nine():
    """Typeform's shape: 60 respondents, segment 1 is 9 people who all use C++ (the other 51:
    2 of them), and differs on nothing else."""
    n, small = 60, 9
    seg = np.array([0] * (n - small) + [1] * small)
    interface = ["C++" if i in (3, 30) else INTERFACES[i % 2 * 2] for i in range(n - small)]
    interface += ["C++"] * small
    frame = pd.DataFrame({
        "ResponseId": [f"R_{i:03d}" for i in range(n)],
        "Timestamp": ["1995/03/20 10:00:00"] * n,
        "q2": interface,
        "calm": [(i % 5) + 1 for i in range(n)],
    })
    questions = [Question("Timestamp", "Timestamp", "meta", "ignore"),
                 Question("q2", "Which interface(s) do you use to access Cantera?", "single",
                          "segment"),
                 Question("calm", "I stay calm", "likert", "segment", LIKERT5)]
    return _run(frame, questions, seg, stability={0: 0.95, 1: 0.95}, unassigned_share=0.0)


def test_a_segment_of_nine_says_it_is_too_few_people_not_a_small_effect(nine):
    survey, labels, profile, sizes, personas = nine
    row = profile[(profile["segment"] == 1) & (profile["variable"] == "q2=C++")].iloc[0]
    # the difference is huge and significant: only the head count keeps it off the card
    assert row["value"] == 1.0 and row["significant"] and row["effect_size"] > 2 and \
        row["n"] == 9
    p = personas[1]
    share = sizes.loc[sizes["segment"] == 1, "weighted_share"].iloc[0]
    assert f"{share:.0%}" == "15%"
    assert [st.text for st in p.narrative] == [
        f"Too few respondents (n = 9) to describe people like {p.first_name} reliably: a "
        "trait is written up only when at least 10 respondents give the answer (15% of "
        "respondents)."]
    assert p.headline.text == ("15% of respondents. Too few respondents (n = 9) to describe "
                               "reliably: a trait needs at least 10.")
    assert not any("small effect" in st.text for st in p.statements())
    # stable on resampling, yet nothing can be said about 9 people: the badge stays low
    assert p.confidence == "low"
    assert p.confidence_statement.text.endswith(
        "Only 9 respondents: too few to describe reliably (a trait needs at least 10).")
    assert personas[0].confidence == "high"


def test_no_large_enough_effect_says_so_with_the_largest_effect():
    """The other reason, with its number: a significant but small difference (two segments of
    2,000: the reader sees d * (1 - share), under 0.2)."""
    rng = np.random.default_rng(7)
    n = 4000
    seg = np.repeat([0, 1], n // 2)
    x = np.clip(np.round(rng.normal(np.where(seg == 0, 3.15, 2.85), 1.0)), 1, 5)
    frame = pd.DataFrame({"ResponseId": [f"R_{i:05d}" for i in range(n)], "L": x})
    _, _, profile, sizes, personas = _run(
        frame, [Question("L", "I plan ahead", "likert", "segment", LIKERT5)], seg)
    row = profile[profile["segment"] == 0].iloc[0]
    assert row["significant"] and 0.2 <= abs(row["effect_size"]) < 0.4
    # the sentence prints the profile's effect size (segment_profiles.csv: 0.23, the segment
    # against the rest) and names the 0.12 it compares with 0.2 for what it is; it used to
    # print 0.12 alone as "the largest effect size", which no row of the profile holds
    effect, reader = _num(row["effect_size"]), _num(abs(row["effect_size"]) * 0.5)
    assert (effect, reader) == ("0.23", "0.12")
    p = personas[0]
    assert [st.text for st in p.narrative] == [
        f"No answer to a closed question sets people like {p.first_name} apart from the "
        "whole sample by more than a small effect (the largest difference, on “I plan "
        "ahead”, is 0.12 in size against the whole sample, which includes this segment, "
        "under the 0.2 a trait needs; its effect size against the rest of the sample is "
        "0.23; 50% of respondents): treat this persona with caution."]
    assert p.headline.text == (
        "50% of respondents. No answer to a closed question differs from the total by more "
        "than a small effect (the largest, on “I plan ahead”, is 0.12 in size against the "
        "total, under 0.2; its effect size against the rest of the sample is 0.23): treat "
        "with caution.")
    # review 3, item 8: the other segment's effect (-0.23) prints as a size, the sign in words
    q = personas[1]
    below = "0.23 (-0.23 in segment_profiles.csv: the segment is below the rest on it)"
    assert f"its effect size against the rest of the sample is {below}; 50% of" \
        in q.narrative[0].text
    assert q.headline.text.endswith(
        f"its effect size against the rest of the sample is {below}): treat with caution.")


def test_a_large_segment_whose_distinctive_answer_is_rare_says_how_few_give_it():
    """120 people, 8 of whom chose an option nobody else did: a large effect resting on 8."""
    n = 400
    seg = np.array([0] * 280 + [1] * 120)
    tool = ["Python"] * 280 + ["Python,Fortran"] * 8 + ["Python"] * 112
    frame = pd.DataFrame({"ResponseId": [f"R_{i:03d}" for i in range(n)], "tool": tool})
    _, _, profile, _, personas = _run(
        frame, [Question("tool", "Which tools do you use?", "multi", "segment", separator=",",
                         options=["Python", "Fortran"])], seg)
    row = profile[(profile["segment"] == 1) & (profile["variable"] == "tool:Fortran")].iloc[0]
    assert row["significant"] and row["effect_size"] > 0.2
    p = personas[1]
    assert [st.text for st in p.narrative] == [
        f"Too few respondents to describe people like {p.first_name} reliably: each answer "
        "that sets them apart rests on at most 8 of their 120 respondents (those who gave it, "
        "or who answered its question), under the 10 a trait needs (30% of respondents)."]


def _rare_weighted(weight_of_rare: float):
    """120 people in segment 1, 8 of whom chose Fortran (nobody else did), weighted 2.0 (or
    ``weight_of_rare``) against 1.0: the weighted share (16/128) times n is 15, not 8."""
    n = 400
    seg = np.array([0] * 280 + [1] * 120)
    tool = ["Python"] * 280 + ["Python,Fortran"] * 8 + ["Python"] * 112
    weight = [1.0] * 280 + [weight_of_rare] * 8 + [1.0] * 112
    frame = pd.DataFrame({"ResponseId": [f"R_{i:03d}" for i in range(n)], "tool": tool,
                          "w": weight})
    survey = survey_from_frame(frame, [
        Question("tool", "Which tools do you use?", "multi", "segment", separator=",",
                 options=["Python", "Fortran"]),
        Question("w", "Weight", "numeric", "ignore")], weight="w")
    labels = pd.Series(seg, index=survey.data.index, name="segment")
    profile = profile_segments(survey, labels)
    sizes = segment_sizes(labels.to_numpy(), survey.weights())
    return profile, draft_personas(survey, labels, profile, sizes)


def test_a_rare_answer_on_a_weighted_survey_is_counted_in_people_not_weights():
    """Review 2, item 8: on a weighted survey round(weighted share x n) is no head count;
    the 8 people who gave the answer are too few whatever their weight, and the sentence
    says 8."""
    profile, personas = _rare_weighted(2.0)
    row = profile[(profile["segment"] == 1) & (profile["variable"] == "tool:Fortran")].iloc[0]
    assert row["significant"] and row["effect_size"] > 0.2 and row["n"] == 120
    assert round(row["value"] * row["n"]) == 15          # what the old count read
    p = personas[1]
    assert not any("Fortran" in st.text for st in p.statements())
    assert [st.text for st in p.narrative] == [
        f"Too few respondents to describe people like {p.first_name} reliably: each answer "
        "that sets them apart rests on at most 8 of their 120 respondents (those who gave it, "
        "or who answered its question), under the 10 a trait needs (31% of respondents)."]


def test_a_routed_mean_row_rests_on_those_who_answered_it():
    """Review 2, item 8: a numeric question asked of 7 of a segment's 120 respondents (k is
    the number who answered, not who "gave" an answer)."""
    n = 400
    seg = np.array([0] * 280 + [1] * 120)
    hours = [None] * 240 + [2.0 + (i % 3) for i in range(40)] \
        + [None] * 113 + [30.0 + i for i in range(7)]
    frame = pd.DataFrame({"ResponseId": [f"R_{i:03d}" for i in range(n)], "hours": hours})
    _, _, profile, _, personas = _run(
        frame, [Question("hours", "If yes, how many hours a week?", "numeric", "segment")],
        seg)
    row = profile[(profile["segment"] == 1) & (profile["variable"] == "hours")].iloc[0]
    assert row["significant"] and row["effect_size"] > 0.2 and row["n"] == 7
    p = personas[1]
    assert [st.text for st in p.narrative] == [
        f"Too few respondents to describe people like {p.first_name} reliably: each answer "
        "that sets them apart rests on at most 7 of their 120 respondents (those who gave it, "
        "or who answered its question), under the 10 a trait needs (30% of respondents)."]


# --------------------------------------------------------------------------- 2: answered by some
@pytest.fixture(scope="module")
def routed():
    """OSMI's shape: 200 respondents in two segments of 100; 'employer' (yes/no) was answered
    by 45 of each (45%): 40 and 7 say yes; 'self' (yes/no) by everyone: 20 and 80 say yes;
    'site' (a three-answer question) by the same 90."""
    n = 200
    seg = np.repeat([0, 1], 100)
    employer = ([None] * 55 + ["Yes"] * 40 + ["No"] * 5) + ([None] * 55 + ["Yes"] * 7
                                                           + ["No"] * 38)
    site = ([None] * 55 + ["Amazon"] * 40 + ["eBay"] * 5) + ([None] * 55 + ["Amazon"] * 5
                                                           + ["Etsy"] * 40)
    selfemp = ["Yes"] * 20 + ["No"] * 80 + ["Yes"] * 80 + ["No"] * 20
    frame = pd.DataFrame({"ResponseId": [f"R_{i:03d}" for i in range(n)],
                          "employer": employer, "self": selfemp, "site": site})
    questions = [
        Question("employer", "Does your employer take mental health seriously?", "single",
                 "segment", YES_NO),
        Question("self", "Are you self-employed?", "single", "segment", YES_NO),
        Question("site", "If yes, which website do you sell on?", "single", "segment")]
    return _run(frame, questions, seg)


def _texts(p):
    return [st.text for st in p.statements()]


def test_a_share_among_those_who_answered_does_not_read_of_all_respondents(routed):
    survey, labels, profile, sizes, personas = routed
    row = profile[(profile["segment"] == 1) & (profile["variable"] == "employer=Yes")].iloc[0]
    assert row["n"] == 45 and f"{row['value']:.0%}" == "16%" and f"{row['total']:.0%}" == "52%"
    assert survey.data["employer"].notna().mean() == pytest.approx(0.45)
    p = personas[1]
    want = ("Say yes to “Does your employer take mental health seriously?” less often than "
            "most (16% vs 52% of those who answered).")
    assert want in _texts(p)
    assert not any("of all respondents" in t and "employer" in t for t in _texts(p))
    # a question everyone answered keeps "of all respondents"
    assert ("Say yes to “Are you self-employed?” more often than most (80% vs 50% of all "
            "respondents).") in _texts(p)
    # a many-answer question answered by the same 45%
    assert ("Answer “Etsy” to “If yes, which website do you sell on?” more often than most "
            "(89% vs 44% of those who answered).") in _texts(p)


def test_every_number_in_a_sentence_is_the_profile_row_it_cites(routed):
    survey, labels, profile, sizes, personas = routed
    checked = 0
    for p in personas:
        for st in p.statements():
            for ev in st.evidence:
                if ev.kind != "profile" or ev.level is None:
                    continue
                row = profile[(profile["segment"] == p.segment)
                              & (profile["variable"] == ev.variable)].iloc[0]
                m = re.search(r"\((\d+)% vs (\d+)% (of all respondents|of those who answered)\)",
                              st.text)
                assert m, st.text
                assert (int(m[1]), int(m[2])) == (round(row["value"] * 100),
                                                  round(row["total"] * 100)), st.text
                everyone = survey.data[ev.question].notna().all()
                assert (m[3] == "of all respondents") == bool(everyone), st.text
                checked += 1
    assert checked >= 4


# --------------------------------------------------------------------------- 5: not a persona
@pytest.fixture(scope="module")
def three():
    rng = np.random.default_rng(0)
    n = 300
    seg = np.repeat([0, 1, 2], n // 3)

    def likert(mean):
        return np.clip(np.round(rng.normal(mean, 0.7)), 1, 5).astype(int)

    frame = pd.DataFrame({"ResponseId": [f"R_{i:04d}" for i in range(n)],
                          "L_track": likert(np.where(seg == 0, 4.6, 2.2)),
                          "L_hard": likert(np.where(seg == 1, 4.6, 1.8))})
    questions = [Question("L_track", "I track every purchase", "likert", "segment", LIKERT5),
                 Question("L_hard", "The app is hard to use", "likert", "segment", LIKERT5)]
    survey = survey_from_frame(frame, questions)
    labels = pd.Series(seg, index=survey.data.index, name="segment")
    return survey, labels, profile_segments(survey, labels), segment_sizes(labels.to_numpy())


FLAG = ("segment(s) 1: defined by not answering 6 questions ('Employer size', …): "
        "respondents who were not asked them (skip logic, split ballot) or skipped them, "
        "not a persona")
NOT_ASKED = SimpleNamespace(stable=True, verdict="Stable: 3 segments reproduce.", flags=[FLAG],
                            not_asked_segments=[1], not_asked_flags={1: FLAG},
                            dominated_by=None)


def test_a_not_asked_segment_is_named_plainly_with_its_numbers_and_reason(three, tmp_path):
    survey, labels, profile, sizes = three
    personas = draft_personas(survey, labels, profile, sizes, verdict=NOT_ASKED,
                              stability={0: 0.97, 1: 0.97, 2: 0.97})
    p = personas[1]
    assert p.name == "Segment 1 (not a persona)"
    assert p.first_name == "" and p.descriptor == "" and p.not_a_persona == FLAG
    assert p.narrative[0].text.startswith("Respondents in segment 1 agree more than most that "
                                          "“The app is hard to use” (mean 4.")
    assert p.confidence == "low" and "Not a persona: segment(s) 1" in \
        p.confidence_statement.text
    assert p.size["n"] == 100 and p.distinctive           # numbers kept
    # the personas around it keep their names, and no name is spent on it
    assert personas[0].first_name and personas[2].first_name
    assert "(not a persona)" not in personas[0].name + personas[2].name
    out = write_persona_exports(personas, tmp_path, profile=profile, codebook=survey.codebook)
    doc = json.loads(out["json"].read_text())
    assert doc["personas"][1]["name"] == "Segment 1 (not a persona)"
    assert doc["personas"][1]["not_a_persona"] == FLAG
    assert doc["personas"][0]["not_a_persona"] is None
    assert "## Segment 1 (not a persona)" in personas_to_markdown(personas)
    assert "Segment 1 (not a persona)" in out["html"].read_text()


def test_a_split_on_one_input_names_no_segment_as_a_person(three):
    survey, labels, profile, sizes = three
    text = ("Not personas: the segments reproduce on resampling (mean ARI 0.97) but "
            "categorical answers: 'q2' alone reproduces 99% of them (balanced accuracy), so "
            "they are groups a cross-tabulation of that answer gives, not personas.")
    verdict = SimpleNamespace(stable=False, verdict=text, dominated_by="q2", flags=[],
                              not_asked_segments=[])
    personas = draft_personas(survey, labels, profile, sizes, verdict=verdict)
    assert [p.name for p in personas] == [f"Segment {s} (not a persona)" for s in range(3)]
    assert all(p.not_a_persona == text and p.confidence == "low" for p in personas)
    # a run that merely found no stable segments keeps its (capped) personas
    unstable = SimpleNamespace(stable=False, verdict="No stable segments: ...",
                               dominated_by=None, flags=[], not_asked_segments=[])
    assert not any("not a persona" in p.name for p in draft_personas(
        survey, labels, profile, sizes, verdict=unstable))


def test_the_report_renames_a_persona_drafted_without_the_verdict(three):
    survey, labels, profile, sizes = three
    personas = draft_personas(survey, labels, profile, sizes,
                              stability={0: 0.97, 1: 0.97, 2: 0.97})
    old = personas[1].first_name
    assert old and personas[1].narrative[0].text.startswith(f"People like {old} ")
    apply_run_verdict(personas, NOT_ASKED)
    apply_run_verdict(personas, NOT_ASKED)
    p = personas[1]
    assert p.name == "Segment 1 (not a persona)" and p.not_a_persona == FLAG
    assert p.narrative[0].text.startswith("Respondents in segment 1 agree more than most")
    assert all(old not in st.text for st in p.statements())
    assert personas[0].name != "Segment 0 (not a persona)"


# --------------------------------------------------------------------------- 6: no gender
def _names_survey(with_gender: bool):
    rng = np.random.default_rng(5)
    n = 300
    seg = np.repeat([0, 1, 2], n // 3)
    frame = pd.DataFrame({
        "ResponseId": [f"R_{i:04d}" for i in range(n)],
        # collected in 1995, no age question: names of people born in the 1950s
        "Timestamp": ["1995/03/20 10:00:00"] * n,
        "L_a": np.clip(np.round(rng.normal(np.where(seg == 0, 4.5, 2.0), 0.6)), 1, 5),
        "L_b": np.clip(np.round(rng.normal(np.where(seg == 1, 4.5, 2.0), 0.6)), 1, 5),
        "gender": np.where(seg == 1, "Man", "Woman"),
    })
    questions = [Question("Timestamp", "Timestamp", "meta", "ignore"),
                 Question("L_a", "I plan ahead", "likert", "segment", LIKERT5),
                 Question("L_b", "I like new things", "likert", "segment", LIKERT5)]
    if with_gender:
        questions.append(Question("gender", "What is your gender?", "single", "profile",
                                  [ScaleOption(1, "Woman"), ScaleOption(2, "Man")]))
    else:
        frame = frame.drop(columns="gender")
    return _run(frame, questions, seg)[-1]


def test_without_a_gender_question_names_are_gender_neutral():
    personas = _names_survey(with_gender=False)
    t = name_table()
    neutral_1950s = t[(t["sex"] == "N") & (t["decade"] == 1950)]["name"].tolist()
    gendered = set(t[t["sex"].isin(["F", "M"]) & (t["decade"] == 1950)]["name"])
    # deterministic: the most common neutral names of the decade, in segment order
    assert [p.first_name for p in personas] == neutral_1950s[:3] == ["Jackie", "Dana",
                                                                     "Kelly"]
    assert not {p.first_name for p in personas} & gendered
    assert _names_survey(with_gender=False)[1].first_name == "Dana"   # same on a rerun


def test_with_a_gender_question_names_follow_it():
    personas = _names_survey(with_gender=True)
    t = name_table()
    women = set(t[(t["sex"] == "F") & (t["decade"] == 1950)]["name"])
    men = set(t[(t["sex"] == "M") & (t["decade"] == 1950)]["name"])
    assert personas[0].first_name in women and personas[2].first_name in women
    assert personas[1].first_name in men


# --------------------------------------------------------------------------- 7: own words only
def _theme_only(answered: int):
    """Two segments of 150 that answer the one closed question identically; segment 1 brings
    up "Price" in 40% of its open answers against 10% of the others'. ``answered``: how many
    of each segment answered the open questions (the theme profile's ``n``)."""
    n = 300
    seg = np.repeat([0, 1], n // 2)
    frame = pd.DataFrame({"ResponseId": [f"R_{i:03d}" for i in range(n)],
                          "calm": [(i % 5) + 1 for i in range(n)]})
    theme_profile = pd.DataFrame({
        "segment": [0, 1], "theme": ["price", "price"], "n": [answered, answered],
        "n_theme": [round(0.1 * answered), round(0.4 * answered)], "share": [0.1, 0.4],
        "share_rest": [0.4, 0.1], "index": [40.0, 160.0], "test": ["z", "z"],
        "p_adjusted": [0.001, 0.001], "over": [False, True]})
    return _run(frame, [Question("calm", "I stay calm", "likert", "segment", LIKERT5)], seg,
                theme_profile=theme_profile, theme_info={"price": {"label": "Price"}})


def test_a_theme_with_no_closed_question_trait_opens_the_narrative():
    """Review 2, items 3 and 7: the card used to say "No answer sets people like Taylor
    apart … significantly" and "No trait differs significantly from the total" next to its
    own "Bring up “Price” … (40% vs 10% of other respondents)", a share among the 60 of 150
    who answered the open questions."""
    _, _, profile, _, personas = _theme_only(60)
    assert not profile["significant"].any()
    p = personas[1]
    bullet = ("Bring up “Price” in their own words more often than others (40% vs 10% of "
              "other respondents who answered).")
    assert bullet in _texts(p)
    assert [st.text for st in p.narrative] == [
        f"People like {p.first_name} bring up “Price” in their own words more often than "
        "others (40% vs 10% of other respondents who answered).",
        f"No answer to a closed question sets people like {p.first_name} apart from the "
        "whole sample significantly (50% of respondents): treat this persona with caution."]
    assert p.narrative[0].evidence[0].ref == "theme:price"
    assert p.headline.text == (
        f"50% of respondents. {bullet} No answer to a closed question differs significantly "
        "from the total: treat with caution.")
    assert [ev.ref for ev in p.headline.evidence] == ["size:1", "theme:price"]
    # segment 0 has no theme of its own: the reason alone, about closed questions
    assert [st.text for st in personas[0].narrative] == [
        f"No answer to a closed question sets people like {personas[0].first_name} apart "
        "from the whole sample significantly (50% of respondents): treat this persona with "
        "caution."]


def test_a_theme_share_everyone_answered_reads_of_other_respondents():
    _, _, _, _, personas = _theme_only(150)
    assert ("Bring up “Price” in their own words more often than others (40% vs 10% of "
            "other respondents).") in _texts(personas[1])
    assert not any("who answered" in t for t in _texts(personas[1]))


def test_a_quote_left_out_says_its_shares_are_among_those_who_answered():
    """Review 2, item 7: quote_fit's reason read "(against 52% overall)" for a share among
    those who answered."""
    from personalab.personas import Evidence, Quote, quote_fit

    ev = Evidence(kind="profile", ref="profile:employer=Yes", question="employer",
                  variable="employer=Yes", level="Yes", value=0.16, total=0.52)
    reasons = quote_fit(Quote("R_1", "why", "text"), pd.Series({"employer=Yes": 1.0}),
                        [ev], [])
    assert reasons == [
        "not typical on a defining trait: answered “Yes” to “employer”, which 16% of the "
        "persona's respondents who answered it did (against 52% of all who answered it)"]


# --------------------------------------------------------------------------- 11: exports, renames
def _badges(html: str) -> list[str]:
    return re.findall(r'<span class="badge neg" title="([^"]*)">not a persona</span>', html)


def test_the_standalone_cards_carry_the_not_a_persona_badge(three, tmp_path):
    """Review 2, item 11: personas/persona_cards.html showed no "not a persona" badge (0 in
    all 8 real runs, 1-3 in index.html)."""
    survey, labels, profile, sizes = three
    personas = draft_personas(survey, labels, profile, sizes, verdict=NOT_ASKED,
                              stability={0: 0.97, 1: 0.97, 2: 0.97})
    out = write_persona_exports(personas, tmp_path, profile=profile, codebook=survey.codebook)
    html = out["html"].read_text()
    assert len(_badges(html)) == 1
    assert "segment(s) 1: defined by not answering 6 questions" in _badges(html)[0]
    assert html.index("not a persona</span>") > html.index('id="persona-1"')


def test_a_report_time_rename_words_a_small_segment_as_drafting_does(nine):
    """Review 2, item 11: renamed by the report, the 9-person segment read "to describe
    respondents in segment 1 reliably"; drafted with the verdict, "to describe segment 1"."""
    survey, labels, profile, sizes, _ = nine
    verdict = SimpleNamespace(stable=True, verdict="Stable.", flags=[FLAG],
                              not_asked_segments=[1], not_asked_flags={1: FLAG},
                              dominated_by=None)
    drafted = draft_personas(survey, labels, profile, sizes, verdict=verdict)
    renamed = apply_run_verdict(draft_personas(survey, labels, profile, sizes), verdict)
    want = ("Too few respondents (n = 9) to describe segment 1 reliably: a trait is written "
            "up only when at least 10 respondents give the answer (15% of respondents).")
    assert [st.text for st in drafted[1].narrative] == [want]
    assert [st.text for st in renamed[1].narrative] == [want]


def test_labels_without_respondent_ids_fall_back_to_the_profile_estimate():
    """Labels given by position (a plain array) cannot be matched to respondents: the rare
    answer is then judged on the profile's value x n, as before, not counted as 0."""
    n = 400
    seg = np.array([0] * 280 + [1] * 120)
    tool = ["Python"] * 280 + ["Python,Fortran"] * 12 + ["Python"] * 108
    frame = pd.DataFrame({"ResponseId": [f"R_{i:03d}" for i in range(n)], "tool": tool})
    survey, labels, profile, sizes, by_id = _run(
        frame, [Question("tool", "Which tools do you use?", "multi", "segment", separator=",",
                         options=["Python", "Fortran"])], seg)
    by_position = draft_personas(survey, seg, profile, sizes)
    want = [f"People like {by_id[1].first_name} choose “Fortran” for “Which tools do you "
            "use?” more often than most (10% vs 3% overall)."]      # 12 people gave it
    assert [st.text for st in by_id[1].narrative] == want
    assert [st.text for st in by_position[1].narrative] == want


def test_an_unstable_run_split_on_one_input_gives_the_split_as_the_reason(three):
    """Typeform's verdict: "No stable segments: … Besides, one input alone explains the
    segments …" with dominated_by 'q2'. Instability alone never makes a segment a
    non-persona, so the reason (personas.json, the cards' badge) is the guard's line, not the
    whole verdict that opens with the ARI."""
    survey, labels, profile, sizes = three
    reason = ("one input alone explains the segments: 'q2' reproduces 96% of them (balanced "
              "accuracy), so they are bands of one answer, not personas")
    verdict = SimpleNamespace(
        stable=False, dominated_by="q2", flags=[reason], not_asked_segments=[],
        verdict=("No stable segments: mean ARI 0.56 is below 0.90 over 10 refits on random "
                 f"80% subsamples. Besides, {reason}."))
    personas = draft_personas(survey, labels, profile, sizes, verdict=verdict)
    assert [p.not_a_persona for p in personas] == [reason] * 3
    assert [p.name for p in personas] == [f"Segment {s} (not a persona)" for s in range(3)]


def test_a_theme_next_to_demographics_only_says_of_the_closed_questions():
    """Item 3's other reason: a segment set apart only by a demographic (region) and its own
    theme; "Only who they are sets people like X apart" would deny the theme above it."""
    n = 300
    seg = np.repeat([0, 1], n // 2)
    frame = pd.DataFrame({"ResponseId": [f"R_{i:03d}" for i in range(n)],
                          "calm": [(i % 5) + 1 for i in range(n)],
                          "region": ["North"] * 120 + ["South"] * 30 + ["North"] * 30
                          + ["South"] * 120})
    theme_profile = pd.DataFrame({
        "segment": [1], "theme": ["price"], "n": [60], "n_theme": [24], "share": [0.4],
        "share_rest": [0.1], "index": [160.0], "test": ["z"], "p_adjusted": [0.001],
        "over": [True]})
    _, _, _, _, personas = _run(
        frame, [Question("calm", "I stay calm", "likert", "segment", LIKERT5),
                Question("region", "Region", "single", "profile",
                         [ScaleOption(1, "North"), ScaleOption(2, "South")])],
        seg, theme_profile=theme_profile, theme_info={"price": {"label": "Price"}})
    p = personas[1]
    assert p.demographics and "South" in p.demographics[0].text
    assert [st.text for st in p.narrative] == [
        f"People like {p.first_name} bring up “Price” in their own words more often than "
        "others (40% vs 10% of other respondents who answered).",
        f"Of the closed questions, only who they are (their demographics) sets people like "
        f"{p.first_name} apart from the whole sample by more than a small effect (50% of "
        "respondents): treat this persona with caution."]
    assert p.headline.text.endswith(
        "Of the closed questions, only their demographics differ from the total by more than "
        "a small effect: treat with caution.")


# --------------------------------------------------------------------------- audit 2
def test_a_segment_that_dissolves_on_resampling_never_reads_reproduces(three, tmp_path):
    """Audit 2, item 1 (OSMI's Kendall): a segment at Jaccard 0.54 was "low" confidence
    because "the segment reproduces at Jaccard 0.54 across resamples", while the verdict said
    it dissolves. Below diagnostics.MIN_JACCARD the reason says it dissolves, and the draft
    carries the note a card can show (``exploratory``)."""
    from personalab.diagnostics import MIN_JACCARD

    survey, labels, profile, sizes = three
    personas = draft_personas(survey, labels, profile, sizes, unassigned_share=0.0,
                              stability={0: 0.97, 1: 0.54, 2: MIN_JACCARD})
    p = personas[1]
    note = f"dissolves on resampling (Jaccard 0.54, below {MIN_JACCARD:g})"
    assert p.confidence == "low"
    assert p.confidence_statement.text == (
        f"Low confidence: the segment {note} and 0% of respondents are unassigned.")
    assert "reproduces" not in p.confidence_statement.text
    assert p.exploratory == note
    # at the bound and above, a segment reproduces: no note
    assert personas[0].exploratory is None and personas[2].exploratory is None
    assert "reproduces at Jaccard 0.60" in personas[2].confidence_statement.text
    md = personas_to_markdown(personas)
    assert md.count("**Exploratory:**") == 1 and f"the segment {note}: read it as a lead" in md
    out = write_persona_exports(personas, tmp_path, profile=profile, codebook=survey.codebook)
    doc = json.loads(out["json"].read_text())
    assert [d["exploratory"] for d in doc["personas"]] == [None, note, None]


def test_the_size_reads_of_the_weighted_sample_only_on_a_weighted_survey(three):
    """Audit 2, item 8: every card said "N respondents, X% of the weighted sample" while the
    methods said "Weights: none"."""
    survey, labels, profile, sizes = three
    p = draft_personas(survey, labels, profile, sizes)[0]
    assert p.size_statement.text.startswith("100 respondents, 33% of the sample (95% CI ")
    [note] = [ev.footnote() for ev in p.size_statement.evidence]
    assert note.startswith("segment sizes: ") and "weighted" not in note
    _, weighted = _rare_weighted(2.0)
    assert "% of the weighted sample (95% CI " in weighted[0].size_statement.text
    [note] = [ev.footnote() for ev in weighted[0].size_statement.evidence]
    assert "% of respondents (weighted), n = " in note


def test_an_agree_scale_topic_is_rated_not_agreed_that():
    """Audit 2, item 9 (DETE's exit survey): items named by a topic ("My say", "Performance
    of supervisor") on an agree scale read "Agree more than average that 'My say'". A topic
    is rated, with the scale's end labels; a statement keeps the agree wording."""
    n = 300
    seg = np.repeat([0, 1], n // 2)
    rng = np.random.default_rng(1)

    def likert(mean):
        return np.clip(np.round(rng.normal(mean, 0.7)), 1, 5).astype(int)

    frame = pd.DataFrame({"ResponseId": [f"R_{i:03d}" for i in range(n)],
                          "My say": likert(np.where(seg == 1, 4.5, 2.0)),
                          "Performance of supervisor": likert(np.where(seg == 1, 4.4, 2.1)),
                          "say": likert(np.where(seg == 1, 4.6, 1.9))})
    scale = [ScaleOption(i, lab) for i, lab in enumerate(
        ["Strongly disagree (SD)", "Disagree (D)", "Neutral (N)", "Agree (A)",
         "Strongly agree (SA)"], start=1)]
    _, _, _, _, personas = _run(frame, [
        Question("My say", "My say", "likert", "segment", scale),
        Question("Performance of supervisor", "Performance of supervisor", "likert", "segment",
                 scale),
        Question("say", "I have a say in decisions that affect my work", "likert", "segment",
                 scale)], seg)
    texts = {st.evidence[0].question: st.text for st in personas[1].statements()[4:]
             if st.evidence and st.evidence[0].kind == "profile"}
    ends = "of 5; 1 = Strongly disagree (SD), 5 = Strongly agree (SA))."
    for item in ("My say", "Performance of supervisor"):
        assert re.fullmatch(rf"Rate “{item}” higher than most \(4\.\d+ vs 3\.\d+ {re.escape(ends)}",
                            texts[item]), texts[item]
    assert texts["say"].startswith("Agree more than most that “I have a say in decisions")
    assert not any("that “My say”" in st.text for st in personas[1].statements())


def test_a_multi_select_is_a_behaviour_only_when_it_is_about_doing():
    """Audit 2, item 10 (OSMI): "If yes, what condition(s) have you been diagnosed with?"
    and "Which of the following best describes your work position?" were listed under
    "Behaviours and channels" because every multi-select was one. Only a multi-select about
    what people do or use is; the others say what sets the segment apart."""
    n = 300
    seg = np.repeat([0, 1], n // 2)
    frame = pd.DataFrame({
        "ResponseId": [f"R_{i:03d}" for i in range(n)],
        "dx": ["Anxiety|Depression" if i >= 150 and i % 3 else "Anxiety" for i in range(n)],
        "pos": ["Back-end Developer|DevOps/SysAdmin" if i >= 150 and i % 2 else
                "Back-end Developer" for i in range(n)],
        "tool": ["Python|Slack" if i >= 150 and i % 4 else "Python" for i in range(n)]})
    _, _, _, _, personas = _run(frame, [
        Question("dx", "If yes, what condition(s) have you been diagnosed with?", "multi",
                 "segment", separator="|", options=["Anxiety", "Depression"]),
        Question("pos", "Which of the following best describes your work position?", "multi",
                 "segment", separator="|", options=["Back-end Developer", "DevOps/SysAdmin"]),
        Question("tool", "Which tools do you use at work?", "multi", "segment",
                 separator="|", options=["Python", "Slack"])], seg)
    p = personas[1]

    def cited(sts):
        return {st.evidence[0].question for st in sts}

    assert cited(p.behaviours) == {"tool"}
    assert cited(p.distinctive) == {"dx", "pos"}


@pytest.mark.parametrize("text, doing", [
    ("If maybe, what condition(s) do you believe you have?", False),
    ("If yes, what condition(s) have you been diagnosed with?", False),
    ("Which of the following do you identify as?", False),
    ("What do you like about the app?", False),
    ("What factors influence your decision to shop online?", False),
    ("What are your reasons for leaving?", False),
    ("Which features do you value most?", False),
    ("Which payment methods do you prefer?", False),
    ("Which tools do you use at work?", True),
    ("How did you hear about us?", True),
    ("Where do you shop for groceries?", True),
    ("Which of these have you done in the last month?", True),
])
def test_the_auxiliary_do_and_a_motivation_do_not_make_a_behaviour(text, doing):
    """Review 3, item 4: ``_DOING`` held the auxiliaries do/does/did, so OSMI's "If maybe,
    what condition(s) do you believe you have?" was a behaviour while its sibling "have you
    been diagnosed with" was not; "What factors influence your decision to shop online?"
    is a motivation, not a behaviour, although it says "shop"."""
    from personalab.personas import _about_doing

    q = Question("m", text, "multi", "segment", separator="|", options=["a", "b"])
    assert _about_doing(q, {}) is doing


@pytest.mark.parametrize("text, topic", [
    ("My job provided sufficient variety", False),     # TAFE: a statement
    ("Staff morale improved", False),
    ("IT support", True),                               # the noun, not the pronoun "it"
    ("Kept informed", True),
    ("My say", True),                                   # DETE's topics
    ("Performance of supervisor", True),
    ("Customer service speed", True),                   # "-eed" is no past tense
    ("It is easy to use", False),
])
def test_a_statement_with_a_past_tense_verb_is_not_rated_as_a_topic(text, topic):
    """Review 3, item 5: TAFE's "My job provided sufficient variety" counted as a topic
    ("rate “My job provided…”"), and "IT support" as a statement (the pronoun "it")."""
    from personalab.personas import _names_a_topic

    assert _names_a_topic(text) is topic
