"""What a persona card's footnotes and quote footers tell a reader (report audit items 1, 5,
6 and 8), each on a small synthetic survey with a known answer:

* a statement on a segmentation input cites no p-value (the segments were formed to differ
  on it: the test is circular); its footnote gives the numbers, the effect size and says it
  formed the segments, while a profile-only question keeps its adjusted p;
* a theme's footnote compares the segment with the rest as its sentence does, gives the
  share among all who answered that its index divides by, and says when the share counts
  any open answer;
* questions, answers and themes read by their labels, never by the export's ids: footnotes
  ("profile:q6_2"), the dominance alert ("'q2' reproduces 96%"), an answer code the
  codebook gives no label ("political_party “10”"), quote footers (theme ids, the internal
  "quote:<respondent>:<question>" ref).
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from _planted_survey import LIKERT5, survey_from_frame
from personalab.codebook import Question, ScaleOption
from personalab.discovery import distinctive_themes
from personalab.features import FeatureBuilder
from personalab.personas import draft_personas, personas_to_markdown
from personalab.profiles import profile_segments, segment_sizes
from personalab.report import persona_cards_html


def _footnotes(personas):
    return [(st, ev, ev.footnote()) for p in personas for st in p.statements()
            for ev in st.evidence]


@pytest.fixture(scope="module")
def two_segments():
    """Two segments of 150: segment 0 tracks purchases (a segmentation input, 4.6 vs 2.0 of
    5) and plans ahead (a profile-only question, 4.5 vs 2.0); party is a profile question
    drafted with bare codes ('1'..'3' labelled '1'..'3') that segment 1 answers '3' far more
    often; plan_type has labelled codes. Two open questions; the theme "love" is tagged on
    60 of segment 0's answers and 20 of segment 1's."""
    rng = np.random.default_rng(3)
    n = 300
    seg = np.repeat([0, 1], n // 2)

    def likert(mean):
        return np.clip(np.round(rng.normal(mean, 0.6)), 1, 5).astype(int)

    frame = pd.DataFrame({
        "ResponseId": [f"R_{i:04d}" for i in range(n)],
        "q1": likert(np.where(seg == 0, 4.6, 2.0)),
        "q6_2": likert(np.where(seg == 0, 4.5, 2.0)),
        "party": np.where(seg == 1, np.where(rng.random(n) < 0.8, 3, 1),
                          np.where(rng.random(n) < 0.8, 1, 2)),
        "plan_type": np.where(seg == 1, np.where(rng.random(n) < 0.85, 2, 1),
                              np.where(rng.random(n) < 0.85, 1, 2)),
        "why": [f"answer {i}" for i in range(n)],
        "more": [f"more {i}" for i in range(n)],
    })
    questions = [
        Question("q1", "How often do you track your purchases in a spreadsheet?", "likert",
                 "segment", LIKERT5, short="Tracks purchases"),
        Question("q6_2", "How much do you plan your purchases ahead? (Tick one) - Groceries",
                 "likert", "profile", LIKERT5, short="Plans groceries"),
        Question("party", "party", "single", "profile",
                 [ScaleOption(1, "1"), ScaleOption(2, "2"), ScaleOption(3, "3")]),
        Question("plan_type", "Which plan are you on?", "single", "profile",
                 [ScaleOption(1, "Basic"), ScaleOption(2, "Premium")], short="Plan"),
        Question("why", "Why do you use the app?", "text", "profile"),
        Question("more", "Anything else?", "text", "profile"),
    ]
    survey = survey_from_frame(frame, questions)
    labels = pd.Series(seg, index=survey.data.index, name="segment")
    profile = profile_segments(survey, labels)
    sizes = segment_sizes(labels.to_numpy())
    tags = pd.DataFrame({"love": np.r_[np.arange(150) < 60, np.arange(150) < 20].astype(int)},
                        index=survey.data.index)
    theme_profile = distinctive_themes(tags, labels)
    # one quote per segment, from a respondent typical of the persona's traits (segment 0:
    # tracks and plans high; segment 1: low), carrying the theme
    data = survey.data
    typical0 = data.index[(seg == 0) & (frame["q1"].to_numpy() >= 4)
                          & (frame["q6_2"].to_numpy() >= 4)
                          & (frame["party"].to_numpy() == 1)
                          & (frame["plan_type"].to_numpy() == 1)
                          & (np.arange(n) < 60)][0]
    quotes = pd.DataFrame({"segment": [0], "rank": [1], "respondent_id": [str(typical0)],
                           "question": ["why"], "text": ["I love seeing where it all goes."],
                           "themes": [["love"]], "covers": [["love"]], "sentiment": [0.6]})
    return survey, labels, profile, sizes, theme_profile, quotes


def _draft(f, **kw):
    survey, labels, profile, sizes, theme_profile, quotes = f
    return draft_personas(survey, labels, profile, sizes, theme_profile=theme_profile,
                          theme_info={"love": {"label": "Love it", "polarity": "positive"}},
                          quotes=quotes, **kw)


def test_a_segmentation_input_cites_its_effect_not_a_circular_p(two_segments):
    profile = two_segments[2]
    # the known answer: both questions differ hugely, and the profile tests both
    for q in ("q1", "q6_2"):
        rows = profile[(profile["question"] == q) & (profile["segment"] == 0)]
        assert bool(rows["significant"].iloc[0]) and rows["p_adjusted"].iloc[0] < 1e-6
    notes = _footnotes(_draft(two_segments))
    inputs = {f for _, ev, f in notes if ev.question == "q1"}
    profile_only = {f for _, ev, f in notes if ev.question == "q6_2"}
    assert inputs and profile_only
    for f in inputs:
        assert "adjusted p" not in f and "t-test" not in f, f
        assert "used to form the segments" in f and "not tested" in f, f
        assert re.search(r"effect size -?\d\.\d+ \(Cohen's d", f), f
        assert f.startswith("“Tracks purchases”;"), f
    for f in profile_only:
        assert "adjusted p < 0.001" in f and "Welch t-test" in f, f
        assert "used to form" not in f and "Cohen's d" in f, f
        assert f.startswith("“Plans groceries”;"), f


def test_the_profiles_segmentation_input_column_wins_over_the_codebook_role(two_segments):
    """engineer sigfix's ``segmentation_input`` column, when the profile has it, says which
    rows formed the segments (here it is set against the codebook to tell them apart)."""
    survey, labels, profile, sizes, theme_profile, quotes = two_segments
    marked = profile.assign(segmentation_input=profile["question"] == "q6_2")
    notes = _footnotes(draft_personas(survey, labels, marked, sizes))
    assert all("used to form" in f for _, ev, f in notes if ev.question == "q6_2")
    assert all("adjusted p" in f for _, ev, f in notes if ev.question == "q1")


def test_footnotes_name_questions_and_answers_by_label_not_id(two_segments):
    personas = _draft(two_segments)
    notes = [f for _, ev, f in _footnotes(personas) if ev.kind in ("profile", "theme")]
    assert notes
    assert not any(re.search(r"\b(profile|theme):", f) for f in notes), notes
    plan = [f for _, ev, f in _footnotes(personas) if ev.question == "plan_type"]
    assert plan and all(f.startswith("“Plan” = “") for f in plan), plan
    # the statement on the bare code says it is one, the footnote too; a labelled answer
    # reads by its label
    party = [(st, f) for st, ev, f in _footnotes(personas) if ev.question == "party"]
    assert party
    for st, f in party:
        assert re.search(r"“[123]” \(an unlabelled code\)", st.text), st.text
        assert re.match(r"“party” = “[123]” \(an unlabelled code\);", f), f
    texts = [st.text for p in personas for st in p.statements()]
    assert any("“Premium”" in t or "“Basic”" in t for t in texts)
    assert not any("“Premium” (an unlabelled" in t or "“Basic” (an unlabelled" in t
                   for t in texts)


def test_level_label_reads_codes_by_the_codebooks_labels():
    from personalab.personas import level_label

    q = Question("political_party", "political_party", "single", "profile",
                 [ScaleOption(1, "Democrat"), ScaleOption(2, "Republican"),
                  ScaleOption(10, "10")])
    assert level_label(q, "Democrat") == ("Democrat", False)
    assert level_label(q, "1") == ("Democrat", False)      # a code the codebook labels
    assert level_label(q, "10") == ("10", True)            # labelled by itself: bare code
    assert level_label(q, "11") == ("11", True)            # no option at all
    assert level_label(q, None) == (None, False)
    multi = Question("apps", "Which apps?", "multi", "profile")
    assert level_label(multi, "2") == ("2", False)         # an option's name, as exported


def test_theme_footnote_compares_with_the_rest_and_its_index_adds_up(two_segments):
    personas = _draft(two_segments)
    themes = [(st, ev, f) for st, ev, f in _footnotes(personas) if ev.kind == "theme"]
    assert themes
    for st, ev, f in themes:
        # known answer: 60 of 150 vs 20 of 150; all who answered 80 of 300
        assert ev.value == pytest.approx(0.4) and ev.rest == pytest.approx(20 / 150)
        assert ev.total == pytest.approx(80 / 300)
        assert ev.index == pytest.approx(150.0)
        assert ev.value / ev.total * 100 == pytest.approx(ev.index)
        assert f.startswith("theme “Love it” (any open answer); segment 40% vs rest 13%; "
                            "all who answered 27%; index 150"), f
        assert "vs total" not in f
        # the sentence's numbers are the footnote's, counted over any open answer
        assert "in any of their open answers" in st.text and "(40% vs 13%" in st.text


def test_a_theme_share_over_one_open_question_names_it(two_segments):
    """With one open question the share is that question's: the footnote names it and the
    sentence keeps "in their own words"."""
    survey, labels, profile, sizes, theme_profile, quotes = two_segments
    frame = survey.data.reset_index()
    one = survey_from_frame(
        frame.rename(columns={frame.columns[0]: "ResponseId"}).drop(columns=["more"]),
        [q for q in survey.codebook.questions if q.id != "more"])
    personas = draft_personas(one, labels.set_axis(one.data.index), profile, sizes,
                              theme_profile=theme_profile.assign(),
                              theme_info={"love": {"label": "Love it"}})
    themes = [(st, f) for st, ev, f in _footnotes(personas) if ev.kind == "theme"]
    assert themes
    for st, f in themes:
        assert f.startswith("theme “Love it” (answers to “Why do you use the app?”); "), f
        assert "in their own words" in st.text and "any of their" not in st.text


def test_quote_footers_show_theme_labels_and_no_internal_ref(two_segments):
    personas = _draft(two_segments)
    p0 = personas[0]
    assert p0.quotes and p0.quotes[0].themes == ["love"]
    html = persona_cards_html(personas, codebook=two_segments[0].codebook)
    footers = re.findall(r"<footer>(.*?)</footer>", html, flags=re.S)
    assert footers
    for foot in footers:
        assert "quote:" not in foot, foot
        assert "Love it" in foot and not re.search(r"·\s*love\b", foot), foot
    md = personas_to_markdown(personas)
    assert "(quote:" not in md and "· Love it" in md
    # the ref stays in the exports' machine columns
    assert p0.to_dict()["quotes"][0]["ref"] == f"quote:{p0.quotes[0].respondent_id}:why"


def test_dominance_alert_names_the_question_by_its_short_label():
    """Typeform: "'q2' reproduces 96% of them" named the export's column."""
    from personalab.diagnostics import segment_guards

    rng = np.random.default_rng(0)
    n = 400
    high = rng.random(n) < 0.5
    data = {"ResponseId": [f"r{i:04d}" for i in range(n)]}
    qs = []
    for j in range(3):
        data[f"N{j}"] = rng.integers(1, 6, n).astype(float)
        qs.append(Question(f"N{j}", f"Noise item {j}", type="likert", role="segment",
                           scale=LIKERT5))
    data["q2"] = np.where(high, rng.integers(10, 12, n), rng.integers(1, 3, n)).astype(float)
    qs.append(Question("q2", "Which interface(s) do you use to access the tool?",
                       type="likert", role="segment",
                       scale=[ScaleOption(i, str(i)) for i in range(1, 12)],
                       short="Interfaces used"))
    survey = survey_from_frame(pd.DataFrame(data), qs)
    F = FeatureBuilder().fit_transform(survey)
    g = segment_guards(survey, high.astype(int), features=F)
    assert g.reason.startswith("one input alone explains the segments: 'Interfaces used' "
                               "reproduces 100% of them"), g.reason
    assert "'q2'" not in g.reason
    assert g.dominated_by == "Interfaces used" and g.dominated_ids == ("q2",)
    # without a codebook (a bare feature frame) the ids are all there is
    g = segment_guards(F, high.astype(int), features=F)
    assert g.dominated_ids == ("q2",) and "'q2' reproduces" in g.reason
